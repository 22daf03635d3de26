"""``python -m loadtests run``: a bounded, headless festival-day load test.

1. Unless ``--host`` names a running app, start one: ``rfq serve --workers N`` in a
   fresh data dir under ``--out`` (SQLite unless ``--database-url``; the embedded Redis
   the parent starts), with an operator made by ``rfq admin create``.
2. Build the scenario's world through the API (`loadtests.world`).
3. Run locust headless on ``loadtests/locustfile.py`` until every lot has closed (or
   ``--max-seconds``), printing progress every 10 s; locust writes its CSV files and
   HTML report to ``--out``.
4. Read every acknowledged bid back through the API (`loadtests.world.cross_check`),
   read the app's ``/metrics``, print a summary table and write ``summary.json``.

The exit status is 0 only if there were acknowledged bids, no errors and no
acknowledged bid missing from the database.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from loadtests import world as worlds
from loadtests.processes import raise_file_limit, served, tree_cpu_seconds
from loadtests.world import Plan

LOCUSTFILE = Path(__file__).with_name("locustfile.py")


@dataclass(frozen=True)
class Scenario:
    plan: Plan
    watchers: int
    surge_watchers: int
    spawn_rate: float


FESTIVAL = Scenario(
    Plan(
        groups=5,
        suppliers_per_lot=20,
        lots_per_group=20,
        lead_s=0,
        lot_s=150,
        window_s=30,
        extend_s=30,
        max_extensions=2,
    ),
    watchers=5000,
    surge_watchers=500,
    spawn_rate=250,
)
"""A festival day's shape: 100 lots in five waves, 20 suppliers each, 5,000 watchers."""

_SMOKE_PLAN = {
    "groups": 1, "suppliers_per_lot": 5, "lots_per_group": 5,
    "lot_s": 15, "window_s": 6, "extend_s": 6, "max_extensions": 1,
}  # fmt: skip

