"""``rfq bench fanout``: the hub's deliveries next to a bare ``websockets`` broadcast.

Two servers run as their own processes on 127.0.0.1, each on one core's worth of
Python: the project's app (``rfq serve``: one worker, an SQLite database and the
embedded Redis, in a temporary data dir) and a bare `websockets` server whose only
work is ``broadcast()`` of every frame its publisher sends to every other connection.
Neither compresses (the app offers no permessage-deflate, see ``codec.DEFLATE``; the
bare server is started with ``compression=None``), so both write the same bytes.

For each subscriber count N (``--subscribers``), this process opens N websocket clients
on each server (on the app: subscribed to one live auction as its buyer, so every
frame names its bid), then for each rate R (``--rates``, bids/s) sends R bids per
second for ``--seconds`` seconds: to the app as ``bid`` frames from the suppliers' own
websockets (the real, durable bid path, as a browser bids), to the bare server as
frames of the same shape and size from one publisher connection. The two servers'
phases alternate, rate by rate. Every client notes
when each bid's frame arrives; latency is send-to-receive on this process's clock.
Printed per (N, R): deliveries/s (frames received / time from the first send to the
last receive), p50/p99 latency, frames that never came (a slow client's backlog
replaced by a snapshot, on the app), and the ratios app / bare.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import logging
import multiprocessing
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import ServerConnection, broadcast, serve

from loadtests import world
from loadtests.bench_engine import percentile
from loadtests.processes import free_port, raise_file_limit, served

DRAIN_S = 10.0
"""How long a phase waits, after its last send, for frames still on their way."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The fan-out benchmark's options."""
    parser.add_argument("--subscribers", default="100,1000", help="comma-separated counts")
    parser.add_argument("--rates", default="5,10,20", help="bids per second, comma-separated")
    parser.add_argument("--seconds", type=float, default=5.0, help="sending time per rate")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Run the benchmark and return its figures."""
    logging.getLogger("httpx").setLevel(logging.WARNING)
    counts = [int(n) for n in args.subscribers.split(",")]
    rates = [float(r) for r in args.rates.split(",")]
    raise_file_limit()
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="rfq-fanout-") as tmp, _servers(Path(tmp)) as world:
        for n in counts:
            measured = asyncio.run(_measure(world, n, rates, args.seconds))
            for rate, (mine, theirs) in zip(rates, measured, strict=True):
                rows.append(
                    {
                        "subscribers": n,
                        "rate": rate,
                        "app": mine,
                        "bare": theirs,
                        "deliveries_ratio": _ratio(mine["per_s"], theirs["per_s"]),
                        "p99_ratio": _ratio(mine["p99_ms"], theirs["p99_ms"]),
                    }
                )
    return {"seconds": args.seconds, "rows": rows}


def report(figures: dict[str, Any], as_json: bool) -> None:
    """Print the figures as a table, or as one JSON object."""
    if as_json:
        print(json.dumps(figures))
        return
    print("rfq bench fanout (deliveries/s, latency ms; app = rfq /ws, bare = broadcast())")
    head = (
        f"{'subs':>6} {'bids/s':>6} | {'app/s':>8} {'p50':>6} {'p99':>7} {'lost':>6} | "
        f"{'bare/s':>8} {'p50':>6} {'p99':>7} | {'ratio/s':>7} {'p99 x':>6}"
    )
    print(head)
    for row in figures["rows"]:
        a, b = row["app"], row["bare"]
        print(
            f"{row['subscribers']:>6} {row['rate']:>6g} | {a['per_s']:>8.0f} {a['p50_ms']:>6.1f} "
            f"{a['p99_ms']:>7.1f} {a['lost']:>6} | {b['per_s']:>8.0f} {b['p50_ms']:>6.1f} "
            f"{b['p99_ms']:>7.1f} | {row['deliveries_ratio']:>7.2f} {row['p99_ratio']:>6.2f}"
        )


# --- the two servers -------------------------------------------------------------


@dataclass
class _World:
    app_url: str
    bare_url: str
    buyer: str
    suppliers: list[str]
    auction: int
    numbers: Iterator[int] = field(default_factory=itertools.count)


@contextlib.contextmanager
def _servers(data_dir: Path) -> Iterator[_World]:
    """The app (``rfq serve``: one worker, SQLite, its embedded Redis) with the engine
    benchmark's kind of world built through its API (a buyer, 50 funded suppliers, one
    live lot), and the bare server beside it."""
    env = {
        "RFQ_DATABASE_URL": f"sqlite:///{data_dir / 'bench.sqlite3'}",
        "RFQ_BIDS_PER_SECOND": "1000",
    }
    bare_port = free_port()
    bare = multiprocessing.get_context("spawn").Process(
        target=_bare_main, args=(bare_port,), daemon=True
    )
    bare.start()
    try:
        with served(data_dir, data_dir / "app.log", env=env) as (url, email, password):
            made = world.market(url, email, password, suppliers=50, lots=1, lead_s=2)
            time.sleep(max(0.0, (made.opens_at - datetime.now(UTC)).total_seconds() + 0.5))
            yield _World(
                url,
                f"ws://127.0.0.1:{bare_port}/",
                made.buyer["token"],
                [s["token"] for s in made.suppliers],
                made.auctions[0],
            )
    finally:
        bare.terminate()
        bare.join(5)


def _bare_main(port: int) -> None:
    """The bare server: every frame a connection sends goes to every other connection."""

    async def main() -> None:
        connections: set[ServerConnection] = set()

        async def handler(ws: ServerConnection) -> None:
            connections.add(ws)
            try:
                async for message in ws:
                    broadcast(connections - {ws}, message)
            finally:
                connections.discard(ws)

        async with serve(handler, "127.0.0.1", port, max_queue=None, compression=None):
            await asyncio.get_running_loop().create_future()

    asyncio.run(main())


# --- one measurement -------------------------------------------------------------


@dataclass
class _Side:
    """One server's subscribers and bid senders, and what its subscribers received."""

    kind: str
    clients: list[ClientConnection]
    senders: list[ClientConnection]
    arrivals: list[tuple[str, float]] = field(default_factory=list)
    counters: dict[str, int] = field(default_factory=lambda: {"frames": 0, "snapshots": 0})


