"""The database briefly unreachable mid-auction: nothing acknowledged is lost, and the
app recovers by itself.

The app reaches PostgreSQL through a TCP proxy this test runs on a free port; cutting
the proxy closes every open connection and refuses new ones until it is restored, as a
network partition or a database failover would.

Bids go over a websocket opened before the outage (an HTTP request needs the database
to resolve its token, so it is answered 503 at once):

- A short outage (under the journal's 5 s retry): a bid placed during it is
  acknowledged once the database is back, and is in SQL.
- A long outage: the bid Redis took is answered ``unavailable`` (never acknowledged),
  HTTP bids get 503 and readiness fails; after the outage ``/readyz`` recovers without
  a restart, and retrying with the same key acknowledges that one bid, now in SQL.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlmodel import col
from websockets.sync.client import ClientConnection, connect

from rfq.auctions import BidRecord
from rfq.platform import db
from rfq.platform.db import Database
from tests.conftest import create_pg_database, drop_pg_database, make_settings
from tests.support import (
    LiveServer,
    bearer,
    certified_supplier,
    live_auction,
    operator_token,
    place_bid,
    register,
    run_server,
    wait_for,
)

pytestmark = pytest.mark.postgres


class Proxy:
    """A TCP relay from a free 127.0.0.1 port to ``target``, which can be cut."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.open = True
        self.stopped = False
        self.refused = 0
        self.pairs: list[tuple[socket.socket, socket.socket]] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def cut(self) -> None:
        """Close every relayed connection and refuse new ones."""
        with self.lock:
            self.open = False
            for a, b in self.pairs:
                for s in (a, b):
                    with contextlib.suppress(OSError):
                        s.shutdown(socket.SHUT_RDWR)
                    s.close()
            self.pairs.clear()

    def restore(self) -> None:
        with self.lock:
            self.open = True

    def stop(self) -> None:
        self.stopped = True
        self.cut()
        self.listener.close()

    def _accept(self) -> None:
        while not self.stopped:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            with self.lock:
                if not self.open:
                    self.refused += 1
                    client.close()
                    continue
                try:
                    upstream = socket.create_connection(self.target, timeout=5)
                except OSError:
                    client.close()
                    continue
                self.pairs.append((client, upstream))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        for s in (source, sink):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)


@pytest.fixture
def world(tmp_path: Path, redis_prefix: str) -> Iterator[dict[str, object]]:
    name, direct_url = create_pg_database()
    proxy = Proxy(("127.0.0.1", 5432))
    try:
        db.upgrade(direct_url)
        proxied = direct_url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
        settings = make_settings(
            tmp_path / "data", proxied, f"{redis_prefix}outage{uuid.uuid4().hex[:6]}:"
        )
        with run_server(settings) as live, httpx.Client(base_url=live.url, timeout=60) as client:
            operator = operator_token(live)
            buyer = register(client, "buyer")
            supplier = certified_supplier(client, operator, ["fasteners"])
            rival = certified_supplier(client, operator, ["fasteners"])
            auction = live_auction(client, buyer, seconds=300)
            yield {
                "live": live,
                "client": client,
                "proxy": proxy,
                "supplier": supplier,
                "buyer": buyer,
                "rival": rival,
                "auction": auction,
                "direct_url": direct_url,
            }
    finally:
        proxy.stop()
        drop_pg_database(name)


def _stored(url: str, auction_id: int) -> dict[str, int]:
    database = Database(url)
    try:
        with database.session() as session:
            rows = session.execute(
                select(BidRecord.id, BidRecord.price).where(col(BidRecord.auction_id) == auction_id)
            ).all()
            return {bid_id: price for bid_id, price in rows}
    finally:
        database.dispose()


@contextlib.contextmanager
def _socket(world: dict[str, object]) -> Iterator[ClientConnection]:
    """A supplier's websocket, opened (and authenticated) while the database is up."""
    live = world["live"]
    supplier = world["supplier"]
    assert isinstance(live, LiveServer) and isinstance(supplier, dict)
    url = live.url.replace("http://", "ws://") + "/ws"
    with connect(url, additional_headers=bearer(supplier["token"])) as ws:
        assert json.loads(ws.recv(timeout=10))["type"] == "hello"
        yield ws


def _answer(ws: ClientConnection, key: str, timeout: float) -> dict[str, Any]:
    while True:
        frame: dict[str, Any] = json.loads(ws.recv(timeout=timeout))
        if frame.get("key") == key:
            return frame


def test_a_short_outage_delays_the_ack_and_loses_nothing(world: dict[str, object]) -> None:
    client, proxy = world["client"], world["proxy"]
    assert isinstance(client, httpx.Client) and isinstance(proxy, Proxy)
    supplier, auction = world["supplier"], world["auction"]
    first = place_bid(client, supplier, auction, 110, "before")  # type: ignore[arg-type]
    assert first.status_code == 201, first.text

    with _socket(world) as ws:
        proxy.cut()
        ws.send(json.dumps({"op": "bid", "auction": auction, "price": 105, "key": "during"}))
        wait_for(lambda: proxy.refused >= 2, 10, "the journal to retry against the outage")
        proxy.restore()
        answer = _answer(ws, "during", 30)
    assert answer["type"] == "ack", answer
    stored = _stored(str(world["direct_url"]), auction)  # type: ignore[arg-type]
    assert stored[first.json()["bid_id"]] == 110
    assert stored[answer["bid_id"]] == 105


