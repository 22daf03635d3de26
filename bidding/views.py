"""What each viewer may see of an auction, computed from its live state. Pure.

- The RFQ's buyer and operators see the whole ladder with suppliers, raw and
  transformed prices, the reserve and whether it is met.
- A supplier sees its own bid and rank, and more per the lot's ``visibility``:
  ``rank_only`` nothing of others; ``best_price`` the best price too; ``full_ladder``
  every price, with the other suppliers anonymised (no ids, no bid ids).
- Sealed auctions show nobody any price but their own until the close (the buyer
  sees how many bids arrived); after the close they show like ``full_ladder``.

Transformed prices are exact integers in 1/10000 of a minor unit
(``ranking_price_e4``), never floats.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rfq import clock

_AFTER_CLOSE = frozenset({"closed", "awarded", "no_award"})


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
) -> dict[str, Any]:
    """The auction as ``viewer`` may see it.

    ``meta`` is the Redis meta hash, ``standings`` the standing bids best first (with
    ``company`` and ``rank``), ``extra`` the fixed facts (rfq id, currency, quantity).
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
