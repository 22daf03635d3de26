"""Group commit: the engine's output made durable in SQL before anyone is told.

Every accepted (or rejected) bid, proxy bid, extension and status move leaves the
Lua scripts as msgpack events and audit entries. :meth:`Journal.write` queues them and
waits; one writer thread takes everything queued, writes it in one transaction
(``bidding/live/store.py``: so a burst of bids costs one fsync, not one each, and the
audit chain is sealed in it), and only then wakes the waiters. A bid is acknowledged
after that: an acknowledged bid is in SQL.

A commit that fails is retried for up to ``retry_s`` seconds (the database may be
briefly unreachable); after that the waiters get the error and nothing is acknowledged.
Output the store refuses (an epoch older than the auction's: a rebuild came in between;
or a bid on an auction SQL has cancelled) is answered :class:`Superseded`; the bidder
retries with the same key and is decided anew on the auction as it is now.

After each commit the auctions' new watermarks go to ``publish`` (the engine's
``publish.lua``), which releases the events now in SQL to the fan-out stream: nobody
is shown an event before it is in the record.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import anyio
from sqlmodel import Session

from bidding.live import store
from bidding.live.commit_process import CommitProcess
from bidding.live.store import Hooks, Mark, Output, Written
from rfq.platform import metrics
from rfq.platform.db import Database

log = logging.getLogger("rfq.journal")

Publish = Callable[[dict[int, Mark]], Awaitable[None]]


@dataclass(slots=True)
class _Pending:
    outputs: list[Output]
    loop: asyncio.AbstractEventLoop
    done: asyncio.Future[None]


class Journal:
    """The single writer of engine output in one process.

    The writer is a thread of its own: it takes everything queued, commits it, hands
    the outcome back to each waiter's event loop, and takes the next batch at once. So
    a commit follows the previous one without a round trip through a busy event loop
    (measured: with the commits run through the loop's worker threads, a cycle took
    8 ms of which the thread worked 5).

    With ``own_process`` (``rfq serve`` with fewer workers than cores) the thread hands
    each batch to a child process that commits it (``bidding/live/commit_process.py``),
    so the commit's many calls into the database driver do not each wait for the GIL;
    without it (tests, in-process benches) the thread commits itself.
    """

    def __init__(
        self,
        db: Database,
        hooks: Hooks,
        *,
        publish: Publish | None = None,
        max_batch: int = 2000,
        retry_s: float = 5.0,
        own_process: bool = False,
    ) -> None:
        self._db = db
        self._publish = publish
        self._publishing: set[asyncio.Task[None]] = set()
        self._max_batch = max_batch
        self._retry_s = retry_s
        self._hooks = hooks
        self._process = CommitProcess(db.url, hooks) if own_process else None
        self._inbox: queue.SimpleQueue[_Pending | None] = queue.SimpleQueue()
        self._gate = threading.Lock()  # nothing is queued after the stop marker
        self._stopped = False
        self._thread: threading.Thread | None = None
        self.batches = 0
        self.written = 0

    async def write(self, outputs: Sequence[Output]) -> None:
        """Make ``outputs`` durable; returns once they are committed, else raises."""
        outputs = [o for o in outputs if o.events or o.audit]
        if not outputs:
            return
        loop = asyncio.get_running_loop()
        pending = _Pending(list(outputs), loop, loop.create_future())
        self._enqueue(pending)
        await pending.done

    async def flush(self) -> None:
        """Wait until everything this process queued before the call is committed (or
        has failed); at once when the writer is not running."""
        if self._thread is None or not self._thread.is_alive():
            return
        loop = asyncio.get_running_loop()
        marker = _Pending([], loop, loop.create_future())
        try:
            self._enqueue(marker)
        except JournalStopped:
            return  # everything queued before the stop has been answered
        await marker.done

    def _enqueue(self, pending: _Pending | None) -> None:
        with self._gate:
            if self._stopped:
                raise JournalStopped("The journal is shutting down; retry with the same key.")
            if pending is None:
                self._stopped = True
            self._inbox.put(pending)

    async def run(self) -> None:
        """Run the writer thread until cancelled (owned by the app's task group). On
        cancellation new writes are refused (``JournalStopped``); everything queued
        before is still committed and answered, and then the thread ends."""
        thread = threading.Thread(target=self._writer, name="rfq-journal", daemon=True)
        self._thread = thread
        thread.start()
        try:
            await asyncio.Event().wait()
        finally:
            self._enqueue(None)
            with anyio.CancelScope(shield=True):  # wait off the loop for the last batch
                await anyio.to_thread.run_sync(thread.join, self._retry_s + 5)

    def _writer(self) -> None:
        try:
            self._run_writer()
        finally:
            if self._process is not None:
                self._process.stop()

    def _run_writer(self) -> None:
        if self._process is not None:
            try:
                self._process.start()
            except Exception:  # logged; the first commit tries again (and its retries)
                log.exception("the journal's commit process did not start")
        while True:
            first = self._inbox.get()
            if first is None:
                return
            batch = [first]
            size = len(first.outputs)
            with contextlib.suppress(queue.Empty):
                while size < self._max_batch:
                    item = self._inbox.get_nowait()
                    if item is None:
                        self._inbox.put(None)  # stop after this batch
                        break
                    batch.append(item)
                    size += len(item.outputs)
            outputs = [o for p in batch for o in p.outputs]
            error: BaseException | None = None
            written = Written()
            try:
                if outputs:  # a batch of flush markers only commits nothing
                    written = self._commit_with_retry(outputs)
                    self.batches += 1
                    self.written += len(outputs)
            except Exception as exc:  # every waiter hears why its write failed
                error = exc if isinstance(exc, ConnectionError) else JournalFailed(exc)
            if written.marks and self._publish is not None:
                with contextlib.suppress(RuntimeError):
                    batch[0].loop.call_soon_threadsafe(self._start_publish, written.marks)
            by_loop: dict[asyncio.AbstractEventLoop, list[_Answer]] = {}
            start = 0
            for p in batch:
                end = start + len(p.outputs)
                own = error
                if own is None and any(i in written.refused for i in range(start, end)):
                    own = Superseded(
                        "The auction was rebuilt or cancelled meanwhile; retry with the same key."
                    )
                start = end
                by_loop.setdefault(p.loop, []).append((p.done, own))
            for loop, answers in by_loop.items():  # one wake-up per loop, not per waiter
                with contextlib.suppress(RuntimeError):  # that loop has closed
                    loop.call_soon_threadsafe(_settle, answers)

    def _start_publish(self, marks: dict[int, Mark]) -> None:
        assert self._publish is not None
        task = asyncio.ensure_future(self._publish(marks))
        self._publishing.add(task)
        task.add_done_callback(self._published)

    def _published(self, task: asyncio.Task[None]) -> None:
        self._publishing.discard(task)
        if not task.cancelled() and task.exception() is not None:
            # the scheduler's repair publishes again; until then the fan-out waits
            log.warning("publishing watermarks failed: %r", task.exception())

    def _commit_with_retry(self, outputs: list[Output]) -> Written:
        deadline = time.monotonic() + self._retry_s
        delay = 0.05
        while True:
            started = time.perf_counter()
            try:
                written: Written = (
                    self._process.commit(outputs)
                    if self._process is not None
                    else self._db.run_sync(self._commit, outputs)
                )
                metrics.SQL_SECONDS.labels("journal").observe(time.perf_counter() - started)
                return written
            except Exception:
                if time.monotonic() + delay > deadline:
                    raise
                log.warning("journal commit failed; retrying in %.2f s", delay, exc_info=True)
                time.sleep(delay)
                delay = min(delay * 2, 1.0)

    def _commit(self, session: Session, outputs: list[Output]) -> Written:
        return store.write(session, outputs, self._hooks)


class JournalStopped(ConnectionError):
    """A write after the journal began to shut down (the desk answers ``unavailable``)."""


class Superseded(ConnectionError):
    """The output was refused, unstored: of an epoch older than its auction's in SQL
    (rebuilt meanwhile), or a bid on an auction SQL has cancelled. The bid does not
    stand; a retry with the same key is decided on the auction as it is now."""


class JournalFailed(ConnectionError):
    """A commit failed (after its retries) for a reason other than a lost connection.

    To the bidder it is the same: nothing was acknowledged and the outcome is not known
    to it, so it is answered ``unavailable`` (503 over HTTP) with "retry with the same
    key", never as a server error; the cause is kept as ``__cause__`` and logged."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(f"The journal's commit failed: {cause!r}.")
        self.__cause__ = cause


_Answer = tuple[asyncio.Future[None], BaseException | None]


def _settle(answers: list[_Answer]) -> None:
    for done, error in answers:
        if done.done():
            continue
        if error is None:
            done.set_result(None)
        else:
            done.set_exception(error)
