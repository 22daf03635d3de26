"""The embedded Redis server that `rfq serve` starts when RFQ_REDIS_URL is unset."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import httpx
import pytest
import redis

from rfq.platform.embedded_redis import DataDirBusy, EmbeddedRedis
from tests.support import free_port, rfq_process, wait_for


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and "zombie" not in _status(pid)


def _status(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/status").read_text().lower()
    except FileNotFoundError:
        return "gone"


def _pid(data_dir: Path) -> int:
    return int((data_dir / "redis" / "redis.pid").read_text())


def test_embedded_redis_keeps_data_across_restarts_and_stops(tmp_path: Path) -> None:
    """`rfq serve` runs Redis in the data dir, keeps its data across restarts, stops on Ctrl-C."""
    data_dir = tmp_path / "d"
    env = {"RFQ_DATA_DIR": str(data_dir), "RFQ_REDIS_URL": ""}
    for round_ in range(2):
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        with rfq_process(["serve", "--port", str(port)], env, tmp_path / f"s{round_}.log") as app:
            wait_for(lambda: _ready(url) or app.poll() is not None, 60, "the app")  # noqa: B023
            assert app.poll() is None, (tmp_path / f"s{round_}.log").read_text()
            pid = _pid(data_dir)
            client = redis.Redis(unix_socket_path=str(data_dir / "redis.sock"))
            try:
                config = client.config_get("append*")
                assert config["appendonly"] == "yes" and config["appendfsync"] == "always"
                if round_ == 0:
                    client.set("embedded-test", "kept")
                else:
                    assert client.get("embedded-test") == b"kept"
            finally:
                client.close()
            app.send_signal(signal.SIGINT)
            assert app.wait(30) == 0
        wait_for(lambda: not _alive(pid), 15, "redis to stop")  # noqa: B023


def test_second_app_on_the_same_data_dir_gets_a_clear_error(tmp_path: Path) -> None:
    """A second `rfq serve` on a data dir in use exits 2 naming the problem."""
    data_dir = tmp_path / "d"
    env = {"RFQ_DATA_DIR": str(data_dir), "RFQ_REDIS_URL": ""}
    port = free_port()
    with rfq_process(["serve", "--port", str(port)], env, tmp_path / "first.log") as first:
        wait_for(lambda: _ready(f"http://127.0.0.1:{port}") or first.poll() is not None, 60)
        with rfq_process(
            ["serve", "--port", str(free_port())], env, tmp_path / "second.log"
        ) as second:
            assert second.wait(60) == 2
        message = (tmp_path / "second.log").read_text()
        assert "Another RFQ Arena app" in message and str(data_dir) in message
        assert _ready(f"http://127.0.0.1:{port}")


def test_embedded_redis_lock_is_exclusive(tmp_path: Path) -> None:
    """Two EmbeddedRedis on one data dir: the second raises DataDirBusy, then works once freed."""
    with EmbeddedRedis(tmp_path) as first:
        assert first.url is not None
        with pytest.raises(DataDirBusy):
            EmbeddedRedis(tmp_path).start()
    with EmbeddedRedis(tmp_path) as again:
        assert again.url == first.url


def test_redis_dies_with_a_killed_app(tmp_path: Path) -> None:
    """kill -9 of `rfq serve` takes its embedded Redis down too; the next start works."""
    data_dir = tmp_path / "d"
    env = {"RFQ_DATA_DIR": str(data_dir), "RFQ_REDIS_URL": ""}
    port = free_port()
    with rfq_process(["serve", "--port", str(port)], env, tmp_path / "a.log") as app:
        wait_for(lambda: _ready(f"http://127.0.0.1:{port}") or app.poll() is not None, 60)
        pid = _pid(data_dir)
        app.send_signal(signal.SIGKILL)
        app.wait(10)
    wait_for(lambda: not _alive(pid), 15, "the orphaned redis to stop")
    port = free_port()
    with rfq_process(["serve", "--port", str(port)], env, tmp_path / "b.log") as app:
        wait_for(lambda: _ready(f"http://127.0.0.1:{port}") or app.poll() is not None, 60)
        assert app.poll() is None