async def _measure(
    world: _World, n: int, rates: list[float], seconds: float
) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """Open ``n`` subscribers on each server, then for each rate one phase on the app
    and one on the bare server, back to back (so both see the same machine)."""
    sides = [
        _Side(kind, await _subscribers(world, kind, n), await _senders(world, kind))
        for kind in ("app", "bare")
    ]
    readers = [
        asyncio.create_task(_read(ws, side.arrivals, side.counters))
        for side in sides
        for ws in side.clients
    ]
    try:
        out = []
        for phase, rate in enumerate(rates):
            figures = []
            for side in sides:
                side.arrivals.clear()
                side.counters.update(frames=0, snapshots=0)
                sent = await _send(world, side.kind, side.senders, rate, seconds, phase)
                figures.append(await _collect(sent, side.arrivals, side.counters, n))
            out.append((figures[0], figures[1]))
        return out
    finally:
        for task in readers:
            task.cancel()
        await asyncio.gather(*readers, return_exceptions=True)
        for side in sides:
            for ws in [*side.clients, *side.senders]:
                with contextlib.suppress(Exception):
                    await ws.close()


async def _subscribers(world: _World, kind: str, n: int) -> list[ClientConnection]:
    async def one() -> ClientConnection:
        if kind == "bare":
            return await connect(world.bare_url, max_queue=None, compression=None)
        ws = await _app_socket(world, world.buyer)
        await ws.send(json.dumps({"op": "subscribe", "auction": world.auction}))
        while json.loads(await ws.recv())["type"] != "snapshot":
            pass
        return ws

    clients: list[ClientConnection] = []
    for start in range(0, n, 100):  # a hundred handshakes at a time
        clients += await asyncio.gather(*(one() for _ in range(min(100, n - start))))
    return clients


