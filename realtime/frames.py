"""The frames the server sends over ``/ws``, rendered from state and nothing else (no
I/O, no clock): an auction event per audience, a festival's lot tick, a bid's answer.
What each audience may see follows ``bidding/views.py``'s rules (protocol in
``docs/protocol.md``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

from bidding.views import concealed


class FeedState(Protocol):
    """What the hub knows of one watched auction (``realtime.hub.Feed``)."""

    auction_id: int
    epoch: int
    status: str
    sealed: bool
    pre_bids: bool
    visibility: str
    ends_ms: int
    festival: int | None
    standings: dict[str, tuple[int, int, int]]
    """company -> ``(transformed price, seq, price)``."""


def event(
    feed: FeedState, event: Mapping[str, Any], audience: str, token: Callable[[str], str]
) -> dict[str, Any] | None:
    """An auction event as ``audience`` (``full``, ``supplier``, ``public``,
    ``festival*``) may see it, or None if it may see nothing of it; ``token`` names a
    supplier by its pseudonym."""
    if audience.startswith("festival"):
        status_only = audience == "festival-status" or (
            audience == "festival-public" and _hidden(feed)
        )
        if status_only and "status" not in event:
            return None  # bids and extensions are activity, not status
        return lot_tick(feed, audience, event["seq"])
    base: dict[str, Any] = {
        "type": event["type"],
        "auction": feed.auction_id,
        "seq": event["seq"],
        "epoch": feed.epoch,
        "at": event["at"],
    }
    kind = event["type"]
    hidden = _hidden(feed)
    if kind == "clarification":  # the buyer's answer, for everyone taking part
        if audience == "public":
            return None
        frame = {**base, "id": event["id"], "lot_id": event.get("lot_id"),
                 "question": event["question"], "answer": event["answer"]}  # fmt: skip
        if audience == "supplier" and hidden:  # its number would count the sealed bids
            del frame["seq"], frame["epoch"]
        return frame
    if audience == "public" or (audience == "supplier" and hidden):
        # the status only: a sealed lot before its close shows suppliers nothing of the
        # bids (not when, not how many)
        if "status" not in event:
            return None  # bids, extensions, clock levels: activity, not status
        # without seq: the numbers between two status moves would count the bids
        return {
            "type": kind,
            "auction": feed.auction_id,
            "at": event["at"],
            "state": event["status"],
            "ends_at_ms": event.get("ends"),
        }
    if kind == "extended":
        return {**base, "ends_at_ms": event["ends"], "extensions": event["ext"]}
    if kind in ("round", "price"):  # a clock's new level: public to every viewer
        return {
            **base,
            "level": event["level"],
            "price": event["price"],
            "level_ends_at_ms": event["level_ends"],
            "active": event.get("active"),
        }
    if kind != "bid":
        return {**base, "state": event.get("status"), "ends_at_ms": event.get("ends")}
    if audience == "full":
        if hidden:
            return {**base, "bids": len(feed.standings)}
        return {
            **base,
            "bid_id": event["bid_id"],
            "supplier_company_id": int(event["company"]),
            "price": event["price"],
            "ranking_price_e4": event["t"],
            "proxy": bool(event.get("proxy")),
            "surrogate": bool(event.get("sur")),
            "bidders": len(feed.standings),
        }
    ranked = sorted(feed.standings.items(), key=lambda kv: (kv[1][0], kv[1][1]))
    frame = {
        **base,
        "bidders": len(ranked),
        "ends_at_ms": feed.ends_ms,
        "order": [token(company) for company, _ in ranked],
    }
    if feed.visibility in ("best_price", "full_ladder") and ranked:
        frame["best_price"] = ranked[0][1][2]
    if feed.visibility == "full_ladder":
        frame["prices"] = [price for _, (_, _, price) in ranked]
    return frame


def lot_tick(feed: FeedState, audience: str, seq: int) -> dict[str, Any]:
    """A festival control room's view of one lot: state, bidders, time, best price
    where this audience may see it."""
    frame: dict[str, Any] = {
        "type": "lot",
        "festival": feed.festival,
        "auction": feed.auction_id,
        "seq": seq,
        "epoch": feed.epoch,
        "state": feed.status,
        "ends_at_ms": feed.ends_ms,
        "bidders": len(feed.standings),
    }
    hidden = _hidden(feed)
    if audience == "festival-status" or (hidden and audience != "festival-full"):
        # a lot of an RFQ the supplier does not take part in, or a sealed lot before
        # its close: no bidders, and no seq (its steps would count the bids)
        frame.pop("bidders")
        frame.pop("seq")
        frame.pop("epoch")
        return frame
    shown = audience == "festival-full" or feed.visibility in ("best_price", "full_ladder")
    if shown and not hidden and feed.standings:
        best = min(feed.standings.values(), key=lambda v: (v[0], v[1]))
        frame["best_price"] = best[2]
    return frame


def rejected(key: Any, auction: Any, code: str, message: str, **extra: Any) -> dict[str, Any]:
    """The answer to a ``bid`` or ``proxy`` that was not acknowledged."""
    frame = {"type": "rejected", "key": key, "code": code, "message": message, **extra}
    if auction is not None:
        frame["auction"] = auction
    return frame


def error(code: str, message: str, **extra: Any) -> dict[str, Any]:
    """The answer to a frame that is not a valid operation."""
    return {"type": "error", "code": code, "message": message, **extra}


def _hidden(feed: FeedState) -> bool:
    return concealed("sealed" if feed.sealed else "", feed.status, feed.pre_bids)