SCENARIOS = {
    "festival": FESTIVAL,
    # the same day in miniature: one wave of five lots, in well under a minute
    "smoke": replace(
        FESTIVAL,
        plan=replace(FESTIVAL.plan, **_SMOKE_PLAN),
        watchers=40,
        surge_watchers=10,
        spawn_rate=50,
    ),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The runner's options."""
    parser.add_argument("--scenario", choices=sorted(SCENARIOS), default="festival")
    parser.add_argument("--watchers", type=int, help="buyers' watchers (scenario's default)")
    parser.add_argument("--lot-seconds", type=int, help="each lot's time before overtime")
    parser.add_argument("--max-seconds", type=float, default=900, help="hard cap of the run")
    parser.add_argument("--workers", type=int, default=2, help="app workers (own app only)")
    parser.add_argument("--database-url", help="the own app's database (default: SQLite)")
    parser.add_argument("--host", help="a running app's base URL instead of starting one")
    parser.add_argument("--operator-email", help="with --host: an operator's login")
    parser.add_argument("--operator-password", help="with --host: the operator's password")
    parser.add_argument("--out", type=Path, default=Path("loadtest-results"))
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")


def run(args: argparse.Namespace) -> int:
    """Run the scenario; return the exit status."""
    scenario = SCENARIOS[args.scenario]
    plan = scenario.plan
    if args.lot_seconds:
        plan = replace(plan, lot_s=args.lot_seconds)
    watchers = scenario.watchers if args.watchers is None else max(1, args.watchers)
    users = plan.groups * (plan.suppliers_per_lot + 1) + watchers
    plan = replace(plan, lead_s=users / scenario.spawn_rate + 15)
    out: Path = args.out.resolve()
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    raise_file_limit()
    with _app(args, out) as (host, email, password, app_pid):
        print(f"building the world on {host} ...", flush=True)
        started = time.monotonic()
        world = worlds.build(host, email, password, plan)
        world_file = out / "world.json"
        world_file.write_text(json.dumps(world.as_json()))
        print(
            f"  {len(world.auctions)} lots, {len(world.suppliers)} suppliers, "
            f"{len(world.buyers)} buyers in {time.monotonic() - started:.0f} s; lots open in "
            f"{(world.opens_at_ms / 1000 - time.time()):.0f} s and close at the earliest "
            f"{plan.lot_s} s later",
            flush=True,
        )
        cpu = _Cpu(app_pid)
        _locust(args, out, host, world_file, watchers, scenario)
        used = cpu.used()
        acked = [json.loads(line) for line in (out / "acked.jsonl").read_text().splitlines()]
        missing = worlds.cross_check(host, world.operator, acked)
        server = _server_metrics(host, world.operator, out / "metrics.txt")
    tally = json.loads((out / "tally.json").read_text())
    summary = _summary(args.scenario, out, acked, missing, tally, server, watchers, args)
    summary["cpu"] = used
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    if missing:
        (out / "missing.jsonl").write_text("".join(json.dumps(m) + "\n" for m in missing))
    _report(summary, args.json)
    ok = summary["acked"] > 0 and summary["errors"] == 0 and summary["missing"] == 0
    return 0 if ok else 1


# --- the app ----------------------------------------------------------------------


@contextlib.contextmanager
def _app(args: argparse.Namespace, out: Path) -> Iterator[tuple[str, str, str, int | None]]:
    if args.host:
        if not (args.operator_email and args.operator_password):
            raise SystemExit("--host needs --operator-email and --operator-password")
        yield args.host.rstrip("/"), args.operator_email, args.operator_password, None
        return
    env = {"RFQ_DATABASE_URL": args.database_url} if args.database_url else {}
    with served(out / "app", out / "app.log", workers=args.workers, env=env) as app:
        print(f"app: rfq serve --workers {args.workers} on {app[0]} (log: {out / 'app.log'})")
        yield app.url, app.email, app.password, app.pid


class _Cpu:
    """CPU used while locust runs, in cores: locust's own (the load generator: this
    process's reaped children) and the app's (its processes, when it is our own)."""

    def __init__(self, app_pid: int | None) -> None:
        self.app_pid = app_pid
        self.wall = time.monotonic()
        self.children = _children_cpu()
        self.app = tree_cpu_seconds(app_pid) if app_pid else 0.0

    def used(self) -> dict[str, float | None]:
        wall = time.monotonic() - self.wall
        app = tree_cpu_seconds(self.app_pid) - self.app if self.app_pid else None
        return {
            "locust_cores": round((_children_cpu() - self.children) / wall, 2),
            "app_cores": None if app is None else round(app / wall, 2),
            "seconds": round(wall, 1),
        }


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


# --- locust -----------------------------------------------------------------------


def _locust(
    args: argparse.Namespace,
    out: Path,
    host: str,
    world_file: Path,
    watchers: int,
    scenario: Scenario,
) -> None:
    env = {
        **os.environ,
        "RFQ_LOAD_WORLD": str(world_file),
        "RFQ_LOAD_OUT": str(out),
        "RFQ_LOAD_WATCHERS": str(watchers),
        "RFQ_LOAD_SURGE_WATCHERS": str(scenario.surge_watchers),
        "RFQ_LOAD_SPAWN_RATE": str(scenario.spawn_rate),
        "RFQ_LOAD_MAX_S": str(args.max_seconds),
    }
    command = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(LOCUSTFILE),
        "--headless",
        "--host",
        host,
        "--csv",
        str(out / "locust"),
        "--html",
        str(out / "report.html"),
        "--only-summary",
        "--loglevel",
        "WARNING",
    ]
    locust = subprocess.Popen(command, env=env)
    try:
        locust.wait(args.max_seconds + 120)
    except subprocess.TimeoutExpired:
        locust.kill()
        locust.wait()
        raise SystemExit("locust did not stop in time") from None


# --- figures ----------------------------------------------------------------------


def _stats(out: Path) -> dict[str, dict[str, str]]:
    with (out / "locust_stats.csv").open() as f:
        return {f"{row['Type']} {row['Name']}".strip(): row for row in csv.DictReader(f)}


def _percentiles(row: dict[str, str] | None) -> dict[str, float | None]:
    if not row or not int(row["Request Count"]):
        return {"count": 0, "p50_ms": None, "p95_ms": None, "p99_ms": None}
    return {
        "count": int(row["Request Count"]),
        "p50_ms": float(row["50%"]),
        "p95_ms": float(row["95%"]),
        "p99_ms": float(row["99%"]),
    }


def _rates(acked: list[dict[str, Any]]) -> tuple[float, float]:
    """Mean acknowledged bids/s from the first to the last ack, and the busiest 5 s."""
    times = sorted(a["at"] for a in acked)
    if len(times) < 2:
        return 0.0, 0.0
    mean = len(times) / (times[-1] - times[0])
    peak, start = 0, 0
    for end, t in enumerate(times):
        while t - times[start] > 5:
            start += 1
        peak = max(peak, end - start + 1)
    return mean, peak / 5


