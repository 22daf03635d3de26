"""Sending mail through an SMTP server (``RFQ_SMTP_URL``); what to send, and when, is the
domain's outbox (``rfq/mailer.py``)."""

from __future__ import annotations

import smtplib
from dataclasses import dataclass
from email.message import EmailMessage
from urllib.parse import unquote, urlsplit


@dataclass(frozen=True, slots=True)
class Mail:
    """One plain-text message; ``id`` is the caller's, to say which were sent."""

    id: int
    to: str
    subject: str
    body: str


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

    def send(self, mails: list[Mail]) -> tuple[list[int], list[int]]:
        """Send over one connection; the ids sent and the ids the server refused. A
        connection that fails raises (then nothing was sent for sure)."""
        sent: list[int] = []
        failed: list[int] = []
        if not mails:
            return sent, failed
        connect = smtplib.SMTP_SSL if self.tls else smtplib.SMTP
        with connect(self.host, self.port, timeout=10) as server:
            if not self.tls and server.has_extn("starttls"):
                server.starttls()
            if self.user:
                server.login(self.user, self.password)
            for mail in mails:
                try:
                    message = EmailMessage()
                    message["From"] = self.sender
                    message["To"] = mail.to
                    message["Subject"] = " ".join(mail.subject.split())
                    message.set_content(mail.body)
                    server.send_message(message)
                except (smtplib.SMTPRecipientsRefused, smtplib.SMTPDataError, ValueError):
                    failed.append(mail.id)
                    continue
                sent.append(mail.id)
        return sent, failed
