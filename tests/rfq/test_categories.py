"""The category tree and how categories cover each other for matching."""

from __future__ import annotations

from rfq.categories import CATEGORIES, covers, matches, tree


def test_tree_has_two_levels() -> None:
    """Every subcategory's parent is a top-level category in the tree."""
    assert all(c.parent is None or CATEGORIES[c.parent].parent is None for c in CATEGORIES.values())
    assert sum(len(t["children"]) for t in tree()) + len(tree()) == len(CATEGORIES)  # type: ignore[arg-type]


def test_parent_covers_children_both_ways_but_not_siblings() -> None:
    """fasteners covers fasteners.bolts and the reverse; bolts does not cover nuts."""
    assert covers("fasteners", "fasteners.bolts") and covers("fasteners.bolts", "fasteners")
    assert not covers("fasteners.bolts", "fasteners.nuts")
    assert not covers("fast", "fasteners")
    assert matches(["tools", "fasteners.bolts"], "fasteners") and not matches(["tools"], "steel")
