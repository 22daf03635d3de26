"""The journal's commits in a process of their own, so they do not wait for the GIL.

In a served worker the event loop holds the GIL most of the time. The journal's thread
gives it up at every call into the database driver (SQLite's driver around each
statement's prepare, each step, each row fetched, the commit) and then waits to get it
back: measured, a batch of 20 bids took 23 ms to commit, of which the database's own
work (fsync included) was about 2 ms. Here the thread hands the whole batch to a child
process over a pipe (msgpack) and waits for the answer with the GIL released once; the
child runs :func:`bidding.live.store.write` with the same hooks in its own transaction
and on its own core.

Nothing changes for the record: the child commits before it answers, the parent
acknowledges after the answer, and every write is idempotent, so a batch whose child
died mid-way is simply written again (by a new child) on the journal's retry. The child
ignores SIGINT and SIGTERM (a served worker's shutdown commits the last batch through
it) and ends when its pipe closes, which includes the parent's death.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

import msgpack

from bidding.live import store
from bidding.live.store import Hooks, Mark, Output, Written
from rfq.platform.db import Database

log = logging.getLogger("rfq.journal")

START_S = 60.0
"""How long a child may take to start (imports, the database's engine)."""

ANSWER_S = 120.0
"""How long one commit may take before the child is taken for hung and replaced."""

_READY = b"ready"


class CommitProcess:
    """A child process that commits the journal's batches; used from one thread only."""

    def __init__(self, url: str, hooks: Hooks) -> None:
        self._url = url
        self._hooks = hooks
        self._conn: Connection | None = None
        self._child: BaseProcess | None = None

    def start(self) -> None:
        """Start the child (spawned: the parent runs threads and an event loop) and wait
        until it is ready; raises ``ChildFailed`` if it is not within ``START_S``."""
        context = multiprocessing.get_context("spawn")
        ours, theirs = context.Pipe()
        child = context.Process(
            target=_serve, args=(theirs, self._url, self._hooks), name="rfq-journal-commits"
        )
        child.daemon = True
        child.start()
        theirs.close()
        self._conn, self._child = ours, child
        if not ours.poll(START_S) or ours.recv_bytes() != _READY:
            self.stop()
            raise ChildFailed("The journal's commit process did not start.")

    def commit(self, outputs: list[Output]) -> Written:
        """Have the child write ``outputs`` in one transaction; its :class:`Written`.

        Raises ``ChildFailed`` if the child is gone or hangs (it is then replaced at the
        next call) and ``CommitFailed`` with the child's reason if the write failed."""
        if self._conn is None:
            self.start()
        assert self._conn is not None
        batch = [(o.auction_id, o.epoch, o.events, o.audit, o.outbid) for o in outputs]
        try:
            self._conn.send_bytes(msgpack.packb(batch))
            if not self._conn.poll(ANSWER_S):
                raise ChildFailed("The journal's commit process did not answer.")
            failed, detail, marks = msgpack.unpackb(self._conn.recv_bytes(), strict_map_key=False)
        except (OSError, EOFError, ChildFailed) as exc:
            self.stop()
            if isinstance(exc, ChildFailed):
                raise
            raise ChildFailed(f"The journal's commit process is gone: {exc!r}.") from exc
        if failed:
            raise CommitFailed(detail)
        return Written(set(detail), {int(k): Mark(*v) for k, v in marks.items()})

    def stop(self) -> None:
        """Close the pipe (the child ends after its current commit) and reap the child."""
        conn, child = self._conn, self._child
        self._conn = self._child = None
        if conn is not None:
            conn.close()
        if child is not None:
            child.join(10)
            if child.is_alive():
                child.kill()
                child.join()


class ChildFailed(ConnectionError):
    """The commit process is gone or hung; whether the batch was committed is unknown
    (the journal writes it again: writes are idempotent)."""


class CommitFailed(RuntimeError):
    """The child's write raised; the message is its ``repr``."""


def _serve(conn: Connection, url: str, hooks: Hooks) -> None:
    """The child: answer each batch with ``[failed, refused or reason, marks]``."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    database = Database(url)
    conn.send_bytes(_READY)
    while True:
        try:
            batch = msgpack.unpackb(conn.recv_bytes(), strict_map_key=False)
        except (EOFError, OSError):
            break  # the parent closed the pipe or died
        outputs = [
            Output(a, epoch, events, audit, outbid) for a, epoch, events, audit, outbid in batch
        ]
        answer: list[Any]
        try:
            written = database.run_sync(store.write, outputs, hooks)
            marks = {k: (m.epoch, m.seq, m.aseq) for k, m in written.marks.items()}
            answer = [False, sorted(written.refused), marks]
        except Exception as exc:  # the parent retries, then answers every waiter
            log.warning("journal commit failed in the commit process", exc_info=True)
            answer = [True, repr(exc), {}]
        try:
            conn.send_bytes(msgpack.packb(answer))
        except OSError:
            break
    database.dispose()
