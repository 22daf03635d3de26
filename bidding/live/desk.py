"""Placing bids end to end: eligibility, the engine, durability, and the answer.

Every bid, whether it arrives over HTTP or the websocket, goes through
:meth:`Desk.bid`:

1. the auction's facts (RFQ, buyer, visibility) come from a small in-process cache;
2. eligibility (``rfq/eligibility.py``) is checked against SQL (a snapshot read; a
   write transaction only to reserve the bid bond at a company's first bid) and
   cached per RFQ and company for up to ``ELIGIBLE_TTL_S`` seconds
   (``NOT_ELIGIBLE_TTL_S`` for a refusal), so it is re-checked at least that often;
3. ``bid.lua`` decides and records the bid atomically in Redis (an auction missing
   from Redis is first restored from SQL);
4. the journal writes the outcome to SQL (group commit) — rejections too, for the
   audit log — and only then does the desk answer. A supplier that lost first place
   is notified ("outbid"). An acknowledged bid is in SQL. A
   replayed key answers the first outcome, re-written to SQL first (idempotent), so
   even a replay is only acknowledged once durable.

A rejection is raised as the `bidding.errors.BidRejected` subclass of its code, with
``min_acceptable`` where the lot's visibility lets the supplier see it (with the
decrement measured from the best bid it would reveal the best price).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import secrets
import time
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session

from bidding import errors
from bidding.decide import Transform
from bidding.live.engine import Engine, Outcome, RateLimit, StatusOutcome, live_of
from bidding.live.journal import Journal, Superseded
from bidding.live.restore import due_ms, snapshot, voiding
from bidding.live.store import Mark, Output
from bidding.sealed import commitment, handle
from bidding.views import Live, Viewer, hidden, view
from rfq import eligibility, rfqs
from rfq.access import may_see
from rfq.accounts import Principal, Role
from rfq.auctions import AuctionRecord
from rfq.platform import clock, metrics
from rfq.platform.db import Database
from rfq.platform.errors import Conflict, NotFound, RateLimited
from rfq.rfq_tables import Rfq

log = logging.getLogger("rfq.desk")

ELIGIBLE_TTL_S = 30.0
DURABLE_WAIT_S = 10.0
"""How long a view waits for SQL to hold what Redis accepted before giving up."""
REPAIR_AFTER_S = 1.0
"""A lag older than this is no commit in flight: the view repairs it."""
NOT_ELIGIBLE_TTL_S = 3.0
SURROGATE_KEY = "sur:"
"""Prefixes a surrogate bid's key, so that it never replays one of the supplier's own."""
_LOCK_S = 10.0

_ERRORS: dict[str, type[errors.BidRejected]] = {
    cls.code: cls
    for cls in (
        errors.AuctionNotLive,
        errors.NotEligible,
        errors.WrongFormat,
        errors.InvalidPrice,
        errors.AboveCeiling,
        errors.BelowDecrement,
        errors.TieNotAllowed,
        errors.DroppedOut,
        errors.PriceNotCurrent,
    )
}

_MESSAGES = {
    "auction_not_live": "The auction is not open for bids now.",
    "wrong_format": "This auction's format does not take this kind of bid.",
    "invalid_price": "The price must be a positive whole number of minor units.",
    "above_ceiling": "The price is above the ceiling price.",
    "below_decrement": "The price does not undercut by at least the minimum decrement.",
    "tie_not_allowed": "The price ties another supplier's bid, and ties are not allowed.",
    "dropped_out": "You did not accept the previous price level and are out of this clock.",
    "price_not_current": "A clock auction takes only its current price.",
}


@dataclass(frozen=True, slots=True)
class AuctionFacts:
    """What the desk needs to know about an auction, cached per process."""

    auction_id: int
    rfq_id: int
    buyer_company_id: int
    format: str
    visibility: str
    decrement_from: str
    ties: str
    currency: str
    practice: bool = False
    """A practice room's lot (``rfq/practice.py``), where simulated rivals bid."""
    pre_bids: bool = False
    """The lot takes pre-bids before its opening (``rules.pre_bids``)."""


