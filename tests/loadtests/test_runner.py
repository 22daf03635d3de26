"""The load-test runner end to end on a small scenario, and its cross-check.

The smoke scenario starts its own ``rfq serve --workers 2`` (embedded Redis, SQLite),
builds a festival through the API, runs locust's suppliers, watchers and buyers until
every lot has closed, and reads every acknowledged bid back. Figures are printed by
the runner, never asserted here: only correctness (no errors, nothing lost).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from loadtests import world
from tests.support import (
    LiveServer,
    certified_supplier,
    live_auction,
    operator_token,
    place_bid,
    register,
)


@pytest.mark.timeout(300)
def test_smoke_festival_runs_clean(tmp_path: Path) -> None:
    out = tmp_path / "results"
    done = subprocess.run(
        [sys.executable, "-m", "loadtests", "run", "--scenario", "smoke", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=280,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "loadtests summary" in done.stdout
    summary = json.loads((out / "summary.json").read_text())
    assert summary["acked"] > 0
    assert summary["errors"] == 0 and summary["missing"] == 0
    assert summary["ack_ws"]["count"] > 0 and summary["ack_rest"]["count"] > 0
    assert summary["fanout_buyer"]["count"] > 0 and summary["fanout_supplier"]["count"] > 0
    # /metrics sums both workers: every acknowledged bid was counted by one of them
    assert summary["server"]["bids accepted"] >= summary["acked"]
    assert (out / "report.html").stat().st_size > 0
    assert (out / "locust_stats.csv").read_text().count("\n") > 3


@pytest.mark.parametrize("live", ["sqlite"], indirect=True)
def test_cross_check_finds_what_the_database_lacks(client: httpx.Client, live: LiveServer) -> None:
    operator = operator_token(live)
    buyer = register(client, "buyer")
    supplier = certified_supplier(client, operator, ["fasteners"])
    auction_id = live_auction(client, buyer)
    bid = place_bid(client, supplier, auction_id, 110, "x1").json()
    real = {"auction": auction_id, "bid_id": bid["bid_id"], "price": 110}
    invented = {"auction": auction_id, "bid_id": f"{auction_id}.1-999", "price": 100}
    repriced = {**real, "price": 109}
    assert world.cross_check(live.url, operator, [real]) == []
    assert world.cross_check(live.url, operator, [real, invented, repriced]) == [
        invented,
        repriced,
    ]
