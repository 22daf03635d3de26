"""The email outbox sent through a real SMTP server (aiosmtpd on a free port)."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller

from rfq import mailer
from rfq.notifications import EmailOutbox
from rfq.platform import db
from rfq.platform.smtp import Smtp
from tests.conftest import make_settings
from tests.support import free_port, register, run_server, wait_for


class _Inbox:
    """An aiosmtpd handler that keeps what it receives."""

    def __init__(self) -> None:
        self.messages: list[Any] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.messages.append(envelope)
        return "250 OK"


@pytest.fixture
def smtp_server() -> Iterator[tuple[_Inbox, int]]:
    inbox = _Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def test_claims_are_exclusive_and_sent_once(tmp_path: Path, smtp_server: Any) -> None:
    """Two workers claiming the same outbox get disjoint rows; each row is sent once."""
    inbox, port = smtp_server
    url = f"sqlite:///{tmp_path / 'mail.sqlite3'}"
    db.upgrade(url)
    database = db.Database(url)
    try:
        from rfq.platform import clock

        def fill(session: Any) -> None:
            for i in range(5):
                session.add(
                    EmailOutbox(
                        to_email=f"u{i}@x.test", subject=f"s{i}", body="b", created_at=clock.now()
                    )
                )

        database.run_sync(fill)
        first = database.run_sync(mailer.claim)
        second = database.run_sync(mailer.claim)
        assert len(first) == 5 and second == []
        smtp = Smtp.from_url(f"smtp://127.0.0.1:{port}", "RFQ Arena <noreply@x.test>")
        sent, failed = mailer.send(smtp, first)
        assert failed == []
        database.run_sync(mailer.record, sent, failed)
        assert sorted(m.rcpt_tos[0] for m in inbox.messages) == [f"u{i}@x.test" for i in range(5)]
        assert database.run_sync(mailer.claim) == []
    finally:
        database.dispose()


def test_the_app_mails_notifications(tmp_path: Path, smtp_server: Any, redis_prefix: str) -> None:
    """With RFQ_SMTP_URL set, a notification reaches the SMTP server as an email."""
    inbox, port = smtp_server
    settings = make_settings(
        tmp_path,
        f"sqlite:///{tmp_path / 'rfq.sqlite3'}",
        f"{redis_prefix}{uuid.uuid4().hex[:6]}:",
        smtp_url=f"smtp://127.0.0.1:{port}",
    )
    with run_server(settings) as live, httpx.Client(base_url=live.url) as client:
        supplier = register(client, "supplier")
        database = db.Database(settings.database_url)
        try:
            from rfq import notifications
            from rfq.accounts import User

            def note(session: Any) -> None:
                user = session.get(User, supplier["user"]["id"])
                notifications.notify_user(session, user, "test", "Hello from RFQ Arena", "Body")

            database.run_sync(note)
        finally:
            database.dispose()
        wait_for(lambda: inbox.messages, 15, "the email to arrive")
        assert inbox.messages[0].rcpt_tos == [supplier["user"]["email"]]
        assert b"Hello from RFQ Arena" in inbox.messages[0].content
