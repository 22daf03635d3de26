"""The scheduler: opens and closes auctions on the server's clock, and reconciles.

Every worker runs :meth:`Scheduler.run`. Each ``tick_s`` it takes the auctions due
from the ``sched`` index in Redis (score: the next time that matters, the start or
the end) and calls ``status.lua``'s ``tick`` on each. The script changes the status
atomically, so when several workers tick the same auction, exactly one of them opens
or closes it; the others see nothing to do. A soft-close extension moves the end: the
tick then finds the auction still live and re-files it under its new end. An auction
whose time passed while no worker ran (a restart) is due at once.

Reconciliation (at startup, then every ``reconcile_s``) compares each unfinished
auction in SQL with Redis:

- missing in Redis (never loaded, or Redis flushed or lost): restored from SQL;
- Redis ahead of SQL (a worker died after the script accepted and before its journal
  committed): the missing events and audit entries are read back from the Redis
  streams and written to SQL. Those bids were never acknowledged; they are kept,
  because Redis already ranked them and a retry with the same key returns them. If
  the streams no longer hold them, the auction is rebuilt from SQL instead and they
  are gone (never acknowledged, so nobody was told they counted);
- Redis behind SQL, or SQL holding bids that reached it after the last rebuild:
  rebuilt from SQL with a new epoch.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session, col

from bidding.auction import AuctionStatus
from bidding.live.desk import Desk
from bidding.live.restore import due_ms
from bidding.live.store import Output
from rfq.auctions import AuctionRecord, BidRecord
from rfq.platform import clock

log = logging.getLogger("rfq.scheduler")

UNFINISHED = (AuctionStatus.scheduled, AuctionStatus.live, AuctionStatus.closed)
GRACE_MS = 10_000
"""Redis entries younger than this are in flight in some journal, not lost."""


class Scheduler:
    """Ticks due auctions and reconciles Redis with SQL."""

    def __init__(self, desk: Desk, *, tick_s: float = 0.1, reconcile_s: float = 30.0) -> None:
        self.desk = desk
        self.tick_s = tick_s
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
        last = asyncio.get_running_loop().time()
        while True:
            try:
                await self.tick()
                now = asyncio.get_running_loop().time()
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
        now = clock.now_ms()
        due = await engine.redis.zrangebyscore(engine.keys.schedule, "-inf", now, start=0, num=200)
        changed = 0
        for raw in due:
            changed += await self.desk.tick(int(raw), now)
        return changed

    async def reconcile(self, grace_ms: int = GRACE_MS) -> dict[str, int]:
        """Bring Redis and SQL into agreement for every unfinished auction.

        At startup ``grace_ms`` is 0: this process has nothing in flight, so whatever
        Redis holds beyond SQL is written at once (a crashed worker's last bids).
        """
        desk = self.desk
        rows = await desk.db.run(_unfinished)
        counts = {"restored": 0, "recovered": 0, "rebuilt": 0, "failed": 0}
        for auction_id, sql_seq, sql_aseq, epoch, stragglers in rows:
            try:
                what = await self._reconcile_one(
                    auction_id, sql_seq, sql_aseq, epoch, stragglers, grace_ms
                )
            except Exception:  # one bad auction must not stop the others
                log.exception("reconciling auction %s failed", auction_id)
                what = "failed"
            if what:
                counts[what] += 1
        if any(counts.values()):
            log.warning("reconciled auctions: %s", counts)
        return counts

    async def _reconcile_one(
        self,
        auction_id: int,
        sql_seq: int,
        sql_aseq: int,
        epoch: int,
        stragglers: bool,
        grace_ms: int,
    ) -> str | None:
        """Reconcile one auction; what was done (a key of the counts), or None."""
        desk = self.desk
        meta = await desk.engine.meta(auction_id)
        if not meta:
            await desk.restore(auction_id, rebuild=False)
            return "restored"
        what = None
        redis_seq, redis_aseq = int(meta["seq"]), int(meta["aseq"])
        redis_epoch = int(meta["epoch"])
        if redis_epoch != epoch or stragglers or redis_seq < sql_seq or redis_aseq < sql_aseq:
            await desk.restore(auction_id, rebuild=True)
            what = "rebuilt"
        elif redis_seq > sql_seq or redis_aseq > sql_aseq:
            written = await self._recover(auction_id, epoch, sql_seq, sql_aseq, grace_ms)
            if written > 0:
                what = "recovered"
            elif written < 0:
                await desk.restore(auction_id, rebuild=True)
                what = "rebuilt"
        await self._reschedule(meta, auction_id)
        return what

    async def _recover(
        self, auction_id: int, epoch: int, seq: int, aseq: int, grace_ms: int
    ) -> int:
        """Write what Redis accepted more than ``grace_ms`` ago and SQL lacks; return how
        many audit entries were written, or -1 if the streams no longer hold them (then
        the caller rebuilds). Newer entries are probably in flight in some worker's
        journal; writing them twice would be harmless (writes are idempotent), only
        wasteful."""
        keys = self.desk.engine.auction_keys(auction_id)
        cutoff = clock.now_ms() - grace_ms
        events = [e for e in await self.desk.engine.stream(keys.events, seq) if e["at"] < cutoff]
        entries = [e for e in await self.desk.engine.stream(keys.audit, aseq) if e["at"] < cutoff]
        if not events and not entries:
            return 0
        if (events and events[0]["seq"] != seq + 1) or (entries and entries[0]["aseq"] != aseq + 1):
            return -1
        await self.desk.journal.write([Output(auction_id, epoch, events, entries)])
        log.warning(
            "auction %s: wrote %d entries Redis had and SQL lacked", auction_id, len(entries)
        )
        return max(1, len(entries))

    async def _reschedule(self, meta: dict[str, Any], auction_id: int) -> None:
        engine = self.desk.engine
        due = due_ms(meta)
        if due is not None:
            await engine.redis.zadd(engine.keys.schedule, {str(auction_id): int(due)})


def _unfinished(session: Session) -> list[tuple[int, int, int, int, bool]]:
    auctions = session.execute(
        select(AuctionRecord).where(col(AuctionRecord.status).in_(UNFINISHED))
    ).scalars()
    out = []
    for a in auctions:
        late = 0
        if a.rebuilt_at is not None:
            late = session.execute(
                select(func.count())
                .select_from(BidRecord)
                .where(
                    col(BidRecord.auction_id) == a.id,
                    col(BidRecord.epoch) < a.epoch,
                    col(BidRecord.recorded_at) > a.rebuilt_at,
                )
            ).scalar_one()
        out.append((a.id, a.seq, a.aseq, a.epoch, bool(late)))
    return out
