"""What each viewer may see of an auction, computed from its live state. Pure.

- The RFQ's buyer and operators see the whole ladder with suppliers, raw and
  transformed prices, the reserve and whether it is met.
- A supplier sees its own bid and rank (and whether the buyer or an operator placed it
  for the supplier: ``my_bid_surrogate``), and more per the lot's ``visibility``:
  ``rank_only`` nothing of others; ``best_price`` the best price too; ``full_ladder``
  every price, with the other suppliers anonymised (no ids, no bid ids).
- Sealed auctions show nobody any price but their own until the close (the buyer
  sees how many bids arrived), and so do pre-bids until the opening; after a normal
  close they show as the lot's own ``visibility`` says (a cancelled sealed lot's bids
  stay sealed), the same rule as the ``/ws`` frames (``realtime/frames.py``) and the
  festival report.
- Clock auctions (japanese, dutch) add ``clock``: the level, its price and end, and how
  many suppliers are still in (japanese); the buyer side also sees how many accepted
  the level, a supplier whether it accepted it and whether it may. Bids are
  acceptances; they show as above.

Transformed prices are exact integers in 1/10000 of a minor unit
(``ranking_price_e4``), never floats. The state comes in as :class:`Live` (the engine's
adapter reads it from Redis) and the time as an argument: nothing here does I/O or reads
a clock.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from bidding.auction import ENDED, OPEN, AuctionStatus
from bidding.decide import Situation, Transform, price_bound
from bidding.price_clock import last_level, level_price
from bidding.rules import DecrementFrom, Format, LotRules, Ties, Visibility
from rfq.platform import clock

AFTER_CLOSE = ENDED - {AuctionStatus.cancelled}
"""Statuses in which a sealed lot's bids show (a cancelled one's never do)."""
_NO_TRANSFORM = Transform()
_PRICED = frozenset({Format.reverse_english, Format.sealed})


@dataclass(frozen=True, slots=True)
class Live:
    """An auction's live state, as the engine keeps it."""

    id: int
    status: str
    rules: LotRules
    ceiling_price: int
    reserve_price: int | None
    starts_ms: int
    ends_ms: int
    extensions: int
    seq: int
    epoch: int
    level: int = 0


def concealed(fmt: str, status: str, pre_bids: bool = False) -> bool:
    """True while a lot's bids show to nobody (the buyer sees only their count): a sealed
    lot's until its close, and a ``pre_bids`` lot's pre-bids until the opening (a
    cancelled lot's bids stay concealed in both: a cancel must not reveal them)."""
    pre = pre_bids and status in (AuctionStatus.scheduled, AuctionStatus.cancelled)
    return pre or (fmt == Format.sealed and status not in AFTER_CLOSE)


def hidden(live: Live) -> bool:
    """:func:`concealed` for a live state."""
    return concealed(live.rules.format, live.status, live.rules.pre_bids)


@dataclass(frozen=True, slots=True)
class Viewer:
    """Who is looking: the buyer side (buyer or operator) or a supplier company;
    ``public``: a supplier that may see the RFQ but does not take part in it, which sees
    the lot's status and times only (no bidders, ranks, pseudonyms or prices)."""

    full: bool
    company_id: int | None = None
    public: bool = False


def view(
    live: Live,
    standings: Sequence[Mapping[str, Any]],
    viewer: Viewer,
    extra: Mapping[str, Any],
    now_ms: int,
    transform: Transform = _NO_TRANSFORM,
) -> dict[str, Any]:
    """The auction as ``viewer`` may see it at ``now_ms``.

    ``standings`` are the standing bids best first (with ``company`` and ``rank``),
    ``extra`` the fixed facts (rfq id, currency, quantity), ``transform`` a supplier
    viewer's own ranking transform.
    """
    status, fmt = live.status, live.rules.format
    sealed_now = hidden(live)
    if viewer.public:
        return {
            "id": live.id,
            **extra,
            "state": status,
            "format": fmt.value,
            "starts_at": clock.rfc3339(clock.from_ms(live.starts_ms)),
            "ends_at": clock.rfc3339(clock.from_ms(live.ends_ms)),
            "ends_at_ms": live.ends_ms,
            "server_time": now_ms,
            "public": True,
        }
    out: dict[str, Any] = {
        "id": live.id,
        **extra,
        "state": status,
        "format": fmt.value,
        "visibility": live.rules.visibility.value,
        "pre_bids": live.rules.pre_bids,
        "ceiling_price": live.ceiling_price,
        "starts_at": clock.rfc3339(clock.from_ms(live.starts_ms)),
        "ends_at": clock.rfc3339(clock.from_ms(live.ends_ms)),
        "ends_at_ms": live.ends_ms,
        "extensions": live.extensions,
        "seq": live.seq,
        "epoch": live.epoch,
        "server_time": now_ms,
        "bidders": len(standings),
    }
    if live.rules.clock is not None:
        out["clock"] = clock_state(live, standings)
        if viewer.full:
            level = out["clock"]["level"]
            out["clock"]["accepted"] = sum(1 for b in standings if b.get("level") == level)
    best = standings[0] if standings else None
    if viewer.full:
        reserve = live.reserve_price
        out["reserve_price"] = reserve
        if sealed_now:
            out["ladder"], out["sealed_bids"] = [], len(standings)
            out["best_price"], out["reserve_met"] = None, None
            return out
        out["ladder"] = [_full_entry(b) for b in standings]
        out["best_price"] = best["price"] if best else None
        out["reserve_met"] = reserve is None or (best is not None and best["price"] <= reserve)
        return out
    mine = next((b for b in standings if b["company"] == str(viewer.company_id)), None)
    out["my_price"] = mine["price"] if mine else None
    out["my_bid_id"] = mine["bid_id"] if mine else None
    out["my_bid_surrogate"] = bool(mine and mine.get("sur"))
    out["my_rank"] = None if sealed_now or mine is None else mine["rank"]
    out["min_acceptable"], out["min_acceptable_reason"] = next_price(
        live, standings, mine, transform
    )
    if "clock" in out:
        out["clock"].update(_my_clock(out["clock"], fmt, mine, status == AuctionStatus.live))
        if out["clock"]["may_accept"]:
            out["min_acceptable"], out["min_acceptable_reason"] = out["clock"]["price"], "clock"
    if sealed_now:
        out["bidders"] = None
        del out["seq"], out["epoch"]  # the numbering would count the sealed bids
        return out
    visibility = live.rules.visibility
    if visibility is not Visibility.rank_only:
        out["best_price"] = best["price"] if best else None
    if visibility is Visibility.full_ladder:
        out["ladder"] = [
            {"rank": b["rank"], "price": b["price"], "mine": b["company"] == str(viewer.company_id)}
            for b in standings
        ]
    return out


