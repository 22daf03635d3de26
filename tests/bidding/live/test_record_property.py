"""A property of the record (hypothesis, on the live server's Redis and SQL, with a desk
in this process): after any interleaving of bids, bids whose commit never happened (a
worker killed between ``bid.lua`` and its journal), rebuilds, Redis losing the auction
and repairs, at rest

- every acknowledged bid is in SQL under its key, and no key placed two bids;
- the events in SQL are numbered 1, 2, 3... with no gap but the numbers a rebuild gave
  up in the open (``holes_closed``), and SQL's watermark is Redis's ``seq``;
- the Redis ladder equals a replay of SQL's bids through the pure core, in which every
  recorded bid is accepted.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlmodel import col

from bidding import auction as core
from bidding import errors
from bidding.live.desk import Desk
from bidding.live.engine import Engine, RateLimit
from bidding.live.journal import Journal
from bidding.live.store import Hooks
from bidding.rules import parse_rules
from rfq.accounts import Principal, Role, Via
from rfq.auctions import AuctionRecord, AuditRecord, BidRecord, EventRecord
from rfq.platform import clock
from rfq.platform.db import Database
from rfq.platform.keys import Keys
from rfq.platform.redis_client import connect
from tests.support import LiveServer, certified_supplier, live_auction, operator_token, register

SUPPLIERS = 3

Step = tuple[str, int, int]
steps = st.lists(
    st.tuples(
        st.sampled_from(["bid", "bid", "bid", "lost", "rebuild", "repair", "flush"]),
        st.integers(0, SUPPLIERS - 1),
        st.integers(1, 40),
    ),
    min_size=4,
    max_size=18,
)


@pytest.fixture(scope="module")
def world(live: LiveServer) -> dict[str, Any]:
    with httpx.Client(base_url=live.url, timeout=30) as client:
        operator = operator_token(live)
        made = [certified_supplier(client, operator, ["fasteners"]) for _ in range(SUPPLIERS)]
        return {"client_url": live.url, "suppliers": made, "operator": operator}


async def _run(live: LiveServer, auction_id: int, plan: list[Step], suppliers: list[Principal]):
    settings_ = live.settings
    database = Database(settings_.database_url)
    redis = connect(str(settings_.redis_url))
    engine = Engine(redis, Keys(settings_.redis_prefix))
    desk = Desk(
        database, engine, Journal(database, Hooks(), publish=engine.publish), RateLimit(0, 0)
    )
    runner = asyncio.create_task(desk.journal.run())
    acked: dict[str, str] = {}
    price = {p.company_id: 100_000 for p in suppliers}
    try:
        for n, (op, who, step) in enumerate(plan):
            principal = suppliers[who]
            company = principal.company_id
            assert company is not None
            if op in ("bid", "lost"):
                price[company] -= step
                key = f"p{n}"
                if op == "lost":  # decided in Redis; the worker died before its commit
                    await engine.bid(auction_id, str(company), price[company], key)
                    continue
                for _ in range(5):
                    try:
                        ack = await desk.bid(principal, auction_id, price[company], key)
                    except errors.BidRejected:
                        break
                    except ConnectionError:
                        continue
                    acked[key] = ack.bid_id
                    break
            elif op == "rebuild":
                await desk.restore(auction_id, rebuild=True)
            elif op == "repair":
                await desk.repair(auction_id, grace_ms=0)
            elif op == "flush":  # Redis lost the auction
                await redis.delete(*engine.auction_keys(auction_id).all())
        await desk.journal.flush()
        await desk.repair(auction_id, grace_ms=0)  # what a worker's startup does
        meta, standings = await desk.state(auction_id)
        return acked, meta, standings
    finally:
        runner.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await runner
        await redis.aclose()
        database.dispose()


@settings(
    max_examples=3,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(plan=steps)
def test_at_rest_redis_is_a_replay_of_sql_and_seq_is_contiguous(
    live: LiveServer, world: dict[str, Any], plan: list[Step]
) -> None:
    with httpx.Client(base_url=live.url, timeout=30) as client:
        buyer = register(client, "buyer")
        auction_id = live_auction(client, buyer, seconds=300, ceiling=100_000)
    suppliers = [
        Principal(s["user"]["id"], s["email"], Role.supplier, s["company"]["id"], 0, Via.bearer)
        for s in world["suppliers"]
    ]
    acked, meta, standings = asyncio.run(_run(live, auction_id, plan, suppliers))

    database = Database(live.settings.database_url)
    try:
        with database.session() as session:
            auction = session.get(AuctionRecord, auction_id)
            assert auction is not None
            bids = list(
                session.execute(
                    select(BidRecord)
                    .where(col(BidRecord.auction_id) == auction_id)
                    .order_by(col(BidRecord.epoch), col(BidRecord.seq))
                ).scalars()
            )
            seqs = list(
                session.execute(
                    select(col(EventRecord.seq)).where(col(EventRecord.auction_id) == auction_id)
                ).scalars()
            )
            given_up = list(
                session.execute(
                    select(col(AuditRecord.data)).where(
                        col(AuditRecord.auction_id) == auction_id,
                        col(AuditRecord.kind) == "holes_closed",
                    )
                ).scalars()
            )
    finally:
        database.dispose()

    by_id = {b.id: b for b in bids}
    for key, bid_id in acked.items():
        assert bid_id in by_id and by_id[bid_id].key == key
    keys = [b.key for b in bids if b.key]
    assert len(keys) == len(set(keys)), "a key placed two bids"

    allowed = {n for g in given_up for n in range(g["seq_after"] + 1, g["seq_to"] + 1)}
    assert len(seqs) == len(set(seqs)), "an event number stored twice"
    assert sorted(set(seqs) | allowed) == list(range(1, auction.seq + 1)), "a silent gap"
    assert int(meta["seq"]) == auction.seq == int(meta["dseq"])

    rules = parse_rules(auction.rules, ceiling_price=auction.ceiling_price)
    replay = core.new_auction(
        "replay",
        rules,
        ceiling_price=auction.ceiling_price,
        starts_at_ms=clock.to_ms(auction.starts_at),
        ends_at_ms=clock.to_ms(auction.ends_at),
    )
    if bids:
        replay, _ = core.open_auction(replay, clock.to_ms(bids[0].at))
    for bid in bids:  # every recorded bid passes the rules in the recorded order
        replay, _ = core.place_bid(
            replay, str(bid.company_id), bid.price, clock.to_ms(bid.at), bid.id
        )
    expected = [(int(e.supplier), e.price) for e in core.ladder(replay)]
    assert [(int(b["company"]), b["price"]) for b in standings] == expected
