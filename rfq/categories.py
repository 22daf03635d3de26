"""The two-level tree of industrial-goods categories used by suppliers, RFQs and festivals.

Codes are ``top`` or ``top.sub``. The tree ships with the code (reference data that
changes with releases, not at run time: ``categories.json`` beside this module) and is
served at ``GET /api/categories``. A category *covers* itself and its subcategories,
which is how matching works: a supplier certified for ``fasteners`` is matched to an RFQ
in ``fasteners.bolts``, and one certified for ``fasteners.bolts`` to an RFQ for
``fasteners`` in general.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

_TREE = Path(__file__).with_name("categories.json")
"""The tree, in order: top-level categories with their English and Chinese names, each
with its subcategories."""


@dataclass(frozen=True, slots=True)
class Category:
    """One node of the tree."""

    code: str
    name_en: str
    name_zh: str
    parent: str | None = None


def _build() -> dict[str, Category]:
    nodes: dict[str, Category] = {}
    for top in json.loads(_TREE.read_text(encoding="utf-8")):
        code = top["code"]
        nodes[code] = Category(code, top["en"], top["zh"])
        for sub in top["children"]:
            nodes[f"{code}.{sub['code']}"] = Category(
                f"{code}.{sub['code']}", sub["en"], sub["zh"], code
            )
    return nodes


CATEGORIES: dict[str, Category] = _build()


def exists(code: str) -> bool:
    """True if ``code`` is a category of the tree."""
    return code in CATEGORIES


def tree() -> list[dict[str, object]]:
    """The tree as JSON-ready nested dicts, top-level categories in order."""
    out: list[dict[str, object]] = []
    for node in CATEGORIES.values():
        entry = {"code": node.code, "name_en": node.name_en, "name_zh": node.name_zh}
        if node.parent is None:
            out.append({**entry, "children": []})
        else:
            children = out[-1]["children"]
            assert isinstance(children, list)
            children.append(entry)
    return out


def covers(a: str, b: str) -> bool:
    """True if the two codes are equal or one is the other's parent."""
    return a == b or b.startswith(a + ".") or a.startswith(b + ".")


def matches(supplier_codes: Iterable[str], rfq_code: str) -> bool:
    """True if any of a supplier's categories covers the RFQ's category."""
    return any(covers(code, rfq_code) for code in supplier_codes)
