"""Building an auction's live Redis state from SQL, the truth.

Used for the first load of an auction, and to rebuild one that Redis lost (flushed,
crashed without its append-only file, or found inconsistent by the reconciler); a
rebuild bumps the auction's ``epoch``, so clients resuming a stream get a snapshot.

What a rebuild keeps: the status, times and extensions; every supplier's standing
bid (its latest bid that is not void) ranked as before; transforms; proxy floors
(from the audit log); the idempotency keys of accepted bids. What it drops: the
first outcomes of *rejected* keys (a replayed rejected key is decided again, which
changes nothing) and the bid rate-limit state.
"""

from __future__ import annotations

from typing import Any

import msgpack
from sqlalchemy import func, select
from sqlmodel import Session, col

from bidding.engine import RateLimit, meta_of
from bidding.records import AuctionRecord, AuditRecord, BidRecord, EventRecord, TransformRecord
from bidding.rules import parse_rules
from rfq import clock


def create(session: Session, lot: Any, rfq: Any) -> AuctionRecord:
    """The auction record of a lot being published (status scheduled, epoch 1)."""
    existing = session.get(AuctionRecord, lot.id)
    if existing is not None:
        return existing
    record = AuctionRecord(
        id=lot.id,
        rfq_id=rfq.id,
        status="scheduled",
        format=lot.rules["format"],
        rules=lot.rules,
        currency=rfq.currency,
        quantity=lot.quantity,
        ceiling_price=lot.ceiling_price,
        reserve_price=lot.reserve_price,
        starts_at=lot.starts_at,
        ends_at=lot.ends_at,
    )
    session.add(record)
    session.flush()
    return record


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
    )
    standing: dict[str, bytes] = {}
    ladder: list[list[Any]] = []
    idem: dict[str, bytes] = {}
    for bid in _standing_bids(session, auction_id):
        member = f"{bid.seq:012d}:{bid.company_id}"
        standing[str(bid.company_id)] = _pack(
            {
                "bid_id": bid.id,
                "price": bid.price,
                "t": bid.transformed,
                "seq": bid.seq,
                "at": clock.to_ms(bid.at),
                "proxy": bid.proxy,
                "member": member,
            }
        )
        ladder.append([member, bid.transformed])
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


def due_ms(state: dict[str, Any]) -> int | None:
    """When the scheduler must next look at an auction of this state (None: never)."""
    meta = state["meta"]
    if meta["status"] == "scheduled":
        return int(meta["starts"])
    if meta["status"] == "live":
        return int(meta["ends"])
    return None


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


def _bid_map(bid: BidRecord) -> dict[str, Any]:
    return {
        "bid_id": bid.id,
        "company": str(bid.company_id),
        "price": bid.price,
        "t": bid.transformed,
        "seq": bid.seq,
        "at": clock.to_ms(bid.at),
        "proxy": bid.proxy,
    }


def _max(session: Session, column: Any, key: Any, auction_id: int) -> int:
    value = session.execute(select(func.max(column)).where(key == auction_id)).scalar()
    return int(value or 0)


def _pack(value: dict[str, Any]) -> bytes:
    packed: bytes = msgpack.packb(value, use_bin_type=False)
    return packed
