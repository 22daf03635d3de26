"""Rate limits kept in Redis with the GCRA algorithm (``ratelimit.lua``).

A :class:`Limit` allows ``limit`` requests per ``period_s`` seconds for one subject,
with bursts up to ``limit``. The check and the update happen in one script, so
concurrent workers share one budget per subject.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from redis.asyncio import Redis

from rfq.platform import clock
from rfq.platform.errors import RateLimited
from rfq.platform.keys import Keys

_SCRIPT = Path(__file__).with_name("ratelimit.lua").read_text()


@dataclass(frozen=True, slots=True)
class Limit:
    """``limit`` requests per ``period_s`` seconds for one subject of ``scope``."""

    scope: str
    limit: int
    period_s: int


class RateLimiter:
    """Checks limits against Redis; registered once, called through EVALSHA."""

    def __init__(self, redis: Redis, keys: Keys) -> None:
        self._keys = keys
        self._script = redis.register_script(_SCRIPT)

    async def hit(self, limit: Limit, subject: str) -> None:
        """Count one request of ``subject``; raise ``RateLimited`` when over the limit."""
        period_ms = limit.period_s * 1000
        allowed, retry_ms = await self._script(
            keys=[self._keys.rate_limit(limit.scope, subject)],
            args=[clock.now_ms(), period_ms // limit.limit, period_ms, 1],
        )
        if not allowed:
            retry_after = max(1, -(-int(retry_ms) // 1000))
            raise RateLimited(
                f"Too many attempts; try again in {retry_after} seconds.",
                retry_after=retry_after,
            )
