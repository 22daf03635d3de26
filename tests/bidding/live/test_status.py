"""status.lua's award guard: an award whose bid was voided between the buyer's decision
(read from SQL) and the engine's move is refused ``stale``, and the auction stays closed
(a real app on SQLite and PostgreSQL, the engine called directly for the race's step)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from bidding.live.engine import Engine
from rfq.platform import clock
from rfq.platform.keys import Keys
from rfq.platform.redis_client import connect
from tests.support import (
    LiveServer,
    bearer,
    certified_supplier,
    live_auction,
    operator_token,
    place_bid,
    register,
    wait_state,
)


def _move(live: LiveServer, auction_id: int, decision: dict[str, Any]) -> Any:
    async def main() -> Any:
        assert live.settings.redis_url is not None
        redis = connect(live.settings.redis_url)
        try:
            engine = Engine(redis, Keys(live.settings.redis_prefix))
            for _ in range(500):  # the closing barrier, as Desk.settle keeps it: SQL has all
                meta = await engine.meta(auction_id)
                if int(meta.get("dseq") or 0) >= int(meta["seq"]):
                    break
                await asyncio.sleep(0.01)
            return await engine.move(auction_id, "award", now_ms=clock.now_ms(), decision=decision)
        finally:
            await redis.aclose()

    return asyncio.run(main())


def test_an_award_of_a_bid_voided_meanwhile_is_refused(live: LiveServer) -> None:
    """The buyer decided on A's bid; an operator voided it before the award reached the
    engine: the move is refused stale and the lot stays closed, awardable again."""
    with httpx.Client(base_url=live.url, timeout=30) as c:
        operator = operator_token(live)
        buyer = register(c, "buyer")
        a = certified_supplier(c, operator, ["fasteners"])
        b = certified_supplier(c, operator, ["fasteners"])
        auction_id = live_auction(c, buyer, seconds=3)
        assert place_bid(c, b, auction_id, 110, "s1").status_code == 201
        bid = place_bid(c, a, auction_id, 100, "s2").json()
        auth = bearer(buyer["token"])
        wait_state(c, buyer["token"], auction_id, "closed", 15)
        line = {"bid_id": bid["bid_id"], "company": a["company"]["id"], "quantity": 10_000}
        decision = {"kind": "award", "round": 1, "awards": [{**line, "price": 100}]}
        voided = c.post(
            f"/api/auctions/{auction_id}/bids/{bid['bid_id']}/void",
            json={"reason": "shill"},
            headers=bearer(operator),
        )
        assert voided.status_code == 200, voided.text
        out = _move(live, auction_id, decision)
        assert (out.result, out.status) == ("stale", "closed")
        assert c.get(f"/api/auctions/{auction_id}", headers=auth).json()["state"] == "closed"
        standing = c.get(f"/api/auctions/{auction_id}", headers=auth).json()["ladder"][0]
        awarded = c.post(
            f"/api/auctions/{auction_id}/award",
            json={"awards": [{"bid_id": standing["bid_id"]}], "reason": "A's bid was void"},
            headers=auth,
        )
        assert awarded.status_code == 201, awarded.text
