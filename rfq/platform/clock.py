"""The server's clock. Every timestamp the app stores or compares comes from here.

Its reference is Redis's clock, the one every worker's scripts decide by (``TIME``):
a served worker's scheduler measures its own clock's offset from Redis's every tick
(:func:`follow`), so the times it shows (``hello``, ``pong``, countdowns, views) and
stores agree with the decisions whatever this machine's clock says. Until then, and
in programs that never follow, the offset is 0.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

_offset_ms = 0


def now() -> datetime:
    """The current time as an aware UTC datetime."""
    return datetime.now(UTC) + _offset_ms * _MS


def now_ms() -> int:
    """The current time in integer milliseconds since the Unix epoch."""
    return time.time_ns() // 1_000_000 + _offset_ms


def local_ms() -> int:
    """This machine's own clock, without the offset (to measure the offset with)."""
    return time.time_ns() // 1_000_000


def follow(reference_ms: int, local_at_ms: int) -> None:
    """Take ``reference_ms`` (Redis's clock, read when this machine's clock said
    ``local_at_ms``) as the time from now on."""
    global _offset_ms
    _offset_ms = reference_ms - local_at_ms


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)


def to_ms(moment: datetime) -> int:
    """``moment`` (aware) in integer milliseconds since the Unix epoch, exactly."""
    return (moment - _EPOCH) // _MS


def from_ms(ms: int) -> datetime:
    """Milliseconds since the Unix epoch as an aware UTC datetime, exactly."""
    return _EPOCH + ms * _MS


def rfc3339(moment: datetime) -> str:
    """``moment`` as RFC 3339 text in UTC with a ``Z`` suffix and millisecond precision."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
