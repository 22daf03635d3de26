"""The SQLite writer lock: held by every transaction until its connection is back in the
pool, visible to other processes, and never left behind."""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlmodel import Session

from rfq.platform import sqlite_writer
from rfq.platform.db import Database


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'w.sqlite3'}")
    with database.session() as session:
        session.execute(text("CREATE TABLE t (x INTEGER)"))
        session.commit()
    yield database
    database.dispose()


def _taken(database: Database) -> bool:
    """Whether another process (another open file of the lock) would have to wait."""
    path = database.url.split("///", 1)[1]
    fd = os.open(f"{path}-writer", os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing lets go of a lock taken here
    return False


def test_a_transaction_holds_the_lock_until_it_commits_or_rolls_back(database: Database) -> None:
    assert not _taken(database)
    with database.session() as session:
        session.execute(text("INSERT INTO t VALUES (1)"))
        assert _taken(database)
        session.commit()
        assert not _taken(database)
        session.execute(text("SELECT COUNT(*) FROM t"))  # a new transaction takes it again
        assert _taken(database)
        session.rollback()
        assert not _taken(database)
    with pytest.raises(ZeroDivisionError), database.session() as session:
        session.execute(text("INSERT INTO t VALUES (2)"))
        _ = 1 / 0
    assert not _taken(database)
    with database.session() as session:
        assert session.execute(text("SELECT COUNT(*) FROM t")).scalar() == 1


def test_writers_of_many_threads_each_get_their_turn(database: Database) -> None:
    def write() -> None:
        for _ in range(10):
            database.run_sync(lambda s: s.execute(text("INSERT INTO t VALUES (1)")))

    threads = [threading.Thread(target=write) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert database.run_sync(lambda s: s.execute(text("SELECT COUNT(*) FROM t")).scalar()) == 80
    assert not _taken(database)


def test_a_thread_waiting_on_its_own_transaction_gives_up_like_sqlite_would(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_writer, "TIMEOUT_S", 0.2)
    with database.session() as outer:
        outer.execute(text("INSERT INTO t VALUES (1)"))
        with pytest.raises(Exception) as raised, database.session() as inner:
            inner.execute(text("SELECT 1"))
        assert isinstance(raised.value.__cause__ or raised.value, sqlite3.OperationalError)
        outer.commit()
    assert not _taken(database)


async def test_a_read_takes_no_writer_lock_and_refuses_to_write(database: Database) -> None:
    def count(session: Session) -> tuple[int, bool]:
        return session.execute(text("SELECT COUNT(*) FROM t")).scalar_one(), _taken(database)

    with database.session() as writer:  # a writer's open transaction does not hold it up
        writer.execute(text("INSERT INTO t VALUES (1)"))
        assert await database.read(count) == (0, True)
        writer.commit()
    assert await database.read(count) == (1, False)
    with pytest.raises(OperationalError, match="readonly"):
        await database.read(lambda s: s.execute(text("INSERT INTO t VALUES (2)")))
    database.run_sync(lambda s: s.execute(text("INSERT INTO t VALUES (3)")))  # the pool's
    assert await database.read(count) == (2, False)  # connections write again afterwards


async def test_an_invalidated_read_connection_goes_back_to_the_pool(database: Database) -> None:
    def invalidate(session: Session) -> None:
        session.execute(text("SELECT 1"))
        session.connection().invalidate()

    for _ in range(3):
        await database.read(invalidate)
    assert database.engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    assert await database.read(lambda s: s.execute(text("SELECT COUNT(*) FROM t")).scalar()) == 0
