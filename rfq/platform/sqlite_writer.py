"""One SQLite writer at a time, handed over at once.

Every SQLite transaction here is ``BEGIN IMMEDIATE`` (it takes the database's write
lock up front). When the lock is taken, SQLite's busy handler makes the next writer
sleep and try again, with sleeps growing to 100 ms: two worker processes' journals,
or a journal and a request thread, each waited for the other far longer than the
other held the lock (measured with ``rfq bench engine --served --workers 2``: half the
acks of one worker and a 3.6 s p99, docs/performance.md).

So a transaction first takes a lock of its own: a ``threading.Lock`` per database
within the process, then an exclusive ``flock`` on ``<database>-writer`` shared by
every process. A waiter blocks in the kernel and wakes the moment the holder lets go;
SQLite's lock is then free and its busy handler never sleeps. The lock is let go when
the connection goes back to the pool, right after its transaction's commit or rollback.

A crash lets go of the ``flock`` with the process. Within a process the wait is
bounded like SQLite's busy timeout; across processes it is not, as a writer holds it
only for one transaction.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
from typing import Any

from sqlalchemy import Engine, event

TIMEOUT_S = 30.0
"""How long a thread waits for another thread of its process (SQLite's busy timeout)."""

_KEY = "rfq_writer"
READ_ONLY = "rfq_read_only"
"""A read-only transaction (``Database.read``) takes no writer lock."""


class _Writer:
    """The lock of one database file in this process."""

    def __init__(self, path: str) -> None:
        self._thread = threading.Lock()
        # read-only suffices for flock, so a file another user created (a migration run
        # as root) never locks the service out
        self._fd = os.open(f"{path}-writer", os.O_RDONLY | os.O_CREAT, 0o644)
        self.pid = os.getpid()

    def acquire(self) -> None:
        if not self._thread.acquire(timeout=TIMEOUT_S):
            raise sqlite3.OperationalError("database is locked")
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX)
        except BaseException:
            self._thread.release()
            raise

    def release(self) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._thread.release()


_writers: dict[str, _Writer] = {}
_writers_lock = threading.Lock()


def _writer(key: str) -> _Writer:
    with _writers_lock:
        writer = _writers.get(key)
        if writer is None or writer.pid != os.getpid():  # a forked child opens its own
            writer = _writers[key] = _Writer(key)
        return writer


def install(engine: Engine, path: str) -> None:
    """Make every transaction of ``engine`` (a SQLite file at ``path``) take the writer
    lock before its ``BEGIN IMMEDIATE``; call before that listener is installed."""
    key = os.path.realpath(path)  # once, not on every transaction

    def begin(conn: Any) -> None:
        info = conn.connection.info
        if _KEY not in info and not conn.get_execution_options().get(READ_ONLY):
            writer = _writer(key)
            writer.acquire()
            info[_KEY] = writer

    def checkin(_dbapi: Any, record: Any) -> None:
        _release(record.info)

    # Not on the "commit" or "rollback" events: they come before SQLite's own commit
    # (and its fsync), so the next writer would find SQLite's lock still taken and sleep
    # in its busy handler, holding this lock meanwhile. A session returns its
    # connection to the pool right after its commit.
    event.listen(engine, "begin", begin)
    event.listen(engine, "checkin", checkin)
    event.listen(engine, "close", checkin)
    event.listen(engine, "invalidate", lambda dbapi, record, _exc: _release(record.info))


def _release(info: dict[str, Any]) -> None:
    writer = info.pop(_KEY, None)
    if writer is not None:
        writer.release()
