"""The per-user notification channel: new in-app notifications pushed over ``/ws``.

Notifications are rows in SQL (``rfq/notifications.py``), written in the same
transaction as whatever caused them. Each process runs one :class:`Notifier`: once a
second it asks SQL for notifications newer than the last it saw, for the users
connected to this process only (one query per second per process, however many
sockets), and offers each to that user's subscribed sockets. A subscriber first gets
its unread notifications (at most 50), then every new one.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session, col

from realtime import codec
from realtime.hub import Subscriber
from rfq.notifications import Notification, NotificationPublic
from rfq.platform import metrics
from rfq.platform.db import Database

log = logging.getLogger("rfq.realtime")

TOPIC = -1
"""The queue key of notification frames on a subscriber (auction ids are positive)."""
POLL_S = 1.0
UNREAD_LIMIT = 50


class Notifier:
    """Pushes new notifications to the connected users of this process."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._subscribers: dict[int, set[Subscriber]] = {}
        self._last_id: int | None = None

    async def subscribe(self, sub: Subscriber, user_id: int) -> None:
        """Start pushing ``user_id``'s notifications to ``sub``, beginning with the unread."""
        if self._last_id is None:
            self._last_id = await self.db.read(_max_id)
        self._subscribers.setdefault(user_id, set()).add(sub)
        sub.offer(TOPIC, None)

    def unsubscribe(self, sub: Subscriber) -> None:
        """Stop pushing to ``sub``."""
        for user_id in list(self._subscribers):
            self._subscribers[user_id].discard(sub)
            if not self._subscribers[user_id]:
                del self._subscribers[user_id]

    async def unread(self, user_id: int) -> dict[str, Any]:
        """The ``notifications`` frame: the user's unread notifications, newest first."""
        items = await self.db.read(_unread, user_id)
        return {"type": "notifications", "items": items}

    async def run(self) -> None:
        """Poll for new notifications of connected users; runs until cancelled."""
        while True:
            await asyncio.sleep(POLL_S)
            if not self._subscribers or self._last_id is None:
                continue
            try:
                rows = await self.db.read(_newer, self._last_id, list(self._subscribers))
            except asyncio.CancelledError:
                raise
            except Exception:  # the database is away: try again next second
                log.warning("notifier: query failed; retrying", exc_info=True)
                continue
            for user_id, note in rows:
                self._last_id = max(self._last_id, note["id"])
                for sub in self._subscribers.get(user_id, ()):
                    frame = {"type": "notification", **note}
                    if sub.offer(TOPIC, codec.encode(sub.protocol, frame)):
                        metrics.DELIVERIES.inc()


def _max_id(session: Session) -> int:
    return int(session.execute(select(func.max(col(Notification.id)))).scalar() or 0)


def _public(note: Notification) -> dict[str, Any]:
    return NotificationPublic.model_validate(note).model_dump(mode="json")


def _unread(session: Session, user_id: int) -> list[dict[str, Any]]:
    rows = session.execute(
        select(Notification)
        .where(col(Notification.user_id) == user_id, col(Notification.read_at).is_(None))
        .order_by(col(Notification.id).desc())
        .limit(UNREAD_LIMIT)
    ).scalars()
    return [_public(n) for n in rows]


def _newer(session: Session, after: int, users: list[int]) -> list[tuple[int, dict[str, Any]]]:
    rows = session.execute(
        select(Notification)
        .where(col(Notification.id) > after, col(Notification.user_id).in_(users))
        .order_by(col(Notification.id))
        .limit(1000)
    ).scalars()
    return [(n.user_id, _public(n)) for n in rows]