@dataclass(frozen=True, slots=True)
class Ack:
    """An acknowledged (durable) bid."""

    auction_id: int
    bid_id: str
    price: int
    rank: int | None
    ends_at_ms: int
    extensions: int
    extended: bool
    seq: int | None
    """None for a sealed bid or a pre-bid, whose numbering would count the rivals' bids
    (``bid_id`` is then an opaque handle, `bidding.sealed.handle`)."""
    replay: bool


class Desk:
    """The one place bids are placed."""

    def __init__(
        self,
        db: Database,
        engine: Engine,
        journal: Journal,
        rate: RateLimit | None = None,
        secret: bytes | None = None,
        deposit_required: int = 0,
    ) -> None:
        self.db = db
        self.engine = engine
        self.journal = journal
        self.rate = rate or RateLimit()
        self.deposit_required = deposit_required
        """The deposit a supplier holds before it first takes part (``rfq.eligibility``)."""
        self.secret = secret if secret is not None else secrets.token_bytes(32)
        """Keys the names suppliers know their sealed bids by (``bidding.sealed.handle``):
        the app's secret, so that every worker names a bid alike."""
        self._facts: dict[int, AuctionFacts] = {}
        self._eligible: dict[tuple[int, int], tuple[float, str | None]] = {}
        """``(rfq, company)`` -> (until, why not): one check serves all of an RFQ's lots."""

    def forget(self, company_id: int) -> None:
        """Drop this worker's cached eligibility of ``company_id``."""
        for key in [k for k in self._eligible if k[1] == company_id]:
            del self._eligible[key]

    async def announce(self, company_id: int) -> None:
        """A company's eligibility changed (suspended, reinstated): this worker forgets
        its cached answer at once, and every other worker when it hears the message."""
        self.forget(company_id)
        try:
            await self.engine.redis.publish(self.engine.keys.eligibility, str(company_id))
        except Exception:  # the change is committed; other workers' caches lapse in 30 s
            log.warning("announcing company %s's eligibility change failed", company_id)

    async def follow(self) -> None:
        """For the app's lifetime: forget what other workers announce. While the
        subscription is down a message may be missed, so each (re)subscription starts by
        forgetting everything cached."""
        while True:
            pubsub = self.engine.redis.pubsub()
            try:
                await pubsub.subscribe(self.engine.keys.eligibility)
                self._eligible.clear()
                async for message in pubsub.listen():
                    if message.get("type") == "message":
                        self.forget(int(message["data"]))
            except Exception:  # Redis is away: subscribe again shortly
                log.warning("following eligibility changes failed; retrying", exc_info=True)
                await asyncio.sleep(1.0)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()

    async def facts(self, auction_id: int) -> AuctionFacts:
        """The auction's cached facts; ``NotFound`` if there is no such auction."""
        found = self._facts.get(auction_id)
        if found is None:
            found = await self.db.read(_load_facts, auction_id)
            if found is None:
                raise NotFound("No such auction.")
            self._facts[auction_id] = found
        return found

    async def viewer(self, principal: Principal, auction_id: int) -> Viewer:
        """What ``principal`` may see of the auction: the buyer side (its buyer,
        operators); a supplier that takes part in the RFQ (invited, matched or admitted);
        a supplier that may only discover the RFQ sees its status (``public``). Anyone
        else reads ``NotFound``."""
        facts = await self.facts(auction_id)
        if may_see(principal, facts.buyer_company_id):
            return Viewer(full=True)  # no query: the buyer's monitor is the hot path

        def viewer(session: Session) -> Viewer:
            return rfqs.viewer_of_rfq(
                session, principal, rfqs.get(session, principal, facts.rfq_id)
            )

        found: Viewer = await self.db.read(viewer)
        return found

    async def bid(self, principal: Principal, auction_id: int, price: int, key: str) -> Ack:
        """Place a bid; return its acknowledgement or raise why it was refused."""
        started = time.perf_counter()
        try:
            ack = await self._bid(principal, auction_id, price, key)
        except (errors.BidRejected, RateLimited) as exc:
            metrics.bid_answered(exc.code, time.perf_counter() - started)
            raise
        metrics.bid_answered(None, time.perf_counter() - started)
        return ack

    async def _bid(self, principal: Principal, auction_id: int, price: int, key: str) -> Ack:
        facts = await self.facts(auction_id)
        reason = await self._eligibility(principal, facts)
        nonce = secrets.token_hex(16) if facts.format == "sealed" else ""
        digest = ""
        if nonce:
            digest = commitment(str(auction_id), str(principal.company_id), price, nonce)
        outcome = await self._call(
            auction_id,
            lambda: self.engine.bid(
                auction_id,
                str(principal.company_id),
                price,
                key,
                eligible=reason is None,
                commitment=digest,
                nonce=nonce,
            ),
        )
        return await self._answer(facts, outcome, reason)

    async def surrogate(
        self,
        principal: Principal,
        auction_id: int,
        company_id: int,
        price: int,
        key: str,
        reason: str,
    ) -> Ack:
        """Place a bid on a supplier's behalf (a phone bid): the RFQ's buyer or an
        operator, with a reason. The supplier must be eligible as if it bid itself; the
        bid counts against its rate limit, is marked as surrogate on the record, in the
        audit chain and in the supplier's own view, and the supplier is notified in the
        bid's commit. Anyone else reads ``NotFound``."""
        facts = await self.facts(auction_id)
        if not may_see(principal, facts.buyer_company_id):
            raise NotFound("No such auction.")
        reason_not = await self._eligibility_of(company_id, facts)
        nonce = secrets.token_hex(16) if facts.format == "sealed" else ""
        digest = ""
        if nonce:
            digest = commitment(str(auction_id), str(company_id), price, nonce)
        outcome = await self._call(
            auction_id,
            lambda: self.engine.bid(
                auction_id,
                str(company_id),
                price,
                SURROGATE_KEY + key,
                eligible=reason_not is None,
                commitment=digest,
                nonce=nonce,
                surrogate=(principal.user_id, reason),
            ),
        )
        # the supplier's own bound would tell the buyer side a concealed bid (a sealed
        # one, a pre-bid): a refusal there names no price
        blind = facts.format == "sealed" or facts.pre_bids
        return await self._answer(facts, outcome, reason_not, hide_min=blind)

    async def simulate(self, auction_id: int, company_id: int, price: int, key: str) -> Ack:
        """A simulated rival's bid in a practice room (``NotFound`` on any other lot): the
        same engine, rules and eligibility (its invitation) as a supplier's bid."""
        facts = await self.facts(auction_id)
        if not facts.practice:
            raise NotFound("No such auction.")
        reason = await self._eligibility_of(company_id, facts)
        nonce = secrets.token_hex(16) if facts.format == "sealed" else ""
        digest = commitment(str(auction_id), str(company_id), price, nonce) if nonce else ""
        outcome = await self._call(
            auction_id,
            lambda: self.engine.bid(
                auction_id, str(company_id), price, key,
                eligible=reason is None, commitment=digest, nonce=nonce,
            ),
        )  # fmt: skip
        return await self._answer(facts, outcome, reason)

    async def proxy(
        self, principal: Principal, auction_id: int, floor: int | None, key: str
    ) -> Outcome:
        """Set or clear the supplier's proxy floor (reverse English only)."""
        facts = await self.facts(auction_id)
        reason = await self._eligibility(principal, facts)
        outcome = await self._call(
            auction_id,
            lambda: self.engine.proxy(
                auction_id,
                str(principal.company_id),
                floor,
                key,
                eligible=reason is None,
            ),
        )
        if outcome.result != "ok":
            self._raise(facts, outcome, reason)
        return outcome

    async def restore(self, auction_id: int, *, rebuild: bool) -> bool:
        """Load the auction from SQL into Redis: if it is missing there, or, with
        ``rebuild``, anew with a new epoch. Returns True if this call loaded it.

        One restore of an auction runs at a time (a lock in Redis); a caller that finds
        the auction restored by another while it waited does nothing.
        """
        # Bids this worker's scripts accepted but its journal has not committed yet
        # would be missing from the snapshot: let them land in SQL first (before the
        # lock, which a slow commit would otherwise outlast).
        await self.journal.flush()
        keys = self.engine.auction_keys(auction_id)
        lock, token = keys.meta + ":lock", secrets.token_hex(8)
        redis = self.engine.redis
        deadline = time.monotonic() + _LOCK_S
        while not await redis.set(lock, token, nx=True, px=int(_LOCK_S * 1000)):
            if time.monotonic() > deadline:
                raise TimeoutError(f"auction {auction_id} is being restored elsewhere")
            await asyncio.sleep(0.02)
        try:
            if not rebuild and await redis.exists(keys.meta):
                return False
            state = await self.db.run(lambda s: snapshot(s, auction_id, rate=self.rate))
            if state is None:
                return False
            await self.engine.load(auction_id, state, replace=True)
        finally:
            await self.engine.unlock(lock, token)
        due = due_ms(state["meta"])
        if due is not None:
            await redis.zadd(self.engine.keys.schedule, {str(auction_id): due})
        return True

    async def state(self, auction_id: int) -> tuple[dict[str, str], list[dict[str, Any]]]:
        """The auction's meta hash and standing bids as SQL holds them: read atomically
        from Redis once everything they count is in SQL (``dseq``), so nothing is shown
        that is not the record. An auction missing from Redis is loaded first; a lag
        that outlasts ``REPAIR_AFTER_S`` is repaired from the streams; one that outlasts
        ``DURABLE_WAIT_S`` raises ``TimeoutError`` (the database is away: "retry")."""
        started = time.monotonic()
        repair_at = started + REPAIR_AFTER_S
        while True:
            meta, standings = await self.engine.state(auction_id)
            if not meta:
                await self.restore(auction_id, rebuild=False)
                meta, standings = await self.engine.state(auction_id)
                if not meta:
                    raise NotFound("No such auction.")
            if int(meta.get("dseq") or 0) >= int(meta["seq"]):
                return meta, standings
            now = time.monotonic()
            if now - started > DURABLE_WAIT_S:
                raise TimeoutError(f"auction {auction_id}: the record lags; retry")
            if now > repair_at:
                repair_at = now + REPAIR_AFTER_S
                try:
                    await self.repair(auction_id, grace_ms=int(REPAIR_AFTER_S * 1000))
                except Exception:  # the database may be away: wait on, then give up
                    log.warning("auction %s: repair failed", auction_id, exc_info=True)
            await asyncio.sleep(0.005)

    async def repair(self, auction_id: int, *, grace_ms: int) -> str | None:
        """Write to SQL whatever Redis accepted more than ``grace_ms`` ago and SQL
        lacks (a worker died between the script and its commit, or its commit failed),
        from the auction's streams, and publish the watermarks. Writing an entry that
        some journal still has in flight is harmless (writes are idempotent).

        Where SQL cannot take what is missing (the streams no longer hold it, the epochs
        differ, or SQL refuses it: a bid on an auction SQL has cancelled), the auction
        is rebuilt from SQL; what is dropped was never acknowledged and never shown,
        since the fan-out waits for SQL.

        Returns ``"recovered"`` (entries written), ``"published"`` (SQL had them: only
        the fan-out lagged), ``"rebuilt"``, or None (nothing to do).
        """
        engine = self.engine
        # What this worker's journal has queued is in flight, not lost: let it land
        # first, so only what no journal here holds is written again.
        await self.journal.flush()
        meta = await engine.meta(auction_id)
        mark = await self.db.read(_mark, auction_id)
        if not meta or mark is None:
            return None
        if int(meta["epoch"]) != mark.epoch:
            await self.restore(auction_id, rebuild=True)
            return "rebuilt"
        if int(meta["seq"]) <= mark.seq and int(meta["aseq"]) <= mark.aseq:
            if int(meta.get("dseq") or 0) >= mark.seq:
                return None
            await engine.publish({auction_id: mark})
            return "published"
        cutoff = await self.redis_ms() - grace_ms
        keys = engine.auction_keys(auction_id)
        events = _older(await engine.stream(keys.events, mark.seq), cutoff)
        entries = _older(await engine.stream(keys.audit, mark.aseq), cutoff)
        if not events and not entries:
            return None
        if (events and events[0]["seq"] != mark.seq + 1) or (
            entries and entries[0]["aseq"] != mark.aseq + 1
        ):
            await self.restore(auction_id, rebuild=True)
            return "rebuilt"
        try:
            await self.journal.write([Output(auction_id, mark.epoch, events, entries)])
        except Superseded:
            await self.restore(auction_id, rebuild=True)
            return "rebuilt"
        log.warning("auction %s: wrote %d entries SQL lacked", auction_id, len(entries))
        return "recovered"

    async def settle(self, auction_id: int) -> None:
        """The closing barrier: return once SQL holds every event Redis accepted for
        the auction (repairing it from the streams if need be), so a decision read from
        SQL sees every bid; ``Conflict`` (``record_incomplete``) if it cannot yet."""
        await self.journal.flush()
        if not await self.engine.meta(auction_id):
            return  # not live in Redis: SQL is all there is
        try:
            await self.state(auction_id)
        except TimeoutError:
            raise Conflict(
                "The lot's record is still being written; try again in a moment.",
                code="record_incomplete",
            ) from None

    async def redis_ms(self) -> int:
        """Redis's clock, the one every worker's scripts decide by."""
        seconds, micros = await self.engine.redis.time()
        return int(seconds) * 1000 + int(micros) // 1000

    async def view(
        self, auction_id: int, viewer: Viewer
    ) -> tuple[Live, list[dict[str, Any]], dict[str, Any]]:
        """The auction's live state, its standings and the state ``viewer`` may see
        (loading the auction from SQL first if Redis does not hold it)."""
        meta, standings = await self.state(auction_id)
        live = live_of(meta)
        facts = await self.facts(auction_id)
        extra = {"rfq_id": facts.rfq_id, "lot_id": auction_id, "currency": facts.currency}
        transform = Transform()
        if not viewer.full and viewer.company_id is not None:
            transform = Transform(*await self.engine.transform(auction_id, str(viewer.company_id)))
        shown = view(live, standings, viewer, extra, clock.now_ms(), transform)
        blind = facts.format == "sealed" or hidden(live)  # pre-bids: until the opening
        if blind and shown.get("my_bid_id"):  # its number would count the rivals' bids
            shown["my_bid_id"] = handle(self.secret, shown["my_bid_id"])
        return live, standings, shown

    async def move(
        self,
        auction_id: int,
        move: str,
        *,
        decision: dict[str, Any] | None = None,
        void: tuple[str, str, str, bytes] | None = None,
    ) -> StatusOutcome:
        """Every move of an auction but a bid and a tick: ``cancel``, ``award`` and
        ``no_award`` (with the buyer's ``decision``), ``void`` (``status.lua``).

        An auction missing from Redis is restored first; what the move wrote is in SQL
        when this returns. The outcome's ``result`` is ``ok``, or the refusal with the
        ``status`` that refused it.
        """
        out = await self.engine.move(auction_id, move, decision=decision, void=void)
        if out.result == "missing":
            await self.restore(auction_id, rebuild=False)
            out = await self.engine.move(auction_id, move, decision=decision, void=void)
        if out.events or out.audit:
            await self.journal.write([Output(auction_id, out.epoch, out.events, out.audit)])
        return out

    async def note(
        self, auction_id: int, kind: str, name: str, data: dict[str, Any], *, public: bool
    ) -> bool:
        """Put an entry of ``kind`` on the auction's audit chain (and, ``public``, an event
        on its fan-out), once per ``name`` (``status.lua``'s note): a clarification's
        question or answer. False if the auction is decided or cancelled (its chain
        takes no more notes)."""
        note = {"kind": kind, "name": name, "data": data, "public": public}
        out = await self.move(auction_id, "note", decision=note)
        return out.result == "ok"

    async def void(self, auction_id: int, bid_id: str, reason: str) -> None:
        """Void a bid (operators): the supplier's earlier bid stands again, if any."""
        company_id, earlier = await self.db.run(voiding, auction_id, bid_id)
        out = await self.move(auction_id, "void", void=(bid_id, str(company_id), reason, earlier))
        if out.result != "ok":
            raise Conflict(
                f"A {out.status} auction's bids cannot be voided.", code="illegal_transition"
            )

    async def tick(self, auction_id: int) -> int:
        """Open, close or step an auction as its time (Redis's clock) calls for
        (``status.lua``'s tick), journal what happened and file it under its next due
        time; 1 if it changed."""
        engine = self.engine
        started = time.perf_counter()
        out = await engine.move(auction_id, "tick")
        metrics.REDIS_SECONDS.labels("tick").observe(time.perf_counter() - started)
        if out.result == "missing":
            await self.restore(auction_id, rebuild=False)
            return 0
        if out.events or out.audit:
            await self.journal.write([Output(auction_id, out.epoch, out.events, out.audit)])
        if out.due_ms is not None:
            await engine.redis.zadd(engine.keys.schedule, {str(auction_id): out.due_ms})
        else:
            await engine.redis.zrem(engine.keys.schedule, str(auction_id))
        return 1 if out.events or out.audit else 0

    async def _call(self, auction_id: int, call: Any) -> Outcome:
        outcome = await self._timed(call)
        for _ in range(3):
            if outcome.result == "missing":
                await self.restore(auction_id, rebuild=False)
            elif outcome.result == "tick":  # a clock level (or the start) is due first
                await self.tick(auction_id)
            else:
                break
            outcome = await self._timed(call)
        if outcome.result in ("missing", "tick"):
            raise NotFound("No such auction.")
        if outcome.result in ("ok", "rejected"):
            outbid = None if outcome.replay or not outcome.outbid else int(outcome.outbid)
            await self.journal.write(
                [Output(auction_id, outcome.epoch, outcome.events, outcome.audit, outbid)]
            )
        return outcome

    async def _timed(self, call: Any) -> Outcome:
        started = time.perf_counter()
        outcome: Outcome = await call()
        metrics.REDIS_SECONDS.labels("bid").observe(time.perf_counter() - started)
        return outcome

    async def _eligibility(self, principal: Principal, facts: AuctionFacts) -> str | None:
        if principal.role is not Role.supplier or principal.company_id is None:
            raise errors.NotEligible("Only suppliers bid.")
        return await self._eligibility_of(principal.company_id, facts)

    async def _eligibility_of(self, company_id: int, facts: AuctionFacts) -> str | None:
        """Why ``company_id`` may not bid in the auction (None: it may), cached;
        ``AuctionNotLive`` while its RFQ is not open for bids."""
        cache_key = (facts.rfq_id, company_id)  # it depends on the RFQ, not the lot
        cached = self._eligible.get(cache_key)
        now = time.monotonic()
        if cached is not None and cached[0] > now:
            reason = cached[1]
        else:
            # a snapshot read first (no writer lock): only a first bid reserves the bond
            args = (facts.rfq_id, company_id, self.deposit_required)
            reason = await self.db.read(_check, *args, False)
            if reason == eligibility.RESERVE:
                reason = await self.db.run(_check, *args, True)
            ttl = ELIGIBLE_TTL_S if reason is None else NOT_ELIGIBLE_TTL_S
            # spread over the last quarter of the time to live, so the checks of the
            # bids a lot's opening brought all at once are not all due again together
            ttl *= random.uniform(0.75, 1.0)
            self._eligible[cache_key] = (now + ttl, reason)
        if reason == eligibility.NOT_OPEN:
            raise errors.AuctionNotLive(_MESSAGES["auction_not_live"])
        return reason

    async def _answer(
        self, facts: AuctionFacts, outcome: Outcome, reason: str | None, *, hide_min: bool = False
    ) -> Ack:
        if outcome.result == "ok" and outcome.bid is not None:
            bid = outcome.bid
            ends_ms = outcome.ends_ms
            if ends_ms is None:  # a replay of a key restored from SQL carries no end
                meta = await self.engine.meta(facts.auction_id)
                ends_ms = int(meta.get("ends", 0))
            # a sealed bid's or a pre-bid's number would count the rivals' bids (a
            # replay restored from SQL carries neither the mark nor a rank)
            pre = bool(bid.get("pre")) or (facts.pre_bids and outcome.rank is None)
            blind = facts.format == "sealed" or pre
            return Ack(
                auction_id=facts.auction_id,
                bid_id=handle(self.secret, bid["bid_id"]) if blind else bid["bid_id"],
                price=bid["price"],
                rank=outcome.rank,
                ends_at_ms=ends_ms,
                extensions=outcome.extensions or 0,
                extended=outcome.extended,
                seq=None if blind else bid["seq"],
                replay=outcome.replay,
            )
        self._raise(facts, outcome, reason, hide_min=hide_min)
        raise AssertionError("unreachable")

    def _raise(
        self, facts: AuctionFacts, outcome: Outcome, reason: str | None, *, hide_min: bool = False
    ) -> None:
        if outcome.result == "limited":
            retry = max(1, -(-outcome.retry_ms // 1000))
            raise RateLimited(f"Too many bids; wait {retry} s and bid again.", retry_after=retry)
        code = outcome.code or "bid_rejected"
        if code == "not_eligible":
            raise errors.NotEligible(reason or "Your company may not bid in this auction.")
        shown = None if hide_min else outcome.min_acceptable
        hides_best = facts.visibility == "rank_only" or facts.format == "sealed"
        if facts.decrement_from == "best" and hides_best:
            shown = None  # it is the best price minus a step
        if facts.ties == "rejected" and facts.visibility != "full_ladder":
            shown = None  # stepping past rivals' prices would reveal them
        cls = _ERRORS.get(code, errors.BidRejected)
        message = _MESSAGES.get(code, "The bid was refused.")
        if shown is not None:
            message = f"{message[:-1]}; the highest acceptable price now is {shown}."
        raise cls(message, min_acceptable=shown)


def _load_facts(session: Session, auction_id: int) -> AuctionFacts | None:
    auction = session.get(AuctionRecord, auction_id)
    if auction is None:
        return None
    rfq = session.get(Rfq, auction.rfq_id)
    assert rfq is not None
    return AuctionFacts(
        auction_id=auction_id,
        rfq_id=auction.rfq_id,
        buyer_company_id=rfq.buyer_company_id,
        format=auction.format,
        visibility=auction.rules.get("visibility", "rank_only"),
        decrement_from=auction.rules.get("decrement_from", "own"),
        ties=auction.rules.get("ties", "earlier_wins"),
        currency=auction.currency,
        practice=rfq.practice,
        pre_bids=bool(auction.rules.get("pre_bids")),
    )


def _mark(session: Session, auction_id: int) -> Mark | None:
    auction = session.get(AuctionRecord, auction_id)
    if auction is None:
        return None
    return Mark(auction.epoch, auction.seq, auction.aseq)


def _older(entries: list[dict[str, Any]], cutoff_ms: int) -> list[dict[str, Any]]:
    """The leading entries stamped before ``cutoff_ms`` (a prefix: no holes)."""
    out = []
    for entry in entries:
        if entry["at"] >= cutoff_ms:
            break
        out.append(entry)
    return out


def _check(
    session: Session, rfq_id: int, company_id: int, deposit_required: int, reserve: bool
) -> str | None:
    rfq = session.get(Rfq, rfq_id)
    if rfq is None:
        return "No such RFQ."
    return eligibility.check(session, company_id, rfq, deposit_required, reserve=reserve)
