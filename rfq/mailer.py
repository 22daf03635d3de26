"""Sending the email outbox through SMTP, when ``RFQ_SMTP_URL`` is set.

Every notification also queues a row in ``email_outbox``. Without SMTP configured the
outbox is the record of what would have been mailed. With it, every worker runs
:func:`drain` every few seconds: it claims unsent rows one at a time (a conditional
update on ``attempts`` that also stamps ``claimed_at``, so two workers never send the
same row), sends each with ``smtplib`` and marks it sent. A claim is a lease of
``LEASE``: a row whose send failed, or whose worker died, is claimed again after it,
up to ``MAX_ATTEMPTS`` times.
"""

from __future__ import annotations

import smtplib
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage
from urllib.parse import unquote, urlsplit

from sqlalchemy import or_, update
from sqlmodel import Session, col, select

from rfq import clock
from rfq.notifications import EmailOutbox

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
    """Claim up to ``BATCH`` unsent rows for this worker (one attempt each)."""
    now = clock.now()
    rows = session.exec(
        select(EmailOutbox)
        .where(
            col(EmailOutbox.sent_at).is_(None),
            EmailOutbox.attempts < MAX_ATTEMPTS,
            or_(
                col(EmailOutbox.claimed_at).is_(None),
                col(EmailOutbox.claimed_at) < now - LEASE,
            ),
        )
        .order_by(col(EmailOutbox.id))
        .limit(BATCH)
    ).all()
    claimed = []
    for row in rows:
        taken = session.execute(
            update(EmailOutbox)
            .where(
                col(EmailOutbox.id) == row.id,
                col(EmailOutbox.attempts) == row.attempts,
                col(EmailOutbox.sent_at).is_(None),
            )
            .values(attempts=row.attempts + 1, claimed_at=now)
        )
        if taken.rowcount == 1:  # type: ignore[attr-defined]
            claimed.append(row)
    return claimed


def mark_sent(session: Session, ids: list[int]) -> None:
    """Record that these rows went out."""
    if ids:
        session.execute(
            update(EmailOutbox).where(col(EmailOutbox.id).in_(ids)).values(sent_at=clock.now())
        )


def send(smtp: Smtp, rows: list[EmailOutbox]) -> list[int]:
    """Send the rows over one SMTP connection; the ids that were accepted."""
    if not rows:
        return []
    connect = smtplib.SMTP_SSL if smtp.tls else smtplib.SMTP
    sent = []
    with connect(smtp.host, smtp.port, timeout=10) as server:
        if not smtp.tls and server.has_extn("starttls"):
            server.starttls()
        if smtp.user:
            server.login(smtp.user, smtp.password)
        for row in rows:
            message = EmailMessage()
            message["From"], message["To"], message["Subject"] = (
                smtp.sender,
                row.to_email,
                row.subject,
            )
            message.set_content(row.body)
            try:
                server.send_message(message)
            except smtplib.SMTPRecipientsRefused:
                continue  # retried later, up to MAX_ATTEMPTS
            assert row.id is not None
            sent.append(row.id)
    return sent
