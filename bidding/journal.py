"""Group commit: the engine's output made durable in SQL before anyone is told.

Every accepted (or rejected) bid, proxy bid, extension and status move leaves the
Lua scripts as msgpack events and audit entries. :meth:`Journal.write` queues them and
waits; one writer task takes everything queued, writes it in one transaction (so a
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
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col

from bidding import audit
from bidding.records import AuctionRecord, AuditRecord, BidRecord, EventRecord
from rfq import clock
from rfq.db import Database

log = logging.getLogger("rfq.journal")

StatusHook = Callable[[Session, int, str], None]
"""Called inside the commit for every status an auction reaches (e.g. to move its RFQ)."""


@dataclass(slots=True)
class Output:
    """One engine call's records for one auction."""

    auction_id: int
    epoch: int
    events: list[dict[str, Any]]
    audit: list[dict[str, Any]]


@dataclass(slots=True)
class _Pending:
    outputs: list[Output]
    done: asyncio.Future[None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class Journal:
    """The single writer of engine output in one process."""

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
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue()
        self.batches = 0
        self.written = 0

    async def write(self, outputs: Sequence[Output]) -> None:
        """Make ``outputs`` durable; returns once they are committed, else raises."""
        outputs = [o for o in outputs if o.events or o.audit]
        if not outputs:
            return
        pending = _Pending(list(outputs))
        await self._queue.put(pending)
        await pending.done

    async def run(self) -> None:
        """The writer loop; runs until cancelled (owned by the app's task group)."""
        while True:
            batch = [await self._queue.get()]
            size = len(batch[0].outputs)
            while size < self._max_batch and not self._queue.empty():
                item = self._queue.get_nowait()
                batch.append(item)
                size += len(item.outputs)
            outputs = [o for p in batch for o in p.outputs]
            try:
                await self._commit_with_retry(outputs)
            except Exception as exc:  # every waiter hears why its write failed
                for p in batch:
                    if not p.done.done():
                        p.done.set_exception(exc)
                continue
            self.batches += 1
            self.written += len(outputs)
            for p in batch:
                if not p.done.done():
                    p.done.set_result(None)

    async def _commit_with_retry(self, outputs: list[Output]) -> None:
        deadline = time.monotonic() + self._retry_s
        delay = 0.05
        while True:
            try:
                await self._db.run(self._commit, outputs)
                return
            except Exception:
                if time.monotonic() + delay > deadline:
                    raise
                log.warning("journal commit failed; retrying in %.2f s", delay, exc_info=True)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 1.0)

    def _commit(self, session: Session, outputs: list[Output]) -> None:
        write(session, outputs, self._on_status)


def write(session: Session, outputs: Sequence[Output], hooks: Sequence[StatusHook] = ()) -> None:
    """Write engine output in the caller's transaction (idempotent) and seal the chains."""
    now = clock.now()
    events: list[dict[str, Any]] = []
    entries: list[dict[str, Any]] = []
    bids: list[dict[str, Any]] = []
    voids: list[tuple[str, str]] = []
    touched: dict[int, dict[str, Any]] = {}
    for out in outputs:
        state = touched.setdefault(out.auction_id, {"seq": 0, "aseq": 0})
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
            state["seq"] = max(state["seq"], ev["seq"])
            if ev["type"] == "extended":
                state["ends"], state["ext"] = ev["ends"], ev["ext"]
            elif "status" in ev:
                state["status"], state["ends"] = ev["status"], ev["ends"]
        for entry in out.audit:
            entries.append(
                {
                    "auction_id": out.auction_id,
                    "epoch": out.epoch,
                    "aseq": entry["aseq"],
                    "kind": entry["kind"],
                    "data": entry,
                    "at": _dt(entry["at"]),
                }
            )
            state["aseq"] = max(state["aseq"], entry["aseq"])
            if entry["kind"] == "bid_accepted":
                bids.append(_bid_row(out, entry, now))
            elif entry["kind"] == "voided":
                voids.append((entry["bid_id"], entry.get("reason", "")))
    _insert_ignore(session, EventRecord, events)
    _insert_ignore(session, AuditRecord, entries)
    _insert_ignore(session, BidRecord, bids)
    for bid_id, reason in voids:
        session.execute(
            update(BidRecord)
            .where(col(BidRecord.id) == bid_id)
            .values(voided=True, void_reason=reason)
        )
    for auction_id, state in touched.items():
        _advance(session, auction_id, state, hooks)
        seal(session, auction_id)


def seal(session: Session, auction_id: int) -> None:
    """Chain every unsealed audit entry of the auction, in (epoch, aseq) order."""
    row = session.execute(
        select(col(AuctionRecord.id)).where(col(AuctionRecord.id) == auction_id).with_for_update()
    ).first()
    if row is None:
        return
    last = session.execute(
        select(col(AuditRecord.chain_index), col(AuditRecord.hash))
        .where(col(AuditRecord.auction_id) == auction_id, col(AuditRecord.chain_index).is_not(None))
        .order_by(col(AuditRecord.chain_index).desc())
        .limit(1)
    ).first()
    index, head = (last[0], last[1]) if last else (0, audit.genesis(auction_id))
    unsealed = session.execute(
        select(AuditRecord)
        .where(col(AuditRecord.auction_id) == auction_id, col(AuditRecord.chain_index).is_(None))
        .order_by(col(AuditRecord.epoch), col(AuditRecord.aseq))
    ).scalars()
    for record in unsealed:
        index += 1
        head = audit.link(head, entry_of(record))
        record.chain_index, record.hash = index, head
    session.flush()


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


def _advance(
    session: Session, auction_id: int, state: dict[str, Any], hooks: Sequence[StatusHook]
) -> None:
    auction = session.get(AuctionRecord, auction_id, with_for_update=True)
    if auction is None:
        log.error("engine output for unknown auction %s", auction_id)
        return
    auction.seq = max(auction.seq, state["seq"])
    auction.aseq = max(auction.aseq, state["aseq"])
    if "ends" in state:
        auction.ends_at = _dt(state["ends"])
    if "ext" in state:
        auction.extensions = max(auction.extensions, state["ext"])
    status = state.get("status")
    if status is not None and status != auction.status:
        auction.status = status
        if status == "closed":
            auction.closed_at = clock.now()
        session.add(auction)
        session.flush()
        for hook in hooks:
            hook(session, auction_id, status)
    session.add(auction)


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
    if not rows:
        return
    bind = session.get_bind()
    dialect = postgresql if bind.dialect.name == "postgresql" else sqlite
    table = model.__table__
    session.execute(dialect.insert(table).on_conflict_do_nothing(), rows)


def _dt(ms: int) -> datetime:
    return clock.from_ms(ms)
