"""Supplier certification: papers in, an operator's decision out, a level shown to buyers.

State machine (every move is on the record in ``history``)::

    pending --approve--> approved --suspend--> suspended --reinstate--> approved
    pending --reject---> rejected

A supplier has at most one live application (pending, approved or suspended); after a
rejection it may apply again. Only a supplier whose latest application is *approved*
may bid. A business licence is required; trademark registrations and brand
authorisation letters are added when the supplier sells or resells a brand.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import field_validator
from sqlalchemy import JSON, Column
from sqlmodel import Field, Session, SQLModel, select

from rfq import categories, files, history, notifications, uscc
from rfq.access import require_member, require_operator, require_role
from rfq.accounts import Principal, Role
from rfq.platform import clock
from rfq.platform.db import UtcDateTime, enum_type
from rfq.platform.errors import Conflict, Invalid, NotFound
from rfq.platform.statemachine import transition


class CertStatus(StrEnum):
    pending = "pending"
    approved = "approved"
    rejected = "rejected"
    suspended = "suspended"


MOVES: dict[tuple[CertStatus, str], CertStatus] = {
    (CertStatus.pending, "approve"): CertStatus.approved,
    (CertStatus.pending, "reject"): CertStatus.rejected,
    (CertStatus.approved, "suspend"): CertStatus.suspended,
    (CertStatus.suspended, "reinstate"): CertStatus.approved,
}

LIVE = (CertStatus.pending, CertStatus.approved, CertStatus.suspended)


class DocumentKind(StrEnum):
    business_licence = "business_licence"
    trademark_registration = "trademark_registration"
    brand_authorisation = "brand_authorisation"


LEVELS = {1: "Verified supplier", 2: "Gold supplier", 3: "Strategic supplier"}


class Certification(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    company_id: int = Field(foreign_key="company.id", index=True)
    uscc: str = Field(max_length=18, index=True)
    company_name: str = Field(max_length=200)
    categories: list[str] = Field(sa_column=Column(JSON, nullable=False))
    keywords: list[str] = Field(sa_column=Column(JSON, nullable=False))
    brands: list[str] = Field(sa_column=Column(JSON, nullable=False))
    status: CertStatus = Field(sa_type=enum_type(CertStatus))
    level: int | None = None
    note: str = Field(default="", max_length=2000)
    submitted_by: int = Field(foreign_key="user.id")
    submitted_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    decided_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime()))
    appeal: str = Field(default="", max_length=2000)
    """The supplier's appeal against its suspension, until an operator decides on it."""
    appealed_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime()))


class CertificationDocument(SQLModel, table=True):
    __tablename__ = "certification_document"

    id: int | None = Field(default=None, primary_key=True)
    certification_id: int = Field(foreign_key="certification.id", index=True)
    kind: DocumentKind = Field(sa_type=enum_type(DocumentKind))
    file_id: str = Field(foreign_key="stored_file.id", max_length=32)


class DocumentRef(SQLModel):
    kind: DocumentKind
    file_id: str = Field(min_length=1, max_length=64)


class CertificationCreate(SQLModel):
    """``POST /api/certification``."""

    uscc: str = Field(min_length=1, max_length=40)
    company_name: str = Field(min_length=1, max_length=200)
    categories: list[str] = Field(min_length=1, max_length=30)
    keywords: list[str] = Field(default_factory=list, max_length=50)
    brands: list[str] = Field(default_factory=list, max_length=20)
    documents: list[DocumentRef] = Field(min_length=1, max_length=20)

    @field_validator("uscc")
    @classmethod
    def _uscc(cls, value: str) -> str:
        try:
            return uscc.validate(value)
        except uscc.InvalidUscc as exc:
            raise ValueError(str(exc)) from None

    @field_validator("categories")
    @classmethod
    def _categories(cls, value: list[str]) -> list[str]:
        unknown = [c for c in value if not categories.exists(c)]
        if unknown:
            raise ValueError(f"unknown category codes: {', '.join(unknown)} (see /api/categories)")
        return sorted(set(value))

    @field_validator("keywords", "brands")
    @classmethod
    def _words(cls, value: list[str]) -> list[str]:
        return sorted({w.strip().lower() for w in value if w.strip()})


class Decision(SQLModel):
    """Body of the operator's approve / reject / suspend / reinstate."""

    level: int | None = Field(default=None, ge=1, le=3)
    note: str = Field(default="", max_length=2000)


