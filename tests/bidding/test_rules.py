"""Tests for bidding/rules.py: parsing, validation, the JSON round trip and decrements."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bidding.errors import InvalidRules
from bidding.rules import (
    BPS,
    Clock,
    Decrement,
    DecrementFrom,
    Format,
    LotRules,
    SoftClose,
    Ties,
    Trigger,
    Visibility,
    check_secrecy,
    min_decrement,
    parse_rules,
    rules_to_dict,
)

CONTRACT_EXAMPLE: dict[str, Any] = {
    "format": "reverse_english",
    "visibility": "rank_only",
    "decrement": {"amount": 1},
    "decrement_from": "own",
    "ties": "earlier_wins",
    "soft_close": {"window_s": 120, "extend_s": 120, "trigger": "any", "max_extensions": None},
}

JAPANESE: dict[str, Any] = {
    "format": "japanese",
    "clock": {"start_price": 120, "step": 5, "interval_s": 30, "end_price": 80},
}


def _with(base: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A deep copy of ``base`` with the dotted ``path`` set to ``value`` (or removed)."""
    data = copy.deepcopy(base)
    *parents, last = path.split(".")
    node = data
    for key in parents:
        node = node[key]
    if value is _REMOVE:
        del node[last]
    else:
        node[last] = value
    return data


_REMOVE = object()


def test_contract_example_parses() -> None:
    """The contract's example rules parse to the matching typed value."""
    rules = parse_rules(CONTRACT_EXAMPLE, ceiling_price=120)
    assert rules == LotRules(
        format=Format.reverse_english,
        visibility=Visibility.rank_only,
        decrement=Decrement(amount=1),
        decrement_from=DecrementFrom.own,
        ties=Ties.earlier_wins,
        soft_close=SoftClose(window_s=120, extend_s=120, trigger=Trigger.any),
    )


def test_optional_fields_take_their_defaults() -> None:
    """Without visibility, decrement_from, ties and soft_close the defaults apply."""
    rules = parse_rules({"format": "sealed", "decrement": {"bps": 50}}, ceiling_price=1000)
    assert rules == LotRules(format=Format.sealed, decrement=Decrement(bps=50))


def test_clock_rules_parse() -> None:
    """A japanese lot has a clock and no decrement or soft close."""
    rules = parse_rules(JAPANESE, ceiling_price=120)
    assert rules.clock == Clock(start_price=120, step=5, interval_s=30, end_price=80)
    assert rules.decrement is None and rules.soft_close is None


def test_top_n_trigger_keeps_its_n() -> None:
    """A top_n soft close keeps top_n and a finite max_extensions."""
    data = _with(
        CONTRACT_EXAMPLE,
        "soft_close",
        {"window_s": 60, "extend_s": 30, "trigger": "top_n", "top_n": 3, "max_extensions": 5},
    )
    sc = parse_rules(data, ceiling_price=120).soft_close
    assert sc == SoftClose(60, 30, Trigger.top_n, top_n=3, max_extensions=5)


INVALID: list[tuple[dict[str, Any], str, Any, str]] = [
    (CONTRACT_EXAMPLE, "format", "english", "rules.format"),
    (CONTRACT_EXAMPLE, "format", _REMOVE, "rules.format"),
    (CONTRACT_EXAMPLE, "visibility", "everything", "rules.visibility"),
    (CONTRACT_EXAMPLE, "visibility", None, "rules.visibility"),
    (CONTRACT_EXAMPLE, "decrement_from", "leader", "rules.decrement_from"),
    (CONTRACT_EXAMPLE, "ties", True, "rules.ties"),
    (CONTRACT_EXAMPLE, "colour", "red", "rules.colour"),
    (CONTRACT_EXAMPLE, "decrement", _REMOVE, "rules.decrement"),
    (CONTRACT_EXAMPLE, "decrement", [1], "rules.decrement"),
    (CONTRACT_EXAMPLE, "decrement", {}, "rules.decrement"),
    (CONTRACT_EXAMPLE, "decrement", {"amount": 1, "bps": 5}, "rules.decrement"),
    (CONTRACT_EXAMPLE, "decrement.amount", 1.0, "rules.decrement.amount"),
    (CONTRACT_EXAMPLE, "decrement.amount", "1", "rules.decrement.amount"),
    (CONTRACT_EXAMPLE, "decrement.amount", True, "rules.decrement.amount"),
    (CONTRACT_EXAMPLE, "decrement.amount", 0, "rules.decrement.amount"),
    (CONTRACT_EXAMPLE, "decrement.amount", 120, "rules.decrement.amount"),
    (CONTRACT_EXAMPLE, "decrement", {"bps": 0}, "rules.decrement.bps"),
    (CONTRACT_EXAMPLE, "decrement", {"bps": 5001}, "rules.decrement.bps"),
    (CONTRACT_EXAMPLE, "decrement", {"percent": 1}, "rules.decrement.percent"),
    (CONTRACT_EXAMPLE, "soft_close", 5, "rules.soft_close"),
    (CONTRACT_EXAMPLE, "soft_close.window_s", 0, "rules.soft_close.window_s"),
    (CONTRACT_EXAMPLE, "soft_close.extend_s", -5, "rules.soft_close.extend_s"),
    (CONTRACT_EXAMPLE, "soft_close.extend_s", 86_401, "rules.soft_close.extend_s"),
    (CONTRACT_EXAMPLE, "soft_close.trigger", "top_n", "rules.soft_close.top_n"),
    (CONTRACT_EXAMPLE, "soft_close.top_n", 2, "rules.soft_close.top_n"),
    (CONTRACT_EXAMPLE, "soft_close.max_extensions", 0, "rules.soft_close.max_extensions"),
    (CONTRACT_EXAMPLE, "soft_close.max_extensions", 2.5, "rules.soft_close.max_extensions"),
    (CONTRACT_EXAMPLE, "clock", JAPANESE["clock"], "rules.clock"),
    (JAPANESE, "clock", _REMOVE, "rules.clock"),
    (JAPANESE, "decrement", {"amount": 1}, "rules.decrement"),
    (JAPANESE, "soft_close", CONTRACT_EXAMPLE["soft_close"], "rules.soft_close"),
    (JAPANESE, "clock.start_price", 121, "rules.clock.start_price"),
    (JAPANESE, "clock.end_price", 120, "rules.clock.end_price"),
    (JAPANESE, "clock.step", 0, "rules.clock.step"),
    (JAPANESE, "clock.interval_s", 0, "rules.clock.interval_s"),
    (JAPANESE, "clock.tick", 1, "rules.clock.tick"),
    (_with(JAPANESE, "format", "dutch"), "clock.end_price", 100, "rules.clock.end_price"),
    (CONTRACT_EXAMPLE, "pre_bids", 1, "rules.pre_bids"),
    (JAPANESE, "pre_bids", True, "rules.pre_bids"),
]


