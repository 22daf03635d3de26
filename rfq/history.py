"""The record of every state change: certifications, deposits, RFQs, contracts.

Each state machine writes one :class:`HistoryEntry` per move, in the same transaction
as the move itself, so the record is complete by construction.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column
from sqlmodel import Field, Session, SQLModel, select

from rfq.platform import clock
from rfq.platform.db import UtcDateTime


class HistoryEntry(SQLModel, table=True):
    __tablename__ = "history"

    id: int | None = Field(default=None, primary_key=True)
    subject: str = Field(max_length=32, index=True)
    subject_id: int = Field(index=True)
    move: str = Field(max_length=40)
    from_state: str | None = Field(default=None, max_length=32)
    to_state: str = Field(max_length=32)
    actor_id: int | None = Field(default=None, foreign_key="user.id")
    note: str = Field(default="", max_length=2000)
    at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))


class HistoryPublic(SQLModel):
    move: str
    from_state: str | None
    to_state: str
    actor_id: int | None
    note: str
    at: datetime


def record(
    session: Session,
    subject: str,
    subject_id: int,
    move: str,
    from_state: str | None,
    to_state: str,
    actor_id: int | None,
    note: str = "",
) -> None:
    """Append one entry for a move of ``subject`` ``subject_id``."""
    session.add(
        HistoryEntry(
            subject=subject,
            subject_id=subject_id,
            move=move,
            from_state=from_state,
            to_state=to_state,
            actor_id=actor_id,
            note=note,
            at=clock.now(),
        )
    )


def of(session: Session, subject: str, subject_id: int) -> list[HistoryPublic]:
    """Every move of one subject, oldest first."""
    rows = session.exec(
        select(HistoryEntry)
        .where(HistoryEntry.subject == subject, HistoryEntry.subject_id == subject_id)
        .order_by(HistoryEntry.id)  # type: ignore[arg-type]
    ).all()
    return [HistoryPublic.model_validate(r) for r in rows]