class CertificationPublic(SQLModel):
    id: int
    company_id: int
    uscc: str
    company_name: str
    categories: list[str]
    keywords: list[str]
    brands: list[str]
    status: CertStatus
    level: int | None
    badge: str | None
    note: str
    submitted_at: datetime
    decided_at: datetime | None
    appeal: str
    appealed_at: datetime | None
    documents: list[DocumentRef]


# --- operations ------------------------------------------------------------------


def apply(
    session: Session, principal: Principal | None, body: CertificationCreate
) -> Certification:
    """A supplier applies; its documents must be files it uploaded."""
    caller = require_role(principal, Role.supplier)
    if current(session, caller.company_id) is not None:
        raise Conflict(
            "Your company already has a pending or approved certification.",
            code="already_applied",
        )
    kinds = {d.kind for d in body.documents}
    if DocumentKind.business_licence not in kinds:
        raise Invalid(
            "Attach the business licence (kind business_licence).",
            code="business_licence_required",
            field="documents",
        )
    if body.brands and DocumentKind.brand_authorisation not in kinds:
        if DocumentKind.trademark_registration not in kinds:
            raise Invalid(
                "Selling a brand needs its trademark registration or a brand authorisation letter.",
                code="brand_papers_required",
                field="documents",
            )
    taken = session.exec(
        select(Certification)
        .where(Certification.uscc == body.uscc)
        .where(Certification.company_id != caller.company_id)
        .where(Certification.status.in_(LIVE))  # type: ignore[attr-defined]
    ).first()
    if taken is not None:
        raise Conflict("Another company is certified with this code.", code="uscc_taken")
    for i, doc in enumerate(body.documents):
        try:
            files.owned_by(session, doc.file_id, caller.company_id)
        except Invalid as exc:
            exc.field = f"documents.{i}.file_id"
            raise
    assert caller.company_id is not None
    cert = Certification(
        company_id=caller.company_id,
        uscc=body.uscc,
        company_name=body.company_name.strip(),
        categories=body.categories,
        keywords=body.keywords,
        brands=body.brands,
        status=CertStatus.pending,
        submitted_by=caller.user_id,
        submitted_at=clock.now(),
    )
    session.add(cert)
    session.flush()
    assert cert.id is not None
    for doc in body.documents:
        session.add(
            CertificationDocument(certification_id=cert.id, kind=doc.kind, file_id=doc.file_id)
        )
    history.record(session, "certification", cert.id, "apply", None, "pending", caller.user_id)
    return cert


def decide(
    session: Session, principal: Principal | None, cert_id: int, move: str, body: Decision
) -> Certification:
    """An operator approves, rejects, suspends or reinstates an application (the
    supplier is told, with the reason; a reinstatement answers a pending appeal)."""
    caller = require_operator(principal)
    cert = session.get(Certification, cert_id, with_for_update=True)
    if cert is None:
        raise NotFound("No such certification.")
    transition(MOVES, "certification", cert.status, move)  # the state first, then the reason
    if move in ("reject", "suspend") and not body.note.strip():
        raise Invalid(f"Say why you {move} it (note).", code="reason_required", field="note")
    _move(session, cert, move, caller.user_id, body.note.strip(), body.level)
    return cert


def suspend_automatically(session: Session, company_id: int, reason: str) -> Certification | None:
    """The platform's own suspension (``rfq.credit.enforce``): the company's approved
    certification is suspended with ``reason``; None if it was not approved."""
    cert = current(session, company_id)
    if cert is None or cert.status is not CertStatus.approved:
        return None
    _move(session, cert, "suspend", None, reason, None)
    return cert


def _move(
    session: Session,
    cert: Certification,
    move: str,
    actor: int | None,
    note: str,
    level: int | None,
) -> None:
    new = transition(MOVES, "certification", cert.status, move)
    old = cert.status
    cert.status = new
    if move == "approve":
        cert.level = level or 1
    elif level is not None and new is CertStatus.approved:
        cert.level = level
    cert.note = note
    cert.decided_at = clock.now()
    if move in ("suspend", "reinstate"):
        cert.appeal, cert.appealed_at = "", None
    session.add(cert)
    history.record(session, "certification", cert.id or 0, move, old.value, new.value, actor, note)
    notice = NOTICES.get(move)
    if notice is not None:
        notifications.notify_company(
            session, cert.company_id, f"certification_{move}", notice, note
        )


NOTICES = {
    "approve": "Your certification is approved.",
    "reject": "Your certification was rejected.",
    "suspend": "Your company is suspended: it may not bid. You may appeal from your "
    "certification page.",
    "reinstate": "Your company is reinstated: it may bid again.",
}


