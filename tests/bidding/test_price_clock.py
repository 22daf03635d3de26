"""Tests for bidding/price_clock.py: price levels and the japanese and dutch clock auctions."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bidding import price_clock as C
from bidding.auction import AuctionStatus
from bidding.errors import AuctionNotLive, InvalidRules, NotEligible
from bidding.price_clock import Accepted, ClockAuction, ClockClosed, LevelStarted
from bidding.rules import Clock, Decrement, Format, LotRules

START = 10_000
FALLING = Clock(start_price=100, step=10, interval_s=30, end_price=75)
RISING = Clock(start_price=50, step=20, interval_s=30, end_price=100)


def _clock(fmt: Format, clock: Clock) -> ClockAuction:
    state = C.new_clock("c1", LotRules(fmt, clock=clock), starts_at_ms=START)
    return C.tick(state, START)[0]


def _at(level: int, offset_ms: int = 0, clock: Clock = FALLING) -> int:
    return START + level * clock.interval_s * 1000 + offset_ms


def _accept(state: ClockAuction, supplier: str, now_ms: int) -> ClockAuction:
    state = C.tick(state, now_ms)[0]
    return C.accept(state, supplier, now_ms)[0]


# Levels


@pytest.mark.parametrize(
    ("now_ms", "expected"),
    [
        (START - 5_000, (0, 100, _at(1))),
        (START, (0, 100, _at(1))),
        (_at(1) - 1, (0, 100, _at(1))),
        (_at(1), (1, 90, _at(2))),
        (_at(2), (2, 80, _at(3))),
        (_at(3), (3, 75, _at(4))),
        (_at(9), (3, 75, _at(4))),
    ],
)
def test_japanese_levels_fall_to_the_floor(now_ms: int, expected: tuple[int, int, int]) -> None:
    """A japanese clock falls by step per interval and stops at end_price."""
    assert C.current_level(FALLING, START, now_ms) == expected


def test_dutch_levels_rise_to_the_cap() -> None:
    """A dutch clock rises by step per interval and stops at end_price."""
    prices = [C.level_price(RISING, k) for k in range(C.last_level(RISING) + 1)]
    assert prices == [50, 70, 90, 100]


def test_new_clock_refuses_other_formats() -> None:
    """A reverse_english lot has no clock."""
    rules = LotRules(Format.reverse_english, decrement=Decrement(amount=1))
    with pytest.raises(InvalidRules):
        C.new_clock("c1", rules, starts_at_ms=START)


def test_opening_emits_opened_and_the_first_round() -> None:
    """At the start the clock opens and announces level 0, stamped at the start."""
    state = C.new_clock("c1", LotRules(Format.japanese, clock=FALLING), starts_at_ms=START)
    assert C.tick(state, START - 1) == (state, ())
    state, events = C.tick(state, START + 7)
    assert [(e.type, e.seq, e.at_ms) for e in events] == [
        ("opened", 1, START),
        ("round", 2, START),
    ]
    assert events[1] == LevelStarted("round", 2, START, 0, 100, _at(1), None)
    assert state.status is AuctionStatus.live


# Japanese


def test_japanese_without_takers_has_no_winner() -> None:
    """If nobody accepts the start price, the clock closes without a winner."""
    state, events = C.tick(_clock(Format.japanese, FALLING), _at(1))
    assert events == (ClockClosed(3, _at(1), None, None),)
    assert state.status is AuctionStatus.closed and state.winner is None


def test_japanese_last_supplier_standing_wins_at_the_level_it_accepted() -> None:
    """When one supplier alone accepts a level, it wins at that level's price."""
    state = _clock(Format.japanese, FALLING)
    state = _accept(_accept(state, "a", START), "b", START + 1)
    state = _accept(state, "b", _at(1, 5))
    state, events = C.tick(state, _at(2))
    assert (state.winner, state.price) == ("b", 90)
    assert events[-1] == ClockClosed(state.seq, _at(2), "b", 90)


def test_japanese_round_reports_how_many_are_still_in() -> None:
    """Each round after the first says how many suppliers are still in."""
    state = _accept(_accept(_clock(Format.japanese, FALLING), "a", START), "b", START)
    _, events = C.tick(state, _at(1))
    assert events == (LevelStarted("round", state.seq + 1, _at(1), 1, 90, _at(2), 2),)


def test_japanese_all_dropping_together_gives_it_to_the_earliest() -> None:
    """If nobody accepts a level, the first to accept the level before wins at its price."""
    state = _accept(_accept(_clock(Format.japanese, FALLING), "b", START), "a", START + 1)
    state, _ = C.tick(state, _at(2))
    assert (state.status, state.winner, state.price) == (AuctionStatus.closed, "b", 100)


def test_japanese_floor_ties_go_to_the_earliest_acceptance() -> None:
    """Several suppliers still in at the floor: the first to accept the floor wins there."""
    state = _clock(Format.japanese, FALLING)
    for level in range(C.last_level(FALLING) + 1):
        first, second = ("a", "b") if level % 2 else ("b", "a")
        state = _accept(_accept(state, first, _at(level)), second, _at(level, 1))
    state, _ = C.tick(state, _at(C.last_level(FALLING) + 1))
    assert (state.winner, state.price) == ("a", 75)


def test_japanese_dropped_supplier_is_not_eligible() -> None:
    """A supplier that missed a level cannot come back."""
    state = _clock(Format.japanese, FALLING)
    for supplier in "abc":
        state = _accept(state, supplier, START)
    state = _accept(_accept(state, "a", _at(1)), "b", _at(1))
    state = _accept(state, "a", _at(2))
    with pytest.raises(NotEligible):
        C.accept(state, "c", _at(2))


