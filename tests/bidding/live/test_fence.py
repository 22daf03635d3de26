"""Two workers on one auction (two desks in this process, each with its own journal, on
the live server's Redis and SQL): one rebuilds the auction from SQL again and again while
the other places bids. The rebuild fence keeps one record: a bid decided on the old
epoch whose commit comes after the rebuild is refused (``Superseded``, "retry with the
same key") instead of landing in SQL while the rebuilt ladder lacks it; its retry is
decided anew. At rest no acknowledged bid is missing from the ladder, no key placed two
bids, the ladder is a replay of SQL, and the events in SQL are numbered without a gap.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from typing import Any

import httpx
from sqlalchemy import select
from sqlmodel import col

from bidding import errors
from bidding.live.desk import Desk
from bidding.live.engine import Engine, RateLimit
from bidding.live.journal import Journal
from bidding.live.store import Hooks
from rfq.accounts import Principal, Role, Via
from rfq.auctions import AuctionRecord, BidRecord, EventRecord
from rfq.platform.db import Database
from rfq.platform.keys import Keys
from rfq.platform.redis_client import connect
from tests.support import LiveServer, certified_supplier, live_auction, operator_token, register

SUPPLIERS = 4
BIDS_EACH = 15
REBUILDS = 12


async def _workers(
    live: LiveServer, auction_id: int, suppliers: list[Principal]
) -> tuple[dict[str, str], list[dict[str, Any]]]:
    settings = live.settings
    database = Database(settings.database_url)
    redis = connect(str(settings.redis_url))
    keys = Keys(settings.redis_prefix)
    engine = Engine(redis, keys)
    desks = []
    for _ in range(2):
        journal = Journal(database, Hooks(), publish=engine.publish)
        desks.append(Desk(database, engine, journal, RateLimit(0, 0)))
    bidder, rebuilder = desks
    runners = [asyncio.create_task(d.journal.run()) for d in desks]
    acked: dict[str, str] = {}  # key -> bid id
    rng = random.Random(3)

    async def bids(principal: Principal) -> None:
        price = 100_000
        for n in range(BIDS_EACH):
            price -= rng.randint(1, 50)
            key = f"f{principal.company_id}-{n}"
            for _ in range(50):  # the same key until the outcome is known
                try:
                    ack = await bidder.bid(principal, auction_id, price, key)
                except errors.BidRejected:
                    break
                except ConnectionError:  # Superseded: rebuilt meanwhile
                    await asyncio.sleep(0.01)
                    continue
                acked[key] = ack.bid_id
                break
            await asyncio.sleep(rng.random() / 50)

    async def rebuilds() -> None:
        for _ in range(REBUILDS):
            await asyncio.sleep(rng.random() / 10)
            await rebuilder.restore(auction_id, rebuild=True)

    try:
        await asyncio.gather(rebuilds(), *(bids(p) for p in suppliers))
        for desk in desks:
            await desk.journal.flush()
        _, standings = await bidder.state(auction_id)
        return acked, standings
    finally:
        for runner in runners:
            runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await runner
        await redis.aclose()
        database.dispose()


def test_a_rebuild_on_one_worker_loses_no_bid_another_acknowledges(
    client: httpx.Client, live: LiveServer
) -> None:
    operator = operator_token(live)
    buyer = register(client, "buyer")
    made = [certified_supplier(client, operator, ["fasteners"]) for _ in range(SUPPLIERS)]
    auction_id = live_auction(client, buyer, seconds=120, ceiling=100_000)
    suppliers = [
        Principal(s["user"]["id"], s["email"], Role.supplier, s["company"]["id"], 0, Via.bearer)
        for s in made
    ]
    acked, standings = asyncio.run(_workers(live, auction_id, suppliers))
    assert len(acked) >= SUPPLIERS

    database = Database(live.settings.database_url)
    try:
        with database.session() as session:
            bids = list(
                session.execute(
                    select(BidRecord)
                    .where(
                        col(BidRecord.auction_id) == auction_id, col(BidRecord.voided).is_(False)
                    )
                    .order_by(col(BidRecord.epoch), col(BidRecord.seq))
                ).scalars()
            )
            auction = session.get(AuctionRecord, auction_id)
            assert auction is not None
            seqs = sorted(
                session.execute(
                    select(col(EventRecord.seq)).where(col(EventRecord.auction_id) == auction_id)
                ).scalars()
            )
    finally:
        database.dispose()
    by_id = {b.id: b for b in bids}
    for key, bid_id in acked.items():  # every acknowledged bid is in SQL, under its key
        assert bid_id in by_id and by_id[bid_id].key == key, key
    keys = [b.key for b in bids if b.key]
    assert len(keys) == len(set(keys)), "a key placed two bids"
    latest: dict[int, BidRecord] = {}
    for bid in bids:
        latest[bid.company_id] = bid
    replay = sorted(latest.values(), key=lambda b: (b.transformed, b.epoch, b.seq))
    assert [(b["bid_id"], b["price"]) for b in standings] == [(b.id, b.price) for b in replay]
    assert all(latest[int(b["company"])].id == b["bid_id"] for b in standings)
    assert seqs == list(range(1, len(seqs) + 1)), "the events in SQL have a gap"
    assert auction.seq == len(seqs)
