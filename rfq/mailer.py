"""Sending the email outbox through SMTP, when ``RFQ_SMTP_URL`` is set.

Every notification also queues a row in ``email_outbox``. Without SMTP configured the
outbox is the record of what would have been mailed. With it, every worker runs
:func:`drain` every few seconds: it claims unsent rows (a conditional update stamping
``claimed_at``: a lease of ``LEASE``, so two workers never send the same row), sends
them with ``smtplib`` and marks them sent. A row the server refuses counts an attempt
and is tried again after the lease, up to ``MAX_ATTEMPTS`` times; when the server
cannot be reached nothing is counted and the rows wait for the lease to run out.
"""

from __future__ import annotations

import smtplib
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage
from urllib.parse import unquote, urlsplit

from sqlalchemy import or_, update
from sqlmodel import Session, col, select

from rfq.notifications import EmailOutbox
from rfq.platform import clock

MAX_ATTEMPTS = 5
BATCH = 50
LEASE = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class Smtp:
    """Where and as whom to send: ``smtp://[user:password@]host[:port]`` (STARTTLS
    when the server offers it) or ``smtps://...`` (TLS from the start)."""

    host: str
    port: int
    tls: bool
    user: str
    password: str
    sender: str

    @classmethod
    def from_url(cls, url: str, sender: str) -> Smtp:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError("an SMTP URL looks like smtp://[user:password@]host[:port]")
        tls = parts.scheme == "smtps"
        return cls(
            host=parts.hostname,
            port=parts.port or (465 if tls else 25),
            tls=tls,
            user=unquote(parts.username or ""),
            password=unquote(parts.password or ""),
            sender=sender,
        )


def claim(session: Session) -> list[EmailOutbox]:
    """Claim up to ``BATCH`` unsent rows for this worker: a lease of ``LEASE`` stamped
    by a conditional update, so no other worker takes them meanwhile."""
    now = clock.now()
    free = or_(col(EmailOutbox.claimed_at).is_(None), col(EmailOutbox.claimed_at) < now - LEASE)
    rows = session.exec(
        select(EmailOutbox)
        .where(col(EmailOutbox.sent_at).is_(None), EmailOutbox.attempts < MAX_ATTEMPTS, free)
        .order_by(col(EmailOutbox.id))
        .limit(BATCH)
    ).all()
    claimed = []
    for row in rows:
        taken = session.execute(
            update(EmailOutbox)
            .where(col(EmailOutbox.id) == row.id, col(EmailOutbox.sent_at).is_(None), free)
            .values(claimed_at=now)
        )
        if taken.rowcount == 1:  # type: ignore[attr-defined]
            claimed.append(row)
    return claimed


def record(session: Session, sent: list[int], failed: list[int]) -> None:
    """Mark the rows that went out, and count an attempt on those the server refused
    (a row is given up after ``MAX_ATTEMPTS``; an unreachable server counts nothing, the
    lease just runs out)."""
    if sent:
        session.execute(
            update(EmailOutbox).where(col(EmailOutbox.id).in_(sent)).values(sent_at=clock.now())
        )
    if failed:
        session.execute(
            update(EmailOutbox)
            .where(col(EmailOutbox.id).in_(failed))
            .values(attempts=EmailOutbox.attempts + 1)
        )


def send(smtp: Smtp, rows: list[EmailOutbox]) -> tuple[list[int], list[int]]:
    """Send the rows over one SMTP connection; the ids sent and the ids refused. A
    connection that fails raises (nothing is counted against the rows)."""
    sent: list[int] = []
    failed: list[int] = []
    if not rows:
        return sent, failed
    connect = smtplib.SMTP_SSL if smtp.tls else smtplib.SMTP
    with connect(smtp.host, smtp.port, timeout=10) as server:
        if not smtp.tls and server.has_extn("starttls"):
            server.starttls()
        if smtp.user:
            server.login(smtp.user, smtp.password)
        for row in rows:
            assert row.id is not None
            try:
                message = EmailMessage()
                message["From"] = smtp.sender
                message["To"] = row.to_email
                message["Subject"] = " ".join(row.subject.split())
                message.set_content(row.body)
                server.send_message(message)
            except (smtplib.SMTPRecipientsRefused, smtplib.SMTPDataError, ValueError):
                failed.append(row.id)
                continue
            sent.append(row.id)
    return sent, failed