def test_a_long_outage_refuses_then_recovers_by_itself(world: dict[str, object]) -> None:
    client, proxy = world["client"], world["proxy"]
    assert isinstance(client, httpx.Client) and isinstance(proxy, Proxy)
    supplier, auction = world["supplier"], world["auction"]
    assert place_bid(client, supplier, auction, 110, "before").status_code == 201  # type: ignore[arg-type]

    with _socket(world) as ws:
        proxy.cut()
        ws.send(json.dumps({"op": "bid", "auction": auction, "price": 104, "key": "long"}))
        refused = _answer(ws, "long", 30)  # Redis took it; SQL did not within the retry
        assert refused["type"] == "rejected" and refused["code"] == "unavailable", refused
        over_http = place_bid(client, supplier, auction, 103, "http")  # type: ignore[arg-type]
        assert over_http.status_code == 503, over_http.text
        assert over_http.json()["error"]["code"] == "unavailable"
        assert client.get("/readyz").status_code == 503

        proxy.restore()
        wait_for(lambda: client.get("/readyz").status_code == 200, 30, "readiness to recover")
        ws.send(json.dumps({"op": "bid", "auction": auction, "price": 104, "key": "long"}))
        again = _answer(ws, "long", 30)
    assert again["type"] == "ack", again
    stored = _stored(str(world["direct_url"]), auction)  # type: ignore[arg-type]
    assert stored[again["bid_id"]] == 104
    assert sorted(stored.values()) == [104, 110]  # the refused attempt and its retry: one bid


def _frames(ws: ClientConnection, until: Any, timeout: float) -> list[dict[str, Any]]:
    """Every frame ``ws`` receives until ``until(frames)`` holds (or ``timeout``)."""
    got: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while not until(got) and time.monotonic() < deadline:
        with contextlib.suppress(TimeoutError):
            got.append(json.loads(ws.recv(timeout=0.2)))
    return got


def test_a_bid_refused_in_an_outage_and_a_rivals_after_it_agree_everywhere(
    world: dict[str, object],
) -> None:
    """A bid Redis took during a long outage is answered ``unavailable``; a rival bids
    after the outage. Then the buyer's ladder, ``/bids``, ``/audit`` and every bid
    frame the buyer's watcher received agree: the refused bid is in the record (the
    repair wrote it from the stream, since it stood in Redis), never shown before it
    was recorded, and its retry with the same key answers that very bid."""
    client, proxy, live = world["client"], world["proxy"], world["live"]
    assert isinstance(client, httpx.Client) and isinstance(proxy, Proxy)
    assert isinstance(live, LiveServer)
    supplier, auction = world["supplier"], world["auction"]
    assert isinstance(supplier, dict) and isinstance(auction, int)
    assert place_bid(client, supplier, auction, 110, "before").status_code == 201
    rival = world["rival"]
    buyer_token = world["buyer"]["token"]  # type: ignore[index]
    url = live.url.replace("http://", "ws://") + "/ws"
    with (
        connect(url, additional_headers=bearer(buyer_token)) as watcher,
        _socket(world) as ws,
    ):
        assert json.loads(watcher.recv(timeout=10))["type"] == "hello"
        watcher.send(json.dumps({"op": "subscribe", "auction": auction}))
        frames = _frames(watcher, lambda got: any(f["type"] == "snapshot" for f in got), 10)
        proxy.cut()
        ws.send(json.dumps({"op": "bid", "auction": auction, "price": 104, "key": "gone"}))
        refused = _answer(ws, "gone", 30)
        assert refused["type"] == "rejected" and refused["code"] == "unavailable", refused
        proxy.restore()
        wait_for(lambda: client.get("/readyz").status_code == 200, 30, "readiness to recover")
        after = place_bid(client, rival, auction, 100, "rival")
        assert after.status_code == 201, after.text

        def seen(frames: list[dict[str, Any]]) -> bool:
            return after.json()["bid_id"] in {f.get("bid_id") for f in frames}

        frames += _frames(watcher, seen, 30)
        assert seen(frames), frames
        auth = bearer(buyer_token)
        # what the watcher was shown is the record already, before any retry
        recorded = {
            b["bid_id"]: b for b in client.get(f"/api/auctions/{auction}/bids", headers=auth).json()
        }
        shown = [f for f in frames if f.get("type") == "bid"]
        for frame in shown:
            assert frame["bid_id"] in recorded, (frame, recorded)
            assert recorded[frame["bid_id"]]["price"] == frame["price"], frame
        ws.send(json.dumps({"op": "bid", "auction": auction, "price": 104, "key": "gone"}))
        again = _answer(ws, "gone", 30)
    recorded = {
        b["bid_id"]: b for b in client.get(f"/api/auctions/{auction}/bids", headers=auth).json()
    }
    assert again["type"] == "ack" and recorded[again["bid_id"]]["price"] == 104, again
    assert sorted(b["price"] for b in recorded.values()) == [100, 104, 110]  # once each
    assert again["bid_id"] in {f["bid_id"] for f in shown}  # the repair wrote it, in order
    seqs = [f["seq"] for f in frames if "seq" in f and f.get("type") != "snapshot"]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), seqs  # no gap, no repeat
    ladder = client.get(f"/api/auctions/{auction}", headers=auth).json()["ladder"]
    assert {b["bid_id"] for b in ladder} <= set(recorded)
    assert [b["price"] for b in ladder] == [100, 104]
    audited = client.get(f"/api/auctions/{auction}/audit", headers=auth).json()
    accepted = [e for e in audited["entries"] if e["kind"] == "bid_accepted"]
    assert {e["data"]["bid_id"] for e in accepted} == set(recorded)
    assert audited["verified"] is True
