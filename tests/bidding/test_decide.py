"""Tests for bidding/decide.py: the decision on one bid against a brute-force oracle."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bidding.decide import (
    Situation,
    Transform,
    check_bid,
    extension_end,
    highest_acceptable,
    lead_range,
    validate_transform,
)
from bidding.errors import (
    AboveCeiling,
    BelowDecrement,
    BidRejected,
    InvalidPrice,
    InvalidRules,
    TieNotAllowed,
)
from bidding.rules import (
    Decrement,
    DecrementFrom,
    Format,
    LotRules,
    SoftClose,
    Ties,
    Trigger,
    min_decrement,
)

OWN = LotRules(Format.reverse_english, decrement=Decrement(amount=5))
BEST = LotRules(
    Format.reverse_english, decrement=Decrement(amount=5), decrement_from=DecrementFrom.best
)
NO_TIES = LotRules(Format.reverse_english, decrement=Decrement(amount=1), ties=Ties.rejected)


def _oracle(rules: LotRules, s: Situation, price: int) -> str | None:
    """The rejection code the module docstring's rules give, computed with fractions."""
    assert rules.decrement is not None
    amount, bps = rules.decrement.amount, rules.decrement.bps

    def step(reference: int) -> int:
        if amount is not None:
            return amount
        assert bps is not None
        return max(1, math.ceil(Fraction(reference * bps, 10_000)))

    m, a = s.transform.multiplier_bps, s.transform.adder
    if price < 1:
        return "invalid_price"
    if price > s.ceiling_price:
        return "above_ceiling"
    if s.own_price is not None and price >= s.own_price:
        return "below_decrement"
    own_rule = rules.decrement_from is DecrementFrom.own
    if own_rule and s.own_price is not None and price > s.own_price - step(s.own_price):
        return "below_decrement"
    if not own_rule and s.best_transformed is not None:
        tie = math.floor(Fraction(s.best_transformed - a * 10_000, m))
        if price > tie - step(tie):
            return "below_decrement"
    if rules.ties is Ties.rejected and price * m + a * 10_000 in s.taken:
        return "tie_not_allowed"
    return None


transforms = st.builds(
    Transform,
    multiplier_bps=st.sampled_from([10_000, 5_000, 12_345, 20_000]) | st.integers(1_000, 100_000),
    adder=st.integers(-100, 100),
)


@st.composite
def cases(draw: st.DrawFn) -> tuple[LotRules, Situation]:
    """Rules and a situation with small prices, ties likely."""
    decrement = draw(
        st.builds(Decrement, amount=st.integers(1, 20))
        | st.builds(Decrement, bps=st.integers(1, 5000))
    )
    rules = LotRules(
        Format.reverse_english,
        decrement=decrement,
        decrement_from=draw(st.sampled_from(DecrementFrom)),
        ties=draw(st.sampled_from(Ties)),
    )
    ceiling = draw(st.integers(1, 300))
    transform = draw(transforms)
    others = draw(st.lists(st.tuples(transforms, st.integers(1, ceiling)), max_size=4))
    taken = frozenset(t.apply(p) for t, p in others)
    own = draw(st.none() | st.integers(1, ceiling))
    standing = [*taken, *([transform.apply(own)] if own is not None else [])]
    situation = Situation(ceiling, transform, own, min(standing, default=None), taken)
    return rules, situation


@settings(max_examples=400, deadline=None)
@given(cases(), st.integers(-2, 310))
def test_check_bid_matches_the_oracle(case: tuple[LotRules, Situation], price: int) -> None:
    """check_bid accepts exactly what the oracle accepts and rejects with its code."""
    rules, s = case
    expected = _oracle(rules, s, price)
    if expected is None:
        assert check_bid(rules, s, price) == s.transform.apply(price)
    else:
        with pytest.raises(BidRejected) as caught:
            check_bid(rules, s, price)
        assert caught.value.code == expected