@pytest.mark.parametrize(("base", "path", "value", "field"), INVALID)
def test_invalid_rules_name_the_field(
    base: dict[str, Any], path: str, value: Any, field: str
) -> None:
    """Each invalid value is rejected with invalid_rules at its dotted field path."""
    with pytest.raises(InvalidRules) as caught:
        parse_rules(_with(base, path, value), ceiling_price=120)
    assert caught.value.field == field
    assert caught.value.message.endswith(".")


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        ("decrement_from", "best", "rules.decrement_from"),
        ("ties", "rejected", "rules.ties"),
        ("soft_close", CONTRACT_EXAMPLE["soft_close"], "rules.soft_close"),
    ],
)
def test_sealed_refuses_what_would_leak_or_extend(path: str, value: Any, field: str) -> None:
    """A sealed lot refuses decrement from best, rejected ties and a soft close."""
    data = _with({"format": "sealed", "decrement": {"amount": 1}}, path, value)
    with pytest.raises(InvalidRules) as caught:
        parse_rules(data, ceiling_price=120)
    assert caught.value.field == field


def test_dutch_clock_rises_below_the_ceiling() -> None:
    """A dutch clock needs start < end <= ceiling."""
    data = {"format": "dutch", "clock": {"start_price": 50, "step": 10, "interval_s": 5}}
    ok = _with(data, "clock.end_price", 120)
    assert parse_rules(ok, ceiling_price=120).clock == Clock(50, 10, 5, 120)
    with pytest.raises(InvalidRules) as caught:
        parse_rules(_with(data, "clock.end_price", 121), ceiling_price=120)
    assert caught.value.field == "rules.clock.end_price"


def test_too_many_clock_levels_are_refused() -> None:
    """A clock step that gives more than 1000 levels is refused at rules.clock.step."""
    data = _with(
        JAPANESE, "clock", {"start_price": 5000, "step": 1, "interval_s": 1, "end_price": 1}
    )
    with pytest.raises(InvalidRules) as caught:
        parse_rules(data, ceiling_price=5000)
    assert caught.value.field == "rules.clock.step"


@pytest.mark.parametrize("ceiling", [0, -1, 10**10 + 1, 1.5, True])
def test_bad_ceiling_is_refused(ceiling: Any) -> None:
    """The ceiling price must be an integer from 1 to MAX_PRICE."""
    with pytest.raises(InvalidRules) as caught:
        parse_rules(CONTRACT_EXAMPLE, ceiling_price=ceiling)
    assert caught.value.field == "ceiling_price"


def test_rules_must_be_an_object() -> None:
    """Rules that are not a JSON object are refused at the rules path."""
    with pytest.raises(InvalidRules) as caught:
        parse_rules(["reverse_english"], ceiling_price=120)
    assert caught.value.field == "rules"


