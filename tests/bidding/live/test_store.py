"""bidding/live/store.py: engine output into SQL, written once however often it comes
in, with the domain's reactions run as hooks in the same transaction (SQLite and
PostgreSQL; the world is built through the API, the store is called directly)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlmodel import col

from bidding.live import store
from bidding.live.store import Hooks, Output
from rfq.auctions import AuctionRecord, AuditRecord, BidRecord, EventRecord
from rfq.platform import clock
from rfq.platform.db import Database
from tests.support import LiveServer, bearer, certified_supplier, operator_token, register, rfq_body


@pytest.fixture(scope="module")
def scheduled(live: LiveServer) -> tuple[int, int]:
    """A published lot whose auction opens in an hour (the engine writes nothing for it
    meanwhile), and a certified supplier's company."""
    with httpx.Client(base_url=live.url, timeout=30) as c:
        operator = operator_token(live)
        buyer = register(c, "buyer")
        supplier = certified_supplier(c, operator, ["fasteners"])
        auth = bearer(buyer["token"])
        rfq = c.post("/api/rfqs", json=rfq_body(), headers=auth).json()
        published = c.post(f"/api/rfqs/{rfq['id']}/publish", headers=auth).json()
        return int(published["lots"][0]["auction_id"]), int(supplier["company"]["id"])


def _count(session: Any, model: Any, auction_id: int) -> int:
    return int(
        session.execute(
            select(func.count()).select_from(model).where(col(model.auction_id) == auction_id)
        ).scalar_one()
    )


def test_output_is_written_once_and_the_hooks_see_the_moves(
    live: LiveServer, scheduled: tuple[int, int]
) -> None:
    """A bid, an extension and a status move are stored with a sealed chain and each
    hook is called with them; the same output again adds no row, and moves, extends and
    tells nothing again."""
    auction_id, company = scheduled
    now = clock.now_ms()
    ends = now + 3_600_000
    bid_id = f"store-{uuid.uuid4().hex[:8]}"
    out = Output(
        auction_id,
        1,
        events=[{"seq": 1, "type": "bid", "at": now}],
        audit=[
            {"aseq": 1, "kind": "bid_accepted", "at": now, "bid_id": bid_id,
             "company": company, "seq": 1, "price": 100, "t": 1_000_000},
            {"aseq": 2, "kind": "extended", "at": now, "ext": 1, "ends": ends},
            {"aseq": 3, "kind": "opened", "at": now, "status": "live", "ends": ends},
        ],
        outbid=company,
    )  # fmt: skip
    calls: list[tuple[Any, ...]] = []
    hooks = Hooks(
        on_status=[lambda _s, a, status, entry: calls.append(("status", a, status, entry["aseq"]))],
        on_extended=[lambda _s, a, n, at: calls.append(("extended", a, n, clock.to_ms(at)))],
        on_outbid=[lambda _s, lost: calls.extend(("outbid", a, c) for a, c in lost)],
    )
    database = Database(live.settings.database_url)
    try:
        with database.session() as session:
            before = _count(session, AuditRecord, auction_id)
            store.write(session, [out], hooks)
            session.commit()
        assert ("status", auction_id, "live", 3) in calls
        assert ("extended", auction_id, 1, ends) in calls
        assert ("outbid", auction_id, company) in calls
        calls.clear()
        with database.session() as session:
            store.write(session, [out], hooks)
            session.commit()
        assert calls == []  # the hooks run for entries this write stored, only
        with database.session() as session:
            assert _count(session, AuditRecord, auction_id) == before + 3
            assert _count(session, EventRecord, auction_id) >= 1
            bid = session.get(BidRecord, bid_id)
            assert bid is not None and (bid.price, bid.company_id) == (100, company)
            auction = session.get(AuctionRecord, auction_id)
            assert auction is not None
            assert (auction.status, auction.extensions, auction.aseq) == ("live", 1, 3)
            assert clock.to_ms(auction.ends_at) == ends
    finally:
        database.dispose()


def test_the_watermarks_are_contiguous_and_an_older_epoch_is_refused(
    live: LiveServer, scheduled: tuple[int, int]
) -> None:
    """An entry above a hole is stored but the watermark stays below the hole until the
    hole is filled; output of an epoch older than the auction's is refused, unstored."""
    auction_id, _ = scheduled
    database = Database(live.settings.database_url)
    now = clock.now_ms()

    def entry(aseq: int) -> dict[str, Any]:
        return {"aseq": aseq, "kind": "bid_rejected", "at": now, "company": "1", "code": "x"}

    def event(seq: int) -> dict[str, Any]:
        return {"seq": seq, "type": "note", "at": now}

    try:
        with database.session() as session:
            auction = session.get(AuctionRecord, auction_id)
            assert auction is not None
            epoch, seq, aseq = auction.epoch, auction.seq, auction.aseq
        with database.session() as session:
            above = Output(auction_id, epoch, [event(seq + 2)], [entry(aseq + 2)])
            written = store.write(session, [above])
            session.commit()
        assert written.refused == set()
        assert written.marks[auction_id] == store.Mark(epoch, seq, aseq)  # the hole holds
        with database.session() as session:
            hole = Output(auction_id, epoch, [event(seq + 1)], [entry(aseq + 1)])
            stale = Output(auction_id, epoch - 1, [event(seq + 3)], [entry(aseq + 3)])
            written = store.write(session, [stale, hole])
            session.commit()
        assert written.refused == {0}
        assert written.marks[auction_id] == store.Mark(epoch, seq + 2, aseq + 2)
        with database.session() as session:
            auction = session.get(AuctionRecord, auction_id)
            assert auction is not None and (auction.seq, auction.aseq) == (seq + 2, aseq + 2)
            stored = session.execute(
                select(col(AuditRecord.aseq)).where(
                    col(AuditRecord.auction_id) == auction_id, col(AuditRecord.aseq) > aseq
                )
            ).scalars()
            assert sorted(stored) == [aseq + 1, aseq + 2]
    finally:
        database.dispose()
