"""Clarifications (Q&A): suppliers taking part ask, the buyer answers once for everyone.

A supplier taking part in a published or live RFQ asks a question (about the RFQ or
one lot) until the RFQ's ``questions_until`` (if set) and the end of its last lot. The
buyer (or an operator) answers it once; the answer goes to every supplier taking part
as a notification and, on each lot's ``/ws``, as a ``clarification`` frame. Nobody but
operators learns who asked (Prozorro's rule): the buyer and the other suppliers see the
question and the answer only; the asker also sees its own questions while they wait.

Both the question and the answer are entries of every lot's audit chain. A live lot's
chain is numbered by the engine in Redis, so the web layer writes them there
(``Desk.note``) after this module's commit, and marks the row ``chained``; a row whose
entries did not make it (Redis away) is chained again by the timer (:func:`unchained`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column, Text
from sqlmodel import Field, Session, SQLModel, col, func, select

from rfq import notifications, participation
from rfq.accounts import Principal, Role
from rfq.auctions import AuctionRecord
from rfq.lifecycle import OPEN_TO_BIDDERS, RfqStatus
from rfq.platform import clock
from rfq.platform.db import RowId, UtcDateTime
from rfq.platform.errors import Conflict, Forbidden, Invalid, NotFound
from rfq.rfq_tables import Lot, Rfq

MAX_WAITING = 20
"""Unanswered questions one supplier may have in one RFQ at a time."""
ASKED, ANSWERED = 1, 2
"""``chained``: the question's entries are on the lots' audit chains; the answer's too."""


class Clarification(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    rfq_id: int = Field(foreign_key="rfq.id", index=True)
    lot_id: int | None = Field(default=None, foreign_key="lot.id")
    asked_by_company: int = Field(foreign_key="company.id")
    asked_by: int = Field(foreign_key="user.id")
    question: str = Field(sa_column=Column(Text, nullable=False))
    asked_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    answer: str | None = Field(default=None, sa_column=Column(Text))
    answered_by: int | None = Field(default=None, foreign_key="user.id")
    answered_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime()))
    chained: int = 0
    """What of it is on the lots' audit chains: 0 nothing yet, ``ASKED``, ``ANSWERED``."""


class QuestionCreate(SQLModel):
    """``POST /api/rfqs/{id}/questions``."""

    question: str = Field(min_length=1, max_length=2000)
    lot_id: RowId | None = None


class AnswerCreate(SQLModel):
    """``POST /api/rfqs/{id}/questions/{question_id}/answer``."""

    answer: str = Field(min_length=1, max_length=4000)


def ask(
    session: Session, principal: Principal | None, rfq_id: int, body: QuestionCreate
) -> Clarification:
    """A supplier taking part asks; the buyer is told (not who asked)."""
    caller, rfq = participation.reader(session, principal, rfq_id)
    if caller.role is not Role.supplier or caller.company_id is None:
        raise Forbidden(
            "Questions are the suppliers'; the buyer answers them.", code="supplier_only"
        )
    now = clock.now()
    deadline = deadline_of(session, rfq)
    if rfq.status not in OPEN_TO_BIDDERS or now >= deadline:
        raise Conflict(
            f"Questions on this RFQ closed at {clock.rfc3339(deadline)}.", code="questions_closed"
        )
    if body.lot_id is not None:
        lot = session.get(Lot, body.lot_id)
        if lot is None or lot.rfq_id != rfq_id:
            raise Invalid("No such lot in this RFQ.", code="unknown_lot", field="lot_id")
    waiting = session.exec(
        select(func.count()).where(
            col(Clarification.rfq_id) == rfq_id,
            col(Clarification.asked_by_company) == caller.company_id,
            col(Clarification.answer).is_(None),
        )
    ).one()
    if waiting >= MAX_WAITING:
        raise Conflict(
            f"You have {MAX_WAITING} questions waiting for an answer on this RFQ.",
            code="too_many_questions",
        )
    row = Clarification(
        rfq_id=rfq_id,
        lot_id=body.lot_id,
        asked_by_company=caller.company_id,
        asked_by=caller.user_id,
        question=body.question.strip() or body.question,
        asked_at=now,
    )
    session.add(row)
    session.flush()
    notifications.notify_company(
        session,
        rfq.buyer_company_id,
        "question_asked",
        f"A question on {rfq.title}",
        row.question,
        rfq_id=rfq_id,
        question_id=row.id,
    )
    return row


