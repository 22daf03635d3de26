"""Test helpers: a real uvicorn in a thread, subprocesses of the ``rfq`` command, accounts."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette

from loadtests import world
from loadtests.processes import free_port as free_port  # re-exported for the tests
from realtime import codec
from realtime.transport import DirectProtocol
from rfq.platform.settings import Settings
from web.app import create_app

REDIS_SERVER = "/usr/bin/redis-server" if Path("/usr/bin/redis-server").exists() else "redis-server"
"""The system's redis-server, for tests that start servers of their own."""

PASSWORD = "correct horse battery"


@dataclass
class LiveServer:
    """A running app: its base URL, the app object and its settings."""

    url: str
    app: Starlette
    settings: Settings


def wait_for(predicate: Callable[[], Any], timeout_s: float = 20.0, what: str = "condition") -> Any:
    """Poll ``predicate`` until it returns a truthy value or the deadline passes."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.02)


@contextlib.contextmanager
def run_server(
    settings: Settings, port: int = 0, *, journal_process: bool = False
) -> Iterator[LiveServer]:
    """Serve the app with a real uvicorn on 127.0.0.1, on ``port`` (0: the OS picks)."""
    app = create_app(settings, journal_process=journal_process)
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        ws=DirectProtocol,  # as `rfq serve` runs it
        ws_max_size=codec.MAX_MESSAGE,
        ws_per_message_deflate=codec.DEFLATE,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    try:
        wait_for(lambda: server.started or not thread.is_alive(), what="uvicorn to start")
        if not server.started:
            raise RuntimeError("uvicorn failed to start; see the log above")
        port = server.servers[0].sockets[0].getsockname()[1]
        yield LiveServer(f"http://127.0.0.1:{port}", app, settings)
    finally:
        server.should_exit = True
        thread.join(15)


@contextlib.contextmanager
def rfq_process(
    args: list[str], env: dict[str, str], log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``rfq ARGS`` as a child process; stop it by its PID when the block ends."""
    full_env = {**os.environ, **env}
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "rfq.cli", *args], env=full_env, stdout=out, stderr=out
        )
        try:
            yield process
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
                try:
                    process.wait(20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


def rfq_cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run ``python -m rfq ARGS`` with ``env`` added to the environment."""
    return subprocess.run(
        [sys.executable, "-m", "rfq", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def unique_email(tag: str = "user") -> str:
    """An email address no other test uses."""
    return f"{tag}-{uuid.uuid4().hex[:10]}@example.com"


def register(client: httpx.Client, role: str = "buyer", **extra: Any) -> dict[str, Any]:
    """Register a new company and user; return the response JSON."""
    body = {
        "email": unique_email(role),
        "password": PASSWORD,
        "company_name": f"{role.title()} Co {uuid.uuid4().hex[:6]}",
        "role": role,
        **extra,
    }
    response = client.post("/api/auth/register", json=body)
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()
    data["email"] = body["email"]
    return data


def bearer(token: str) -> dict[str, str]:
    """The Authorization header for ``token``."""
    return {"Authorization": f"Bearer {token}"}


def assert_error(response: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    """Check the contract's error shape and status; return the ``error`` object."""
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    assert isinstance(error["code"], str) and error["code"]
    assert isinstance(error["message"], str) and error["message"].endswith(".")
    if code is not None:
        assert error["code"] == code, error
    return error


# --- procurement fixtures ------------------------------------------------------------

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
VALID_USCC = ("91350100M000100Y43", "91110000600037341L", "91440300708461136T")


def operator_token(live: LiveServer) -> str:
    """A bearer token of a new operator account (operators are made by the CLI's code)."""
    from rfq import accounts
    from rfq.platform import db

    database = db.Database(live.settings.database_url)
    email = unique_email("operator")
    try:
        with database.session() as session:
            accounts.create_operator(session, email, PASSWORD)
            session.commit()
    finally:
        database.dispose()
    with httpx.Client(base_url=live.url) as c:
        response = c.post("/api/auth/login", json={"email": email, "password": PASSWORD})
        assert response.status_code == 200, response.text
        return str(response.json()["token"])


def upload(client: httpx.Client, token: str, content: bytes = PDF, name: str = "doc.pdf") -> str:
    """Upload a file as the token's owner; return its id."""
    response = client.post("/api/files", files={"file": (name, content)}, headers=bearer(token))
    assert response.status_code == 201, response.text
    return str(response.json()["file_id"])


def uscc_for(n: int) -> str:
    """A valid unified social credit code, different for each ``n``."""
    return world.uscc(n)


def pending_supplier(client: httpx.Client, categories: list[str]) -> dict[str, Any]:
    """A supplier whose certification application waits for the operator."""
    data = register(client, "supplier")
    world.apply(_api(client, data["token"]), **_application(data, categories))
    return data


def certified_supplier(
    client: httpx.Client,
    operator: str,
    categories: list[str],
    *,
    deposit: int | None = 2_000_000,
    keywords: list[str] | None = None,
    company_name: str | None = None,
) -> dict[str, Any]:
    """A supplier with an approved certification and, unless None, a held deposit."""
    data = register(client, "supplier", **({"company_name": company_name} if company_name else {}))
    supplier, operating = _api(client, data["token"]), _api(client, operator)
    world.certify(operating, supplier, **_application(data, categories), keywords=keywords)
    if deposit is not None:
        world.fund(operating, supplier, deposit)
    return data


def certified_suppliers(
    base_url: str, operator: str, count: int, categories: list[str]
) -> list[dict[str, Any]]:
    """``count`` :func:`certified_supplier` made at once (eight at a time, a client each)."""

    def one(_: int) -> dict[str, Any]:
        with httpx.Client(base_url=base_url, timeout=30) as client:
            return certified_supplier(client, operator, categories)

    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(one, range(count)))