def next_price(
    live: Live,
    standings: Sequence[Mapping[str, Any]],
    mine: Mapping[str, Any] | None,
    transform: Transform,
) -> tuple[int | None, str]:
    """The highest price a supplier may bid now, and the rule that sets it.

    The reason is ``ceiling``, ``own`` (its standing bid minus the decrement) or
    ``best`` (the best bid minus the decrement, in the supplier's own raw terms). The
    price is None with reason ``hidden`` where it would reveal a best price the lot's
    visibility hides, or ``not_open`` outside a live or scheduled reverse auction.
    Ties with other suppliers (``ties=rejected``) are not stepped past here: a bid at
    this price may still be refused ``tie_not_allowed``.
    """
    rules = live.rules
    if live.status not in OPEN or rules.format not in _PRICED:
        return None, "not_open"
    ceiling = live.ceiling_price
    own = Situation(ceiling, transform, mine["price"] if mine else None)
    if live.status == AuctionStatus.scheduled:  # a pre-bid: own terms only (auction.py)
        blind = replace(rules, decrement_from=DecrementFrom.own, ties=Ties.earlier_wins)
        price = price_bound(blind, own)
        return (price if price >= 1 else None), ("own" if price < ceiling else "ceiling")
    best = standings[0] if standings else None
    by_best = rules.decrement_from is DecrementFrom.best and best is not None
    if by_best and best is not mine:
        if rules.format is Format.sealed or rules.visibility is Visibility.rank_only:
            return None, "hidden"
    full = Situation(ceiling, transform, own.own_price, best["t"] if by_best and best else None)
    price, own_bound = price_bound(rules, full), price_bound(rules, own)
    reason = "best" if price < own_bound else "own" if own_bound < ceiling else "ceiling"
    return (price if price >= 1 else None), reason


def clock_state(live: Live, standings: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """A clock auction's public state: its level, price, the level's end, and (japanese)
    how many suppliers are still in: those that accepted the level before."""
    c = live.rules.clock
    assert c is not None, "only clock formats have a clock state"
    level = live.level
    active = None
    if live.rules.format is Format.japanese and level > 0:
        active = sum(1 for b in standings if b.get("level") in (level - 1, level))
    return {
        "level": level,
        "last_level": last_level(c),
        "price": level_price(c, level),
        "level_ends_at_ms": live.starts_ms + (level + 1) * c.interval_s * 1000,
        "start_price": c.start_price,
        "step": c.step,
        "interval_s": c.interval_s,
        "end_price": c.end_price,
        "active": active,
    }


def _my_clock(
    state: Mapping[str, Any], fmt: Format, mine: Mapping[str, Any] | None, live: bool
) -> dict[str, Any]:
    """A supplier's own position in a clock: accepted the level, may accept it, or out."""
    level = state["level"]
    accepted = mine is not None and mine.get("level") == level
    previous = mine is not None and mine.get("level") == level - 1
    still_in = fmt is Format.dutch or level == 0 or previous
    return {"accepted_by_me": accepted, "dropped_out": not accepted and not still_in,
            "may_accept": live and not accepted and still_in}  # fmt: skip


def _full_entry(b: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "rank": b["rank"],
        "bid_id": b["bid_id"],
        "supplier_company_id": int(b["company"]),
        "price": b["price"],
        "ranking_price_e4": b["t"],
        "at": clock.rfc3339(clock.from_ms(int(b["at"]))),
        "proxy": bool(b.get("proxy")),
        "surrogate": bool(b.get("sur")),
    }
