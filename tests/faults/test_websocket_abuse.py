"""Websocket abuse against a real ``rfq serve`` process: memory stays bounded and the
server keeps serving.

40 connections at once: every fourth sends one 128 KiB message (over the 64 KiB message
limit: close 1009 before it is buffered); the others send up to 300 frames as fast as
they can (garbage, maps that are not operations, 63 KiB frames refused as over the
16 KiB frame limit) until the flood limit closes them (4029). The server's resident
memory grows by less than 64 MiB, and a new client is served.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from realtime import codec
from tests.conftest import REDIS_URL
from tests.support import bearer, free_port, register, rfq_process, wait_for

CONNECTIONS = 40
FRAMES = 300


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def _ready(url: str) -> bool:
    with contextlib.suppress(httpx.HTTPError):
        return httpx.get(f"{url}/readyz", timeout=2).status_code == 200
    return False


async def _abuse(url: str, token: str, n: int) -> set[int | None]:
    """Every fourth connection sends one message over the limit; the others flood."""
    junk: list[str | bytes] = [
        b"\xc1\xff\x00garbage",
        "{not json",
        '{"op": "dance"}',
        "x" * (codec.MAX_MESSAGE - 1024),  # under the message limit, over the frame limit
    ]
    codes: set[int | None] = set()
    try:
        async with connect(url, additional_headers=bearer(token), max_size=None) as ws:
            if n % 4 == 0:
                await ws.send("y" * (codec.MAX_MESSAGE * 2))
            else:
                for k in range(FRAMES):
                    await ws.send(junk[(n + k) % len(junk)])
            async for _ in ws:  # drain the answers until the server closes
                pass
    except ConnectionClosed as exc:
        codes.add(exc.rcvd.code if exc.rcvd else None)
    return codes


@pytest.mark.timeout(300)
def test_abusive_clients_leave_memory_bounded_and_service_up(tmp_path: Path) -> None:
    port = free_port()
    env = {
        "RFQ_DATA_DIR": str(tmp_path / "data"),
        "RFQ_DATABASE_URL": f"sqlite:///{tmp_path / 'rfq.sqlite3'}",
        "RFQ_REDIS_URL": REDIS_URL,
        "RFQ_REDIS_PREFIX": f"rfqtest:abuse:{uuid.uuid4().hex[:8]}:",
        "RFQ_REGISTER_PER_HOUR": "100000",
    }
    with rfq_process(["serve", "--port", str(port)], env, tmp_path / "app.log") as app:
        url = f"http://127.0.0.1:{port}"
        wait_for(lambda: _ready(url) or app.poll() is not None, 60, "the app")
        assert app.poll() is None, (tmp_path / "app.log").read_text()
        with httpx.Client(base_url=url, timeout=30) as client:
            token = register(client, "buyer")["token"]
        ws_url = f"ws://127.0.0.1:{port}/ws"

        async def warm_up() -> None:
            async with connect(ws_url, additional_headers=bearer(token)) as ws:
                await ws.recv()

        asyncio.run(warm_up())
        before = _rss_mib(app.pid)

        async def attack() -> list[set[int | None]]:
            return await asyncio.gather(*(_abuse(ws_url, token, n) for n in range(CONNECTIONS)))

        closes = set().union(*asyncio.run(attack()))
        grown = _rss_mib(app.pid) - before
        assert closes == {1009, 4029}, closes
        assert grown < 64, f"resident memory grew by {grown:.0f} MiB"
        assert app.poll() is None and _ready(url)
        asyncio.run(warm_up())  # a new client is greeted
