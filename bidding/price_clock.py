"""Clock auctions, where the engine sets the price and suppliers only accept it.

Levels. From ``starts_at_ms``, level ``k`` lasts ``interval_s`` seconds, from
``starts_at_ms + k * interval_ms`` (inclusive) to ``starts_at_ms + (k + 1) *
interval_ms`` (exclusive), at `level_price`: ``start_price - k * step`` (japanese) or
``start_price + k * step`` (dutch), clamped to ``end_price``, which is the last level.

``japanese``, a descending clock: at each level every supplier still in must accept
the level's price before the level ends, or it drops out. At level 0 any supplier may
accept (the I/O layer checks invitations); later, only those that accepted the level
before. When level ``k`` ends:

- exactly one supplier accepted it: that supplier wins at level ``k``'s price;
- nobody accepted it: at level 0 nobody wins; later, the suppliers still in all
  dropped out together, so the one that accepted level ``k - 1`` first wins at level
  ``k - 1``'s price;
- several accepted it and it is the last level (the floor): the one that accepted it
  first wins at the floor price;
- otherwise the next level starts with those that accepted.

``dutch``, an ascending clock for a reverse auction: the price rises level by level;
the first supplier to accept wins at once at the current level's price. If nobody has
accepted when the last level (the cap) ends, nobody wins.

Time. Call `tick` with the current time before `accept`; `accept` refuses a state
whose current level has already ended. Opening, level and closing events are stamped
with the boundary time at which they logically happened, not the tick's ``now_ms``, so
late ticks give the same events; acceptances are stamped ``now_ms``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

from bidding.auction import EVENT_OF_MOVE, AuctionStatus, Move, StatusChanged, transition
from bidding.errors import AuctionNotLive, DroppedOut, InvalidRules
from bidding.rules import Clock, Format, LotRules

__all__ = [
    "Accepted",
    "ClockAuction",
    "ClockClosed",
    "ClockEvent",
    "LevelStarted",
    "accept",
    "cancel",
    "clock_end_ms",
    "current_level",
    "last_level",
    "level_of_price",
    "level_price",
    "new_clock",
    "settle",
    "tick",
]


def last_level(clock: Clock) -> int:
    """The index of the last level, the one at ``end_price``."""
    return -(-abs(clock.end_price - clock.start_price) // clock.step)


def level_price(clock: Clock, level: int) -> int:
    """The price of a level: falling (japanese) or rising (dutch), clamped to ``end_price``."""
    if clock.end_price < clock.start_price:
        return max(clock.start_price - level * clock.step, clock.end_price)
    return min(clock.start_price + level * clock.step, clock.end_price)


def level_of_price(clock: Clock, price: int) -> int | None:
    """The level whose price this is, or None if no level has it."""
    last = last_level(clock)
    if price == clock.end_price:
        return last
    falling = clock.end_price < clock.start_price
    moved = clock.start_price - price if falling else price - clock.start_price
    level, rest = divmod(moved, clock.step)
    return level if moved >= 0 and rest == 0 and level < last else None


def clock_end_ms(clock: Clock, start_ms: int) -> int:
    """The latest a clock that starts at ``start_ms`` can run to: its last level's end."""
    return start_ms + (last_level(clock) + 1) * clock.interval_s * 1000


