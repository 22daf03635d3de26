"""``rfq bench engine``: the real bid path under load, next to the raw EVALSHA ceiling.

It builds a throwaway world in a temporary data dir (an SQLite database unless
``RFQ_DATABASE_URL`` names one, the embedded Redis with ``appendfsync always`` unless
``--redis-url`` names one) through the API, as every world is built: a buyer,
``--bidders`` certified suppliers with deposits, and one RFQ of ``--auctions`` lots. Then
each bidder places bids one after another (each undercutting its last) through
`bidding.live.desk.Desk` — eligibility, ``bid.lua``, the group-commit journal to SQL,
the acknowledgement — until ``--bids`` are acknowledged.

In the same run it measures the raw ceiling: as many concurrent callers calling a
trivial script (``return 1``) through redis-py's EVALSHA from this one process. It
prints durable acks/s, ack latency p50/p99, the ceiling, and their ratio (the target
is at least 0.25).

That is the engine alone: no websocket, no hub, no watcher. ``--served`` measures the
path users take instead, bids as ``/ws`` frames through ``rfq serve`` with watchers
attached (``loadtests/bench_served.py``); this in-process figure only explains it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from bidding.live.desk import Desk
from bidding.live.engine import Engine, RateLimit
from bidding.live.journal import Journal
from bidding.live.scheduler import Scheduler
from bidding.live.store import DOMAIN_HOOKS
from loadtests import bench_served, world
from loadtests.ceiling import evalsha_per_s as ceiling_of
from loadtests.processes import percentile, served
from rfq.accounts import Principal, Role, Via
from rfq.platform import clock, db
from rfq.platform.embedded_redis import EmbeddedRedis
from rfq.platform.keys import Keys
from rfq.platform.redis_client import connect


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The engine benchmark's options."""
    parser.add_argument("--bidders", type=int, default=50, help="concurrent bidders")
    parser.add_argument("--bids", type=int, default=5000, help="acknowledged bids to reach")
    parser.add_argument("--auctions", type=int, default=10, help="live auctions shared")
    parser.add_argument("--redis-url", default=None, help="default: the embedded Redis")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    served = parser.add_argument_group("the served path (loadtests/bench_served.py)")
    served.add_argument(
        "--served", action="store_true", help="bids as /ws frames through rfq serve"
    )
    served.add_argument("--watchers", type=int, default=10, help="buyer websockets watching")
    served.add_argument("--workers", type=int, default=1, help="rfq serve --workers")
    served.add_argument("--seconds", type=float, default=5.0, help="the half-load phase")


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Run the benchmark and return its figures."""
    if args.served:
        return bench_served.run(args)
    with tempfile.TemporaryDirectory(prefix="rfq-bench-") as tmp:
        data_dir = Path(tmp)
        url = os.environ.get("RFQ_DATABASE_URL") or f"sqlite:///{data_dir / 'bench.sqlite3'}"
        made = build_world(data_dir, url, args.bidders, args.auctions)
        if args.redis_url:
            return asyncio.run(_bench(args, url, args.redis_url, "external", made))
        with EmbeddedRedis(data_dir) as embedded:
            assert embedded.url is not None
            kind = "embedded, appendfsync always"
            return asyncio.run(_bench(args, url, embedded.url, kind, made))


def build_world(data_dir: Path, url: str, bidders: int, auctions: int) -> world.Market:
    """The benchmark's world, built the one way every world is (``loadtests/world.py``):
    through the API of a short-lived ``rfq serve`` on the benchmark's database, stopped
    before the lots open, so that only the benchmark's engine runs them."""
    env = {"RFQ_DATABASE_URL": url}
    with served(data_dir / "world", data_dir / "world.log", env=env) as (host, email, password, _):
        return world.market(host, email, password, suppliers=bidders, lots=auctions, lead_s=3)


