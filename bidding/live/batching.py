"""Calls of one Lua script made in the same event-loop turn, sent to Redis together.

Fifty suppliers bidding at once make fifty ``EVALSHA`` calls. Sent one by one, each
costs a pool checkout, a socket write, a read and a wake-up, in this process and in
Redis. :class:`ScriptBatcher` queues the calls of one loop turn and sends them as one
non-transactional pipeline: one write, one read, answers in order. Each call keeps
its own outcome: a script error fails that call only, a lost connection fails the
calls of that pipeline (a bid is idempotent by its key, so the caller may retry).

A script Redis does not know (``NOSCRIPT``: a restarted or flushed Redis) runs
nothing, so those calls are retried one by one through ``redis-py``'s script object,
which loads the script first. Only a single Redis is batched; with a Redis Cluster
the calls go one by one, as the cluster client routes each by its keys.
"""

from __future__ import annotations

import asyncio
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import NoScriptError


class ScriptBatcher:
    """Sends the calls of ``script`` made in one loop turn as one pipeline."""

    def __init__(self, redis: Any, script: Any) -> None:
        self._redis = redis
        self._script = script
        self._batching = isinstance(redis, Redis)
        self._queue: list[tuple[list[Any], list[Any], asyncio.Future[Any]]] = []
        self._sending: set[asyncio.Task[None]] = set()  # the loop keeps tasks weakly

    async def __call__(self, keys: list[Any], args: list[Any]) -> Any:
        """The script's answer for ``keys`` and ``args``, or its error."""
        if not self._batching:
            return await self._script(keys=keys, args=args)
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[Any] = loop.create_future()
        if not self._queue:
            loop.call_soon(self._flush)
        self._queue.append((keys, args, answer))
        return await answer

    def _flush(self) -> None:
        batch, self._queue = self._queue, []
        task = asyncio.get_running_loop().create_task(self._send(batch))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _send(self, batch: list[tuple[list[Any], list[Any], asyncio.Future[Any]]]) -> None:
        try:
            await self._answer(batch)
        except Exception as exc:  # the connection failed: every call still open hears why
            for _, _, answer in batch:
                if not answer.done():
                    answer.set_exception(exc)
        finally:  # cancelled (shutdown): so are the calls still open
            for _, _, answer in batch:
                answer.cancel()

    async def _answer(self, batch: list[tuple[list[Any], list[Any], asyncio.Future[Any]]]) -> None:
        async with self._redis.pipeline(transaction=False) as pipe:
            for keys, args, _ in batch:
                pipe.evalsha(self._script.sha, len(keys), *keys, *args)
            answers = await pipe.execute(raise_on_error=False)
        for (keys, args, answer), result in zip(batch, answers, strict=True):
            if isinstance(result, NoScriptError):
                try:
                    result = await self._script(keys=keys, args=args)
                except Exception as exc:
                    result = exc
            if answer.done():
                continue
            if isinstance(result, Exception):
                answer.set_exception(result)
            else:
                answer.set_result(result)
