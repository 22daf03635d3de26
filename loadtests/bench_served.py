"""``rfq bench engine --served``: durable acks over ``/ws`` through ``rfq serve``, with
watchers attached, next to the raw EVALSHA ceiling on the same Redis in the same run.

The path users take: ``rfq serve`` (``--workers`` processes, an SQLite database unless
``RFQ_DATABASE_URL`` names one) on an embedded Redis this benchmark starts (``appendfsync
always``), so that the ceiling is measured on the very Redis the app uses. The world is
built through the API (``loadtests/world.py``: a buyer, ``--bidders`` funded suppliers,
one RFQ of ``--auctions`` rank-only lots). ``--watchers`` lean websockets of the buyer
(``loadtests/lean_ws.py``) watch the lots, spread over them; every supplier bids on its
own websocket, as a browser does: a ``bid`` frame, then the next once the ``ack`` came.
A connection may send 20 operations a second (``realtime/endpoint.py``), so give it
enough bidders (``--bidders 200``) that none needs more.

Three phases, in order:

1. **Capacity**: every supplier bids as fast as its acks come back, until ``--bids``
   are acknowledged: acks/s and ack p50/p99.
2. **Half load**: bids offered at half the measured capacity for ``--seconds`` (open
   loop, one bid in flight per supplier socket): ack p50/p99 at that load (the target
   is p99 <= 50 ms).
3. **Ceiling**: 50 concurrent callers of a trivial script (``return 1``) through
   redis-py asyncio's EVALSHA from this process, on the same Redis.

Printed besides: the app's CPU per ack (all its processes, ``/proc``), the Redis
server's, and this process's own CPU share (the bidders and watchers: near 100 % of a
core they, not the app, set the figure). Bids are not rate-limited here
(``RFQ_BIDS_PER_SECOND`` raised): the limit is not what is measured.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

from loadtests import lean_ws, world
from loadtests.ceiling import evalsha_per_s
from loadtests.processes import (
    cpu_seconds,
    percentile,
    raise_file_limit,
    served,
    tree_cpu_seconds,
)
from rfq.platform.embedded_redis import EmbeddedRedis
from rfq.platform.redis_client import connect as redis_connect

CEILING_CALLERS = 50


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Run the served benchmark and return its figures."""
    raise_file_limit()
    with (
        tempfile.TemporaryDirectory(prefix="rfq-bench-") as tmp,
        EmbeddedRedis(Path(tmp) / "redis") as embedded,
    ):
        data_dir = Path(tmp)
        assert embedded.url is not None
        url = os.environ.get("RFQ_DATABASE_URL") or f"sqlite:///{data_dir / 'bench.sqlite3'}"
        env = {
            "RFQ_DATABASE_URL": url,
            "RFQ_REDIS_URL": embedded.url,
            "RFQ_BIDS_PER_SECOND": "100000",
        }
        with served(data_dir / "app", data_dir / "app.log", workers=args.workers, env=env) as app:
            made = world.market(
                app.url, app.email, app.password, suppliers=args.bidders, lots=args.auctions,
                lead_s=3,
            )  # fmt: skip
            time.sleep(max(0.0, (made.opens_at - datetime.now(UTC)).total_seconds() + 0.5))
            figures = asyncio.run(_bench(args, app.url, app.pid, made, embedded))
        figures["database"] = url.split(":", 1)[0]
        return figures


async def _bench(
    args: argparse.Namespace, app_url: str, app_pid: int, made: world.Market, redis: EmbeddedRedis
) -> dict[str, Any]:
    ws_url = app_url.replace("http", "ws") + "/ws"
    frames = [0]

    def received(_: bytes) -> None:
        frames[0] += 1

    watchers = await _watchers(ws_url, made, args.watchers, received)
    sockets = list(
        await asyncio.gather(*(supplier_socket(ws_url, s["token"]) for s in made.suppliers))
    )
    numbers = itertools.count()
    redis_pid = redis.pid
    try:
        before = _cpu(app_pid, redis_pid)
        acks, rejected, elapsed = await _closed_loop(sockets, made.auctions, numbers, args.bids)
        used = _cpu(app_pid, redis_pid, before)
        capacity = len(acks) / elapsed
        half, half_rejected = await _open_loop(
            sockets, made.auctions, numbers, capacity / 2, args.seconds
        )
        client = used["client"] / elapsed
        ceiling = await _evalsha_ceiling(redis.url or "", max(2000, args.bids))
    finally:
        for watcher in watchers:
            watcher.close()
        for ws in sockets:
            with contextlib.suppress(Exception):
                await ws.close()
    return {
        "mode": "served",
        "workers": args.workers,
        "bidders": args.bidders,
        "auctions": args.auctions,
        "watchers": args.watchers,
        "acked": len(acks),
        "rejected": rejected + half_rejected,
        "acks_per_s": capacity,
        "ack_p50_ms": percentile(acks, 50) * 1000,
        "ack_p99_ms": percentile(acks, 99) * 1000,
        "half_rate": capacity / 2,
        "half_acked": len(half),
        "half_p50_ms": percentile(half, 50) * 1000,
        "half_p99_ms": percentile(half, 99) * 1000,
        "evalsha_per_s": ceiling,
        "ratio": capacity / ceiling,
        "app_cpu_us_per_ack": used["app"] / max(1, len(acks)) * 1e6,
        "redis_cpu_us_per_ack": used["redis"] / max(1, len(acks)) * 1e6,
        "client_cpu_share": client,
        "watcher_frames": frames[0],
        "redis": "embedded, appendfsync always",
    }


def _cpu(app: int, redis: int | None, since: dict[str, float] | None = None) -> dict[str, float]:
    now = {
        "app": tree_cpu_seconds(app),
        "redis": cpu_seconds(redis) if redis else 0.0,
        "client": time.process_time(),
    }
    return now if since is None else {k: v - since[k] for k, v in now.items()}