@settings(max_examples=300, deadline=None)
@given(cases())
def test_highest_acceptable_is_the_highest_accepted_price(case: tuple[LotRules, Situation]) -> None:
    """highest_acceptable is the highest price the oracle accepts, or None if none."""
    rules, s = case
    accepted = [p for p in range(1, s.ceiling_price + 1) if _oracle(rules, s, p) is None]
    assert highest_acceptable(rules, s) == max(accepted, default=None)


@settings(max_examples=300, deadline=None)
@given(cases(), st.integers(-2, 310))
def test_rejections_carry_min_acceptable(case: tuple[LotRules, Situation], price: int) -> None:
    """Every rejection's min_acceptable is highest_acceptable of the same situation."""
    rules, s = case
    try:
        check_bid(rules, s, price)
    except BidRejected as err:
        assert err.min_acceptable == highest_acceptable(rules, s)


@settings(max_examples=300, deadline=None)
@given(cases(), st.integers(1, 300))
def test_decrement_from_best_holds_in_transformed_terms(
    case: tuple[LotRules, Situation], price: int
) -> None:
    """An accepted bid under decrement_from=best is at least decrement * multiplier below."""
    rules, s = case
    if rules.decrement_from is not DecrementFrom.best or s.best_transformed is None:
        return
    try:
        transformed = check_bid(rules, s, price)
    except BidRejected:
        return
    step = min_decrement(rules, s.transform.tie_price(s.best_transformed))
    assert transformed <= s.best_transformed - step * s.transform.multiplier_bps


@given(transforms, st.integers(-(10**9), 10**9))
def test_tie_price_is_the_highest_price_not_above(transform: Transform, transformed: int) -> None:
    """tie_price(t) is the highest raw price whose transformed price is at most t."""
    p = transform.tie_price(transformed)
    assert transform.apply(p) <= transformed < transform.apply(p + 1)


@settings(max_examples=300, deadline=None)
@given(cases(), st.integers(1, 300))
def test_lead_range_holds_exactly_the_leading_accepted_prices(
    case: tuple[LotRules, Situation], floor: int
) -> None:
    """lead_range spans the accepted prices >= floor that rank strictly first."""
    rules, s = case
    best = s.best_transformed
    leading = [
        p
        for p in range(floor, s.ceiling_price + 1)
        if best is not None and _oracle(rules, s, p) is None and s.transform.apply(p) < best
    ]
    span = lead_range(rules, s, floor)
    assert span == ((floor, max(leading)) if leading else None)
    if span is not None:
        assert leading == list(range(span[0], span[1] + 1))


def test_first_bid_only_needs_the_ceiling() -> None:
    """A first bid at the ceiling is accepted; one above it is above_ceiling."""
    s = Situation(ceiling_price=120)
    assert check_bid(OWN, s, 120) == 120 * 10_000
    with pytest.raises(AboveCeiling) as caught:
        check_bid(OWN, s, 121)
    assert caught.value.min_acceptable == 120


@pytest.mark.parametrize("price", [0, -5, 1.5, "100", True, None])
def test_non_positive_or_non_int_price_is_invalid(price: object) -> None:
    """Zero, negatives, floats, strings, booleans and None are invalid_price."""
    with pytest.raises(InvalidPrice):
        check_bid(OWN, Situation(ceiling_price=120), price)


def test_own_decrement_applies_to_the_own_bid() -> None:
    """Under decrement_from=own a re-bid must undercut the own bid by the decrement."""
    s = Situation(ceiling_price=120, own_price=100, best_transformed=50 * 10_000)
    with pytest.raises(BelowDecrement) as caught:
        check_bid(OWN, s, 96)
    assert caught.value.min_acceptable == 95
    assert check_bid(OWN, s, 95) == 95 * 10_000