def _server_metrics(host: str, token: str, raw: Path) -> dict[str, float]:
    """The app's own counters (summed over its workers); the whole exposition is kept
    in ``raw`` (every stage's histogram, for reading a run afterwards)."""
    answer = httpx.get(f"{host}/metrics", headers={"Authorization": f"Bearer {token}"})
    if answer.status_code != 200:
        return {}
    raw.write_text(answer.text)
    wanted = {
        "rfq_ws_slow_clients_closed_total": "slow clients closed",
        "rfq_ws_coalesced_total": "backlogs coalesced",
        "rfq_ws_frames_sent_total": "frames sent",
    }
    out: dict[str, float] = {}
    buckets: list[tuple[float, float]] = []
    for family in text_string_to_metric_families(answer.text):
        for sample in family.samples:
            if (
                sample.name == "rfq_bid_answer_seconds_bucket"
                and sample.labels["outcome"] == "accepted"
            ):
                buckets.append((float(sample.labels["le"]), sample.value))
            elif sample.name == "rfq_bids_total":
                key = f"bids {sample.labels['outcome']}"
                out[key] = out.get(key, 0) + sample.value
            elif sample.name in wanted:
                out[wanted[sample.name]] = out.get(wanted[sample.name], 0) + sample.value
    for q in (50, 99):
        bound = _bucket_quantile(buckets, q / 100)
        if bound is not None:
            out[f"ack p{q} (ms, at most)"] = bound * 1000
    return out


def _bucket_quantile(buckets: list[tuple[float, float]], q: float) -> float | None:
    """The upper bound of the histogram bucket holding quantile ``q`` (cumulative
    buckets, summed over workers)."""
    totals: dict[float, float] = {}
    for bound, count in buckets:
        totals[bound] = totals.get(bound, 0) + count
    ordered = sorted(totals.items())
    if not ordered or not ordered[-1][1]:
        return None
    wanted = q * ordered[-1][1]
    return next(bound for bound, count in ordered if count >= wanted)


def _summary(
    scenario: str,
    out: Path,
    acked: list[dict[str, Any]],
    missing: list[dict[str, Any]],
    tally: dict[str, int],
    server: dict[str, float],
    watchers: int,
    args: argparse.Namespace,
) -> dict[str, Any]:
    stats = _stats(out)
    mean, peak = _rates(acked)
    failures = sum(int(r["Failure Count"]) for k, r in stats.items() if k != "Aggregated")
    return {
        "scenario": scenario,
        "workers": None if args.host else args.workers,
        "watchers": watchers,
        "acked": len(acked),
        "bids_per_s": round(mean, 1),
        "peak_bids_per_s": round(peak, 1),
        "ack_ws": _percentiles(stats.get("WS bid")),
        "ack_rest": _percentiles(stats.get("POST /api/auctions/[id]/bids")),
        "fanout_buyer": _percentiles(stats.get("WS fan-out to buyer")),
        "fanout_supplier": _percentiles(stats.get("WS fan-out to supplier")),
        "refused_stale": tally.get("stale", 0),
        "extensions": tally.get("extensions", 0),
        "errors": failures,
        "missing": len(missing),
        "server": server,
        "reports": {"html": str(out / "report.html"), "csv": str(out / "locust_stats.csv")},
    }


def _cores(cpu: dict[str, Any]) -> str:
    app = "-" if cpu["app_cores"] is None else f"{cpu['app_cores']:.2f}"
    return f"locust {cpu['locust_cores']:.2f}, app {app} over {cpu['seconds']:.0f} s"


def _report(summary: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(summary))
        return

    def pct(p: dict[str, Any]) -> str:
        if not p["count"]:
            return "-"
        return f"{p['p50_ms']:.0f} / {p['p95_ms']:.0f} / {p['p99_ms']:.0f} ms (n={p['count']})"

    rows = [
        (
            "scenario",
            f"{summary['scenario']} (workers {summary['workers']}, watchers {summary['watchers']})",
        ),
        ("acknowledged bids", str(summary["acked"])),
        ("bids/s mean / peak 5 s", f"{summary['bids_per_s']} / {summary['peak_bids_per_s']}"),
        ("ack p50/p95/p99 websocket", pct(summary["ack_ws"])),
        ("ack p50/p95/p99 REST", pct(summary["ack_rest"])),
        ("fan-out p50/p95/p99 buyers", pct(summary["fanout_buyer"])),
        ("fan-out p50/p95/p99 suppliers", pct(summary["fanout_supplier"])),
        ("refused (outbid first)", str(summary["refused_stale"])),
        ("soft-close extensions seen", str(summary["extensions"])),
        ("errors", str(summary["errors"])),
        ("acked bids missing from SQL", str(summary["missing"])),
        *((f"server: {k}", f"{v:g}") for k, v in sorted(summary["server"].items())),
        ("CPU while locust ran (cores)", _cores(summary["cpu"])),
        ("reports", summary["reports"]["html"]),
    ]
    width = max(len(k) for k, _ in rows)
    print("\nloadtests summary")
    for key, value in rows:
        print(f"  {key:<{width}}  {value}")
