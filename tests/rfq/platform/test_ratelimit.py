"""The GCRA rate limiter against the real Redis server."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from rfq.platform.errors import RateLimited
from rfq.platform.keys import Keys
from rfq.platform.ratelimit import Limit, RateLimiter
from tests.conftest import REDIS_URL


async def test_limit_allows_burst_then_refuses(redis_prefix: str) -> None:
    """Five requests pass within the period, the sixth is refused with a retry time."""
    client = Redis.from_url(REDIS_URL)
    try:
        limiter = RateLimiter(client, Keys(redis_prefix))
        limit = Limit("test-burst", limit=5, period_s=60)
        for _ in range(5):
            await limiter.hit(limit, "subject-a")
        with pytest.raises(RateLimited) as caught:
            await limiter.hit(limit, "subject-a")
        assert 1 <= caught.value.retry_after <= 12
        await limiter.hit(limit, "subject-b")  # other subjects are unaffected
    finally:
        await client.aclose()


async def test_rate_limit_keys_do_not_contain_the_subject(redis_prefix: str) -> None:
    """Keys hash the subject, so emails never appear in Redis, and carry the prefix."""
    key = Keys(redis_prefix).rate_limit("login-email", "someone@example.com")
    assert key.startswith(redis_prefix) and "someone" not in key
    assert "{" in key and "}" in key
