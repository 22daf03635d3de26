"""``rfq bench fanout``: the capacity of the hub's deliveries next to a bare
``websockets`` broadcast, at saturation.

Two servers run as their own processes on 127.0.0.1: the project's app (``rfq serve``:
one worker, an SQLite database and the embedded Redis, in a temporary data dir) and a
bare `websockets` server whose only work is ``broadcast()`` of every frame its
publisher sends to every other connection. Neither compresses, so both write the same
bytes.

For each subscriber count N (``--subscribers``) this process opens N watchers on each
server (on the app: subscribed to one live auction as its buyer, so every frame names
its bid), lean ones (``loadtests/lean_ws.py``: the frames are counted and their bid ids
found without decoding them, so the watchers are not the bottleneck). Then it **raises
the offered load** from ``--start`` bids/s by ``--growth`` per step: each step sends
that many bids per second for ``--seconds`` to the app (as ``bid`` frames from the
suppliers' own websockets: the real, durable bid path, as a browser bids) and then to
the bare server (frames of the same shape and size from one publisher), alternating.
A server is **saturated** at the first step where it delivers, within the step and
``DRAIN_S`` after it, less than 95 % of what was offered (bids offered x N); it is not
loaded further. Its capacity is the most deliveries/s it achieved in any step.

Printed per N: every step's deliveries/s, the share delivered, p50/p99 latency
(send-to-receive on this process's clock) and CPU per delivery of each server; then
both capacities and their ratio, and each server's p99 at the step nearest half of the
bare server's capacity. The watchers' own CPU share is printed too: near 100 % of a
core it, not the server, limits the figure.
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

from loadtests import lean_ws, world
from loadtests.bench_served import supplier_socket
from loadtests.processes import cpu_seconds, free_port, percentile, raise_file_limit, served

DRAIN_S = 1.0
"""How long a phase waits, after its last send, for frames still on their way: what
comes later was not delivered at the offered load."""
SATURATED = 0.95
"""A server that delivers less than this share of what was offered is saturated."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The fan-out benchmark's options."""
    parser.add_argument("--subscribers", default="100,1000", help="comma-separated counts")
    parser.add_argument("--start", type=float, default=10.0, help="first offered bids/s")
    parser.add_argument("--growth", type=float, default=1.6, help="load factor per step")
    parser.add_argument("--max-rate", type=float, default=2000.0, help="last bids/s tried")
    parser.add_argument("--seconds", type=float, default=3.0, help="sending time per step")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Run the benchmark and return its figures."""
    logging.getLogger("httpx").setLevel(logging.WARNING)
    counts = [int(n) for n in args.subscribers.split(",")]
    raise_file_limit()
    out: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="rfq-fanout-") as tmp, _servers(Path(tmp)) as world:
        for n in counts:
            steps = asyncio.run(_measure(world, n, args))
            out.append({"subscribers": n, "steps": steps, **_summary(steps)})
    return {"seconds": args.seconds, "growth": args.growth, "counts": out}


def _summary(steps: list[dict[str, Any]]) -> dict[str, Any]:
    """Both capacities, their ratio, and the p99s at half the bare server's capacity."""
    capacity = {
        side: max((s[side]["per_s"] for s in steps if side in s), default=0.0)
        for side in ("app", "bare")
    }
    half = capacity["bare"] / 2
    p99: dict[str, float | None] = {}
    for side in ("app", "bare"):
        near = [s for s in steps if side in s and not s[side]["saturated"]]
        best = min(near, key=lambda s: abs(s[side]["per_s"] - half), default=None)
        p99[side] = None if best is None else best[side]["p99_ms"]
    return {
        "app_capacity": capacity["app"],
        "bare_capacity": capacity["bare"],
        "capacity_ratio": _ratio(capacity["app"], capacity["bare"]),
        "app_p99_at_half": p99["app"],
        "bare_p99_at_half": p99["bare"],
    }


