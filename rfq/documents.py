"""An RFQ's documents: the buyer's drawings, specifications and terms (for the RFQ or
one lot), who read them, and the suppliers' quotation documents.

Files are uploaded as any other (``rfq/files.py``: typed by their first bytes,
size-limited) and then attached. The buyer's documents are downloaded by the RFQ's
buyer, operators and the suppliers taking part (matched, invited or admitted);
anyone else reads 404. Every download by a supplier is recorded, so the buyer sees who
read what. A taking-part supplier attaches its quotation documents to its
participation; they are its own, the buyer's and operators' to read.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Column
from sqlmodel import Field, Session, SQLModel, col, func, select

from rfq import files, participation, rfqs
from rfq.access import require_login
from rfq.accounts import Company, Principal, Role, User
from rfq.files import StoredFile
from rfq.lifecycle import RfqStatus
from rfq.platform import clock
from rfq.platform.db import RowId, UtcDateTime, enum_type
from rfq.platform.errors import Conflict, Forbidden, Invalid, NotFound
from rfq.rfq_tables import Lot

MAX_DOCUMENTS = 50
CLOSED = frozenset({RfqStatus.cancelled, RfqStatus.awarded, RfqStatus.no_award})


class DocumentKind(StrEnum):
    drawing = "drawing"
    specification = "specification"
    terms = "terms"
    other = "other"


class RfqDocument(SQLModel, table=True):
    __tablename__ = "rfq_document"

    id: int | None = Field(default=None, primary_key=True)
    rfq_id: int = Field(foreign_key="rfq.id", index=True)
    lot_id: int | None = Field(default=None, foreign_key="lot.id")
    file_id: str = Field(foreign_key="stored_file.id", max_length=32)
    title: str = Field(max_length=200)
    kind: DocumentKind = Field(sa_type=enum_type(DocumentKind))
    added_by: int = Field(foreign_key="user.id")
    created_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))


class DocumentDownload(SQLModel, table=True):
    __tablename__ = "document_download"

    id: int | None = Field(default=None, primary_key=True)
    document_id: int = Field(foreign_key="rfq_document.id", index=True)
    company_id: int = Field(foreign_key="company.id")
    user_id: int = Field(foreign_key="user.id")
    at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))


class QuotationDocument(SQLModel, table=True):
    __tablename__ = "quotation_document"

    id: int | None = Field(default=None, primary_key=True)
    rfq_id: int = Field(foreign_key="rfq.id", index=True)
    company_id: int = Field(foreign_key="company.id", index=True)
    file_id: str = Field(foreign_key="stored_file.id", max_length=32)
    title: str = Field(max_length=200)
    added_by: int = Field(foreign_key="user.id")
    created_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))


class DocumentCreate(SQLModel):
    """``POST /api/rfqs/{id}/documents``."""

    file_id: str = Field(min_length=1, max_length=32)
    title: str = Field(min_length=1, max_length=200)
    kind: DocumentKind = DocumentKind.specification
    lot_id: RowId | None = None


class QuotationCreate(SQLModel):
    """``POST /api/rfqs/{id}/quotations``."""

    file_id: str = Field(min_length=1, max_length=32)
    title: str = Field(min_length=1, max_length=200)


def add(
    session: Session, principal: Principal | None, rfq_id: int, body: DocumentCreate
) -> dict[str, Any]:
    """The buyer attaches one of its uploads to the RFQ (or one of its lots)."""
    rfq = rfqs.owned(session, principal, rfq_id)
    caller = require_login(principal)
    if rfq.status in CLOSED:
        raise Conflict(f"The RFQ is {rfq.status.value}.", code="rfq_closed")
    if body.lot_id is not None:
        lot = session.get(Lot, body.lot_id)
        if lot is None or lot.rfq_id != rfq_id:
            raise Invalid("No such lot in this RFQ.", code="unknown_lot", field="lot_id")
    stored = files.owned_by(session, body.file_id, rfq.buyer_company_id)
    count = session.exec(
        select(func.count()).select_from(RfqDocument).where(RfqDocument.rfq_id == rfq_id)
    ).one()
    if count >= MAX_DOCUMENTS:
        raise Conflict(f"An RFQ has at most {MAX_DOCUMENTS} documents.", code="too_many_documents")
    doc = RfqDocument(
        rfq_id=rfq_id,
        lot_id=body.lot_id,
        file_id=stored.id,
        title=body.title.strip(),
        kind=body.kind,
        added_by=caller.user_id,
        created_at=clock.now(),
    )
    session.add(doc)
    session.flush()
    return _public(session, doc, stored, owner=True)


def listed(session: Session, principal: Principal | None, rfq_id: int) -> list[dict[str, Any]]:
    """The RFQ's documents: for its buyer and operators with who read each, for a
    taking-part supplier with whether it read it."""
    caller, rfq = participation.reader(session, principal, rfq_id)
    owner = participation.owns(caller, rfq)
    found = session.exec(
        select(RfqDocument, StoredFile)
        .join(StoredFile, col(StoredFile.id) == RfqDocument.file_id)
        .where(RfqDocument.rfq_id == rfq_id)
        .order_by(col(RfqDocument.id))
    ).all()
    out = []
    for doc, stored in found:
        data = _public(session, doc, stored, owner)
        if not owner:
            data["read"] = _read_by(session, doc.id or 0, caller.company_id) is not None
        out.append(data)
    return out


def download(
    session: Session, principal: Principal | None, rfq_id: int, document_id: int
) -> StoredFile:
    """The document's file, for the buyer, operators and taking-part suppliers; a
    supplier's download is recorded."""
    caller, _ = participation.reader(session, principal, rfq_id)
    doc = session.get(RfqDocument, document_id)
    if doc is None or doc.rfq_id != rfq_id:
        raise NotFound("No such document.")
    if caller.role is Role.supplier and caller.company_id is not None:
        session.add(
            DocumentDownload(
                document_id=document_id,
                company_id=caller.company_id,
                user_id=caller.user_id,
                at=clock.now(),
            )
        )
    stored = session.get(StoredFile, doc.file_id)
    assert stored is not None
    return stored