class Appeal(SQLModel):
    """``POST /api/certification/appeal``: why the suspension should be lifted."""

    statement: str = Field(min_length=1, max_length=2000)


def appeal(session: Session, principal: Principal | None, body: Appeal) -> Certification:
    """A suspended supplier appeals; an operator reinstates it or dismisses the appeal
    (one appeal waits at a time)."""
    caller = require_role(principal, Role.supplier)
    cert = current(session, caller.company_id)
    if cert is None or cert.status is not CertStatus.suspended:
        raise Conflict("Only a suspended company appeals.", code="not_suspended")
    if cert.appeal:
        raise Conflict("Your appeal is waiting for an operator.", code="appeal_pending")
    cert.appeal, cert.appealed_at = body.statement.strip(), clock.now()
    session.add(cert)
    state = cert.status.value
    history.record(
        session, "certification", cert.id or 0, "appeal", state, state, caller.user_id, cert.appeal
    )
    return cert


def dismiss_appeal(
    session: Session, principal: Principal | None, cert_id: int, body: Decision
) -> Certification:
    """An operator dismisses a pending appeal (with a reason); the company stays
    suspended and may appeal again."""
    caller = require_operator(principal)
    cert = session.get(Certification, cert_id, with_for_update=True)
    if cert is None:
        raise NotFound("No such certification.")
    if not cert.appeal:
        raise Conflict("No appeal is pending.", code="no_appeal")
    if not body.note.strip():
        raise Invalid(
            "Say why the appeal is dismissed (note).", code="reason_required", field="note"
        )
    cert.appeal, cert.appealed_at = "", None
    session.add(cert)
    state = cert.status.value
    history.record(
        session, "certification", cert_id, "dismiss_appeal", state, state, caller.user_id,
        body.note.strip(),
    )  # fmt: skip
    notifications.notify_company(
        session, cert.company_id, "certification_appeal_dismissed",
        "Your appeal was dismissed; your company stays suspended.", body.note.strip(),
    )  # fmt: skip
    return cert


def current(session: Session, company_id: int | None) -> Certification | None:
    """The company's live application (pending, approved or suspended), if any."""
    return session.exec(
        select(Certification)
        .where(Certification.company_id == company_id)
        .where(Certification.status.in_(LIVE))  # type: ignore[attr-defined]
        .order_by(Certification.id.desc())  # type: ignore[union-attr]
    ).first()


def latest(session: Session, company_id: int | None) -> Certification | None:
    """The company's most recent application in any state."""
    return session.exec(
        select(Certification)
        .where(Certification.company_id == company_id)
        .order_by(Certification.id.desc())  # type: ignore[union-attr]
    ).first()


def is_approved(session: Session, company_id: int | None) -> bool:
    """True if the company may trade: its live certification is approved."""
    cert = current(session, company_id)
    return cert is not None and cert.status is CertStatus.approved


def mine(session: Session, principal: Principal | None) -> Certification:
    """The caller's company's latest application (suppliers)."""
    caller = require_role(principal, Role.supplier)
    cert = latest(session, caller.company_id)
    if cert is None:
        raise NotFound("Your company has not applied for certification yet.")
    return cert


def get(session: Session, principal: Principal | None, cert_id: int) -> Certification:
    """One application: its company's members and operators only."""
    cert = session.get(Certification, cert_id)
    if cert is None:
        raise NotFound("No such certification.")
    require_member(principal, cert.company_id, "certification")
    return cert


def queue(
    session: Session, principal: Principal | None, status: CertStatus | None
) -> list[Certification]:
    """Operators' review queue: applications in ``status`` (default pending), oldest first."""
    require_operator(principal)
    wanted = status or CertStatus.pending
    return list(
        session.exec(
            select(Certification).where(Certification.status == wanted).order_by(Certification.id)  # type: ignore[arg-type]
        ).all()
    )


def public(session: Session, cert: Certification) -> CertificationPublic:
    """What the API shows of an application."""
    docs = session.exec(
        select(CertificationDocument).where(CertificationDocument.certification_id == cert.id)
    ).all()
    data: dict[str, Any] = cert.model_dump()
    data["badge"] = LEVELS.get(cert.level) if cert.level and cert.status == "approved" else None
    data["documents"] = [DocumentRef(kind=d.kind, file_id=d.file_id) for d in docs]
    return CertificationPublic.model_validate(data)
