"""The SQL database: engine creation, migrations, and running work off the event loop.

SQLite (the default) runs in WAL mode with foreign keys on and a busy timeout;
PostgreSQL goes through psycopg 3. Handlers call :meth:`Database.run` with a plain
function of a ``Session``; it runs in a worker thread and commits when it returns.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, TypeVar

import anyio.to_thread
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from pydantic import Field
from sqlalchemy import DateTime, Engine, TypeDecorator, event, text
from sqlmodel import Session, create_engine
from typing_extensions import TypeIs

from rfq.platform import metrics, sqlite_writer

T = TypeVar("T")

MAX_ID = 2**63 - 1
"""The largest row id (a signed 64-bit integer on both backends)."""


RowId = Annotated[int, Field(ge=1, le=MAX_ID)]
"""A request body's reference to a row: out of range is a 422, never a driver overflow."""


def is_row_id(value: object) -> TypeIs[int]:
    """True if ``value`` can be a row id: an int (not a bool) from 1 to `MAX_ID`. Larger
    numbers would overflow the database driver, so callers answer "not found" first."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_ID


_MIGRATIONS = Path(__file__).parent.parent / "migrations"
"""The Alembic scripts live with the tables they describe, in ``rfq/migrations``."""


def make_engine(url: str) -> Engine:
    """Create the SQLAlchemy engine for ``url`` with the project's connection settings."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[1] if "///" in url else ""
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, pool_size=20
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        if path and path != ":memory:":
            sqlite_writer.install(engine, path)
        event.listen(engine, "begin", _sqlite_begin)
        event.listen(engine, "checkin", _sqlite_checkin)
        return engine
    return create_engine(url, pool_size=20, max_overflow=20, pool_pre_ping=True)


WAL_CHECKPOINT_PAGES = 10_000
"""SQLite copies the write-ahead log into the database (a checkpoint, in the commit that
crosses the mark) once it holds this many pages (about 40 MB; SQLite's default is
1,000). The same hot pages (auctions, index pages) are rewritten by every journal batch,
so fewer checkpoints copy them fewer times: ``rfq bench engine --served`` measured 8 to
13 % more acks per second and 8 to 24 % less CPU per ack (docs/performance.md)."""


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy issue BEGIN itself (see _sqlite_begin) so transactions are real.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute(f"PRAGMA wal_autocheckpoint={WAL_CHECKPOINT_PAGES}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


READ_ONLY = sqlite_writer.READ_ONLY
"""The execution option of :meth:`Database.read`'s sessions."""


def _sqlite_begin(conn: Any) -> None:
    if conn.get_execution_options().get(READ_ONLY):
        # a snapshot (WAL): waits for no writer, and refuses to write
        conn.exec_driver_sql("BEGIN")
        conn.exec_driver_sql("PRAGMA query_only=ON")
        conn.connection.info[READ_ONLY] = True
        return
    # IMMEDIATE takes the write lock up front, so two writers wait instead of deadlocking.
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def _sqlite_checkin(dbapi_connection: Any, record: Any) -> None:
    # None: the connection was invalidated (closed), so nothing is left to reset
    if record.info.pop(READ_ONLY, False) and dbapi_connection is not None:
        dbapi_connection.execute("PRAGMA query_only=OFF")


def alembic_config(url: str) -> Config:
    """The Alembic configuration for this package's migrations against ``url``."""
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str) -> None:
    """Apply every migration to the database at ``url`` (``rfq db upgrade``)."""
    command.upgrade(alembic_config(url), "head")


class Database:
    """The app's handle on the SQL database."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self._reader = self.engine.execution_options(**{READ_ONLY: True})

    def session(self) -> Session:
        """A new session; the caller commits and closes it."""
        return Session(self.engine, expire_on_commit=False)

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(session, *args)`` in a worker thread, commit, and return its result."""
        return await anyio.to_thread.run_sync(self._run, fn, args)

    async def read(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(session, *args)`` in a worker thread in a read-only transaction.

        On SQLite it reads a snapshot without taking the writer lock, so a lookup on the
        bid path (an auction's facts, a viewer) or a poll never makes the journal's
        commit wait behind it; a write in it fails (``query_only``). The eligibility
        check is not one: it may reserve the bid bond. Elsewhere it is a
        transaction rolled back at the end."""
        return await anyio.to_thread.run_sync(self._read, fn, args)

    def _read(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        started = time.perf_counter()
        # closed, not rolled back: a rollback would expire the objects it returns (the
        # pool rolls the connection back when it takes it back)
        with Session(self._reader, expire_on_commit=False) as session:
            result = fn(session, *args)
        metrics.SQL_SECONDS.labels("read").observe(time.perf_counter() - started)
        return result

    def run_sync(self, fn: Callable[..., T], *args: Any) -> T:
        """``run`` in the calling thread (commands and tests)."""
        return self._run(fn, args)

    def _run(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        started = time.perf_counter()
        with self.session() as session:
            result = fn(session, *args)
            session.commit()
        metrics.SQL_SECONDS.labels("transaction").observe(time.perf_counter() - started)
        return result

    def ping(self) -> None:
        """Raise if the database does not answer a trivial query."""
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp stored as naive UTC and always read back as an aware UTC datetime.

    SQLite keeps no zone; PostgreSQL's ``timestamptz`` would. Storing naive UTC in both
    keeps comparisons identical on the two backends.
    """

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; pass an aware UTC datetime")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class SchemaOutdated(RuntimeError):
    """The database's schema is not at the latest migration."""


def require_current(url: str) -> None:
    """Raise ``SchemaOutdated`` unless every migration has been applied to ``url``."""
    head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            current = MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()
    if current != head:
        raise SchemaOutdated(
            f"The database is at migration {current or 'none'}, the code needs {head}; "
            "run `rfq db upgrade`."
        )


def enum_type(enum: type[StrEnum]) -> sa.Enum:
    """A column type for a ``StrEnum``: stored as its value in a VARCHAR on every backend.

    Not a native PostgreSQL enum, so a migration that adds a state is a code change only.
    """
    return sa.Enum(
        enum, native_enum=False, length=32, values_callable=lambda e: [m.value for m in e]
    )
