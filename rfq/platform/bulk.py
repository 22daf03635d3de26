"""Writing many rows at the database driver's speed: keyed inserts that skip existing
rows, and updates of a few columns, with values converted as the column types would.

The journal's hot path. SQLAlchemy's per-row parameter processing cost more than the
commit itself, so the rows go to the DBAPI directly, converted by one converter per
column (JSON as text; datetimes as naive UTC).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from operator import itemgetter
from typing import Any

from sqlalchemy import JSON, DateTime
from sqlmodel import Session

from rfq.platform.db import UtcDateTime

MAX_PARAMETERS = 30_000
"""Parameters per statement: under SQLite's default limit (32,766) and PostgreSQL's
(65,535)."""


def insert_ignore(session: Session, model: type[Any], rows: list[dict[str, Any]]) -> None:
    """Insert many rows of ``model``, skipping those whose unique key exists.

    They go as multi-row ``INSERT ... VALUES (...), (...)`` statements rather than an
    ``executemany``: SQLite's driver releases and retakes the GIL for every row it
    steps, and each retake waits for the busy event loop; one statement steps once.
    """
    if not rows:
        return
    table = model.__table__
    columns = list(rows[0])
    connection = session.connection()
    postgres = connection.dialect.name == "postgresql"
    mark = "%s" if postgres else "?"
    json_columns = {c.name for c in table.columns if isinstance(c.type, JSON)}
    holders = [f"CAST({mark} AS JSON)" if c in json_columns and postgres else mark for c in columns]
    one_row = f"({', '.join(holders)})"
    quoted = ", ".join(f'"{c}"' for c in columns)
    converters = [_converter(table.columns[c].type, postgres) for c in columns]
    pick = itemgetter(*columns)
    values = [
        value if convert is None else convert(value)
        for row in rows
        for convert, value in zip(converters, pick(row), strict=True)
    ]
    per_statement = MAX_PARAMETERS // len(columns)
    cursor = connection.connection.cursor()
    try:
        for start in range(0, len(rows), per_statement):
            count = min(per_statement, len(rows) - start)
            # table and column names come from the model; values are parameters
            sql = (
                f'INSERT INTO "{table.name}" ({quoted}) VALUES '  # nosec
                f"{', '.join([one_row] * count)} ON CONFLICT DO NOTHING"
            )
            cursor.execute(sql, values[start * len(columns) : (start + count) * len(columns)])
    finally:
        cursor.close()


def update_many(
    session: Session, model: type[Any], columns: Sequence[str], rows: list[dict[str, Any]]
) -> None:
    """Set ``columns`` of many rows of ``model`` (each row a dict with its ``id``) with one
    ``executemany``; the columns must be plain (integers, text)."""
    if not rows:
        return
    connection = session.connection()
    mark = "%s" if connection.dialect.name == "postgresql" else "?"
    sets = ", ".join(f'"{name}" = {mark}' for name in columns)
    cursor = connection.connection.cursor()
    try:
        # table and column names come from the model and the caller's constants
        cursor.executemany(
            f'UPDATE "{model.__table__.name}" SET {sets} WHERE id = {mark}',  # nosec
            [(*(row[name] for name in columns), row["id"]) for row in rows],
        )
    finally:
        cursor.close()


_to_json = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def _converter(kind: Any, postgres: bool) -> Callable[[Any], Any] | None:
    """How a column's values go to the driver, by its type (None: as they are)."""
    if isinstance(kind, JSON):
        return _to_json
    if isinstance(kind, UtcDateTime | DateTime):
        return _naive_utc if postgres else _sqlite_time
    return None


def _naive_utc(value: datetime | None) -> datetime | None:
    return None if value is None else value.astimezone(UTC).replace(tzinfo=None)


def _sqlite_time(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
