"""What each viewer may see of an auction, computed from its live state. Pure.

- The RFQ's buyer and operators see the whole ladder with suppliers, raw and
  transformed prices, the reserve and whether it is met.
- A supplier sees its own bid and rank, and more per the lot's ``visibility``:
  ``rank_only`` nothing of others; ``best_price`` the best price too; ``full_ladder``
  every price, with the other suppliers anonymised (no ids, no bid ids).
- Sealed auctions show nobody any price but their own until the close (the buyer
  sees how many bids arrived); after the close they show like ``full_ladder``.
- Clock auctions (japanese, dutch) add ``clock``: the level, its price and end, and how
  many suppliers are still in (japanese); the buyer side also sees how many accepted
  the level, a supplier whether it accepted it and whether it may. Bids are
  acceptances; they show as above.

Transformed prices are exact integers in 1/10000 of a minor unit
(``ranking_price_e4``), never floats.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bidding.decide import Situation, Transform, price_bound
from bidding.price_clock import last_level, level_price
from bidding.rules import Clock, Decrement, DecrementFrom, Format, LotRules, Ties, Visibility
from rfq.platform import clock

_AFTER_CLOSE = frozenset({"closed", "awarded", "no_award"})
_NO_TRANSFORM = Transform()
_PRICED = frozenset({"reverse_english", "sealed"})


@dataclass(frozen=True, slots=True)
class Viewer:
    """Who is looking: the buyer side (buyer or operator) or a supplier company."""

    full: bool
    company_id: int | None = None


def view(
    meta: Mapping[str, str],
    standings: Sequence[Mapping[str, Any]],
    viewer: Viewer,
    extra: Mapping[str, Any],
    transform: Transform = _NO_TRANSFORM,
) -> dict[str, Any]:
    """The auction as ``viewer`` may see it.

    ``meta`` is the Redis meta hash, ``standings`` the standing bids best first (with
    ``company`` and ``rank``), ``extra`` the fixed facts (rfq id, currency, quantity),
    ``transform`` a supplier viewer's own ranking transform.
    """
    status = meta["status"]
    sealed = meta["fmt"] == "sealed"
    hidden = sealed and status not in _AFTER_CLOSE
    visibility = "full_ladder" if sealed and not hidden else meta.get("vis", "rank_only")
    out: dict[str, Any] = {
        "id": int(meta["id"]),
        **extra,
        "state": status,
        "format": meta["fmt"],
        "visibility": meta.get("vis", "rank_only"),
        "ceiling_price": int(meta["ceiling"]),
        "starts_at": clock.rfc3339(clock.from_ms(int(meta["starts"]))),
        "ends_at": clock.rfc3339(clock.from_ms(int(meta["ends"]))),
        "ends_at_ms": int(meta["ends"]),
        "extensions": int(meta["ext"]),
        "seq": int(meta["seq"]),
        "epoch": int(meta["epoch"]),
        "server_time": clock.now_ms(),
        "bidders": len(standings),
    }
    if meta.get("ck_int"):
        out["clock"] = clock_state(meta, standings)
        if viewer.full:
            level = out["clock"]["level"]
            out["clock"]["accepted"] = sum(1 for b in standings if b.get("level") == level)
    best = standings[0] if standings else None
    if viewer.full:
        reserve = int(meta["reserve"]) if meta.get("reserve") else None
        out["reserve_price"] = reserve
        if hidden:
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
    out["my_rank"] = None if hidden or mine is None else mine["rank"]
    out["min_acceptable"], out["min_acceptable_reason"] = next_price(
        meta, standings, mine, transform
    )
    if "clock" in out:
        out["clock"].update(_my_clock(out["clock"], meta["fmt"], mine, status == "live"))
        if out["clock"]["may_accept"]:
            out["min_acceptable"], out["min_acceptable_reason"] = out["clock"]["price"], "clock"
    if hidden:
        out["bidders"] = None
        return out
    if visibility in ("best_price", "full_ladder"):
        out["best_price"] = best["price"] if best else None
    if visibility == "full_ladder":
        out["ladder"] = [
            {"rank": b["rank"], "price": b["price"], "mine": b["company"] == str(viewer.company_id)}
            for b in standings
        ]
    return out


def next_price(
    meta: Mapping[str, str],
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
    if meta["status"] not in ("live", "scheduled") or meta["fmt"] not in _PRICED:
        return None, "not_open"
    rules = LotRules(
        format=Format(meta["fmt"]),
        visibility=Visibility(meta.get("vis", "rank_only")),
        decrement=Decrement(
            amount=int(meta["dec_amt"]) if meta.get("dec_amt") else None,
            bps=int(meta["dec_bps"]) if meta.get("dec_bps") else None,
        ),
        decrement_from=DecrementFrom(meta.get("dec_from", "own")),
        ties=Ties(meta.get("ties", "earlier_wins")),
    )
    ceiling = int(meta["ceiling"])
    own = Situation(ceiling, transform, mine["price"] if mine else None)
    best = standings[0] if standings else None
    by_best = rules.decrement_from is DecrementFrom.best and best is not None
    if by_best and best is not mine:
        if rules.format is Format.sealed or rules.visibility is Visibility.rank_only:
            return None, "hidden"
    full = Situation(ceiling, transform, own.own_price, best["t"] if by_best and best else None)
    price, own_bound = price_bound(rules, full), price_bound(rules, own)
    reason = "best" if price < own_bound else "own" if own_bound < ceiling else "ceiling"
    return (price if price >= 1 else None), reason


def clock_state(meta: Mapping[str, str], standings: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """A clock auction's public state: its level, price, the level's end, and (japanese)
    how many suppliers are still in: those that accepted the level before."""
    c = Clock(int(meta["ck_start"]), int(meta["ck_step"]), int(meta["ck_int"]), int(meta["ck_end"]))
    level = int(meta["lvl"])
    starts = int(meta["starts"])
    active = None
    if meta["fmt"] == "japanese" and level > 0:
        active = sum(1 for b in standings if b.get("level") in (level - 1, level))
    return {
        "level": level,
        "last_level": last_level(c),
        "price": level_price(c, level),
        "level_ends_at_ms": starts + (level + 1) * c.interval_s * 1000,
        "start_price": c.start_price,
        "step": c.step,
        "interval_s": c.interval_s,
        "end_price": c.end_price,
        "active": active,
    }


def _my_clock(
    state: Mapping[str, Any], fmt: str, mine: Mapping[str, Any] | None, live: bool
) -> dict[str, Any]:
    """A supplier's own position in a clock: accepted the level, may accept it, or out."""
    level = state["level"]
    accepted = mine is not None and mine.get("level") == level
    still_in = fmt == "dutch" or level == 0 or (mine is not None and mine.get("level") == level - 1)
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
    }
