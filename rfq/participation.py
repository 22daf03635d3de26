"""Which suppliers take part in an RFQ: matched, invited, or admitted after asking.

One row per (RFQ, supplier). ``status`` is ``invited`` once the supplier may bid
(matched on publishing, invited by the buyer, or a join request the buyer accepted)
and ``requested`` while a supplier's request to join waits for the buyer.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import Column, UniqueConstraint, update
from sqlmodel import Field, Session, SQLModel, col, select

from bidding.auction import AuctionStatus
from rfq import certification, deposits, history, notifications
from rfq.access import require_login, require_role
from rfq.accounts import Company, CompanyKind, Principal, Role
from rfq.auctions import AuctionRecord
from rfq.lifecycle import OPEN_TO_BIDDERS, RfqStatus
from rfq.platform import clock
from rfq.platform.db import RowId, UtcDateTime, enum_type
from rfq.platform.errors import Conflict, Invalid, NotFound
from rfq.rfq_tables import Rfq


class Source(StrEnum):
    matched = "matched"
    invited = "invited"
    requested = "requested"


class Status(StrEnum):
    invited = "invited"
    requested = "requested"


class Participant(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("rfq_id", "company_id"),)

    id: int | None = Field(default=None, primary_key=True)
    rfq_id: int = Field(foreign_key="rfq.id", index=True)
    company_id: int = Field(foreign_key="company.id", index=True)
    source: Source = Field(sa_type=enum_type(Source))
    status: Status = Field(sa_type=enum_type(Status))
    created_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))


class InvitationCreate(SQLModel):
    """``POST /api/rfqs/{id}/invitations``."""

    supplier_company_id: RowId


class ParticipantPublic(SQLModel):
    rfq_id: int
    company_id: int
    company_name: str
    source: Source
    status: Status
    created_at: datetime


def find(session: Session, rfq_id: int, company_id: int | None) -> Participant | None:
    """The supplier's row for this RFQ, if any."""
    return session.exec(
        select(Participant).where(
            Participant.rfq_id == rfq_id, Participant.company_id == company_id
        )
    ).first()


def is_invited(session: Session, rfq_id: int, company_id: int | None) -> bool:
    """True if the supplier may bid in this RFQ as far as invitations go."""
    row = find(session, rfq_id, company_id)
    return row is not None and row.status is Status.invited


def reader(session: Session, principal: Principal | None, rfq_id: int) -> tuple[Principal, Rfq]:
    """The caller and the RFQ, if it may read what the RFQ's participants share
    (documents, clarifications): its buyer, operators, a supplier taking part; anyone
    else reads 404 (also a supplier that may only discover the RFQ)."""
    caller = require_login(principal)
    rfq = session.get(Rfq, rfq_id)
    if rfq is None:
        raise NotFound("No such RFQ.")
    if owns(caller, rfq):
        return caller, rfq
    if (
        rfq.status is not RfqStatus.draft  # a draft is the buyer's, even if it invited
        and caller.role is Role.supplier
        and is_invited(session, rfq_id, caller.company_id)
    ):
        return caller, rfq
    raise NotFound("No such RFQ.")


def owns(caller: Principal, rfq: Rfq) -> bool:
    """True for the RFQ's buyer and operators."""
    return caller.is_operator or caller.company_id == rfq.buyer_company_id


def rfq_ids_of(session: Session, company_id: int | None) -> list[int]:
    """The RFQs a supplier takes part in or asked to join."""
    return list(
        session.exec(select(Participant.rfq_id).where(Participant.company_id == company_id))
    )


def of_rfq(session: Session, rfq_id: int) -> list[ParticipantPublic]:
    """Every participant of an RFQ with its company name (for the buyer)."""
    rows = session.exec(
        select(Participant, Company)
        .join(Company)
        .where(Participant.rfq_id == rfq_id)
        .order_by(Participant.id)  # type: ignore[arg-type]
    ).all()
    return [ParticipantPublic(**p.model_dump(exclude={"id"}), company_name=c.name) for p, c in rows]


def add(session: Session, rfq: Rfq, company_id: int, source: Source) -> Participant:
    """Admit a supplier (idempotent): a pending request becomes an invitation."""
    assert rfq.id is not None
    row = find(session, rfq.id, company_id)
    if row is not None:
        if row.status is Status.requested and source is not Source.requested:
            row.status = Status.invited
            session.add(row)
        return row
    status = Status.requested if source is Source.requested else Status.invited
    row = Participant(
        rfq_id=rfq.id, company_id=company_id, source=source, status=status, created_at=clock.now()
    )
    session.add(row)
    session.flush()
    return row


