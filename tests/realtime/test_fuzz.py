"""Fuzzing the frame decoder, the bid path's parsing and the amount parser.

Short hypothesis runs in the suite: arbitrary bytes and maps into `realtime.codec`,
arbitrary ``bid`` and ``proxy`` frames (any JSON value for price, key and auction,
integers far beyond 64 bits included) over one live websocket, and arbitrary text into
`rfq.platform.money.parse_major`. Each must be answered with a documented frame or error and
never take the server down. ``tests/fuzz/atheris_parsers.py`` runs the decoder and the amount
parser under atheris for longer.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.sync.client import ClientConnection, connect

from realtime import codec
from rfq.platform import money
from tests.support import (
    LiveServer,
    bearer,
    certified_supplier,
    live_auction,
    operator_token,
    register,
    rfq_body,
)


def _values(integers: st.SearchStrategy[int]) -> st.SearchStrategy[Any]:
    return st.recursive(
        st.none() | st.booleans() | integers | st.floats(allow_nan=False) | st.text(max_size=30),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
        max_leaves=6,
    )


HUGE = st.sampled_from([0, -1, 2**63 - 1, 2**63, 2**64, 2**70, -(2**70), 2**53 + 1, 10**30])
JSON_VALUES = _values(st.integers() | HUGE)
MSGPACK_VALUES = _values(st.integers(-(2**63), 2**64 - 1))  # msgpack's integer range
REFUSALS = {"invalid_price", "above_ceiling", "below_decrement", "tie_not_allowed", "not_found"}


@given(st.binary(max_size=300) | st.text(max_size=300))
def test_decoder_answers_every_input_with_a_map_or_bad_frame(data: bytes | str) -> None:
    try:
        frame = codec.decode(data)
    except codec.BadFrame:
        return
    assert isinstance(frame, dict)


@given(st.dictionaries(st.text(max_size=8), MSGPACK_VALUES, max_size=5))
def test_decoder_round_trips_maps_in_both_encodings(frame: dict[str, Any]) -> None:
    assert codec.decode(msgpack.packb(frame)) == frame
    assert codec.decode(json.dumps(frame)) == frame


@given(st.text(max_size=40), st.sampled_from(sorted(money.DECIMALS)))
def test_amount_parser_returns_an_int_or_a_value_error(text: str, currency: str) -> None:
    try:
        amount = money.parse_major(text, currency)
    except ValueError:
        return
    assert isinstance(amount, int)
    assert money.parse_major(money.format_major(amount, currency), currency) == amount


@pytest.fixture(scope="module")
def bidder(live: LiveServer) -> dict[str, Any]:
    with httpx.Client(base_url=live.url, timeout=30) as client:
        operator = operator_token(live)
        buyer = register(client, "buyer")
        supplier = certified_supplier(client, operator, ["fasteners"])
        auction_id = live_auction(client, buyer, seconds=600)
    return {"supplier": supplier, "auction": auction_id}


def _answer(ws: ClientConnection) -> dict[str, Any]:
    while True:
        frame: dict[str, Any] = json.loads(ws.recv(timeout=20))
        if frame["type"] in ("ack", "rejected", "error"):
            return frame


@pytest.mark.parametrize("live", ["sqlite"], indirect=True)
@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    op=st.sampled_from(["bid", "proxy"]),
    price=st.integers() | HUGE | JSON_VALUES,
    key=st.text(max_size=120) | JSON_VALUES,
    auction=st.integers() | HUGE | JSON_VALUES | st.just("mine"),
)
def test_any_bid_frame_gets_an_answer_and_the_server_stays_up(
    live: LiveServer, bidder: dict[str, Any], op: str, price: Any, key: Any, auction: Any
) -> None:
    if auction == "mine":
        auction = bidder["auction"]
    field = "price" if op == "bid" else "floor"
    url = live.url.replace("http://", "ws://") + "/ws"
    with connect(url, additional_headers=bearer(bidder["supplier"]["token"])) as ws:
        assert json.loads(ws.recv(timeout=10))["type"] == "hello"
        ws.send(json.dumps({"op": op, "auction": auction, field: price, "key": key}))
        answer = _answer(ws)
        if answer["type"] == "ack":
            assert auction == bidder["auction"]
            assert isinstance(price, int) or (op == "proxy" and price is None)
        elif answer["type"] == "rejected":
            assert answer["code"] in REFUSALS, answer
        else:
            assert answer["code"] in ("not_found", "bad_frame", "invalid"), answer
        ws.send(json.dumps({"op": "ping", "t": 1}))  # the connection still serves
        assert json.loads(ws.recv(timeout=10))["type"] == "pong"


@pytest.mark.parametrize("live", ["sqlite"], indirect=True)
def test_ids_beyond_64_bits_are_not_found_or_invalid(
    live: LiveServer, bidder: dict[str, Any]
) -> None:
    huge = 2**70
    with httpx.Client(base_url=live.url, timeout=30) as client:
        supplier = bearer(bidder["supplier"]["token"])
        for path in (f"/api/auctions/{huge}", f"/api/rfqs/{huge}", f"/api/contracts/{huge}"):
            answer = client.get(path, headers=supplier)
            assert answer.status_code == 404, (path, answer.text)
            assert answer.json()["error"]["code"] == "not_found"
        buyer = register(client, "buyer")
        body = rfq_body(festival_id=huge)
        answer = client.post("/api/rfqs", json=body, headers=bearer(buyer["token"]))
        assert answer.status_code == 422, answer.text
        assert answer.json()["error"]["code"] == "validation_error"
        page = client.get(f"/auctions/{huge}", headers=supplier)
        assert page.status_code == 404
    url = live.url.replace("http://", "ws://") + "/ws"
    with connect(url, additional_headers=supplier) as ws:
        json.loads(ws.recv(timeout=10))
        ws.send(json.dumps({"op": "subscribe", "auction": huge}))
        assert json.loads(ws.recv(timeout=10))["code"] == "bad_frame"
        ws.send(json.dumps({"op": "bid", "auction": huge, "price": 5, "key": "h"}))
        assert json.loads(ws.recv(timeout=10))["code"] == "invalid_price"
