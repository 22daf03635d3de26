"""The script batcher against a Redis server of the test's own (it flushes scripts)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from redis.exceptions import ResponseError

from bidding.live.batching import ScriptBatcher
from rfq.platform.embedded_redis import EmbeddedRedis
from rfq.platform.redis_client import connect

# Answers its argument; fails the call whose argument is "boom"; counts every run.
SCRIPT = """
redis.call('INCR', KEYS[1])
if ARGV[1] == 'boom' then return redis.error_reply('boom') end
return ARGV[1]
"""


@pytest.fixture
async def redis(tmp_path: Path) -> AsyncIterator[Any]:
    with EmbeddedRedis(tmp_path) as server:
        assert server.url is not None
        client = connect(server.url)
        try:
            yield client
        finally:
            await client.aclose()


async def test_calls_of_one_turn_go_as_one_pipeline_and_keep_their_own_answers(
    redis: Any,
) -> None:
    batcher = ScriptBatcher(redis, redis.register_script(SCRIPT))
    sent: list[int] = []
    pipeline = redis.pipeline

    def counting_pipeline(*args: Any, **kwargs: Any) -> Any:
        sent.append(1)
        return pipeline(*args, **kwargs)

    redis.pipeline = counting_pipeline
    values = [str(n) for n in range(50)] + ["boom"]
    answers = await asyncio.gather(
        *(batcher(["runs"], [value]) for value in values), return_exceptions=True
    )
    assert answers[:50] == [str(n).encode() for n in range(50)]
    assert isinstance(answers[50], ResponseError) and "boom" in str(answers[50])
    assert len(sent) == 1  # one pipeline for the 51 calls of that turn
    assert int(await redis.get("runs")) == 51  # each ran exactly once


async def test_a_script_redis_forgot_is_loaded_and_each_call_runs_once(redis: Any) -> None:
    batcher = ScriptBatcher(redis, redis.register_script(SCRIPT))
    assert await batcher(["runs"], ["first"]) == b"first"
    await redis.script_flush()  # as after a Redis restart without the script cache
    answers = await asyncio.gather(*(batcher(["runs"], [str(n)]) for n in range(10)))
    assert answers == [str(n).encode() for n in range(10)]
    assert int(await redis.get("runs")) == 11


async def test_after_a_killed_connection_no_call_runs_twice(redis: Any) -> None:
    batcher = ScriptBatcher(redis, redis.register_script(SCRIPT))
    await redis.client_kill_filter(_type="normal", skipme=False)
    answers = await asyncio.gather(
        *(batcher(["runs"], [str(n)]) for n in range(5)), return_exceptions=True
    )
    # redis-py reconnects and retries a pipeline once; either way every call has an
    # answer of its own, and none ran twice.
    runs = int(await redis.get("runs") or 0)
    assert runs == sum(1 for a in answers if not isinstance(a, BaseException))
