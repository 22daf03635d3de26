"""The raw ceiling the engine benchmarks compare with: as many concurrent callers as asked
calling a trivial script (``return 1``) through redis-py asyncio's EVALSHA, one call at
a time each, from this one process."""

from __future__ import annotations

import asyncio
import time
from typing import Any


async def evalsha_per_s(redis: Any, callers: int, calls: int) -> float:
    """EVALSHA calls per second of ``callers`` concurrent callers making ``calls`` in all."""
    script = redis.register_script("return 1")
    await script(keys=["bench:noop"], args=[])
    remaining = [calls]

    async def caller() -> None:
        while remaining[0] > 0:
            remaining[0] -= 1
            await script(keys=["bench:noop"], args=[])

    start = time.perf_counter()
    await asyncio.gather(*(caller() for _ in range(callers)))
    elapsed = time.perf_counter() - start
    await redis.delete("bench:noop")
    return calls / elapsed
