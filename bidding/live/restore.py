"""Building an auction's live Redis state from SQL, the truth.

Used for the first load of an auction, and to rebuild one that Redis lost (flushed,
crashed without its append-only file, or found inconsistent by the reconciler); a
rebuild bumps the auction's ``epoch``, so clients resuming a stream get a snapshot.

What a rebuild keeps: the status, times and extensions; every supplier's standing bid
(its latest bid that is not void) ranked as before; transforms; proxy floors (from the
audit log); the idempotency keys of accepted bids. What it drops: entries that never
reached SQL (their numbers are given up in a ``holes_closed`` audit entry), the first
outcomes of *rejected* keys (a replayed rejected key is decided again, which changes
nothing) and the bid rate-limit state.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import msgpack
from sqlalchemy import func, select
from sqlmodel import Session, col

from bidding.live.engine import RateLimit, meta_of
from bidding.price_clock import level_of_price
from bidding.rules import parse_rules
from rfq import audit_chain
from rfq.auctions import AuctionRecord, AuditRecord, BidRecord, EventRecord, TransformRecord
from rfq.platform import clock
from rfq.platform.errors import Conflict, NotFound


def snapshot(session: Session, auction_id: int, *, rate: RateLimit) -> dict[str, Any] | None:
    """The ``load.lua`` state of the auction from SQL (None if there is no such auction).

    An auction that already had a life in Redis (anything in its audit log) gets a new
    epoch in SQL first: this is a rebuild, and resuming clients must take a snapshot.
    """
    auction = session.get(AuctionRecord, auction_id, with_for_update=True)
    if auction is None:
        return None
    if auction.aseq > 0 or _max(
        session, col(AuditRecord.aseq), col(AuditRecord.auction_id), auction_id
    ):
        auction.epoch += 1
        auction.rebuilt_at = clock.now()
        session.add(auction)
        session.flush()
    rules = parse_rules(auction.rules, ceiling_price=auction.ceiling_price)
    seq = max(auction.seq, _max(session, EventRecord.seq, EventRecord.auction_id, auction_id))
    aseq = max(auction.aseq, _max(session, AuditRecord.aseq, AuditRecord.auction_id, auction_id))
    if (seq, aseq) != (auction.seq, auction.aseq):
        # Holes the streams could not fill (never acknowledged, never shown: the fan-out
        # waits for SQL); the new epoch numbers on above everything stored, and the
        # chain says which numbers were given up.
        lost = {"seq_after": auction.seq, "seq_to": seq, "aseq_after": auction.aseq}
        auction.seq, auction.aseq = seq, aseq
        auction.seq_stored, auction.aseq_stored = seq, aseq
        session.add(auction)
        session.flush()
        audit_chain.append(session, auction_id, "holes_closed", {**lost, "aseq_to": aseq})
        session.refresh(auction)
        aseq = auction.aseq
    standing_bids = _standing_bids(session, auction_id)
    levels: dict[str, int] = {}
    if rules.clock is not None:
        levels = {b.id: level_of_price(rules.clock, b.price) or 0 for b in standing_bids}
    meta = meta_of(
        auction_id=auction_id,
        status=auction.status,
        rules=rules,
        ceiling_price=auction.ceiling_price,
        reserve_price=auction.reserve_price,
        starts_ms=clock.to_ms(auction.starts_at),
        ends_ms=clock.to_ms(auction.ends_at),
        extensions=auction.extensions,
        seq=seq,
        aseq=aseq,
        epoch=auction.epoch,
        rate=rate,
        level=_clock_level(session, auction_id, levels.values()),
    )
    standing: dict[str, bytes] = {}
    ladder: list[list[Any]] = []
    idem: dict[str, bytes] = {}
    for bid in standing_bids:
        packed = _standing(bid)
        if bid.id in levels:
            packed["level"] = levels[bid.id]
        standing[str(bid.company_id)] = _pack(packed)
        ladder.append([packed["member"], bid.transformed])
    for bid in session.execute(
        select(BidRecord).where(
            col(BidRecord.auction_id) == auction_id, col(BidRecord.key).is_not(None)
        )
    ).scalars():
        idem[f"{bid.company_id}:{bid.key}"] = _pack(
            {"r": "ok", "bid": _bid_map(bid), "epoch": bid.epoch}
        )
    transforms = {
        str(t.company_id): f"{t.multiplier_bps}:{t.adder}"
        for t in session.execute(
            select(TransformRecord).where(col(TransformRecord.auction_id) == auction_id)
        ).scalars()
    }
    return {
        "meta": meta,
        "standing": standing,
        "ladder": ladder,
        "transforms": transforms,
        "proxies": _proxies(session, auction_id),
        "idem": idem,
    }


def due_ms(meta: Mapping[str, Any]) -> int | None:
    """When the scheduler must next look at an auction with this meta hash (None:
    never): its start, then its end, or for a live clock the end of its level."""
    if meta["status"] == "scheduled":
        return int(meta["starts"])
    if meta["status"] == "live" and meta.get("ck_int"):
        return int(meta["starts"]) + (int(meta["lvl"]) + 1) * int(meta["ck_int"]) * 1000
    if meta["status"] == "live":
        return int(meta["ends"])
    return None


def _clock_level(session: Session, auction_id: int, bid_levels: Iterable[int]) -> int:
    """A clock auction's current level as SQL knows it: the latest level started or
    accepted (the scheduler's next tick moves it on to the present)."""
    level = max(bid_levels, default=0)
    rows = session.execute(
        select(col(EventRecord.data)).where(
            col(EventRecord.auction_id) == auction_id,
            col(EventRecord.type).in_(("round", "price")),
        )
    ).scalars()
    return max([level, *(int(data["level"]) for data in rows)])


def _standing_bids(session: Session, auction_id: int) -> list[BidRecord]:
    rows = session.execute(
        select(BidRecord)
        .where(col(BidRecord.auction_id) == auction_id, col(BidRecord.voided).is_(False))
        .order_by(col(BidRecord.epoch), col(BidRecord.seq))
    ).scalars()
    latest: dict[int, BidRecord] = {}
    for bid in rows:
        latest[bid.company_id] = bid
    return list(latest.values())


def _proxies(session: Session, auction_id: int) -> dict[str, int]:
    floors: dict[str, int] = {}
    rows = session.execute(
        select(AuditRecord)
        .where(
            col(AuditRecord.auction_id) == auction_id,
            col(AuditRecord.kind).in_(("proxy_set", "proxy_cleared")),
        )
        .order_by(col(AuditRecord.epoch), col(AuditRecord.aseq))
    ).scalars()
    for entry in rows:
        company = str(entry.data["company"])
        if entry.kind == "proxy_set":
            floors[company] = int(entry.data["floor"])
        else:
            floors.pop(company, None)
    return floors


def voiding(session: Session, auction_id: int, bid_id: str) -> tuple[int, bytes]:
    """What voiding a bid takes: its company, and that company's earlier bid in Redis's
    standing format (empty if none: the supplier then has no standing bid)."""
    bid = session.get(BidRecord, bid_id)
    if bid is None or bid.auction_id != auction_id:
        raise NotFound("No such bid in this auction.")
    if bid.voided:
        raise Conflict("The bid is already void.", code="bid_not_voidable")
    earlier = (
        session.execute(
            select(BidRecord)
            .where(
                col(BidRecord.auction_id) == auction_id,
                col(BidRecord.company_id) == bid.company_id,
                col(BidRecord.voided).is_(False),
                col(BidRecord.id) != bid_id,
            )
            .order_by(col(BidRecord.epoch).desc(), col(BidRecord.seq).desc())
        )
        .scalars()
        .first()
    )
    if earlier is None or (earlier.epoch, earlier.seq) >= (bid.epoch, bid.seq):
        return bid.company_id, b""
    return bid.company_id, _pack(_standing(earlier))


def _standing(bid: BidRecord) -> dict[str, Any]:
    """A standing bid as ``bid.lua`` keeps it (``member`` is its ladder entry)."""
    return {
        "bid_id": bid.id,
        "price": bid.price,
        "t": bid.transformed,
        "seq": bid.seq,
        "at": clock.to_ms(bid.at),
        "proxy": bid.proxy,
        "member": f"{bid.seq:012d}:{bid.company_id}",
        **_surrogate(bid),
    }


def _bid_map(bid: BidRecord) -> dict[str, Any]:
    return {
        "bid_id": bid.id,
        "company": str(bid.company_id),
        "price": bid.price,
        "t": bid.transformed,
        "seq": bid.seq,
        "at": clock.to_ms(bid.at),
        "proxy": bid.proxy,
        **_surrogate(bid),
    }


def _surrogate(bid: BidRecord) -> dict[str, Any]:
    """``sur`` (the user who placed it) for a surrogate bid, as ``bid.lua`` marks it."""
    return {} if bid.surrogate_by is None else {"sur": str(bid.surrogate_by)}


def _max(session: Session, column: Any, key: Any, auction_id: int) -> int:
    value = session.execute(select(func.max(column)).where(key == auction_id)).scalar()
    return int(value or 0)


def _pack(value: dict[str, Any]) -> bytes:
    packed: bytes = msgpack.packb(value, use_bin_type=False)
    return packed
