"""Connecting to Redis and judging its persistence settings."""

from __future__ import annotations

from pathlib import Path

from rfq.platform.embedded_redis import EmbeddedRedis
from rfq.platform.redis_client import connect, persistence_warnings
from tests.conftest import REDIS_URL


async def test_redis_without_appendonly_gets_a_warning() -> None:
    """The shared test Redis runs without appendonly, and the check says so."""
    client = connect(REDIS_URL)
    try:
        warnings = await persistence_warnings(client)
    finally:
        await client.aclose()
    assert any("appendonly" in w for w in warnings)


async def test_embedded_redis_needs_no_warning(tmp_path: Path) -> None:
    """The embedded Redis (appendonly yes, appendfsync always) passes the check."""
    with EmbeddedRedis(tmp_path) as embedded:
        assert embedded.url is not None
        client = connect(embedded.url)
        try:
            assert await persistence_warnings(client) == []
        finally:
            await client.aclose()