def test_accepting_twice_changes_nothing() -> None:
    """A second acceptance of the same level returns the state unchanged."""
    state = _accept(_clock(Format.japanese, FALLING), "a", START)
    assert C.accept(state, "a", START + 5) == (state, ())


def test_accept_needs_a_live_ticked_clock() -> None:
    """Accepting before the open is auction_not_live; on a stale state, a ValueError."""
    scheduled = C.new_clock("c1", LotRules(Format.japanese, clock=FALLING), starts_at_ms=START)
    with pytest.raises(AuctionNotLive):
        C.accept(scheduled, "a", START)
    with pytest.raises(ValueError):
        C.accept(_clock(Format.japanese, FALLING), "a", _at(1))


# Dutch


def test_dutch_first_acceptance_wins_at_the_current_price() -> None:
    """In a dutch clock the first supplier to accept wins at once at the level's price."""
    state = C.tick(_clock(Format.dutch, RISING), _at(2, clock=RISING))[0]
    state, events = C.accept(state, "a", _at(2, 9, RISING))
    assert [e.type for e in events] == ["accepted", "closed"]
    assert events[0] == Accepted(state.seq - 1, _at(2, 9, RISING), "a", 2, 90)
    assert (state.status, state.winner, state.price) == (AuctionStatus.closed, "a", 90)
    with pytest.raises(AuctionNotLive):
        C.accept(state, "b", _at(2, 10, RISING))


def test_dutch_without_takers_ends_at_the_cap_with_no_winner() -> None:
    """If nobody accepts by the end of the cap level, nobody wins."""
    end = _at(C.last_level(RISING) + 1, clock=RISING)
    state, events = C.tick(_clock(Format.dutch, RISING), end - 1)
    assert state.status is AuctionStatus.live
    assert [(e.type, getattr(e, "price", None)) for e in events] == [
        ("price", 70),
        ("price", 90),
        ("price", 100),
    ]
    state, events = C.tick(state, end)
    assert events == (ClockClosed(state.seq, end, None, None),)


def test_settle_and_cancel_are_events() -> None:
    """A closed clock is awarded with an event; a live one can be cancelled."""
    closed = C.tick(_accept(_clock(Format.dutch, RISING), "a", START), START)[0]
    awarded, events = C.settle(closed, awarded=True, now_ms=START + 5)
    assert awarded.status is AuctionStatus.awarded
    assert [(e.type, e.seq) for e in events] == [("awarded", closed.seq + 1)]
    cancelled, events = C.cancel(_clock(Format.japanese, FALLING), START)
    assert cancelled.status is AuctionStatus.cancelled and events[0].type == "cancelled"


# Against a reference


def _reference(fmt: Format, clock: Clock, plan: list[list[str]]) -> tuple[str | None, int | None]:
    """The winner and price the module docstring's rules give for acceptances per level."""
    still_in: list[str] | None = None
    previous: list[str] = []
    for level in range(C.last_level(clock) + 1):
        tries = plan[level] if level < len(plan) else []
        accepted = list(dict.fromkeys(s for s in tries if still_in is None or s in still_in))
        price = C.level_price(clock, level)
        if fmt is Format.dutch:
            if accepted:
                return accepted[0], price
            continue
        if len(accepted) == 1 or (accepted and level == C.last_level(clock)):
            return accepted[0], price
        if not accepted:
            return (None, None) if level == 0 else (previous[0], C.level_price(clock, level - 1))
        previous, still_in = accepted, accepted
    return None, None


@st.composite
def _clocks(draw: st.DrawFn) -> tuple[Format, Clock]:
    fmt = draw(st.sampled_from([Format.japanese, Format.dutch]))
    low = draw(st.integers(1, 80))
    high = draw(st.integers(low + 1, 100))
    step = draw(st.integers(1, 30))
    start, end = (high, low) if fmt is Format.japanese else (low, high)
    return fmt, Clock(start, step, draw(st.integers(1, 5)), end)


@settings(max_examples=300, deadline=None)
@given(
    _clocks(),
    st.lists(st.lists(st.sampled_from("abcd"), max_size=5), max_size=12),
    st.booleans(),
)
def test_clock_outcome_matches_the_reference(
    case: tuple[Format, Clock], plan: list[list[str]], late_ticks: bool
) -> None:
    """Any acceptance plan ends with the reference's winner and price, seq without gaps."""
    fmt, clock = case
    state = C.new_clock("c1", LotRules(fmt, clock=clock), starts_at_ms=START)
    events: list[C.ClockEvent] = []
    for level, tries in enumerate(plan):
        for i, supplier in enumerate(tries):
            now = _at(level, i, clock)
            state, ticked = C.tick(state, now)
            events += ticked
            if state.status is not AuctionStatus.live:
                break
            try:
                state, accepted = C.accept(state, supplier, now)
            except NotEligible:
                continue
            events += accepted
        if not late_ticks:
            state, ticked = C.tick(state, _at(level + 1, 0, clock))
            events += ticked
    state, ticked = C.tick(state, _at(C.last_level(clock) + 1, 0, clock))
    events += ticked
    assert state.status is AuctionStatus.closed
    assert (state.winner, state.price) == _reference(fmt, clock, plan)
    assert [e.seq for e in events] == list(range(1, state.seq + 1))
    assert [e.type for e in events].count("closed") == 1 and events[-1].type == "closed"
    assert all(a.at_ms <= b.at_ms for a, b in itertools.pairwise(events))