def downloads(
    session: Session, principal: Principal | None, rfq_id: int, document_id: int
) -> list[dict[str, Any]]:
    """Who downloaded the document and when (the buyer and operators)."""
    rfq = rfqs.owned(session, principal, rfq_id)
    doc = session.get(RfqDocument, document_id)
    if doc is None or doc.rfq_id != rfq.id:
        raise NotFound("No such document.")
    rows = session.exec(
        select(DocumentDownload, Company, User)
        .join(Company, col(Company.id) == DocumentDownload.company_id)
        .join(User, col(User.id) == DocumentDownload.user_id)
        .where(DocumentDownload.document_id == document_id)
        .order_by(col(DocumentDownload.id))
    ).all()
    return [
        {"company_id": c.id, "company_name": c.name, "user_email": u.email, "at": d.at}
        for d, c, u in rows
    ]


def add_quotation(
    session: Session, principal: Principal | None, rfq_id: int, body: QuotationCreate
) -> dict[str, Any]:
    """A taking-part supplier attaches a quotation document to its participation."""
    caller, rfq = participation.reader(session, principal, rfq_id)
    if caller.role is not Role.supplier:
        raise Forbidden("Quotation documents are the suppliers'.", code="supplier_only")
    if rfq.status in CLOSED:
        raise Conflict(f"The RFQ is {rfq.status.value}.", code="rfq_closed")
    stored = files.owned_by(session, body.file_id, caller.company_id)
    row = QuotationDocument(
        rfq_id=rfq_id,
        company_id=caller.company_id or 0,
        file_id=stored.id,
        title=body.title.strip(),
        added_by=caller.user_id,
        created_at=clock.now(),
    )
    session.add(row)
    session.flush()
    return _quotation_public(session, row, stored)


def quotations(session: Session, principal: Principal | None, rfq_id: int) -> list[dict[str, Any]]:
    """Quotation documents: all of them for the buyer and operators, its own for a
    supplier."""
    caller, rfq = participation.reader(session, principal, rfq_id)
    query = select(QuotationDocument, StoredFile).join(
        StoredFile, col(StoredFile.id) == QuotationDocument.file_id
    )
    query = query.where(QuotationDocument.rfq_id == rfq_id)
    if not participation.owns(caller, rfq):
        query = query.where(QuotationDocument.company_id == caller.company_id)
    rows = session.exec(query.order_by(col(QuotationDocument.id))).all()
    return [_quotation_public(session, q, f) for q, f in rows]


def quotation_file(
    session: Session, principal: Principal | None, rfq_id: int, quotation_id: int
) -> StoredFile:
    caller, rfq = participation.reader(session, principal, rfq_id)
    row = session.get(QuotationDocument, quotation_id)
    if row is None or row.rfq_id != rfq_id:
        raise NotFound("No such document.")
    if not participation.owns(caller, rfq) and row.company_id != caller.company_id:
        raise NotFound("No such document.")
    stored = session.get(StoredFile, row.file_id)
    assert stored is not None
    return stored


def _read_by(session: Session, document_id: int, company_id: int | None) -> DocumentDownload | None:
    return session.exec(
        select(DocumentDownload).where(
            DocumentDownload.document_id == document_id, DocumentDownload.company_id == company_id
        )
    ).first()


def _public(session: Session, doc: RfqDocument, stored: StoredFile, owner: bool) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": doc.id,
        "rfq_id": doc.rfq_id,
        "lot_id": doc.lot_id,
        "title": doc.title,
        "kind": doc.kind.value,
        "file": files.public(stored).model_dump(),
        "created_at": doc.created_at,
    }
    if owner:
        readers = session.exec(
            select(func.count(func.distinct(DocumentDownload.company_id))).where(
                DocumentDownload.document_id == doc.id
            )
        ).one()
        data["read_by"] = int(readers)
    return data


def _quotation_public(
    session: Session, row: QuotationDocument, stored: StoredFile
) -> dict[str, Any]:
    company = session.get(Company, row.company_id)
    return {
        "id": row.id,
        "rfq_id": row.rfq_id,
        "company_id": row.company_id,
        "company_name": company.name if company else "",
        "title": row.title,
        "file": files.public(stored).model_dump(),
        "created_at": row.created_at,
    }
