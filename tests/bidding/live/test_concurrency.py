"""500 concurrent bids from 50 suppliers on one auction, through the HTTP API.

The final ranking must equal a replay of the bids SQL recorded through the pure core,
and every accepted bid must pass the rules when replayed.
"""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import select
from sqlmodel import col

from bidding import auction as core
from bidding.rules import parse_rules
from rfq.auctions import BidRecord
from rfq.platform import clock
from rfq.platform.db import Database
from tests.support import (
    LiveServer,
    bearer,
    certified_suppliers,
    operator_token,
    register,
    rfq_body,
    wait_for,
)

SUPPLIERS = 50
BIDS_EACH = 10


def test_concurrent_bids_rank_like_a_replay_of_sql(client: httpx.Client, live: LiveServer) -> None:
    """Concurrent bids leave SQL with bids that all pass a replay and rank the same way."""
    operator = operator_token(live)
    buyer = register(client, "buyer")

    # made at once: the setup, not the bids, took most of the time
    suppliers = certified_suppliers(live.url, operator, SUPPLIERS, ["fasteners"])
    start = datetime.now(UTC) + timedelta(seconds=1.5)
    body = rfq_body()
    body["starts_at"], body["ends_at"] = (
        start.isoformat(),
        (start + timedelta(minutes=5)).isoformat(),
    )
    rules = body["lots"][0]["rules"]
    rules.pop("soft_close")
    rules["decrement"] = {"amount": 3}
    body["lots"][0]["ceiling_price"] = 100_000
    body["lots"][0]["reserve_price"] = None
    auth = bearer(buyer["token"])
    rfq = client.post("/api/rfqs", json=body, headers=auth).json()
    published = client.post(f"/api/rfqs/{rfq['id']}/publish", headers=auth).json()
    auction_id = published["lots"][0]["auction_id"]
    wait_for(
        lambda: client.get(f"/api/auctions/{auction_id}", headers=auth).json()["state"] == "live",
        10,
        "the auction to open",
    )

    rng = random.Random(7)
    plans = [
        (
            s["token"],
            [rng.randint(90_000, 100_100) - k * rng.randint(0, 200) for k in range(BIDS_EACH)],
        )
        for s in suppliers
    ]

    async def fire() -> list[int]:
        async with httpx.AsyncClient(base_url=live.url, timeout=60) as http:

            async def one(token: str, n: int, price: int) -> int:
                r = await http.post(
                    f"/api/auctions/{auction_id}/bids",
                    json={"price": price, "key": f"c{n}"},
                    headers=bearer(token),
                )
                return r.status_code

            return await asyncio.gather(
                *(one(token, n, price) for token, prices in plans for n, price in enumerate(prices))
            )

    statuses = asyncio.run(fire())
    assert len(statuses) == SUPPLIERS * BIDS_EACH
    assert set(statuses) <= {201, 422}, sorted(set(statuses))
    accepted = statuses.count(201)
    assert accepted > SUPPLIERS

    database = Database(live.settings.database_url)
    try:
        with database.session() as session:
            bids = (
                session.execute(
                    select(BidRecord)
                    .where(col(BidRecord.auction_id) == auction_id)
                    .order_by(col(BidRecord.epoch), col(BidRecord.seq))
                )
                .scalars()
                .all()
            )
    finally:
        database.dispose()
    assert len(bids) == accepted

    replay = core.new_auction(
        "replay",
        parse_rules(rules, ceiling_price=100_000),
        ceiling_price=100_000,
        starts_at_ms=clock.to_ms(start.replace(microsecond=(start.microsecond // 1000) * 1000)),
        ends_at_ms=clock.to_ms(start + timedelta(minutes=5)),
    )
    replay, _ = core.open_auction(replay, clock.to_ms(bids[0].at))
    for bid in bids:
        replay, _ = core.place_bid(
            replay, str(bid.company_id), bid.price, clock.to_ms(bid.at), bid.id
        )
    expected = [(int(e.supplier), e.price) for e in core.ladder(replay)]
    state = client.get(f"/api/auctions/{auction_id}", headers=auth).json()
    assert [(e["supplier_company_id"], e["price"]) for e in state["ladder"]] == expected
    assert len(expected) == len({b.company_id for b in bids})