def test_no_supplier_may_raise_its_price() -> None:
    """A price not lower than the own standing bid is below_decrement, whatever the rule."""
    s = Situation(ceiling_price=120, own_price=100, best_transformed=100 * 10_000)
    for rules in (OWN, BEST):
        with pytest.raises(BelowDecrement):
            check_bid(rules, s, 110)


def test_best_decrement_applies_to_the_best_bid() -> None:
    """Under decrement_from=best a bid must undercut the best bid by the decrement."""
    s = Situation(ceiling_price=120, best_transformed=80 * 10_000, taken=frozenset({800_000}))
    with pytest.raises(BelowDecrement) as caught:
        check_bid(BEST, s, 76)
    assert caught.value.min_acceptable == 75


def test_best_decrement_is_in_the_bidders_raw_terms() -> None:
    """With a 2x multiplier, beating a transformed best of 200 raw needs <= 100 - decrement."""
    s = Situation(ceiling_price=300, transform=Transform(20_000), best_transformed=200 * 10_000)
    assert highest_acceptable(BEST, s) == 95


def test_rejected_tie_names_the_next_free_price() -> None:
    """A tie is tie_not_allowed when ties are rejected; min_acceptable skips taken prices."""
    taken = frozenset({90 * 10_000, 89 * 10_000})
    s = Situation(ceiling_price=90, taken=taken, best_transformed=89 * 10_000)
    with pytest.raises(TieNotAllowed) as caught:
        check_bid(NO_TIES, s, 90)
    assert caught.value.min_acceptable == 88
    assert check_bid(OWN, s, 90) == 90 * 10_000


def test_nothing_acceptable_gives_none() -> None:
    """When no price is acceptable, min_acceptable is None."""
    s = Situation(ceiling_price=120, own_price=3)
    assert highest_acceptable(OWN, s) is None
    with pytest.raises(BelowDecrement) as caught:
        check_bid(OWN, s, 2)
    assert caught.value.min_acceptable is None


@pytest.mark.parametrize(
    ("transform", "field"),
    [
        (Transform(999), "t.multiplier_bps"),
        (Transform(100_001), "t.multiplier_bps"),
        (Transform(10_000, 10**10 + 1), "t.adder"),
    ],
)
def test_out_of_bounds_transforms_are_refused(transform: Transform, field: str) -> None:
    """Transforms outside the Lua-safe bounds raise invalid_rules at their field."""
    with pytest.raises(InvalidRules) as caught:
        validate_transform(transform, "t")
    assert caught.value.field == field


SOFT = SoftClose(window_s=60, extend_s=120, trigger=Trigger.any, max_extensions=2)


@pytest.mark.parametrize(
    ("soft_close", "now_ms", "extensions", "rank", "expected"),
    [
        (None, 99_000, 0, 1, None),
        (SOFT, 39_999, 0, 1, None),
        (SOFT, 40_000, 0, 5, 160_000),
        (SOFT, 99_999, 1, 5, 219_999),
        (SOFT, 99_000, 2, 1, None),
        (SoftClose(60, 10, Trigger.any), 80_000, 0, 1, None),
        (SoftClose(60, 30, Trigger.any), 80_000, 0, 1, 110_000),
        (SoftClose(60, 30, Trigger.leader), 80_000, 0, 2, None),
        (SoftClose(60, 30, Trigger.leader), 80_000, 0, 1, 110_000),
        (SoftClose(60, 30, Trigger.top_n, top_n=3), 80_000, 0, 3, 110_000),
        (SoftClose(60, 30, Trigger.top_n, top_n=3), 80_000, 0, 4, None),
    ],
)
def test_extension_end(
    soft_close: SoftClose | None, now_ms: int, extensions: int, rank: int, expected: int | None
) -> None:
    """A bid in the window extends to now + extend_s if later, per trigger and cap."""
    got = extension_end(
        soft_close, ends_at_ms=100_000, extensions=extensions, now_ms=now_ms, rank=rank
    )
    assert got == expected