def report(figures: dict[str, Any], as_json: bool) -> None:
    """Print the figures as a table, or as one JSON object."""
    if as_json:
        print(json.dumps(figures))
        return
    if figures.get("mode") == "served":
        bench_served.report(figures)
        return
    rows = [
        ("bidders / auctions", f"{figures['bidders']} / {figures['auctions']}"),
        ("acknowledged bids", f"{figures['acked']}"),
        ("durable acks/s", f"{figures['acks_per_s']:.0f}"),
        ("ack latency p50 (ms)", f"{figures['ack_p50_ms']:.2f}"),
        ("ack latency p99 (ms)", f"{figures['ack_p99_ms']:.2f}"),
        ("raw EVALSHA calls/s", f"{figures['evalsha_per_s']:.0f}"),
        ("ratio acks / EVALSHA", f"{figures['ratio']:.2f} (target >= 0.25)"),
        ("SQL commits (batches)", f"{figures['batches']}"),
        ("database", figures["database"]),
        ("redis", figures["redis"]),
    ]
    width = max(len(k) for k, _ in rows)
    print("rfq bench engine")
    for key, value in rows:
        print(f"  {key:<{width}}  {value}")


async def _bench(
    args: argparse.Namespace, url: str, redis_url: str, redis_kind: str, made: world.Market
) -> dict[str, Any]:
    database = db.Database(url)
    redis = connect(redis_url)
    keys = Keys(f"bench:{os.getpid()}:")
    try:
        engine = Engine(redis, keys)
        journal = Journal(database, DOMAIN_HOOKS, publish=engine.publish)
        desk = Desk(database, engine, journal, RateLimit(0, 0))
        suppliers = [
            Principal(s["user_id"], s["email"], Role.supplier, s["company_id"], 0, Via.bearer)
            for s in made.suppliers
        ]
        auction_ids = made.auctions
        await asyncio.sleep(max(0.0, (made.opens_at - clock.now()).total_seconds()))
        writer = asyncio.create_task(journal.run())
        try:
            for auction_id in auction_ids:
                await desk.restore(auction_id, rebuild=False)
            await Scheduler(desk).tick()
            latencies, elapsed = await _bid_load(desk, suppliers, auction_ids, args.bids)
            ceiling = await ceiling_of(redis, args.bidders, max(2000, args.bids))
        finally:
            writer.cancel()
        acks = len(latencies) / elapsed
        return {
            "bidders": args.bidders,
            "auctions": args.auctions,
            "acked": len(latencies),
            "acks_per_s": acks,
            "ack_p50_ms": percentile(latencies, 50) * 1000,
            "ack_p99_ms": percentile(latencies, 99) * 1000,
            "evalsha_per_s": ceiling,
            "ratio": acks / ceiling,
            "batches": journal.batches,
            "database": url.split(":", 1)[0],
            "redis": redis_kind,
        }
    finally:
        await _cleanup(redis, keys)
        await redis.aclose()
        database.dispose()


async def _bid_load(
    desk: Desk, suppliers: list[Principal], auction_ids: list[int], total: int
) -> tuple[list[float], float]:
    latencies: list[float] = []
    remaining = [total]

    async def bidder(n: int, who: Principal) -> None:
        auction_id = auction_ids[n % len(auction_ids)]
        price = 10_000_000 - n
        k = 0
        while remaining[0] > 0:
            remaining[0] -= 1
            k += 1
            start = time.perf_counter()
            await desk.bid(who, auction_id, price, f"bench-{n}-{k}")
            latencies.append(time.perf_counter() - start)
            price -= 1

    start = time.perf_counter()
    await asyncio.gather(*(bidder(n, who) for n, who in enumerate(suppliers)))
    return latencies, time.perf_counter() - start


async def _cleanup(redis: Any, keys: Keys) -> None:
    async for key in redis.scan_iter(match=f"{keys.prefix}*", count=1000):
        await redis.delete(key)
    await redis.delete("bench:noop")
