"""Connecting to Redis (one server or a cluster) and checking how durable it is."""

from __future__ import annotations

import logging
from typing import Any

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import ResponseError

log = logging.getLogger("rfq.redis")

_CLUSTER_SCHEME = "redis+cluster://"


MAX_CONNECTIONS = 64
"""Per process (per node for a cluster). Callers beyond it wait for a free connection,
up to ``POOL_TIMEOUT_S``; Redis runs commands one at a time anyway."""
POOL_TIMEOUT_S = 10


def connect(url: str) -> Any:
    """An asyncio client for ``url``; ``redis+cluster://host:port`` means a Redis Cluster."""
    if url.startswith(_CLUSTER_SCHEME):
        return RedisCluster.from_url(
            "redis://" + url[len(_CLUSTER_SCHEME) :], max_connections=MAX_CONNECTIONS
        )
    pool = BlockingConnectionPool.from_url(
        url, max_connections=MAX_CONNECTIONS, timeout=POOL_TIMEOUT_S, health_check_interval=30
    )
    return Redis.from_pool(pool)  # the client owns the pool and closes it


async def persistence_warnings(client: Any) -> list[str]:
    """Sentences saying how acknowledged data could be lost on this Redis, if it could.

    Bids are durable in SQL before they are acknowledged, so a lossy Redis loses no
    bid; it loses live state that is then rebuilt from SQL, which costs time.
    """
    try:
        config = await client.config_get("append*")
    except ResponseError:
        return ["Could not read Redis's persistence settings (CONFIG is disabled)."]
    if isinstance(config, dict) and config and isinstance(next(iter(config.values())), dict):
        config = next(iter(config.values()))  # cluster: one answer per node
    warnings = []
    if config.get("appendonly") != "yes":
        warnings.append(
            "Redis runs without appendonly: a Redis restart loses live auction state, "
            "which the app then rebuilds from SQL."
        )
    elif config.get("appendfsync") != "always":
        warnings.append(
            f"Redis fsyncs its log '{config.get('appendfsync')}', not 'always': a crash of "
            "the Redis host can lose up to a second of writes, which the app rebuilds from SQL."
        )
    return warnings


async def log_persistence(client: Any) -> None:
    """Log a warning for each way this Redis could lose acknowledged data."""
    for warning in await persistence_warnings(client):
        log.warning(warning)