@st.composite
def valid_rules(draw: st.DrawFn) -> tuple[LotRules, int]:
    """A valid LotRules and a ceiling price it fits."""
    ceiling = draw(st.integers(2, 10**6))
    fmt = draw(st.sampled_from(Format))
    visibility = draw(st.sampled_from(Visibility))
    if fmt.is_clock:
        low = draw(st.integers(1, ceiling - 1))
        high = draw(st.integers(low + 1, ceiling))
        step = draw(st.integers(max(1, -(-(high - low) // 999)), high - low))
        start, end = (high, low) if fmt is Format.japanese else (low, high)
        clock = Clock(start, step, draw(st.integers(1, 600)), end)
        return LotRules(fmt, visibility, clock=clock), ceiling
    decrement = draw(
        st.one_of(
            st.builds(Decrement, amount=st.integers(1, ceiling - 1)),
            st.builds(Decrement, bps=st.integers(1, 5000)),
        )
    )
    if fmt is Format.sealed:
        return LotRules(fmt, visibility, decrement), ceiling
    trigger = draw(st.sampled_from(Trigger))
    soft_close = draw(
        st.none()
        | st.builds(
            SoftClose,
            window_s=st.integers(1, 86_400),
            extend_s=st.integers(1, 86_400),
            trigger=st.just(trigger),
            top_n=st.integers(1, 50) if trigger is Trigger.top_n else st.none(),
            max_extensions=st.none() | st.integers(1, 100),
        )
    )
    rules = LotRules(
        fmt,
        visibility,
        decrement,
        draw(st.sampled_from(DecrementFrom)),
        draw(st.sampled_from(Ties)),
        soft_close,
    )
    return rules, ceiling


@settings(max_examples=300, deadline=None)
@given(valid_rules())
def test_rules_round_trip_through_json(case: tuple[LotRules, int]) -> None:
    """rules_to_dict then parse_rules gives back equal rules."""
    rules, ceiling = case
    assert parse_rules(rules_to_dict(rules), ceiling_price=ceiling) == rules


def test_contract_example_round_trips_to_the_same_json() -> None:
    """The contract example serialises back to itself."""
    rules = parse_rules(CONTRACT_EXAMPLE, ceiling_price=120)
    assert rules_to_dict(rules) == CONTRACT_EXAMPLE


def test_amount_decrement_is_the_amount() -> None:
    """An amount decrement ignores the reference price."""
    rules = LotRules(Format.reverse_english, decrement=Decrement(amount=7))
    assert min_decrement(rules, 1) == min_decrement(rules, 10**9) == 7


def test_bps_decrement_rounds_up_to_at_least_one_minor_unit() -> None:
    """A bps decrement is the ceiling of price * bps / 10000, never below 1."""
    rules = LotRules(Format.reverse_english, decrement=Decrement(bps=50))
    assert min_decrement(rules, 10_000) == 50
    assert min_decrement(rules, 10_001) == 51
    assert min_decrement(rules, 100) == 1
    assert min_decrement(rules, 0) == 1


@given(st.integers(0, 10**10), st.integers(1, 5000))
def test_bps_decrement_is_the_exact_integer_ceiling(reference: int, bps: int) -> None:
    """The bps decrement is the least integer d >= 1 with d * 10000 >= reference * bps."""
    d = min_decrement(LotRules(Format.sealed, decrement=Decrement(bps=bps)), reference)
    assert d >= 1
    assert d * BPS >= reference * bps
    assert d == 1 or (d - 1) * BPS < reference * bps


def test_clock_rules_have_no_decrement() -> None:
    """Asking a clock format for its decrement raises invalid_rules."""
    with pytest.raises(InvalidRules):
        min_decrement(parse_rules(JAPANESE, ceiling_price=120), 100)


def test_secrecy_refuses_rejected_ties_and_best_decrements_where_prices_hide() -> None:
    """Rejected ties need a full ladder; a decrement from the best bid needs the best
    price shown; everything else passes."""

    def rules(**extra: object) -> LotRules:
        base = {"format": "reverse_english", "decrement": {"amount": 1}}
        return parse_rules({**base, **extra}, ceiling_price=1000)

    for visibility in ("rank_only", "best_price"):
        with pytest.raises(InvalidRules) as refused:
            check_secrecy(rules(visibility=visibility, ties="rejected"))
        assert refused.value.field == "rules.ties"
    with pytest.raises(InvalidRules) as refused:
        check_secrecy(rules(visibility="rank_only", decrement_from="best"))
    assert refused.value.field == "rules.decrement_from"
    check_secrecy(rules(visibility="best_price", decrement_from="best"))
    check_secrecy(rules(visibility="full_ladder", ties="rejected", decrement_from="best"))
    check_secrecy(rules(visibility="rank_only"))


def test_pre_bids_round_trip_and_default_off() -> None:
    """pre_bids is false unless given, and survives rules_to_dict (shown only when on)."""
    assert parse_rules(CONTRACT_EXAMPLE, ceiling_price=120).pre_bids is False
    rules = parse_rules({**CONTRACT_EXAMPLE, "pre_bids": True}, ceiling_price=120)
    assert rules.pre_bids and rules_to_dict(rules)["pre_bids"] is True
    assert parse_rules(rules_to_dict(rules), ceiling_price=120) == rules
    assert "pre_bids" not in rules_to_dict(parse_rules(CONTRACT_EXAMPLE, ceiling_price=120))
