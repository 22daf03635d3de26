"""RFQ endpoints: drafting, publishing, amending, cancelling, invitations."""

from __future__ import annotations

import logging
from typing import Any

from pydantic import BaseModel, Field
from redis.exceptions import RedisError
from sqlmodel import Session

from bidding.auction import OPEN
from rfq import history, participation, rfqs
from rfq.access import require_login
from rfq.history import HistoryPublic
from rfq.participation import InvitationCreate, ParticipantPublic
from rfq.platform import clock
from rfq.rfqs import RfqCreate, RfqPublic, RfqUpdate
from web.routing import Call, api

log = logging.getLogger("rfq.web")


class Reason(BaseModel):
    reason: str = Field(min_length=1, max_length=2000)


@api("POST", "/api/rfqs", body=RfqCreate, response=RfqPublic, status=201)
async def create(call: Call[RfqCreate]) -> Any:
    """A buyer drafts an RFQ with its lots and each lot's auction rules."""

    def work(session: Session) -> RfqPublic:
        rfq = rfqs.create(session, call.principal, call.body)
        return rfqs.public(session, require_login(call.principal), rfq)

    return await call.state.db.run(work)


@api("GET", "/api/rfqs", response=list[RfqPublic])
async def listed(call: Call[Any]) -> Any:
    """RFQs the caller may see; suppliers choose ``?scope=mine`` (default) or ``discover``."""
    scope = call.request.query_params.get("scope", "mine")
    caller = require_login(call.principal)

    def work(session: Session) -> list[RfqPublic]:
        return [rfqs.public(session, caller, r) for r in rfqs.listed(session, caller, scope)]

    return await call.state.db.run(work)


@api("GET", "/api/rfqs/{rfq_id:int}", response=RfqPublic)
async def one(call: Call[Any]) -> Any:
    """One RFQ as the caller may see it (reserve prices only for its buyer and operators)."""
    caller = require_login(call.principal)

    def work(session: Session) -> RfqPublic:
        return rfqs.public(session, caller, rfqs.get(session, caller, call.path["rfq_id"]))

    return await call.state.db.run(work)


@api("PATCH", "/api/rfqs/{rfq_id:int}", body=RfqUpdate, response=RfqPublic)
async def update(call: Call[RfqUpdate]) -> Any:
    """Amend an RFQ; once published only in ways that cannot hurt bidders."""
    caller = require_login(call.principal)

    def work(session: Session) -> tuple[RfqPublic, dict[int, dict[str, Any]]]:
        rfq, touched = rfqs.update(session, caller, call.path["rfq_id"], call.body)
        return rfqs.public(session, caller, rfq), touched

    updated, touched = await call.state.db.run(work)
    engine = call.state.desk.engine
    for auction_id, fields in touched.items():
        ends = fields.get("ends_at")
        await engine.amend(
            auction_id,
            ceiling_price=fields.get("ceiling_price"),
            ends_ms=clock.to_ms(ends) if ends is not None else None,
        )
    return updated


@api("POST", "/api/rfqs/{rfq_id:int}/publish", response=RfqPublic)
async def publish(call: Call[Any]) -> Any:
    """Publish a draft: matching suppliers are invited and notified."""
    caller = require_login(call.principal)

    def work(session: Session) -> RfqPublic:
        return rfqs.public(session, caller, rfqs.publish(session, caller, call.path["rfq_id"]))

    published: RfqPublic = await call.state.db.run(work)
    for lot in published.lots:
        await call.state.desk.restore(lot.auction_id, rebuild=False)
    return published


@api("POST", "/api/rfqs/{rfq_id:int}/cancel", body=Reason, response=RfqPublic)
async def cancel(call: Call[Reason]) -> Any:
    """Cancel an RFQ that has not closed; participants' bonds are released."""
    caller = require_login(call.principal)

    def work(session: Session) -> RfqPublic:
        rfq = rfqs.cancel(session, caller, call.path["rfq_id"], call.body.reason)
        return rfqs.public(session, caller, rfq)

    cancelled: RfqPublic = await call.state.db.run(work)
    desk = call.state.desk
    # Decided in SQL: from its commit no bid on these lots is recorded (the journal
    # refuses them). The engine is told now; if Redis is away, the scheduler's repair
    # round tells it within a second.
    for lot in cancelled.lots:
        try:
            out = await desk.move(lot.auction_id, "cancel")
        except (RedisError, ConnectionError, OSError, TimeoutError):
            log.warning("cancel of auction %s not in Redis yet", lot.auction_id, exc_info=True)
            continue
        if out.result != "ok" and out.status in OPEN:
            await desk.restore(lot.auction_id, rebuild=True)  # loads SQL's "cancelled"
    return cancelled


@api("GET", "/api/rfqs/{rfq_id:int}/history", response=list[HistoryPublic])
async def moves(call: Call[Any]) -> Any:
    """Every move of the RFQ's lifecycle (its buyer and operators)."""

    def work(session: Session) -> list[HistoryPublic]:
        rfq = rfqs.owned(session, call.principal, call.path["rfq_id"])
        return history.of(session, "rfq", rfq.id or 0)

    return await call.state.db.run(work)


@api(
    "POST",
    "/api/rfqs/{rfq_id:int}/invitations",
    body=InvitationCreate,
    response=ParticipantPublic,
    status=201,
)
async def invite(call: Call[InvitationCreate]) -> Any:
    """The buyer invites a supplier (or admits one that asked to join)."""

    def work(session: Session) -> ParticipantPublic:
        rfq = rfqs.owned(session, call.principal, call.path["rfq_id"])
        participation.invite(session, call.principal, rfq, call.body.supplier_company_id)
        rows = participation.of_rfq(session, rfq.id or 0)
        return next(r for r in rows if r.company_id == call.body.supplier_company_id)

    return await call.state.db.run(work)


@api("GET", "/api/rfqs/{rfq_id:int}/invitations", response=list[ParticipantPublic])
async def invitations(call: Call[Any]) -> Any:
    """The RFQ's suppliers: matched, invited, and those asking to join (buyer, operators)."""

    def work(session: Session) -> list[ParticipantPublic]:
        rfq = rfqs.owned(session, call.principal, call.path["rfq_id"])
        return participation.of_rfq(session, rfq.id or 0)

    return await call.state.db.run(work)


@api("POST", "/api/rfqs/{rfq_id:int}/join", response=ParticipantPublic, status=201)
async def join(call: Call[Any]) -> Any:
    """A certified supplier asks to join a public RFQ it discovered."""
    caller = require_login(call.principal)

    def work(session: Session) -> ParticipantPublic:
        rfq = rfqs.get(session, caller, call.path["rfq_id"])
        row = participation.request_join(session, caller, rfq)
        names = {p.company_id: p for p in participation.of_rfq(session, rfq.id or 0)}
        return names[row.company_id]

    return await call.state.db.run(work)


ROUTES = [create, listed, one, update, publish, cancel, moves, invite, invitations, join]
