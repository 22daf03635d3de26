"""The `rfq` command line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx

from rfq.settings import Settings
from tests.conftest import make_settings
from tests.support import run_server


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


def test_unbuilt_commands_say_so(tmp_path: Path) -> None:
    """`rfq bench` and `rfq audit verify` answer that they are not available yet."""
    for args in (["bench"], ["audit", "verify", "1"]):
        done = _rfq(args, tmp_path)
        assert done.returncode == 2 and "not available yet" in done.stderr
