"""``GET /metrics``: operators only; bids by outcome and code, latency, connections."""

from __future__ import annotations

import json

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from websockets.sync.client import connect

from tests.support import (
    LiveServer,
    assert_error,
    bearer,
    certified_supplier,
    live_auction,
    operator_token,
    place_bid,
    register,
    wait_for,
)

pytestmark = pytest.mark.parametrize("live", ["sqlite"], indirect=True)


def _samples(
    client: httpx.Client, operator: str
) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    answer = client.get("/metrics", headers=bearer(operator))
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain")
    out = {}
    for family in text_string_to_metric_families(answer.text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def test_metrics_count_bids_connections_and_latency(client: httpx.Client, live: LiveServer) -> None:
    operator = operator_token(live)
    buyer = register(client, "buyer")
    supplier = certified_supplier(client, operator, ["fasteners"])
    auction_id = live_auction(client, buyer)
    accepted = ("rfq_bids_total", (("code", ""), ("outcome", "accepted")))
    above = ("rfq_bids_total", (("code", "above_ceiling"), ("outcome", "rejected")))
    acks = ("rfq_bid_answer_seconds_count", (("outcome", "accepted"),))
    before = _samples(client, operator)

    assert place_bid(client, supplier, auction_id, 110, "m1").status_code == 201
    assert place_bid(client, supplier, auction_id, 105, "m2").status_code == 201
    assert_error(place_bid(client, supplier, auction_id, 999, "m3"), 422, "above_ceiling")
    url = live.url.replace("http", "ws") + "/ws"
    with connect(url, additional_headers=bearer(buyer["token"])) as ws:
        assert json.loads(ws.recv())["type"] == "hello"
        during = _samples(client, operator)
        ws.send(json.dumps({"op": "subscribe", "auction": auction_id}))
        assert json.loads(ws.recv())["type"] == "snapshot"

    after = _samples(client, operator)
    assert after[accepted] - before.get(accepted, 0) == 2
    assert after[above] - before.get(above, 0) == 1
    assert after[acks] - before.get(acks, 0) == 2
    assert during[("rfq_ws_connections", ())] >= 1
    sent = ("rfq_ws_frames_sent_total", ())
    wait_for(lambda: _samples(client, operator)[sent] > before.get(sent, 0), what="frames counted")
    bid_script = ("rfq_redis_script_seconds_count", (("script", "bid"),))
    assert after[bid_script] - before.get(bid_script, 0) >= 3
    journal = ("rfq_sql_seconds_count", (("work", "journal"),))
    assert after[journal] > before.get(journal, 0)


def test_metrics_are_for_operators(client: httpx.Client, live: LiveServer) -> None:
    with httpx.Client(base_url=live.url) as anonymous:
        assert_error(anonymous.get("/metrics"), 401)
    buyer = register(client, "buyer")
    assert_error(client.get("/metrics", headers=bearer(buyer["token"])), 403, "wrong_role")
