"""bidding/live/journal.py: a commit that keeps failing reaches every waiter as
`JournalFailed` (a ConnectionError: "nothing was acknowledged, retry with the same
key"), and the HTTP layer answers it, and a write refused while stopping, with 503
``unavailable`` rather than a server error (real SQLite)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from pathlib import Path

import pytest
from sqlalchemy import text
from starlette.requests import Request

from bidding.live.journal import Journal, JournalFailed, JournalStopped
from bidding.live.store import Hooks, Output
from rfq.platform import clock, db
from web.errors import HANDLERS


def test_a_failing_commit_reaches_the_waiter_as_journal_failed(tmp_path: Path) -> None:
    """With the auction table gone every try fails in the database; the waiter gets
    JournalFailed with the database's error as its cause."""
    url = f"sqlite:///{tmp_path / 'journal.sqlite3'}"
    db.upgrade(url)
    database = db.Database(url)
    database.run_sync(lambda s: s.execute(text("DROP TABLE auction")))
    journal = Journal(database, Hooks(), retry_s=0.2)

    async def main() -> BaseException:
        runner = asyncio.create_task(journal.run())
        try:
            event = {"seq": 1, "type": "opened", "at": clock.now_ms()}
            with pytest.raises(JournalFailed) as failed:
                await journal.write([Output(999_999, 1, [event], [])])
            return failed.value
        finally:
            runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await runner

    try:
        error = asyncio.run(main())
    finally:
        database.dispose()
    assert isinstance(error, ConnectionError) and error.__cause__ is not None


@pytest.mark.parametrize("error", [JournalStopped("stopping"), JournalFailed(ValueError("x"))])
def test_an_unknown_outcome_is_a_503_that_says_retry(error: Exception) -> None:
    """A journal that stopped or failed is answered 503 unavailable, retry with the key
    (the handler Starlette picks: the first of the error's classes in HANDLERS)."""
    handler = next(HANDLERS[cls] for cls in type(error).__mro__ if cls in HANDLERS)
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/api/auctions/1/bids",
        "headers": [],
        "query_string": b"",
        "scheme": "http",
        "server": ("127.0.0.1", 80),
    }
    response = asyncio.run(handler(Request(scope), error))
    assert response.status_code == 503
    body = json.loads(bytes(response.body))
    assert body["error"]["code"] == "unavailable" and "same key" in body["error"]["message"]
    assert response.headers["retry-after"] == "1"