def answer(
    session: Session, principal: Principal | None, rfq_id: int, question_id: int, body: AnswerCreate
) -> Clarification:
    """The buyer (or an operator) answers once; every supplier taking part is told."""
    caller, rfq = participation.reader(session, principal, rfq_id)
    if not participation.owns(caller, rfq):
        raise NotFound("No such question.")
    row = session.get(Clarification, question_id, with_for_update=True)
    if row is None or row.rfq_id != rfq_id:
        raise NotFound("No such question.")
    if row.answer is not None:
        raise Conflict("This question has been answered.", code="already_answered")
    if rfq.status not in (*OPEN_TO_BIDDERS, RfqStatus.closed):
        raise Conflict(f"The RFQ is {rfq.status.value}.", code="rfq_closed")
    row.answer, row.answered_by, row.answered_at = (
        body.answer.strip() or body.answer,
        caller.user_id,
        clock.now(),
    )
    session.add(row)
    companies = session.exec(
        select(participation.Participant.company_id).where(
            col(participation.Participant.rfq_id) == rfq_id,
            col(participation.Participant.status) == participation.Status.invited,
        )
    ).all()
    data = {"rfq_id": rfq_id, "question_id": row.id, "question": row.question, "answer": row.answer}
    notifications.notify_companies(
        session,
        [(company, data) for company in companies],
        "clarification",
        f"Clarification on {rfq.title}",
        f"Q: {row.question}\nA: {row.answer}",
    )
    return row


def listed(session: Session, principal: Principal | None, rfq_id: int) -> list[dict[str, Any]]:
    """The RFQ's clarifications, oldest first: the buyer side sees every question (an
    operator also who asked), a supplier the answered ones and its own."""
    caller, rfq = participation.reader(session, principal, rfq_id)
    owner = participation.owns(caller, rfq)
    rows = session.exec(
        select(Clarification)
        .where(col(Clarification.rfq_id) == rfq_id)
        .order_by(col(Clarification.id))
    ).all()
    out = []
    for row in rows:
        mine = row.asked_by_company == caller.company_id
        if not owner and row.answer is None and not mine:
            continue
        item = public(row)
        item["mine"] = mine
        if caller.is_operator:
            item["asked_by_company"] = row.asked_by_company
        out.append(item)
    return out


def public(row: Clarification) -> dict[str, Any]:
    """What anyone who may read a clarification sees of it (never who asked)."""
    return {
        "id": row.id,
        "rfq_id": row.rfq_id,
        "lot_id": row.lot_id,
        "question": row.question,
        "asked_at": clock.rfc3339(row.asked_at),
        "answer": row.answer,
        "answered_at": clock.rfc3339(row.answered_at) if row.answered_at else None,
    }


def deadline_of(session: Session, rfq: Rfq) -> datetime:
    """When questions close: the RFQ's ``questions_until`` or its last lot's end."""
    last = session.exec(select(func.max(col(Lot.ends_at))).where(col(Lot.rfq_id) == rfq.id)).one()
    end = max(last or rfq.ends_at, rfq.ends_at)
    if rfq.questions_until is not None:
        return min(rfq.questions_until, end)
    return end


def entries(row: Clarification) -> list[tuple[str, str, dict[str, Any], bool]]:
    """The audit entries the row still needs on its lots' chains: ``(kind, name, data,
    public)``; ``name`` makes each written once per lot (``status.lua``'s note)."""
    out = []
    if row.chained < ASKED:
        data = {"id": row.id, "lot_id": row.lot_id, "question": row.question}
        out.append(("question", f"q{row.id}", data, False))
    if row.answer is not None and row.chained < ANSWERED:
        data = {"id": row.id, "lot_id": row.lot_id, "question": row.question, "answer": row.answer}
        out.append(("clarification", f"a{row.id}", data, True))
    return out


def auctions_of(session: Session, rfq_id: int) -> list[int]:
    """The RFQ's auctions, whose chains take its clarifications."""
    return list(
        session.exec(select(AuctionRecord.id).where(col(AuctionRecord.rfq_id) == rfq_id)).all()
    )


def mark_chained(session: Session, question_id: int, level: int) -> None:
    """Record that the row's entries up to ``level`` are on the chains."""
    row = session.get(Clarification, question_id)
    if row is not None and row.chained < level:
        row.chained = level
        session.add(row)


def unchained(session: Session, limit: int = 50) -> list[Clarification]:
    """Rows whose entries are not all on the chains yet (the timer chains them)."""
    return list(
        session.exec(
            select(Clarification)
            .where(
                (col(Clarification.chained) < ASKED)
                | (col(Clarification.answer).is_not(None) & (col(Clarification.chained) < ANSWERED))
            )
            .order_by(col(Clarification.id))
            .limit(limit)
        ).all()
    )