def _api(client: httpx.Client, token: str) -> world.Api:
    """The shared world builder's client of the test's server, as ``token``."""
    return world.Api(str(client.base_url), token, timeout_s=30)


def _application(data: dict[str, Any], categories: list[str]) -> dict[str, Any]:
    return {
        "company_name": data["company"]["name"],
        "code": uscc_for(data["company"]["id"] * 7919 % 10**9),
        "categories": categories,
    }


def rfq_body(
    minutes_from_now: int = 60, duration_min: int = 30, **overrides: Any
) -> dict[str, Any]:
    """A valid draft RFQ body with one reverse English lot."""
    from datetime import UTC, datetime, timedelta

    start = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=minutes_from_now)
    body: dict[str, Any] = {
        "title": "Spring fastener festival: M8 bolts",
        "category": "fasteners.bolts",
        "currency": "CNY",
        "bid_bond": 500_000,
        "starts_at": start.isoformat(),
        "ends_at": (start + timedelta(minutes=duration_min)).isoformat(),
        "lots": [
            {
                "name": "M8x40 bolts, grade 8.8",
                "quantity": 10_000,
                "unit": "pcs",
                "ceiling_price": 120,
                "reserve_price": 95,
                "rules": {
                    "format": "reverse_english",
                    "visibility": "rank_only",
                    "decrement": {"amount": 1},
                    "decrement_from": "own",
                    "ties": "earlier_wins",
                    "soft_close": {
                        "window_s": 120,
                        "extend_s": 120,
                        "trigger": "any",
                        "max_extensions": None,
                    },
                },
            }
        ],
    }
    body.update(overrides)
    return body


def live_auction(
    client: httpx.Client,
    buyer: dict[str, Any],
    *,
    seconds: int = 30,
    ceiling: int = 120,
    **rules: Any,
) -> int:
    """Publish a one-lot RFQ starting in 1.5 s that runs ``seconds``; wait until it is live."""
    body = rfq_body()
    body["lots"][0]["ceiling_price"] = ceiling
    body["lots"][0]["rules"].update(rules)
    if "soft_close" not in rules:
        body["lots"][0]["rules"].pop("soft_close")
    return _open_soon(client, buyer, body, seconds)


def clock_auction(
    client: httpx.Client, buyer: dict[str, Any], fmt: str, clock: dict[str, int]
) -> int:
    """Publish a one-lot ``fmt`` clock RFQ starting in 1.5 s; wait until it is live."""
    body = rfq_body()
    body["lots"][0]["rules"] = {"format": fmt, "visibility": "rank_only", "clock": clock}
    return _open_soon(client, buyer, body, 300)


def wait_state(
    client: httpx.Client, token: str, auction_id: int, state: str, timeout_s: float = 20.0
) -> None:
    """Wait until the auction, as the holder of ``token`` sees it, is in ``state``."""
    wait_for(
        lambda: (
            client.get(f"/api/auctions/{auction_id}", headers=bearer(token)).json()["state"]
            == state
        ),
        timeout_s,
        f"auction {auction_id} to be {state}",
    )


def _open_soon(client: httpx.Client, buyer: dict[str, Any], body: Any, seconds: int) -> int:
    """Publish ``body`` to start in 1.5 s and run ``seconds``; its first lot's auction id
    once the scheduler has opened it."""
    from datetime import UTC, datetime, timedelta

    start = datetime.now(UTC) + timedelta(seconds=1.5)
    body["starts_at"] = start.isoformat()
    body["ends_at"] = (start + timedelta(seconds=seconds)).isoformat()
    published = world.publish(_api(client, buyer["token"]), body)
    auction_id = int(published["lots"][0]["auction_id"])
    wait_state(client, buyer["token"], auction_id, "live", 10)
    return auction_id


def place_bid(
    client: httpx.Client, supplier: dict[str, Any], auction_id: int, price: Any, key: str
) -> httpx.Response:
    """``POST /api/auctions/{id}/bids`` as ``supplier``."""
    return client.post(
        f"/api/auctions/{auction_id}/bids",
        json={"price": price, "key": key},
        headers=bearer(supplier["token"]),
    )
