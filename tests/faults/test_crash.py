"""Crash tests: an acknowledged bid survives kill -9 of the app and of Redis, and a
flushed Redis is rebuilt from SQL with the same ranking.

Each test runs its own ``redis-server`` (append-only, fsync always) on a free port and
``rfq serve`` as a subprocess on its own SQLite file, both stopped by PID; all traffic
is to 127.0.0.1 and every loop is bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
import websockets
from sqlalchemy import select
from sqlmodel import col

from rfq.auctions import BidRecord
from rfq.platform.db import Database
from tests.support import (
    PASSWORD,
    REDIS_SERVER,
    bearer,
    certified_suppliers,
    free_port,
    register,
    rfq_body,
    rfq_process,
    unique_email,
    wait_for,
)


@contextlib.contextmanager
def redis_server(folder: Path, port: int) -> Iterator[subprocess.Popen[bytes]]:
    """A redis-server of the test's own, append-only with fsync always; stopped by PID."""
    folder.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(
        [
            REDIS_SERVER,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(folder),
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
            "--save",
            "",
            "--logfile",
            str(folder / "redis.log"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    client = redis.Redis(port=port, socket_connect_timeout=1)
    try:
        wait_for(lambda: _pings(client), 20, "redis-server")
        yield process
    finally:
        client.close()
        if process.poll() is None:
            process.kill()
        process.wait(10)


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except (redis.ConnectionError, redis.BusyLoadingError):
        return False


class App:
    """``rfq serve`` in a subprocess, restartable on the same data."""

    def __init__(self, tmp: Path, redis_port: int) -> None:
        self.tmp = tmp
        self.db_url = f"sqlite:///{tmp / 'rfq.sqlite3'}"
        self.env = {
            "RFQ_DATA_DIR": str(tmp / "data"),
            "RFQ_DATABASE_URL": self.db_url,
            "RFQ_REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
            "RFQ_REGISTER_PER_HOUR": "100000",
            "RFQ_BIDS_PER_SECOND": "1000",
        }
        self.runs = 0

    @contextlib.contextmanager
    def run(self, workers: int = 1) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
        port = free_port()
        self.runs += 1
        log = self.tmp / f"app{self.runs}.log"
        args = ["serve", "--port", str(port), "--workers", str(workers)]
        with rfq_process(args, self.env, log) as process:
            url = f"http://127.0.0.1:{port}"
            wait_for(lambda: _ready(url) or process.poll() is not None, 60, "the app")
            assert process.poll() is None, log.read_text()
            yield url, process

    def operator(self, url: str) -> str:
        email = unique_email("ops")
        done = subprocess.run(
            ["python", "-m", "rfq", "admin", "create", "--email", email, "--password", PASSWORD],
            env={**os.environ, **self.env},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        response = httpx.post(f"{url}/api/auth/login", json={"email": email, "password": PASSWORD})
        return str(response.json()["token"])

    def sql_bids(self, auction_id: int) -> dict[str, BidRecord]:
        database = Database(self.db_url)
        try:
            with database.session() as session:
                rows = (
                    session.execute(
                        select(BidRecord).where(col(BidRecord.auction_id) == auction_id)
                    )
                    .scalars()
                    .all()
                )
                return {b.id: b for b in rows}
        finally:
            database.dispose()


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _world(
    url: str, app: App, suppliers: int = 8
) -> tuple[dict[str, Any], list[dict[str, Any]], int]:
    with httpx.Client(base_url=url, timeout=30) as client:
        operator = app.operator(url)
        buyer = register(client, "buyer")
        bidders = certified_suppliers(url, operator, suppliers, ["fasteners"])
        start = datetime.now(UTC) + timedelta(seconds=1.5)
        body = rfq_body()
        body["starts_at"] = start.isoformat()
        body["ends_at"] = (start + timedelta(minutes=10)).isoformat()
        body["lots"][0]["rules"].pop("soft_close")
        body["lots"][0]["ceiling_price"] = 1_000_000
        body["lots"][0]["reserve_price"] = None
        auth = bearer(buyer["token"])
        rfq = client.post("/api/rfqs", json=body, headers=auth).json()
        published = client.post(f"/api/rfqs/{rfq['id']}/publish", headers=auth).json()
        auction_id = int(published["lots"][0]["auction_id"])
        wait_for(
            lambda: (
                client.get(f"/api/auctions/{auction_id}", headers=auth).json()["state"] == "live"
            ),
            15,
            "the auction to open",
        )
        return buyer, bidders, auction_id


async def _bid_then(
    url: str,
    bidders: list[dict[str, Any]],
    auction_id: int,
    tag: str,
    acks_before: int,
    action: Any,
    start_price: int = 1_000_000,
    attempts_after: int = 15,
) -> list[dict[str, Any]]:
    """Bid until ``acks_before`` bids are acknowledged, run ``action`` (e.g. a kill), then
    let every bidder try ``attempts_after`` more times; return the acks. Bounded: at
    most 400 attempts per bidder."""
    acks: list[dict[str, Any]] = []
    acted = asyncio.Event()

    async def bidder(n: int, who: dict[str, Any]) -> None:
        price, left = start_price - n, attempts_after
        async with httpx.AsyncClient(base_url=url, timeout=10) as http:
            for k in range(400):
                if acted.is_set():
                    left -= 1
                    if left < 0:
                        return
                price -= len(bidders)
                try:
                    r = await http.post(
                        f"/api/auctions/{auction_id}/bids",
                        json={"price": price, "key": f"{tag}-{n}-{k}"},
                        headers=bearer(who["token"]),
                    )
                except httpx.HTTPError:
                    await _backoff(acted)
                    continue
                if r.status_code == 201:
                    acks.append(r.json())
                    if len(acks) >= acks_before and not acted.is_set():
                        action()
                        acted.set()
                elif r.status_code >= 500:
                    await _backoff(acted)

    await asyncio.gather(*(bidder(n, w) for n, w in enumerate(bidders)))
    if not acted.is_set():
        action()
    return acks


async def _backoff(acted: asyncio.Event) -> None:
    """A short pause after an error (the service is down): wait on the action, bounded."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(acted.wait(), 0.05)


def _ladder(url: str, buyer: dict[str, Any], auction_id: int) -> list[tuple[int, int]]:
    state = httpx.get(
        f"{url}/api/auctions/{auction_id}", headers=bearer(buyer["token"]), timeout=30
    ).json()
    return [(e["supplier_company_id"], e["price"]) for e in state["ladder"]]


def _ladder_of(bids: dict[str, BidRecord]) -> list[tuple[int, int]]:
    standing: dict[int, BidRecord] = {}
    for bid in sorted(bids.values(), key=lambda b: (b.epoch, b.seq)):
        if not bid.voided:
            standing[bid.company_id] = bid
    ranked = sorted(standing.values(), key=lambda b: (b.transformed, b.epoch, b.seq))
    return [(b.company_id, b.price) for b in ranked]


@pytest.mark.timeout(300)
def test_kill_the_app_mid_auction_loses_no_acknowledged_bid(tmp_path: Path) -> None:
    """kill -9 of `rfq serve` with bids in flight: after a restart every acked bid is in
    SQL, and the ranking equals the SQL bids' ranking."""
    port = free_port()
    with redis_server(tmp_path / "redis", port):
        app = App(tmp_path, port)
        with app.run() as (url, process):
            buyer, bidders, auction_id = _world(url, app)
            acks = asyncio.run(
                _bid_then(
                    url, bidders, auction_id, "k", 40, lambda: process.send_signal(signal.SIGKILL)
                )
            )
            process.wait(10)
        assert len(acks) > 20
        with app.run() as (url, _):
            stored = app.sql_bids(auction_id)
            missing = [a["bid_id"] for a in acks if a["bid_id"] not in stored]
            assert missing == []
            assert _ladder(url, buyer, auction_id) == _ladder_of(stored)
            after = asyncio.run(_bid_then(url, bidders, auction_id, "k2", 5, lambda: None, 500_000))
            assert after, "bidding continues after the restart"


def _workers(parent: int) -> list[int]:
    """The uvicorn worker processes of ``rfq serve --workers N`` running as ``parent``."""
    children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
    found = []
    for pid in map(int, children):
        with contextlib.suppress(OSError):
            if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes():
                found.append(pid)
    return found


class Watchers:
    """Buyer websockets on the auction, collecting every frame until stopped; one whose
    worker dies reconnects (to whichever worker the kernel picks) and resumes with the
    last seq it saw."""

    def __init__(self, url: str, token: str, auction_id: int, n: int) -> None:
        self.url = url.replace("http://", "ws://") + "/ws"
        self.token, self.auction_id, self.n = token, auction_id, n
        self.frames: list[dict[str, Any]] = []
        self.stop = asyncio.Event()
        self.arrived = asyncio.Event()
        """Set at every frame (:meth:`until` clears it and waits for the next)."""

    async def run(self) -> None:
        await asyncio.gather(*(self._one() for _ in range(self.n)))

    async def until(self, condition: Any, timeout_s: float) -> None:
        """Wait, frame by frame, until ``condition()`` holds; fail after ``timeout_s``."""
        async with asyncio.timeout(timeout_s):
            while not condition():
                self.arrived.clear()
                await self.arrived.wait()

    def count(self, kind: str, bid_id: str | None = None) -> int:
        """How many frames of ``kind`` (and, if given, for ``bid_id``) came so far."""
        return sum(
            1
            for f in self.frames
            if f.get("type") == kind and (bid_id is None or f.get("bid_id") == bid_id)
        )

    async def _one(self) -> None:
        since: int | None = None
        for _ in range(50):  # bounded reconnects
            if self.stop.is_set():
                return
            with contextlib.suppress(OSError, websockets.ConnectionClosed, TimeoutError):
                async with websockets.connect(
                    self.url, additional_headers=bearer(self.token), open_timeout=5
                ) as ws:
                    frame: dict[str, Any] = {"op": "subscribe", "auction": self.auction_id}
                    if since is not None:
                        frame["since"] = since
                    await ws.send(json.dumps(frame))
                    while not self.stop.is_set():
                        with contextlib.suppress(TimeoutError):
                            got = json.loads(await asyncio.wait_for(ws.recv(), 0.2))
                            self.frames.append(got)
                            self.arrived.set()
                            since = got.get("seq", since)
            await asyncio.sleep(0.1)


@pytest.mark.timeout(300)
@pytest.mark.parametrize("how", ["kill", "stop-then-kill"])
def test_kill_one_worker_mid_auction_the_rest_serve_and_it_is_replaced(
    tmp_path: Path, how: str
) -> None:
    """kill -9 (or SIGSTOP, then kill -9 a second later) of one of two workers in a burst
    of bids, with buyers watching: bidding goes on through the other, every acked bid is
    in SQL, uvicorn starts a new worker, the ranking ends equal to SQL's (the repair
    writes what Redis took from the dead worker), and every bid any watcher was shown is
    in SQL at its price."""
    port = free_port()
    with redis_server(tmp_path / "redis", port):
        app = App(tmp_path, port)
        with app.run(workers=2) as (url, process):
            workers = wait_for(lambda: len(_workers(process.pid)) == 2, 30, "two workers")
            assert workers
            victim = _workers(process.pid)[0]
            buyer, bidders, auction_id = _world(url, app)

            def act() -> None:
                if how == "kill":
                    os.kill(victim, signal.SIGKILL)
                    return
                os.kill(victim, signal.SIGSTOP)
                threading.Timer(1.0, os.kill, (victim, signal.SIGKILL)).start()

            async def burst() -> list[dict[str, Any]]:
                watchers = Watchers(url, buyer["token"], auction_id, 4)
                watching = asyncio.create_task(watchers.run())
                await watchers.until(lambda: watchers.count("snapshot") >= 4, 15)  # all watching
                acks = await _bid_then(url, bidders, auction_id, "w", 40, act)
                last = acks[-1]["bid_id"]  # its frame follows every other (seq order)
                await watchers.until(lambda: watchers.count("bid", last) >= 1, 30)
                watchers.stop.set()
                await watching
                shown.extend(watchers.frames)
                return acks

            shown: list[dict[str, Any]] = []
            acks = asyncio.run(burst())
            assert len(acks) > 40, "bids were acknowledged after the kill"
            wait_for(
                lambda: len(set(_workers(process.pid)) - {victim}) == 2,
                60,
                "uvicorn to replace the worker",
            )
            assert process.poll() is None and _ready(url)
            stored = app.sql_bids(auction_id)
            assert [a["bid_id"] for a in acks if a["bid_id"] not in stored] == []
            assert all(stored[a["bid_id"]].price == a["price"] for a in acks)
            wait_for(
                lambda: _ladder(url, buyer, auction_id) == _ladder_of(app.sql_bids(auction_id)),
                40,
                "the ladder to match SQL",
            )
            stored = app.sql_bids(auction_id)
            bid_frames = [f for f in shown if f.get("type") == "bid"]
            assert len(bid_frames) > 40
            for frame in bid_frames:
                assert frame["bid_id"] in stored, frame
                assert stored[frame["bid_id"]].price == frame["price"], frame


@pytest.mark.timeout(300)
def test_kill_redis_mid_auction_loses_no_acknowledged_bid(tmp_path: Path) -> None:
    """kill -9 of Redis with bids in flight: acked bids are in SQL; after Redis restarts
    on its append-only file, the ranking equals SQL's and bidding goes on."""
    port = free_port()
    app = App(tmp_path, port)
    with redis_server(tmp_path / "redis", port) as server:
        with app.run() as (url, _):
            buyer, bidders, auction_id = _world(url, app)
            acks = asyncio.run(_bid_then(url, bidders, auction_id, "r", 40, server.kill))
            server.wait(10)
            with redis_server(tmp_path / "redis", port):
                stored = app.sql_bids(auction_id)
                assert [a["bid_id"] for a in acks if a["bid_id"] not in stored] == []
                more = asyncio.run(
                    _bid_then(url, bidders, auction_id, "r2", 10, lambda: None, 500_000)
                )
                assert more, "bidding continues after Redis is back"
                stored = app.sql_bids(auction_id)
                assert [a["bid_id"] for a in acks + more if a["bid_id"] not in stored] == []
                wait_for(
                    lambda: _ladder(url, buyer, auction_id) == _ladder_of(app.sql_bids(auction_id)),
                    40,
                    "the ladder to match SQL",
                )


@pytest.mark.timeout(300)
def test_flushed_redis_is_rebuilt_from_sql(tmp_path: Path) -> None:
    """FLUSHALL mid-auction (of the test's own Redis): the ladder rebuilt from SQL is the
    same, the epoch changes, and bidding continues."""
    port = free_port()
    with redis_server(tmp_path / "redis", port):
        app = App(tmp_path, port)
        with app.run() as (url, _):
            buyer, bidders, auction_id = _world(url, app, suppliers=5)
            acks = asyncio.run(_bid_then(url, bidders, auction_id, "f", 20, lambda: None))
            before = _ladder(url, buyer, auction_id)
            epoch = httpx.get(
                f"{url}/api/auctions/{auction_id}", headers=bearer(buyer["token"])
            ).json()["epoch"]
            redis.Redis(port=port).flushall()
            assert _ladder(url, buyer, auction_id) == before
            state = httpx.get(
                f"{url}/api/auctions/{auction_id}", headers=bearer(buyer["token"])
            ).json()
            assert state["epoch"] > epoch and state["state"] == "live"
            more = asyncio.run(_bid_then(url, bidders, auction_id, "f2", 5, lambda: None, 500_000))
            assert more
            stored = app.sql_bids(auction_id)
            assert [a["bid_id"] for a in acks + more if a["bid_id"] not in stored] == []
            assert _ladder(url, buyer, auction_id) == _ladder_of(stored)