async def _watchers(
    ws_url: str, made: world.Market, n: int, received: Any
) -> list[lean_ws.LeanSocket]:
    """``n`` lean websockets of the buyer, watching the lots round robin."""

    async def one(k: int) -> lean_ws.LeanSocket:
        ws = await lean_ws.connect(
            ws_url,
            received,
            headers={"Authorization": f"Bearer {made.buyer['token']}"},
            subprotocol="rfq.v1.json",
        )
        auction = made.auctions[k % len(made.auctions)]
        ws.send_text(json.dumps({"op": "subscribe", "auction": auction}))
        return ws

    return list(await asyncio.gather(*(one(k) for k in range(n))))


async def supplier_socket(ws_url: str, token: str) -> ClientConnection:
    """A supplier's websocket to the app, greeted (``hello``)."""
    ws = await connect(
        ws_url,
        subprotocols=["rfq.v1.json"],  # type: ignore[list-item]
        additional_headers={"Authorization": f"Bearer {token}"},
        max_queue=None,
        compression=None,
    )
    if json.loads(await ws.recv())["type"] != "hello":
        raise RuntimeError("the app did not greet with hello")
    return ws


async def _bid(ws: ClientConnection, auction: int, k: int) -> tuple[bool, float]:
    """One bid over ``ws``: whether it was acknowledged, and how long the answer took."""
    frame = {"op": "bid", "auction": auction, "price": 10_000_000 - k, "key": f"served-{k}"}
    start = time.perf_counter()
    await ws.send(json.dumps(frame))
    while (answer := json.loads(await ws.recv()))["type"] not in ("ack", "rejected", "error"):
        pass  # (an error: the connection's budget of operations, 20/s, ran out)
    return answer["type"] == "ack", time.perf_counter() - start


async def _closed_loop(
    sockets: list[ClientConnection], auctions: list[int], numbers: Any, total: int
) -> tuple[list[float], int, float]:
    """Every supplier bids as soon as its last bid was answered, until ``total`` acks."""
    latencies: list[float] = []
    rejected = [0]
    remaining = [total]

    async def bidder(n: int, ws: ClientConnection) -> None:
        while remaining[0] > 0:
            remaining[0] -= 1
            acked, took = await _bid(ws, auctions[n % len(auctions)], next(numbers))
            if acked:
                latencies.append(took)
            else:
                rejected[0] += 1

    start = time.perf_counter()
    await asyncio.gather(*(bidder(n, ws) for n, ws in enumerate(sockets)))
    return latencies, rejected[0], time.perf_counter() - start


async def _open_loop(
    sockets: list[ClientConnection], auctions: list[int], numbers: Any, rate: float, seconds: float
) -> tuple[list[float], int]:
    """Bids offered at ``rate`` per second for ``seconds``, round robin over the sockets
    (one in flight per socket: a bid due on a busy socket waits for it, and its latency
    counts from when it was due)."""
    latencies: list[float] = []
    rejected = [0]
    turns = [asyncio.Lock() for _ in sockets]

    async def one(k: int, due: float) -> None:
        n = k % len(sockets)
        async with turns[n]:
            acked, _ = await _bid(sockets[n], auctions[n % len(auctions)], next(numbers))
        if acked:
            latencies.append(time.perf_counter() - due)
        else:
            rejected[0] += 1

    tasks = []
    start = time.perf_counter()
    for k in range(max(1, int(rate * seconds))):
        due = start + k / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(k, due)))
    await asyncio.gather(*tasks)
    return latencies, rejected[0]


async def _evalsha_ceiling(url: str, calls: int) -> float:
    """Raw EVALSHA calls/s of :data:`CEILING_CALLERS` concurrent callers on ``url``."""
    redis = redis_connect(url)
    try:
        return await evalsha_per_s(redis, CEILING_CALLERS, calls)
    finally:
        await redis.aclose()


def report(figures: dict[str, Any]) -> None:
    """Print the served figures as a table."""
    rows = [
        ("workers / bidders / auctions", f"{figures['workers']} / {figures['bidders']} / "
         f"{figures['auctions']}"),
        ("watchers", f"{figures['watchers']} ({figures['watcher_frames']} frames received)"),
        ("acknowledged bids (rejected)", f"{figures['acked']} ({figures['rejected']})"),
        ("durable acks/s over /ws", f"{figures['acks_per_s']:.0f}"),
        ("ack p50 / p99 (ms)", f"{figures['ack_p50_ms']:.1f} / {figures['ack_p99_ms']:.1f}"),
        ("raw EVALSHA calls/s (50 callers)", f"{figures['evalsha_per_s']:.0f}"),
        ("ratio acks / EVALSHA", f"{figures['ratio']:.2f} (target >= 0.25)"),
        ("half load offered (bids/s)", f"{figures['half_rate']:.0f} "
         f"({figures['half_acked']} acked)"),
        ("ack p50 / p99 at half load (ms)",
         f"{figures['half_p50_ms']:.1f} / {figures['half_p99_ms']:.1f} (target p99 <= 50)"),
        ("app CPU per ack (us)", f"{figures['app_cpu_us_per_ack']:.0f}"),
        ("Redis CPU per ack (us)", f"{figures['redis_cpu_us_per_ack']:.0f}"),
        ("this process's CPU share", f"{figures['client_cpu_share']:.0%}"),
        ("database", figures["database"]),
        ("redis", figures["redis"]),
    ]  # fmt: skip
    width = max(len(k) for k, _ in rows)
    print("rfq bench engine --served")
    for key, value in rows:
        print(f"  {key:<{width}}  {value}")
