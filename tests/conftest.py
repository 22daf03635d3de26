"""Fixtures shared by the suite: real Redis, real SQLite and PostgreSQL, a real uvicorn.

Isolation: every test session writes Redis keys only under its own prefix and deletes
exactly those at the end; every PostgreSQL-backed test module gets a database of its
own that is dropped afterwards. Nothing here flushes data it did not create.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
import redis

from rfq.platform import db
from rfq.platform.settings import Settings
from tests.support import LiveServer, run_server

REDIS_URL = os.environ.get("RFQ_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
PG_ADMIN_URL = os.environ.get("RFQ_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
BACKENDS = ("sqlite", "postgresql")


@pytest.fixture(scope="session")
def redis_prefix() -> Iterator[str]:
    """A key prefix owned by this test session; its keys are deleted at the end."""
    prefix = f"rfqtest:{uuid.uuid4().hex[:12]}:"
    yield prefix
    client = redis.Redis.from_url(REDIS_URL)
    try:
        for key in client.scan_iter(match=f"{prefix}*", count=1000):
            client.delete(key)
    finally:
        client.close()


@pytest.fixture
def redis_client() -> Iterator[redis.Redis]:
    """A synchronous client of the shared test Redis server."""
    client = redis.Redis.from_url(REDIS_URL)
    yield client
    client.close()


def create_pg_database() -> tuple[str, str]:
    """Create an empty PostgreSQL database; return its name and SQLAlchemy URL."""
    name = f"rfq_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0].split("://", 1)[1]
    return name, f"postgresql+psycopg://{base}/{name}"


def drop_pg_database(name: str) -> None:
    """Drop a database made by :func:`create_pg_database`."""
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """A fresh, empty database: an SQLite file, or a PostgreSQL database of its own."""
    backend = getattr(request, "param", "sqlite")
    if backend == "sqlite":
        path = tmp_path_factory.mktemp("sqlite") / "rfq.sqlite3"
        yield f"sqlite:///{path}"
        return
    name, url = create_pg_database()
    try:
        yield url
    finally:
        drop_pg_database(name)


def make_settings(data_dir: Path, database_url: str, prefix: str, **overrides: object) -> Settings:
    """Settings for a test app on the shared Redis under ``prefix``."""
    data_dir.mkdir(parents=True, exist_ok=True)
    values: dict[str, object] = {
        "data_dir": data_dir,
        "database_url": database_url,
        "redis_url": REDIS_URL,
        "secret_key": "test-secret-" + "x" * 40,
        "allowed_origins": ("http://allowed.example",),
        "redis_prefix": prefix,
        "register_per_hour": 100_000,
        "bids_per_second": 1000,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture(scope="module", params=BACKENDS)
def live(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, redis_prefix: str
) -> Iterator[LiveServer]:
    """A real uvicorn serving the app on a free port, once per database backend; its
    journal commits in a child process (as in ``rfq serve``) if the test module sets
    ``JOURNAL_PROCESS = True``."""
    backend = request.param
    data_dir = tmp_path_factory.mktemp("data")
    pg_name = None
    if backend == "sqlite":
        url = f"sqlite:///{data_dir / 'rfq.sqlite3'}"
    else:
        pg_name, url = create_pg_database()
        db.upgrade(url)
    # A prefix per server, so rate-limit budgets do not leak between modules.
    settings = make_settings(data_dir, url, f"{redis_prefix}{uuid.uuid4().hex[:6]}:")
    try:
        with run_server(
            settings, journal_process=getattr(request.module, "JOURNAL_PROCESS", False)
        ) as server:
            yield server
    finally:
        if pg_name:
            drop_pg_database(pg_name)


@pytest.fixture
def client(live: LiveServer) -> Iterator[httpx.Client]:
    """An HTTP client of the live server, with its own cookie jar."""
    with httpx.Client(base_url=live.url, timeout=30) as c:
        yield c
