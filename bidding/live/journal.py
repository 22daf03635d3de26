"""Group commit: the engine's output made durable in SQL before anyone is told.

Every accepted (or rejected) bid, proxy bid, extension and status move leaves the
Lua scripts as msgpack events and audit entries. :meth:`Journal.write` queues them and
waits; one writer thread takes everything queued, writes it in one transaction (so a
burst of bids costs one fsync, not one each), seals the audit chain, and only then
wakes the waiters. A bid is acknowledged after that: an acknowledged bid is in SQL.

Writes are idempotent (events by ``(auction, epoch, seq)``, audit entries by
``(auction, epoch, aseq)``, bids by id), so the reconciler can hand the same output
in again from the Redis streams after a crash. A commit that fails is retried for up
to ``retry_s`` seconds (the database may be briefly unreachable); after that the
waiters get the error and nothing is acknowledged.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from operator import itemgetter
from typing import Any

import anyio
from sqlalchemy import JSON, DateTime, select, update
from sqlmodel import Session, col

from bidding import audit
from rfq import notifications
from rfq.auctions import AuctionRecord, AuditRecord, BidRecord, EventRecord
from rfq.platform import clock, metrics
from rfq.platform.db import Database, UtcDateTime

log = logging.getLogger("rfq.journal")

StatusHook = Callable[[Session, int, str, dict[str, Any]], None]
"""Called inside the commit for every status an auction reaches (e.g. to move its RFQ,
or to turn an award into contracts), with the audit entry that moved it (``{}`` if
none did: the move came in with events only)."""


@dataclass(slots=True)
class Output:
    """One engine call's records for one auction; ``outbid`` is the company that lost
    first place to this call's bid, to be notified in the same transaction."""

    auction_id: int
    epoch: int
    events: list[dict[str, Any]]
    audit: list[dict[str, Any]]
    outbid: int | None = None


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
    """

    def __init__(
        self,
        db: Database,
        *,
        max_batch: int = 2000,
        retry_s: float = 5.0,
        on_status: Sequence[StatusHook] = (),
    ) -> None:
        self._db = db
        self._max_batch = max_batch
        self._retry_s = retry_s
        self._on_status = list(on_status)
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
            try:
                if outputs:  # a batch of flush markers only commits nothing
                    self._commit_with_retry(outputs)
                    self.batches += 1
                    self.written += len(outputs)
            except Exception as exc:  # every waiter hears why its write failed
                error = exc
            by_loop: dict[asyncio.AbstractEventLoop, list[asyncio.Future[None]]] = {}
            for p in batch:
                by_loop.setdefault(p.loop, []).append(p.done)
            for loop, waiters in by_loop.items():  # one wake-up per loop, not per waiter
                with contextlib.suppress(RuntimeError):  # that loop has closed
                    loop.call_soon_threadsafe(_settle, waiters, error)

    def _commit_with_retry(self, outputs: list[Output]) -> None:
        deadline = time.monotonic() + self._retry_s
        delay = 0.05
        while True:
            started = time.perf_counter()
            try:
                self._db.run_sync(self._commit, outputs)
                metrics.SQL_SECONDS.labels("journal").observe(time.perf_counter() - started)
                return
            except Exception:
                if time.monotonic() + delay > deadline:
                    raise
                log.warning("journal commit failed; retrying in %.2f s", delay, exc_info=True)
                time.sleep(delay)
                delay = min(delay * 2, 1.0)

    def _commit(self, session: Session, outputs: list[Output]) -> None:
        write(session, outputs, self._on_status)


class JournalStopped(ConnectionError):
    """A write after the journal began to shut down (the desk answers ``unavailable``)."""


def _settle(waiters: list[asyncio.Future[None]], error: BaseException | None) -> None:
    for done in waiters:
        if done.done():
            continue
        if error is None:
            done.set_result(None)
        else:
            done.set_exception(error)


def write(session: Session, outputs: Sequence[Output], hooks: Sequence[StatusHook] = ()) -> None:
    """Write engine output in the caller's transaction, idempotently, and seal the chains.

    Per auction it locks the auction row (the chain's head lives there), drops audit
    entries already stored (a replay), chains the rest in ``(epoch, aseq)`` order and
    inserts them with their hashes in one statement.
    """
    now = clock.now()
    events: list[dict[str, Any]] = []
    bids: list[dict[str, Any]] = []
    voids: list[tuple[str, str]] = []
    by_auction: dict[int, list[tuple[int, dict[str, Any]]]] = {}
    for out in outputs:
        by_auction.setdefault(out.auction_id, [])
        for ev in out.events:
            events.append(
                {
                    "auction_id": out.auction_id,
                    "epoch": out.epoch,
                    "seq": ev["seq"],
                    "type": ev["type"],
                    "data": ev,
                    "at": _dt(ev["at"]),
                }
            )
        for entry in out.audit:
            by_auction[out.auction_id].append((out.epoch, entry))
            if entry["kind"] == "bid_accepted":
                bids.append(_bid_row(out, entry, now))
            elif entry["kind"] == "voided":
                voids.append((entry["bid_id"], entry.get("reason", "")))
    entries: list[dict[str, Any]] = []
    changed: list[tuple[int, str, dict[str, Any]]] = []
    table = AuctionRecord.__table__  # type: ignore[attr-defined]
    wanted = [table.c[name] for name in _AUCTION_STATE]
    rows = session.execute(
        select(*wanted).where(table.c.id.in_(list(by_auction))).with_for_update()
    ).mappings()
    auctions = {row["id"]: dict(row) for row in rows}
    before = {key: dict(value) for key, value in auctions.items()}
    for auction_id, audit_entries in by_auction.items():
        auction = auctions.get(auction_id)
        if auction is None:
            log.error("engine output for unknown auction %s", auction_id)
            continue
        old_status = auction["status"]
        moved_by: dict[str, Any] = {}
        for epoch, entry in _unstored(session, auction, audit_entries):
            auction["chain_index"] += 1
            row = {
                "auction_id": auction_id,
                "epoch": epoch,
                "aseq": entry["aseq"],
                "kind": entry["kind"],
                "data": entry,
                "at": _dt(entry["at"]),
                "chain_index": auction["chain_index"],
            }
            head = auction["chain_head"] or audit.genesis(auction_id)
            auction["chain_head"] = row["hash"] = audit.link(head, _entry(row))
            entries.append(row)
            status = auction["status"]
            _apply(auction, entry)
            if auction["status"] != status:
                moved_by = entry
        for out in outputs:
            if out.auction_id == auction_id:
                for ev in out.events:
                    _apply(auction, ev)
        if auction["status"] != old_status:
            changed.append((auction_id, auction["status"], moved_by))
    _insert_ignore(session, EventRecord, events)
    _insert_ignore(session, AuditRecord, entries)
    _insert_ignore(session, BidRecord, bids)
    _store_auctions(session, auctions, before)
    for bid_id, reason in voids:
        session.execute(
            update(BidRecord)
            .where(col(BidRecord.id) == bid_id)
            .values(voided=True, void_reason=reason)
        )
    for auction_id, status, entry in changed:
        for hook in hooks:
            hook(session, auction_id, status, entry)
    extended = {
        (out.auction_id, entry["ext"], entry["ends"])
        for out in outputs
        for entry in out.audit
        if entry["kind"] == "extended"
    }
    for auction_id, ext, ends in sorted(extended):
        _notify_extended(session, auction_id, ext, ends)
    for out in outputs:
        if out.outbid is not None:
            notifications.notify_company(
                session,
                out.outbid,
                "outbid",
                "You were outbid",
                "Another supplier took first place.",
                auction_id=out.auction_id,
            )


def _notify_extended(session: Session, auction_id: int, ext: int, ends_ms: int) -> None:
    """Tell every supplier that has bid in the auction that its end moved (extensions
    happen only in the soft-close window, so this is rare on the hot path)."""
    bidders = session.execute(
        select(col(BidRecord.company_id)).where(col(BidRecord.auction_id) == auction_id).distinct()
    ).scalars()
    when = clock.rfc3339(_dt(ends_ms))
    for company_id in bidders:
        notifications.notify_company(
            session,
            company_id,
            "extended",
            "Auction extended",
            f"A bid in the closing window extended the auction (extension {ext}); it now "
            f"ends at {when}.",
            auction_id=auction_id,
            ends_at=when,
        )


_AUCTION_STATE = (
    "id",
    "status",
    "seq",
    "aseq",
    "ends_at",
    "extensions",
    "closed_at",
    "chain_index",
    "chain_head",
)
_HOT = ("seq", "aseq", "chain_index", "chain_head", "extensions", "status")


def _store_auctions(
    session: Session, auctions: dict[int, dict[str, Any]], before: dict[int, dict[str, Any]]
) -> None:
    """Write the auctions' new counters and chain heads (the driver's executemany), and
    their times through SQLAlchemy when they changed (rare)."""
    if not auctions:
        return
    connection = session.connection()
    mark = "%s" if connection.dialect.name == "postgresql" else "?"
    sets = ", ".join(f"{name} = {mark}" for name in _HOT)
    cursor = connection.connection.cursor()
    try:
        # column names are the constant _HOT; values are parameters
        cursor.executemany(
            f"UPDATE auction SET {sets} WHERE id = {mark}",  # nosec
            [(*(a[name] for name in _HOT), a["id"]) for a in auctions.values()],
        )
    finally:
        cursor.close()
    table = AuctionRecord.__table__  # type: ignore[attr-defined]
    for auction_id, state in auctions.items():
        old = before[auction_id]
        if state["ends_at"] != old["ends_at"] or state["closed_at"] != old["closed_at"]:
            session.execute(
                update(table)
                .where(table.c.id == auction_id)
                .values(ends_at=state["ends_at"], closed_at=state["closed_at"])
            )


def _unstored(
    session: Session, auction: dict[str, Any], entries: list[tuple[int, dict[str, Any]]]
) -> list[tuple[int, dict[str, Any]]]:
    """The entries not stored yet, deduplicated, in (epoch, aseq) order.

    An ``aseq`` above the auction's stored maximum is new for sure; only the others
    (a replay, or another worker's entries committing out of order) are looked up.
    """
    wanted = {(epoch, e["aseq"]): (epoch, e) for epoch, e in entries}
    maybe = [aseq for _, aseq in wanted if aseq <= auction["aseq"]]
    if maybe:
        stored = session.execute(
            select(col(AuditRecord.epoch), col(AuditRecord.aseq)).where(
                col(AuditRecord.auction_id) == auction["id"],
                col(AuditRecord.aseq).in_(maybe),
            )
        ).all()
        for epoch, aseq in stored:
            wanted.pop((epoch, aseq), None)
    return [wanted[k] for k in sorted(wanted)]


_ORDER = {"scheduled": 0, "live": 1, "closed": 2, "awarded": 3, "no_award": 3, "cancelled": 3}


def _apply(auction: dict[str, Any], item: dict[str, Any]) -> None:
    """Advance an auction row by one event or audit entry (monotonic, order-free)."""
    if "type" in item:  # an event
        auction["seq"] = max(auction["seq"], item["seq"])
    if "aseq" in item:  # an audit entry
        auction["aseq"] = max(auction["aseq"], item["aseq"])
    kind = item.get("kind") or item.get("type")
    if kind == "extended" and item["ext"] > auction["extensions"]:
        auction["ends_at"], auction["extensions"] = _dt(item["ends"]), item["ext"]
    elif "status" in item and _ORDER.get(item["status"], 0) > _ORDER.get(auction["status"], 0):
        # Statuses only move forward; commits from several workers may arrive out of order.
        auction["status"], auction["ends_at"] = item["status"], _dt(item["ends"])
        if item["status"] == "closed" and auction["closed_at"] is None:
            auction["closed_at"] = clock.now()


def _entry(row: dict[str, Any]) -> audit.Entry:
    return audit.Entry(
        row["auction_id"],
        row["epoch"],
        row["aseq"],
        row["kind"],
        clock.to_ms(row["at"]),
        row["data"],
    )


def entry_of(record: AuditRecord) -> audit.Entry:
    """The hashed form of a stored audit entry."""
    return audit.Entry(
        record.auction_id,
        record.epoch,
        record.aseq,
        record.kind,
        clock.to_ms(record.at),
        record.data,
    )


def _bid_row(out: Output, entry: dict[str, Any], now: datetime) -> dict[str, Any]:
    return {
        "id": entry["bid_id"],
        "auction_id": out.auction_id,
        "company_id": int(entry["company"]),
        "epoch": out.epoch,
        "seq": entry["seq"],
        "price": entry["price"],
        "transformed": entry["t"],
        "proxy": bool(entry.get("proxy")),
        "key": entry.get("key") or None,
        "commitment": entry.get("commit") or None,
        "nonce": entry.get("nonce") or None,
        "at": _dt(entry["at"]),
        "recorded_at": now,
        "voided": False,
    }


def _insert_ignore(session: Session, model: type[Any], rows: list[dict[str, Any]]) -> None:
    """Insert many rows, skipping those whose unique key exists, at the driver's speed.

    The journal's hot path. SQLAlchemy's per-row parameter processing cost more than the
    commit itself, so the rows go to the DBAPI directly, converted the way the column
    types would (JSON text; datetimes as naive UTC), by one converter per column. They
    go as multi-row ``INSERT ... VALUES (...), (...)`` statements rather than an
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
    per_statement = _MAX_PARAMETERS // len(columns)
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


_MAX_PARAMETERS = 30_000
"""Parameters per statement: under SQLite's default limit (32,766) and PostgreSQL's
(65,535)."""


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


def _dt(ms: int) -> datetime:
    return clock.from_ms(ms)


def chain(session: Session, auction_id: int) -> dict[str, Any]:
    """The sealed audit log of an auction, and whether its hash chain verifies."""
    records = (
        session.execute(
            select(AuditRecord)
            .where(
                col(AuditRecord.auction_id) == auction_id,
                col(AuditRecord.chain_index).is_not(None),
            )
            .order_by(col(AuditRecord.chain_index))
        )
        .scalars()
        .all()
    )
    verdict = audit.verify(auction_id, ((r.chain_index or 0, entry_of(r), r.hash) for r in records))
    return {
        "auction_id": auction_id,
        "verified": verdict.ok,
        "problem": verdict.problem,
        "head": verdict.head,
        "entries": [
            {
                "index": r.chain_index,
                "epoch": r.epoch,
                "aseq": r.aseq,
                "kind": r.kind,
                "at": clock.rfc3339(r.at),
                "data": r.data,
                "hash": r.hash,
            }
            for r in records
        ],
    }


def append(session: Session, auction_id: int, kind: str, data: dict[str, Any]) -> None:
    """Seal one entry that SQL alone writes (a contract's moves after the award) onto
    the auction's chain, in the caller's transaction.

    The engine writes nothing more for an awarded auction, so these entries take the
    ``aseq`` numbers after its last one without meeting Redis's.
    """
    table = AuctionRecord.__table__  # type: ignore[attr-defined]
    row = session.execute(
        select(table.c.epoch, table.c.aseq, table.c.chain_index, table.c.chain_head)
        .where(table.c.id == auction_id)
        .with_for_update()
    ).one()
    at = clock.from_ms(clock.now_ms())
    entry = audit.Entry(auction_id, row.epoch, row.aseq + 1, kind, clock.to_ms(at), data)
    head = audit.link(row.chain_head or audit.genesis(auction_id), entry)
    session.add(
        AuditRecord(
            auction_id=auction_id,
            epoch=row.epoch,
            aseq=row.aseq + 1,
            chain_index=row.chain_index + 1,
            kind=kind,
            data=data,
            at=at,
            hash=head,
        )
    )
    session.execute(
        update(table)
        .where(table.c.id == auction_id)
        .values(aseq=row.aseq + 1, chain_index=row.chain_index + 1, chain_head=head)
    )
    session.flush()