def report(figures: dict[str, Any], as_json: bool) -> None:
    """Print the figures as a table, or as one JSON object."""
    if as_json:
        print(json.dumps(figures))
        return
    print("rfq bench fanout (deliveries/s at rising load; app = rfq /ws, bare = broadcast())")
    for block in figures["counts"]:
        print(f"\n{block['subscribers']} watchers")
        print(
            f"{'bids/s':>7} | {'app/s':>8} {'got':>5} {'p50':>6} {'p99':>7} {'us/d':>5} | "
            f"{'bare/s':>8} {'got':>5} {'p50':>6} {'p99':>7} {'us/d':>5} | {'watchers cpu':>12}"
        )
        for step in block["steps"]:
            cells = [f"{step['rate']:>7.0f}"]
            for side in ("app", "bare"):
                f = step.get(side)
                if f is None:
                    cells.append(f"{'(saturated)':>35}")
                    continue
                cells.append(
                    f"{f['per_s']:>8.0f} {f['share'] * 100:>4.0f}% {f['p50_ms']:>6.1f} "
                    f"{f['p99_ms']:>7.1f} {f['cpu_us']:>5.1f}"
                )
            cells.append(f"{step['watchers_cpu'] * 100:>11.0f}%")
            print(" | ".join(cells))
        p99a, p99b = block["app_p99_at_half"], block["bare_p99_at_half"]
        print(
            f"capacity: app {block['app_capacity']:.0f}/s, bare {block['bare_capacity']:.0f}/s, "
            f"ratio {block['capacity_ratio']:.2f}; p99 near half of bare's capacity: "
            f"app {p99a if p99a is None else round(p99a, 1)} ms, "
            f"bare {p99b if p99b is None else round(p99b, 1)} ms"
        )


# --- the two servers -------------------------------------------------------------


@dataclass
class _World:
    app_url: str
    bare_url: str
    buyer: str
    suppliers: list[str]
    auction: int
    app_pid: int
    bare_pid: int
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
        with served(data_dir, data_dir / "app.log", env=env) as app:
            made = world.market(app.url, app.email, app.password, suppliers=50, lots=1, lead_s=2)
            time.sleep(max(0.0, (made.opens_at - datetime.now(UTC)).total_seconds() + 0.5))
            assert bare.pid is not None
            yield _World(
                app.url,
                f"ws://127.0.0.1:{bare_port}/",
                made.buyer["token"],
                [s["token"] for s in made.suppliers],
                made.auctions[0],
                app.pid,
                bare.pid,
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
    """One server's watchers and bid senders, and what its watchers received."""

    kind: str
    pid: int
    senders: list[ClientConnection] = field(default_factory=list)
    watchers: list[lean_ws.LeanSocket] = field(default_factory=list)
    arrivals: list[tuple[bytes, float]] = field(default_factory=list)
    frames: int = 0
    snapshots: int = 0

    def received(self, payload: bytes) -> None:
        """A watcher's frame: note the bid's id and when (no JSON decoding)."""
        now = time.perf_counter()
        self.frames += 1
        at = payload.find(b'"bid_id"')
        if at < 0:
            if b"snapshot" in payload[:40]:
                self.snapshots += 1
            return
        start = payload.find(b'"', at + 8) + 1
        self.arrivals.append((payload[start : payload.find(b'"', start)], now))


async def _measure(world: _World, n: int, args: argparse.Namespace) -> list[dict[str, Any]]:
    """Open ``n`` watchers on each server, then raise the load step by step, one phase
    on the app and one on the bare server per step, until both are saturated."""
    sides = {"app": _Side("app", world.app_pid), "bare": _Side("bare", world.bare_pid)}
    alive = asyncio.create_task(_keep_alive(sides["app"]))
    for side in sides.values():
        await _watchers(world, side, n)
        side.senders = await _senders(world, side.kind)
    steps: list[dict[str, Any]] = []
    loaded = {"app", "bare"}
    rate = args.start
    try:
        while loaded and rate <= args.max_rate:
            step: dict[str, Any] = {"rate": rate}
            cpu, wall = time.process_time(), time.perf_counter()
            for kind in ("app", "bare"):
                if kind not in loaded:
                    continue
                side = sides[kind]
                side.arrivals.clear()
                side.frames = 0
                before = cpu_seconds(side.pid)
                offered, sent = await _send(
                    world, kind, side.senders, rate, args.seconds, len(steps)
                )
                figures = await _collect(offered, sent, side, n)
                used = cpu_seconds(side.pid) - before
                figures["cpu_us"] = used / max(1, figures["deliveries"]) * 1e6
                step[kind] = figures
                if figures["saturated"]:
                    loaded.discard(kind)
                await _quiet(side)
            step["watchers_cpu"] = (time.process_time() - cpu) / (time.perf_counter() - wall)
            steps.append(step)
            rate *= args.growth
        return steps
    finally:
        alive.cancel()
        for side in sides.values():
            for watcher in side.watchers:
                watcher.close()
            for ws in side.senders:
                with contextlib.suppress(Exception):
                    await ws.close()


async def _keep_alive(side: _Side) -> None:
    """Every app connection says something every 20 s (the app closes a websocket that
    is silent for 60 s)."""
    ping = json.dumps({"op": "ping", "t": 0})
    while True:
        await asyncio.sleep(20)
        for watcher in side.watchers:
            watcher.send_text(ping)
        for ws in side.senders:
            with contextlib.suppress(Exception):
                await ws.send(ping)


async def _watchers(world: _World, side: _Side, n: int) -> None:
    async def one() -> lean_ws.LeanSocket:
        if side.kind == "bare":
            return await lean_ws.connect(world.bare_url, side.received)
        ws = await lean_ws.connect(
            _ws(world.app_url),
            side.received,
            headers={"Authorization": f"Bearer {world.buyer}"},
            subprotocol="rfq.v1.json",
        )
        ws.send_text(json.dumps({"op": "subscribe", "auction": world.auction}))
        return ws

    for start in range(0, n, 100):  # a hundred handshakes at a time
        side.watchers += await asyncio.gather(*(one() for _ in range(min(100, n - start))))
    if side.kind == "app":  # every one subscribed (its snapshot came)
        deadline = time.perf_counter() + 60
        while side.snapshots < n and time.perf_counter() < deadline:
            await asyncio.sleep(0.05)


async def _senders(world: _World, kind: str) -> list[ClientConnection]:
    """The bid senders: each supplier's websocket on the app, one publisher on bare."""
    if kind == "bare":
        return [await connect(world.bare_url, max_queue=None, compression=None)]
    return list(
        await asyncio.gather(*(supplier_socket(_ws(world.app_url), s) for s in world.suppliers))
    )


def _ws(app_url: str) -> str:
    return app_url.replace("http", "ws") + "/ws"


async def _send(
    world: _World,
    kind: str,
    senders: list[ClientConnection],
    rate: float,
    seconds: float,
    phase: int,
) -> tuple[int, dict[bytes, float]]:
    """Offer ``rate`` bids per second for ``seconds``; return how many were offered and
    bid id -> send time of those the server took (on the app: acknowledged). Bids the
    app has not answered ``DRAIN_S`` after the last one was due count as not delivered."""
    sent: dict[bytes, float] = {}
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
            sent[answer["bid_id"].encode()] = t0

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
        sent[bid_id.encode()] = time.perf_counter()
        await senders[0].send(json.dumps(frame))

    for k in range(total):
        delay = start + k / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(app_bid(k) if kind == "app" else bare_bid(k)))
    _, late = await asyncio.wait(tasks, timeout=DRAIN_S)
    for task in late:
        task.cancel()
    await asyncio.gather(*late, return_exceptions=True)
    return total, sent


