"""Japanese and dutch clock auctions end to end through the HTTP API and the scheduler.

The clock runs on the server's time: the scheduler steps the levels, suppliers accept
the current price with ``POST /api/auctions/{id}/bids``, and the buyer awards the
winner's acceptance. On SQLite and PostgreSQL.
"""

from __future__ import annotations

from typing import Any

import httpx
import redis

from rfq.platform.keys import Keys
from tests.conftest import REDIS_URL
from tests.support import (
    LiveServer,
    assert_error,
    bearer,
    certified_supplier,
    clock_auction,
    place_bid,
    register,
    rfq_body,
    wait_for,
)

INTERVAL_S = 2


def _state(client: httpx.Client, who: dict[str, Any], auction_id: int) -> dict[str, Any]:
    answer = client.get(f"/api/auctions/{auction_id}", headers=bearer(who["token"]))
    assert answer.status_code == 200, answer.text
    state: dict[str, Any] = answer.json()
    return state


def _at_level(client: httpx.Client, buyer: dict[str, Any], auction_id: int, level: int) -> None:
    wait_for(
        lambda: _state(client, buyer, auction_id)["clock"]["level"] >= level,
        INTERVAL_S * 3,
        f"level {level}",
    )


def test_japanese_clock_runs_to_the_last_supplier_in(client: httpx.Client, operator: str) -> None:
    """Three suppliers accept 110; two accept 105; the one that also accepts 100 wins
    there; a supplier that missed a level is out; the buyer awards the winner."""
    buyer = register(client, "buyer")
    a, b, c = (certified_supplier(client, operator, ["fasteners"]) for _ in range(3))
    clock = {"start_price": 110, "step": 5, "interval_s": INTERVAL_S, "end_price": 90}
    auction_id = clock_auction(client, buyer, "japanese", clock)
    shown = _state(client, a, auction_id)
    assert shown["clock"]["price"] == 110 and shown["clock"]["may_accept"] is True
    assert (shown["min_acceptable"], shown["min_acceptable_reason"]) == (110, "clock")
    for who, key in ((a, "a0"), (b, "b0"), (c, "c0")):
        answer = place_bid(client, who, auction_id, 110, key)
        assert answer.status_code == 201, answer.text
    again = place_bid(client, a, auction_id, 110, "a0-again")
    assert (
        again.status_code == 201
        and again.json()["bid_id"] == _state(client, a, auction_id)["my_bid_id"]
    )  # accepting a level twice changes nothing
    assert _state(client, a, auction_id)["clock"]["accepted_by_me"] is True
    assert _state(client, buyer, auction_id)["clock"]["accepted"] == 3
    stale = assert_error(place_bid(client, a, auction_id, 120, "a-off"), 422, "price_not_current")
    assert stale["min_acceptable"] == 110

    _at_level(client, buyer, auction_id, 1)
    assert _state(client, buyer, auction_id)["clock"]["active"] == 3
    assert place_bid(client, a, auction_id, 105, "a1").status_code == 201
    assert place_bid(client, b, auction_id, 105, "b1").status_code == 201

    _at_level(client, buyer, auction_id, 2)
    out = assert_error(place_bid(client, c, auction_id, 100, "c2"), 403, "dropped_out")
    assert "out" in out["message"]
    assert _state(client, c, auction_id)["clock"]["dropped_out"] is True
    winner = place_bid(client, a, auction_id, 100, "a2")
    assert winner.status_code == 201, winner.text

    wait_for(
        lambda: _state(client, buyer, auction_id)["state"] == "closed", INTERVAL_S * 3, "close"
    )
    ladder = _state(client, buyer, auction_id)["ladder"]
    assert [(e["supplier_company_id"], e["price"]) for e in ladder] == [
        (a["company"]["id"], 100),
        (b["company"]["id"], 105),
        (c["company"]["id"], 110),
    ]
    award = client.post(
        f"/api/auctions/{auction_id}/award",
        json={"awards": [{"bid_id": winner.json()["bid_id"]}]},
        headers=bearer(buyer["token"]),
    )
    assert award.status_code == 201, award.text
    assert _state(client, buyer, auction_id)["state"] == "awarded"


def test_dutch_clock_goes_to_the_first_to_accept(client: httpx.Client, operator: str) -> None:
    """Nobody takes 90; the first to accept 95 wins at once and the clock closes."""
    buyer = register(client, "buyer")
    a, b = (certified_supplier(client, operator, ["fasteners"]) for _ in range(2))
    clock = {"start_price": 90, "step": 5, "interval_s": INTERVAL_S, "end_price": 110}
    auction_id = clock_auction(client, buyer, "dutch", clock)
    _at_level(client, buyer, auction_id, 1)
    assert_error(place_bid(client, a, auction_id, 90, "a-stale"), 422, "price_not_current")
    won = place_bid(client, b, auction_id, 95, "b1")
    assert won.status_code == 201, won.text
    assert _state(client, buyer, auction_id)["state"] == "closed"
    assert_error(place_bid(client, a, auction_id, 95, "a1"), 409, "auction_not_live")
    ladder = _state(client, buyer, auction_id)["ladder"]
    assert [(e["supplier_company_id"], e["price"]) for e in ladder] == [(b["company"]["id"], 95)]


def test_clock_lot_must_outlast_its_clock(client: httpx.Client) -> None:
    """A lot that ends before its clock's last level is refused, naming the field."""
    buyer = register(client, "buyer")
    body = rfq_body(duration_min=1)
    body["lots"][0]["rules"] = {
        "format": "japanese",
        "visibility": "rank_only",
        "clock": {"start_price": 110, "step": 1, "interval_s": 60, "end_price": 90},
    }
    answer = client.post("/api/rfqs", json=body, headers=bearer(buyer["token"]))
    error = assert_error(answer, 422, "clock_outlasts_lot")
    assert error["field"] == "lots.0.ends_at"


def test_clock_lost_by_redis_is_rebuilt_from_sql(
    client: httpx.Client, operator: str, live: LiveServer
) -> None:
    """Redis loses a running japanese clock: the rebuild from SQL has the same level,
    the same acceptances and the same dropouts, and the clock runs on."""
    buyer = register(client, "buyer")
    a, b, c = (certified_supplier(client, operator, ["fasteners"]) for _ in range(3))
    clock = {"start_price": 110, "step": 5, "interval_s": INTERVAL_S, "end_price": 90}
    auction_id = clock_auction(client, buyer, "japanese", clock)
    for who, key in ((a, "a0"), (b, "b0"), (c, "c0")):
        assert place_bid(client, who, auction_id, 110, key).status_code == 201
    _at_level(client, buyer, auction_id, 1)
    assert place_bid(client, a, auction_id, 105, "a1").status_code == 201
    before = _state(client, buyer, auction_id)
    assert before["clock"]["level"] == 1

    keys = Keys(live.settings.redis_prefix).auction(auction_id)
    with redis.Redis.from_url(REDIS_URL) as r:
        r.delete(*keys.all())

    after = _state(client, buyer, auction_id)
    assert after["epoch"] == before["epoch"] + 1
    assert after["ladder"] == before["ladder"]
    assert {k: after["clock"][k] for k in ("level", "price", "accepted", "active")} == {
        "level": 1,
        "price": 105,
        "accepted": 1,
        "active": 3,
    }
    assert _state(client, a, auction_id)["clock"]["accepted_by_me"] is True
    assert place_bid(client, b, auction_id, 105, "b1").status_code == 201
    _at_level(client, buyer, auction_id, 2)
    assert_error(place_bid(client, c, auction_id, 100, "c2"), 403, "dropped_out")