async def _senders(world: _World, kind: str) -> list[ClientConnection]:
    """The bid senders: each supplier's websocket on the app, one publisher on bare."""
    if kind == "bare":
        return [await connect(world.bare_url, max_queue=None, compression=None)]
    return list(await asyncio.gather(*(_app_socket(world, s) for s in world.suppliers)))


async def _app_socket(world: _World, token: str) -> ClientConnection:
    ws = await connect(
        world.app_url.replace("http", "ws") + "/ws",
        subprotocols=["rfq.v1.json"],  # type: ignore[list-item]
        additional_headers={"Authorization": f"Bearer {token}"},
        max_queue=None,
        compression=None,
    )
    if json.loads(await ws.recv())["type"] != "hello":
        raise RuntimeError("the app did not greet with hello")
    return ws


async def _read(
    ws: ClientConnection, arrivals: list[tuple[str, float]], counters: dict[str, int]
) -> None:
    async for message in ws:
        now = time.perf_counter()
        frame = json.loads(message)
        kind = frame.get("type")
        if kind == "bid":
            counters["frames"] += 1
            arrivals.append((frame["bid_id"], now))
        elif kind == "snapshot":
            counters["snapshots"] += 1


async def _send(
    world: _World,
    kind: str,
    senders: list[ClientConnection],
    rate: float,
    seconds: float,
    phase: int,
) -> dict[str, float]:
    """Send ``rate`` bids per second for ``seconds``; return bid id -> send time."""
    sent: dict[str, float] = {}
    total = max(1, int(rate * seconds))
    start = time.perf_counter()
    tasks = []
    turns = [asyncio.Lock() for _ in senders]  # one bid in flight per supplier socket

    async def app_bid(_: int) -> None:
        k = next(world.numbers)  # across phases and runs: new keys, falling prices
        ws, turn = senders[k % len(senders)], turns[k % len(senders)]
        frame = {"op": "bid", "auction": world.auction, "price": 10_000_000 - k, "key": f"fan-{k}"}
        async with turn:
            t0 = time.perf_counter()
            await ws.send(json.dumps(frame))
            while (answer := json.loads(await ws.recv()))["type"] not in ("ack", "rejected"):
                pass
        if answer["type"] == "ack":
            sent[answer["bid_id"]] = t0

    async def bare_bid(k: int) -> None:
        bid_id = f"{world.auction}.1-{phase}-{k}"
        frame = {
            "type": "bid",
            "auction": world.auction,
            "seq": k,
            "epoch": 1,
            "at": int(time.time() * 1000),
            "bid_id": bid_id,
            "supplier_company_id": 1000 + k % 50,
            "price": 10_000_000 - k,
            "ranking_price_e4": (10_000_000 - k) * 10_000,
            "proxy": False,
            "bidders": 50,
        }
        sent[bid_id] = time.perf_counter()
        await senders[0].send(json.dumps(frame))

    for k in range(total):
        delay = start + k / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(app_bid(k) if kind == "app" else bare_bid(k)))
    await asyncio.gather(*tasks)
    return sent


async def _collect(
    sent: dict[str, float],
    arrivals: list[tuple[str, float]],
    counters: dict[str, int],
    n: int,
) -> dict[str, Any]:
    """Wait for the phase's frames (at most `DRAIN_S`), then sum them up."""
    expected = len(sent) * n
    deadline = time.perf_counter() + DRAIN_S
    while time.perf_counter() < deadline and counters["frames"] < expected:
        await asyncio.sleep(0.05)
    mine = [(bid, at) for bid, at in arrivals if bid in sent]
    latencies = [at - sent[bid] for bid, at in mine]
    elapsed = (max(at for _, at in mine) - min(sent.values())) if mine else 0.0
    return {
        "bids": len(sent),
        "deliveries": len(mine),
        "per_s": len(mine) / elapsed if elapsed > 0 else 0.0,
        "p50_ms": percentile(latencies, 50) * 1000,
        "p99_ms": percentile(latencies, 99) * 1000,
        "lost": expected - len(mine),
        "snapshots": counters["snapshots"],
    }


# --- helpers ---------------------------------------------------------------------


def _ratio(a: float, b: float) -> float:
    return a / b if b else 0.0