def invite(session: Session, principal: Principal | None, rfq: Rfq, company_id: int) -> Participant:
    """The buyer invites a supplier explicitly (or accepts its request to join)."""
    caller = require_role(principal, Role.buyer, Role.operator)
    if rfq.status not in (RfqStatus.draft, *OPEN_TO_BIDDERS):
        raise Conflict(
            f"An RFQ that is {rfq.status.value} takes no new suppliers.", code="rfq_final"
        )
    company = session.get(Company, company_id)
    if company is None or company.kind is not CompanyKind.supplier:
        raise Invalid(
            f"Company {company_id} is not a supplier.",
            code="not_a_supplier",
            field="supplier_company_id",
        )
    row = add(session, rfq, company_id, Source.invited)
    assert rfq.id is not None
    history.record(
        session,
        "rfq",
        rfq.id,
        "invite",
        rfq.status.value,
        rfq.status.value,
        caller.user_id,
        f"company {company_id}",
    )
    if rfq.status is not RfqStatus.draft:
        notifications.notify_company(
            session,
            company_id,
            "rfq_invitation",
            f"You are invited to bid: {rfq.title}",
            rfq_id=rfq.id,
        )
    return row


def request_join(session: Session, principal: Principal | None, rfq: Rfq) -> Participant:
    """A certified supplier asks to join a public RFQ; the buyer is notified."""
    caller = require_role(principal, Role.supplier)
    if rfq.status not in OPEN_TO_BIDDERS:
        raise Conflict("This RFQ is not open to new suppliers.", code="rfq_not_open")
    if not certification.is_approved(session, caller.company_id):
        raise Conflict("Get certified before joining RFQs.", code="not_certified")
    assert caller.company_id is not None and rfq.id is not None
    row = add(session, rfq, caller.company_id, Source.requested)
    if row.status is Status.requested:
        notifications.notify_company(
            session,
            rfq.buyer_company_id,
            "join_request",
            f"A supplier asks to join: {rfq.title}",
            rfq_id=rfq.id,
            supplier_company_id=caller.company_id,
        )
    return row


def release_all(session: Session, rfq: Rfq, reason: str, keep: set[int] | None = None) -> None:
    """Release every participant's bid bond, except those of ``keep`` (the winners)."""
    assert rfq.id is not None
    for row in session.exec(select(Participant).where(Participant.rfq_id == rfq.id)).all():
        if keep is None or row.company_id not in keep:
            deposits.release_bond(session, row.company_id, rfq.id, reason)


def notify_all(session: Session, rfq: Rfq, kind: str, title: str, body: str = "") -> None:
    """Notify every invited supplier of the RFQ."""
    rows = session.exec(
        select(Participant).where(
            Participant.rfq_id == rfq.id, Participant.status == Status.invited
        )
    ).all()
    for row in rows:
        notifications.notify_company(session, row.company_id, kind, title, body, rfq_id=rfq.id)


OPENS_SOON = timedelta(minutes=10)


def remind_opening(session: Session, now: datetime | None = None) -> list[int]:
    """Tell the invited suppliers of every auction opening within ``OPENS_SOON`` (once per
    auction, however many workers run this: a conditional update claims it); the ids."""
    now = now or clock.now()
    due = session.execute(
        select(AuctionRecord.id, AuctionRecord.rfq_id, AuctionRecord.starts_at).where(
            AuctionRecord.status == AuctionStatus.scheduled,
            col(AuctionRecord.reminded_at).is_(None),
            col(AuctionRecord.starts_at) <= now + OPENS_SOON,
            col(AuctionRecord.starts_at) > now,
        )
    ).all()
    reminded = []
    for auction_id, rfq_id, starts_at in due:
        claimed = session.execute(
            update(AuctionRecord)
            .where(col(AuctionRecord.id) == auction_id, col(AuctionRecord.reminded_at).is_(None))
            .values(reminded_at=now)
        )
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            continue
        when = clock.rfc3339(starts_at)
        data = {"auction_id": auction_id, "rfq_id": rfq_id, "starts_at": when}
        invited = session.execute(
            select(col(Participant.company_id)).where(
                Participant.rfq_id == rfq_id, Participant.status == Status.invited
            )
        ).scalars()
        notifications.notify_companies(  # in bulk: a festival's lots open together
            session,
            [(company_id, data) for company_id in invited],
            "opens_soon",
            "An auction opens soon",
            f"Auction {auction_id} opens at {when}.",
        )
        reminded.append(auction_id)
    return reminded
