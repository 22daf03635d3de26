"""Reference data and people-facing lists: categories, notifications, the supply/demand view."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from rfq import categories, demand, notifications
from rfq.access import require_login
from rfq.demand import RatioReport
from rfq.notifications import NotificationPublic
from web.routing import Call, api, query_int


@api("GET", "/api/categories", auth=False)
async def category_tree(call: Call[Any]) -> Any:
    """The two-level tree of industrial-goods categories."""
    return categories.tree()


@api("GET", "/api/notifications", response=list[NotificationPublic], tags=("notifications",))
async def inbox(call: Call[Any]) -> Any:
    """The caller's notifications, newest first (``?unread=1`` for unread only)."""
    caller = require_login(call.principal)
    unread = call.request.query_params.get("unread") in ("1", "true")
    return await call.state.db.run(notifications.inbox, caller, unread)


@api(
    "POST",
    "/api/notifications/{notification_id:int}/read",
    response=NotificationPublic,
    tags=("notifications",),
)
async def mark_read(call: Call[Any]) -> Any:
    """Mark one of the caller's notifications read."""
    caller = require_login(call.principal)
    return await call.state.db.run(notifications.mark_read, caller, call.path["notification_id"])


@api("GET", "/api/admin/matching", response=RatioReport)
async def matching_ratio(call: Call[Any]) -> Any:
    """Operators: purchase requests per supply listing (target 3:1), ``?days=30``."""
    days = query_int(call.request, "days", 30, 1, 3650)

    def work(session: Session) -> RatioReport:
        return demand.ratio_report(session, call.principal, days)

    return await call.state.db.run(work)


ROUTES = [category_tree, inbox, mark_read, matching_ratio]
