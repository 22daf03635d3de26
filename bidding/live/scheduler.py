"""The scheduler: opens and closes auctions on the server's clock, and reconciles.

Every worker runs :meth:`Scheduler.run`. Each ``tick_s`` it takes the auctions due
from the ``sched`` index in Redis (score: the next time that matters, the start or
the end) and calls ``status.lua``'s ``tick`` on each. The script changes the status
atomically, so when several workers tick the same auction, exactly one of them opens
or closes it; the others see nothing to do. A soft-close extension moves the end: the
tick then finds the auction still live and re-files it under its new end. An auction
whose time passed while no worker ran (a restart) is due at once.

Every ``repair_s`` it looks for live auctions whose record lags Redis (a worker died
between a script and its commit, or a commit failed) and repairs them from the streams
(:meth:`Desk.repair`); until then nobody is shown what lags, since the fan-out waits
for SQL.

Reconciliation (at startup, then every ``reconcile_s``) compares each unfinished
auction in SQL with Redis:

- missing in Redis (never loaded, or Redis flushed or lost): restored from SQL;
- Redis of another epoch, or behind SQL: rebuilt from SQL with a new epoch;
- Redis ahead of SQL: repaired from the streams; if the streams no longer hold what
  SQL lacks, rebuilt from SQL (those entries were never acknowledged and never shown).

Times are Redis's (``TIME``), the clock every worker's scripts decide by.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from sqlalchemy import select
from sqlmodel import Session, col

from bidding.auction import OPEN, AuctionStatus
from bidding.live.desk import Desk
from bidding.live.restore import due_ms
from rfq.auctions import AuctionRecord
from rfq.platform import clock

log = logging.getLogger("rfq.scheduler")

UNFINISHED = (AuctionStatus.scheduled, AuctionStatus.live, AuctionStatus.closed)
_OPEN_BYTES = tuple(status.value.encode() for status in OPEN)
GRACE_MS = 10_000
"""At a reconciliation, Redis entries younger than this are in flight in some journal."""
REPAIR_GRACE_MS = 1_000
"""In a repair round, a lag younger than this is a commit in flight, not lost."""


class Scheduler:
    """Ticks due auctions and reconciles Redis with SQL."""

    def __init__(
        self,
        desk: Desk,
        *,
        tick_s: float = 0.1,
        repair_s: float = 1.0,
        reconcile_s: float = 30.0,
    ) -> None:
        self.desk = desk
        self.tick_s = tick_s
        self.repair_s = repair_s
        self.reconcile_s = reconcile_s
        self.reconciled = asyncio.Event()
        """Set once the startup reconciliation has run (``/readyz`` waits for it)."""

    async def run(self) -> None:
        """Reconcile once, then tick forever (cancel to stop)."""
        try:
            await self.reconcile(grace_ms=0)
        except Exception:  # the periodic round retries; the worker must keep serving
            log.exception("startup reconciliation failed")
        self.reconciled.set()
        last = repaired = asyncio.get_running_loop().time()
        while True:
            try:
                await self.tick()
                now = asyncio.get_running_loop().time()
                if now - repaired >= self.repair_s:
                    repaired = now
                    await self.repair()
                if now - last >= self.reconcile_s:
                    last = now
                    await self.reconcile()
            except asyncio.CancelledError:
                raise
            except Exception:  # a bad tick must not stop the scheduler; it retries
                log.exception("scheduler tick failed")
            await asyncio.sleep(self.tick_s)

    async def tick(self) -> int:
        """Tick every due auction once; return how many changed."""
        engine = self.desk.engine
        before = clock.local_ms()
        now = await self.desk.redis_ms()
        clock.follow(now, (before + clock.local_ms()) // 2)  # shown times agree with it
        due = await engine.redis.zrangebyscore(engine.keys.schedule, "-inf", now, start=0, num=200)
        changed = 0
        for raw in due:
            changed += await self.desk.tick(int(raw))
        return changed

    async def repair(self) -> int:
        """Repair every scheduled or live auction whose record lags Redis by more than
        :data:`REPAIR_GRACE_MS`, and cancel in Redis what SQL has cancelled (the cancel
        is decided in SQL; the engine may have missed it); return how many changed."""
        desk, engine = self.desk, self.desk.engine
        ids = [int(raw) for raw in await engine.redis.zrange(engine.keys.schedule, 0, -1)]
        if not ids:
            return 0
        async with engine.redis.pipeline(transaction=False) as pipe:
            for auction_id in ids:
                meta = engine.auction_keys(auction_id).meta
                pipe.hmget(meta, "seq", "dseq", "aseq", "daseq", "status")
            answers = await pipe.execute()
        open_ids = [i for i, a in zip(ids, answers, strict=True) if a[4] in _OPEN_BYTES]
        cancelled = await desk.db.read(_cancelled, open_ids) if open_ids else []
        done = 0
        for auction_id in cancelled:
            try:
                await desk.move(auction_id, "cancel")
            except Exception:  # the next round tries again
                log.exception("cancelling auction %s in Redis failed", auction_id)
                continue
            done += 1
        for auction_id, (seq, dseq, aseq, daseq, _) in zip(ids, answers, strict=True):
            if seq is None or (int(dseq or 0) >= int(seq) and int(daseq or 0) >= int(aseq)):
                continue
            try:
                what = await self.desk.repair(auction_id, grace_ms=REPAIR_GRACE_MS)
            except Exception:  # one bad auction must not stop the others
                log.exception("repairing auction %s failed", auction_id)
                continue
            done += what is not None
        return done

    async def reconcile(self, grace_ms: int = GRACE_MS) -> dict[str, int]:
        """Bring Redis and SQL into agreement for every unfinished auction.

        At startup ``grace_ms`` is 0: this process has nothing in flight, so whatever
        Redis holds beyond SQL is written at once (a crashed worker's last bids).
        """
        desk = self.desk
        rows = await desk.db.run(_unfinished)
        counts = {"restored": 0, "recovered": 0, "rebuilt": 0, "failed": 0}
        for auction_id, sql_seq, sql_aseq, epoch in rows:
            try:
                what = await self._reconcile_one(auction_id, sql_seq, sql_aseq, epoch, grace_ms)
            except Exception:  # one bad auction must not stop the others
                log.exception("reconciling auction %s failed", auction_id)
                what = "failed"
            if what:
                counts[what] += 1
        if any(counts.values()):
            log.warning("reconciled auctions: %s", counts)
        return counts

    async def _reconcile_one(
        self, auction_id: int, sql_seq: int, sql_aseq: int, epoch: int, grace_ms: int
    ) -> str | None:
        """Reconcile one auction; what was done (a key of the counts), or None."""
        desk = self.desk
        meta = await desk.engine.meta(auction_id)
        if not meta:
            await desk.restore(auction_id, rebuild=False)
            return "restored"
        what = None
        redis_seq, redis_aseq = int(meta["seq"]), int(meta["aseq"])
        if int(meta["epoch"]) != epoch or redis_seq < sql_seq or redis_aseq < sql_aseq:
            await desk.restore(auction_id, rebuild=True)
            what = "rebuilt"
        else:
            repaired = await desk.repair(auction_id, grace_ms=grace_ms)
            if repaired in ("rebuilt", "recovered"):
                what = repaired
        await self._reschedule(meta, auction_id)
        return what

    async def _reschedule(self, meta: dict[str, Any], auction_id: int) -> None:
        engine = self.desk.engine
        due = due_ms(meta)
        if due is not None:
            await engine.redis.zadd(engine.keys.schedule, {str(auction_id): int(due)})


def _cancelled(session: Session, ids: list[int]) -> list[int]:
    return list(
        session.execute(
            select(col(AuctionRecord.id)).where(
                col(AuctionRecord.id).in_(ids),
                col(AuctionRecord.status) == AuctionStatus.cancelled,
            )
        ).scalars()
    )


def _unfinished(session: Session) -> list[tuple[int, int, int, int]]:
    auctions = session.execute(
        select(AuctionRecord).where(col(AuctionRecord.status).in_(UNFINISHED))
    ).scalars()
    return [(a.id, a.seq, a.aseq, a.epoch) for a in auctions]