async def _collect(offered: int, sent: dict[bytes, float], side: _Side, n: int) -> dict[str, Any]:
    """Wait for the step's frames (at most `DRAIN_S` more), then sum them up against
    what was offered (``offered`` bids x ``n`` watchers)."""
    deadline = time.perf_counter() + DRAIN_S
    while time.perf_counter() < deadline and len(side.arrivals) < len(sent) * n:
        await asyncio.sleep(0.05)
    mine = [(bid, at) for bid, at in side.arrivals if bid in sent]
    latencies = [at - sent[bid] for bid, at in mine]
    elapsed = (max(at for _, at in mine) - min(sent.values())) if mine else 0.0
    share = len(mine) / (offered * n)
    return {
        "offered": offered,
        "bids": len(sent),
        "deliveries": len(mine),
        "per_s": len(mine) / elapsed if elapsed > 0 else 0.0,
        "share": share,
        "saturated": share < SATURATED,
        "p50_ms": percentile(latencies, 50) * 1000,
        "p99_ms": percentile(latencies, 99) * 1000,
        "snapshots": side.snapshots,
    }


async def _quiet(side: _Side) -> None:
    """Wait until the server's frames stop coming (a saturated server's backlog), so
    the next phase has this process to itself (at most 20 s)."""
    deadline = time.perf_counter() + 20
    last = -1
    while side.frames != last and time.perf_counter() < deadline:
        last = side.frames
        await asyncio.sleep(0.3)


# --- helpers ---------------------------------------------------------------------


def _ratio(a: float, b: float) -> float:
    return a / b if b else 0.0
