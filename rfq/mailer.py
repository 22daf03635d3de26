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

from datetime import timedelta

from sqlalchemy import or_, update
from sqlmodel import Session, col, select

from rfq.notifications import EmailOutbox
from rfq.platform import clock
from rfq.platform.smtp import Mail, Smtp

MAX_ATTEMPTS = 5
BATCH = 50
LEASE = timedelta(minutes=1)


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
    mails = [Mail(row.id or 0, row.to_email, row.subject, row.body) for row in rows]
    return smtp.send(mails)