def current_level(clock: Clock, start_ms: int, now_ms: int) -> tuple[int, int, int]:
    """``(level, price, level_ends_ms)`` at ``now_ms``.

    Before the start this is level 0; after the last level it stays the last level,
    whose ``level_ends_ms`` is then in the past.
    """
    interval_ms = clock.interval_s * 1000
    level = min(max(0, (now_ms - start_ms) // interval_ms), last_level(clock))
    return level, level_price(clock, level), start_ms + (level + 1) * interval_ms


@dataclass(slots=True, frozen=True)
class ClockAuction:
    """The state of one clock auction; build it with `new_clock`.

    ``active`` (japanese) lists, in acceptance order, the suppliers that accepted the
    previous level: the ones still in (empty at level 0, when anyone may accept).
    ``accepted`` lists, in order, those that accepted the current level. ``winner`` and
    ``price`` are set at the close when someone wins.
    """

    auction_id: str
    rules: LotRules
    starts_at_ms: int
    status: AuctionStatus = AuctionStatus.scheduled
    seq: int = 0
    level: int = 0
    active: tuple[str, ...] = ()
    accepted: tuple[str, ...] = ()
    winner: str | None = None
    price: int | None = None

    @property
    def clock(self) -> Clock:
        """The rules' clock (`new_clock` guarantees there is one)."""
        assert self.rules.clock is not None
        return self.rules.clock


@dataclass(slots=True, frozen=True)
class LevelStarted:
    """A new price level: ``round`` for japanese, ``price`` for dutch.

    ``active`` is how many suppliers are still in (japanese after level 0), else None.
    """

    type: Literal["round", "price"]
    seq: int
    at_ms: int
    level: int
    price: int
    ends_at_ms: int
    active: int | None


@dataclass(slots=True, frozen=True)
class Accepted:
    """A supplier accepted the current level's price."""

    seq: int
    at_ms: int
    supplier: str
    level: int
    price: int
    type: Literal["accepted"] = field(default="accepted", init=False)


@dataclass(slots=True, frozen=True)
class ClockClosed:
    """The clock stopped; ``winner`` and ``price`` are None when nobody won."""

    seq: int
    at_ms: int
    winner: str | None
    price: int | None
    type: Literal["closed"] = field(default="closed", init=False)


ClockEvent = StatusChanged | LevelStarted | Accepted | ClockClosed


def new_clock(auction_id: str, rules: LotRules, *, starts_at_ms: int) -> ClockAuction:
    """A scheduled clock auction; raises `InvalidRules` unless the rules are a clock format."""
    if not rules.format.is_clock or rules.clock is None:
        raise InvalidRules("rules.format", f"A {rules.format} auction has no clock.")
    return ClockAuction(auction_id, rules, starts_at_ms)


def tick(state: ClockAuction, now_ms: int) -> tuple[ClockAuction, tuple[ClockEvent, ...]]:
    """Open the clock and end every level that has ended by ``now_ms``, in order."""
    events: tuple[ClockEvent, ...] = ()
    if state.status is AuctionStatus.scheduled and now_ms >= state.starts_at_ms:
        status = transition(state.status, Move.open)
        opened = StatusChanged("opened", state.seq + 1, state.starts_at_ms, status, _end(state))
        state = replace(state, status=status, seq=state.seq + 1)
        state, started = _start_level(state, 0, ())
        events = (opened, *started)
    while state.status is AuctionStatus.live and now_ms >= _level_end(state, state.level):
        state, ended = _end_level(state)
        events += ended
    return state, events


def accept(
    state: ClockAuction, supplier: str, now_ms: int
) -> tuple[ClockAuction, tuple[ClockEvent, ...]]:
    """A supplier accepts the current level's price (see the module docstring for rules).

    Raises `AuctionNotLive` unless the clock is live, `NotEligible` for a japanese
    supplier that has dropped out, and ValueError if `tick` was not called up to
    ``now_ms``. Accepting the same level twice changes nothing.
    """
    if state.status is not AuctionStatus.live or now_ms < state.starts_at_ms:
        raise AuctionNotLive(f"The clock auction is {state.status}, not live.")
    if now_ms >= _level_end(state, state.level):
        raise ValueError("The current level has ended: tick the clock to now_ms first.")
    if supplier in state.accepted:
        return state, ()
    japanese = state.rules.format is Format.japanese
    if japanese and state.level > 0 and supplier not in state.active:
        raise DroppedOut("You dropped out of this clock auction.")
    price = level_price(state.clock, state.level)
    seq = state.seq + 1
    state = replace(state, accepted=(*state.accepted, supplier), seq=seq)
    events: tuple[ClockEvent, ...] = (Accepted(seq, now_ms, supplier, state.level, price),)
    if not japanese:
        state, closed = _close(state, now_ms, supplier, price)
        events += closed
    return state, events


def settle(
    state: ClockAuction, *, awarded: bool, now_ms: int
) -> tuple[ClockAuction, tuple[ClockEvent, ...]]:
    """Record the buyer's decision on a closed clock auction: awarded, or no award."""
    return _move(state, Move.award if awarded else Move.no_award, now_ms)


def cancel(state: ClockAuction, now_ms: int) -> tuple[ClockAuction, tuple[ClockEvent, ...]]:
    """Cancel a scheduled or live clock auction."""
    return _move(state, Move.cancel, now_ms)


def _move(
    state: ClockAuction, move: Move, now_ms: int
) -> tuple[ClockAuction, tuple[ClockEvent, ...]]:
    status = transition(state.status, move)
    seq = state.seq + 1
    event = StatusChanged(EVENT_OF_MOVE[move], seq, now_ms, status, _end(state))
    return replace(state, status=status, seq=seq), (event,)


def _end(state: ClockAuction) -> int:
    return clock_end_ms(state.clock, state.starts_at_ms)


def _level_end(state: ClockAuction, level: int) -> int:
    return state.starts_at_ms + (level + 1) * state.clock.interval_s * 1000


def _start_level(
    state: ClockAuction, level: int, active: tuple[str, ...]
) -> tuple[ClockAuction, tuple[ClockEvent, ...]]:
    japanese = state.rules.format is Format.japanese
    seq = state.seq + 1
    started = LevelStarted(
        type="round" if japanese else "price",
        seq=seq,
        at_ms=_level_end(state, level - 1),
        level=level,
        price=level_price(state.clock, level),
        ends_at_ms=_level_end(state, level),
        active=len(active) if japanese and level > 0 else None,
    )
    state = replace(state, level=level, active=active, accepted=(), seq=seq)
    return state, (started,)


def _end_level(state: ClockAuction) -> tuple[ClockAuction, tuple[ClockEvent, ...]]:
    level, accepted = state.level, state.accepted
    at_ms = _level_end(state, level)
    price = level_price(state.clock, level)
    is_last = level == last_level(state.clock)
    if state.rules.format is Format.dutch:
        if is_last:
            return _close(state, at_ms, None, None)
        return _start_level(state, level + 1, ())
    if len(accepted) == 1 or (accepted and is_last):
        return _close(state, at_ms, accepted[0], price)
    if not accepted and level == 0:
        return _close(state, at_ms, None, None)
    if not accepted:
        return _close(state, at_ms, state.active[0], level_price(state.clock, level - 1))
    return _start_level(state, level + 1, accepted)


def _close(
    state: ClockAuction, at_ms: int, winner: str | None, price: int | None
) -> tuple[ClockAuction, tuple[ClockEvent, ...]]:
    status = transition(state.status, Move.close)
    seq = state.seq + 1
    state = replace(state, status=status, seq=seq, winner=winner, price=price)
    return state, (ClockClosed(seq, at_ms, winner, price),)
