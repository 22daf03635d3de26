"""The server's clock. Every timestamp the app stores or compares comes from here."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta


def now() -> datetime:
    """The current time as an aware UTC datetime."""
    return datetime.now(UTC)


def now_ms() -> int:
    """The current time in integer milliseconds since the Unix epoch."""
    return time.time_ns() // 1_000_000


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
