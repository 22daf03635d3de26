"""The `rfq` command line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx

from rfq.platform.settings import Settings
from tests.conftest import make_settings
from tests.support import free_port, rfq_process, run_server, wait_for


def _rfq(args: list[str], data_dir: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rfq.cli", *args],
        env={"PATH": "/usr/bin:/bin", "RFQ_DATA_DIR": str(data_dir), **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_admin_create_makes_an_operator_who_can_log_in(tmp_path: Path, redis_prefix: str) -> None:
    """`rfq admin create` creates an operator account that logs in through the API."""
    done = _rfq(
        ["admin", "create", "--email", "Ops@Example.com", "--password", "s3cret-pass!"], tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert "ops@example.com" in done.stdout
    again = _rfq(
        ["admin", "create", "--email", "ops@example.com", "--password", "s3cret-pass!"], tmp_path
    )
    assert again.returncode == 2 and "already exists" in again.stderr
    settings = make_settings(
        tmp_path,
        Settings.from_env({"RFQ_DATA_DIR": str(tmp_path)}).database_url,
        redis_prefix + "cli:",
    )
    with run_server(settings) as live:
        response = httpx.post(
            f"{live.url}/api/auth/login",
            json={"email": "ops@example.com", "password": "s3cret-pass!"},
        )
        assert response.status_code == 200, response.text
        assert response.json()["user"]["role"] == "operator"


def test_db_upgrade_and_bad_settings(tmp_path: Path) -> None:
    """`rfq db upgrade` migrates; a bad setting exits 2 with a one-line error naming it."""
    done = _rfq(["db", "upgrade"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "rfq.sqlite3").exists()
    bad = _rfq(["db", "upgrade"], tmp_path, RFQ_DATABASE_URL="mysql://x")
    assert bad.returncode == 2
    assert bad.stderr.startswith("rfq: RFQ_DATABASE_URL")


def test_audit_verify_of_unknown_auction(tmp_path: Path) -> None:
    """`rfq audit verify` of an auction that does not exist exits 2 and says so."""
    assert _rfq(["db", "upgrade"], tmp_path).returncode == 0
    done = _rfq(["audit", "verify", "999"], tmp_path)
    assert done.returncode == 2 and "no auction 999" in done.stderr


def test_bench_engine_prints_figures(tmp_path: Path) -> None:
    """`rfq bench engine --json` runs the real bid path briefly and prints its figures."""
    done = _rfq(
        ["bench", "engine", "--bidders", "4", "--bids", "200", "--auctions", "2", "--json"],
        tmp_path,
    )
    assert done.returncode == 0, done.stderr
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert figures["acked"] == 200 and figures["acks_per_s"] > 0
    assert figures["evalsha_per_s"] > 0 and figures["ratio"] > 0


def test_bench_fanout_prints_figures(tmp_path: Path) -> None:
    """`rfq bench fanout --json` runs the app and a bare broadcast server briefly, one
    load step: every bid's frame reaches every watcher of both, and both capacities and
    their ratio are printed."""
    args = ["bench", "fanout", "--subscribers", "20", "--start", "10", "--max-rate", "10"]
    done = _rfq([*args, "--seconds", "1", "--json"], tmp_path)
    assert done.returncode == 0, done.stderr
    [block] = json.loads(done.stdout.strip().splitlines()[-1])["counts"]
    [step] = block["steps"]
    for side in ("app", "bare"):
        assert step[side]["offered"] == 10 and step[side]["bids"] == 10, step
        assert step[side]["deliveries"] == 200 and step[side]["share"] == 1.0, step
        assert step[side]["p99_ms"] > 0 and not step[side]["saturated"]
    assert block["app_capacity"] > 0 and block["capacity_ratio"] > 0


def test_bench_ranks_prints_figures(tmp_path: Path) -> None:
    """`rfq bench ranks --json` times both ways of telling suppliers their rank."""
    done = _rfq(["bench", "ranks", "--suppliers", "3,30", "--events", "20", "--json"], tmp_path)
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout.strip().splitlines()[-1])["rows"]
    assert [r["suppliers"] for r in rows] == [3, 30]
    assert all(r["shared_us_per_event"] > 0 and r["per_connection_us_per_event"] > 0 for r in rows)


def test_demo_runs_a_live_festival_with_simulated_bidders(tmp_path: Path) -> None:
    """`rfq demo` serves, stages a festival with live auctions, prints the control room,
    leaves one application in the certification queue, a lot holding a pre-bid and an
    answered question, and simulated suppliers bid (and accept the japanese clock's
    price)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {"RFQ_DATA_DIR": str(tmp_path / "demo"), "RFQ_REDIS_URL": ""}
    with rfq_process(["demo", "--port", str(port)], env, tmp_path / "demo.log") as app:

        def ready() -> bool:
            if app.poll() is not None:
                raise AssertionError((tmp_path / "demo.log").read_text())
            try:
                return httpx.get(f"{url}/readyz", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(ready, 60, "the demo app")
        login = {"email": "buyer@demo.example.com", "password": "festival-demo-2026"}
        token = httpx.post(f"{url}/api/auth/login", json=login, timeout=10).json()["token"]

        def bids_seen() -> bool:
            report = httpx.get(
                f"{url}/api/festivals/1", timeout=5, headers={"Authorization": f"Bearer {token}"}
            ).json()
            lots = report.get("lots", [])
            clocks = [lot for lot in lots if "japanese clock" in lot["lot_name"]]
            return (
                any(lot["bidders"] > 0 for lot in lots) and len(clocks) == 1
                and clocks[0]["bidders"] > 0
            )  # fmt: skip

        wait_for(bids_seen, 90, "simulated bids and clock acceptances in the demo festival")
        auth = {"Authorization": f"Bearer {token}"}
        lots = httpx.get(f"{url}/api/festivals/1", timeout=5, headers=auth).json()["lots"]
        pre = [lot for lot in lots if "pre-bids" in lot["lot_name"]]
        assert [(lot["state"], lot["bidders"]) for lot in pre] == [("scheduled", 1)]
        first = min(lot["rfq_id"] for lot in lots)
        asked = httpx.get(f"{url}/api/rfqs/{first}/questions", timeout=5, headers=auth).json()
        assert [q["answer"] is not None for q in asked] == [True]
        log = (tmp_path / "demo.log").read_text()
        assert f"Festival control room: {url}/festivals/1" in log
        operator = {"email": "operator@demo.example.com", "password": "festival-demo-2026"}
        admin = httpx.post(f"{url}/api/auth/login", json=operator, timeout=10).json()["token"]
        queue = httpx.get(
            f"{url}/api/admin/certifications?status=pending",
            timeout=5,
            headers={"Authorization": f"Bearer {admin}"},
        ).json()
        assert [c["company_name"] for c in queue] == ["Dongguan Spring Works"]
