"""In-app notifications and the email outbox.

Every notification is a row per recipient user, plus a row in ``email_outbox`` that a
sender drains (SMTP is optional configuration; without it the outbox is the record of
what would have been mailed). The real-time hub pushes new notifications to the
user's channel.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column
from sqlmodel import Field, Session, SQLModel, col, select

from rfq.accounts import Principal, User
from rfq.platform import bulk, clock
from rfq.platform.db import UtcDateTime
from rfq.platform.errors import NotFound


class Notification(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    kind: str = Field(max_length=40)
    title: str = Field(max_length=200)
    body: str = Field(default="", max_length=2000)
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    read_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime()))


class EmailOutbox(SQLModel, table=True):
    __tablename__ = "email_outbox"

    id: int | None = Field(default=None, primary_key=True)
    to_email: str = Field(max_length=254)
    subject: str = Field(max_length=200)
    body: str = Field(max_length=4000)
    created_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    sent_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime()))
    attempts: int = 0
    claimed_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime()))


class NotificationPublic(SQLModel):
    id: int
    kind: str
    title: str
    body: str
    data: dict[str, Any]
    created_at: datetime
    read_at: datetime | None


def notify_company(
    session: Session, company_id: int, kind: str, title: str, body: str = "", **data: Any
) -> list[Notification]:
    """Notify every user of a company (in the app and by email)."""
    users = session.exec(
        select(User).where(User.company_id == company_id, User.disabled == False)  # noqa: E712
    ).all()
    return [notify_user(session, u, kind, title, body, **data) for u in users]


def notify_companies(
    session: Session,
    recipients: Sequence[tuple[int, dict[str, Any]]],
    kind: str,
    title: str,
    body: str = "",
) -> None:
    """Notify every user of each ``(company, data)`` of ``recipients`` in bulk: one query
    for the users, one multi-row insert each for the notifications and the outbox
    (``rfq.platform.bulk``: no ORM objects; the hub's notifier finds the rows by id)."""
    companies = {company for company, _ in recipients}
    users: dict[int, list[tuple[int, str]]] = {}
    for user_id, company_id, email in session.execute(
        select(col(User.id), col(User.company_id), col(User.email)).where(
            col(User.company_id).in_(companies), col(User.disabled).is_(False)
        )
    ):
        users.setdefault(company_id, []).append((user_id, email))
    now = clock.now()
    title, body = _line(title)[:200], body[:2000]
    notes, mails = [], []
    for company, data in recipients:
        for user_id, email in users.get(company, []):
            notes.append(
                {"user_id": user_id, "kind": kind, "title": title, "body": body, "data": data,
                 "created_at": now, "read_at": None}
            )  # fmt: skip
            mails.append({"to_email": email, "subject": title, "body": body or title,
                          "created_at": now, "sent_at": None, "attempts": 0,
                          "claimed_at": None})  # fmt: skip
    bulk.insert_ignore(session, Notification, notes)  # at the driver's speed (no key clash)
    bulk.insert_ignore(session, EmailOutbox, mails)


def notify_user(
    session: Session, user: User, kind: str, title: str, body: str = "", **data: Any
) -> Notification:
    """Notify one user (in the app and by email)."""
    assert user.id is not None
    now = clock.now()
    title, body = _line(title)[:200], body[:2000]  # names inside may be long
    note = Notification(
        user_id=user.id, kind=kind, title=title, body=body, data=data, created_at=now
    )
    session.add(note)
    session.add(EmailOutbox(to_email=user.email, subject=title, body=body or title, created_at=now))
    session.flush()
    return note


def inbox(session: Session, principal: Principal, unread_only: bool) -> list[Notification]:
    """The caller's notifications, newest first (at most 200)."""
    query = select(Notification).where(Notification.user_id == principal.user_id)
    if unread_only:
        query = query.where(Notification.read_at.is_(None))  # type: ignore[union-attr]
    query = query.order_by(Notification.id.desc()).limit(200)  # type: ignore[union-attr]
    return list(session.exec(query).all())


def mark_read(session: Session, principal: Principal, notification_id: int) -> Notification:
    """Mark one of the caller's notifications read."""
    note = session.get(Notification, notification_id)
    if note is None or note.user_id != principal.user_id:
        raise NotFound("No such notification.")
    if note.read_at is None:
        note.read_at = clock.now()
        session.add(note)
    return note


def _line(text: str) -> str:
    """One line (an email subject must not carry line breaks)."""
    return " ".join(text.split())
