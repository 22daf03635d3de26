"""Webhooks: a company's URLs told of its awards, contract moves and escrow money.

A buyer or supplier registers an endpoint (``POST /api/webhooks``) for some of the
event groups ``award`` (a contract offered), ``contract`` (every other move) and
``escrow`` (money: funding, releases, refunds, payouts, rulings). It gets a secret once.

Every event is queued as a *delivery* row in the transaction of the move itself (an
outbox: nothing is lost if the app dies, nothing is sent for a move that rolled
back). Each worker's delivery loop (``web/app.py``) claims due rows with a lease (two
workers never send the same row), POSTs the JSON payload and records the attempt:

- signed: ``X-RFQ-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" with
  the secret>``, plus ``X-RFQ-Event`` and ``X-RFQ-Delivery`` (the delivery's id, the
  same on every retry, so the receiver can drop repeats);
- a 2xx answer delivers it; anything else (or no answer in ``TIMEOUT_S``) is retried
  after ``retry_s x 2^(attempt-1)`` (capped at an hour), up to ``MAX_ATTEMPTS``, then
  the delivery is ``failed``; every attempt is logged (``GET
  /api/webhooks/{id}/deliveries``).
- A URL must be http(s); unless ``RFQ_WEBHOOK_PRIVATE_HOSTS`` is set, one whose host
  resolves to a loopback, private, link-local or reserved address is refused when it is
  registered and again at every delivery (the address may change), so a webhook cannot
  be aimed at the platform's own network.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import secrets
import socket
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from pydantic import field_validator
from sqlalchemy import JSON, Column, or_, update
from sqlmodel import Field, Session, SQLModel, col, select

from rfq.access import require_login
from rfq.accounts import Principal
from rfq.platform import clock
from rfq.platform.db import UtcDateTime, enum_type
from rfq.platform.errors import Conflict, Forbidden, Invalid, NotFound

GROUPS = ("award", "contract", "escrow")
ESCROW_MOVES = frozenset(
    {
        "fund", "withdraw", "milestone", "release", "release_partial", "release_retained",
        "warranty_end", "terminate", "resolve_release", "resolve_refund", "resolve_split",
        "payout", "refund",
    }
)  # fmt: skip
MAX_ATTEMPTS = 8
TIMEOUT_S = 5.0
BATCH = 20
LEASE = timedelta(minutes=5)
"""Longer than a whole batch can take (``BATCH`` sends of at most ``TIMEOUT_S`` each and a
DNS check), so no other worker claims a row while this one is still sending it."""
MAX_HOOKS = 10


class DeliveryStatus(StrEnum):
    pending = "pending"
    delivered = "delivered"
    failed = "failed"


class Webhook(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    company_id: int = Field(foreign_key="company.id", index=True)
    url: str = Field(max_length=500)
    events: list[str] = Field(sa_column=Column(JSON, nullable=False))
    secret: str = Field(max_length=64)
    active: bool = True
    created_by: int = Field(foreign_key="user.id")
    created_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))


class WebhookDelivery(SQLModel, table=True):
    __tablename__ = "webhook_delivery"

    id: int | None = Field(default=None, primary_key=True)
    webhook_id: int = Field(foreign_key="webhook.id", index=True)
    event: str = Field(max_length=60)
    payload: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    status: DeliveryStatus = Field(sa_type=enum_type(DeliveryStatus), index=True)
    attempts: int = 0
    next_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False, index=True))
    claimed_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime()))
    created_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    delivered_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime()))


class WebhookAttempt(SQLModel, table=True):
    __tablename__ = "webhook_attempt"

    id: int | None = Field(default=None, primary_key=True)
    delivery_id: int = Field(foreign_key="webhook_delivery.id", index=True)
    at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    status_code: int | None = None
    error: str = Field(default="", max_length=500)
    duration_ms: int = 0


class WebhookCreate(SQLModel):
    """``POST /api/webhooks``."""

    url: str = Field(max_length=500)
    events: list[str] = Field(default_factory=lambda: list(GROUPS), min_length=1)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("an http:// or https:// URL with a host")
        if parts.username or parts.password:
            raise ValueError("no credentials in the URL (verify the signature instead)")
        return value.strip()

    @field_validator("events")
    @classmethod
    def _events(cls, value: list[str]) -> list[str]:
        unknown = set(value) - set(GROUPS)
        if unknown:
            raise ValueError(f"events are some of {', '.join(GROUPS)}; not {sorted(unknown)}")
        return sorted(set(value))


class WebhookPublic(SQLModel):
    id: int
    company_id: int
    url: str
    events: list[str]
    active: bool
    created_at: datetime


class WebhookCreated(WebhookPublic):
    secret: str
    """Shown once: verify each delivery's ``X-RFQ-Signature`` with it."""


# --- registering --------------------------------------------------------------------


def register(
    session: Session, principal: Principal | None, body: WebhookCreate, private_hosts: bool
) -> WebhookCreated:
    """A company member registers an endpoint; its secret is in this answer only."""
    caller = require_login(principal)
    if caller.company_id is None:
        raise Forbidden("Webhooks belong to a buyer or supplier company.", code="wrong_role")
    refused = unsafe_host(body.url, private_hosts)
    if refused:
        raise Invalid(refused, code="webhook_url_refused", field="url")
    count = len(listed(session, caller))
    if count >= MAX_HOOKS:
        raise Conflict(f"A company has at most {MAX_HOOKS} webhooks.", code="too_many_webhooks")
    hook = Webhook(
        company_id=caller.company_id,
        url=body.url,
        events=body.events,
        secret=secrets.token_hex(32),
        created_by=caller.user_id,
        created_at=clock.now(),
    )
    session.add(hook)
    session.flush()
    return WebhookCreated(**hook.model_dump())


def listed(session: Session, principal: Principal | None) -> list[Webhook]:
    """The caller's company's active webhooks."""
    caller = require_login(principal)
    return list(
        session.exec(
            select(Webhook)
            .where(Webhook.company_id == caller.company_id, col(Webhook.active).is_(True))
            .order_by(col(Webhook.id))
        ).all()
    )


def owned(session: Session, principal: Principal | None, hook_id: int) -> Webhook:
    """One of the caller's company's webhooks (else 404)."""
    caller = require_login(principal)
    hook = session.get(Webhook, hook_id)
    if hook is None or not hook.active or hook.company_id != caller.company_id:
        raise NotFound("No such webhook.")
    return hook


def remove(session: Session, principal: Principal | None, hook_id: int) -> None:
    """Stop a webhook: nothing more is queued for it, and what is pending is dropped."""
    hook = owned(session, principal, hook_id)
    hook.active = False
    session.add(hook)
    session.execute(
        update(WebhookDelivery)
        .where(
            col(WebhookDelivery.webhook_id) == hook.id,
            col(WebhookDelivery.status) == DeliveryStatus.pending,
        )
        .values(status=DeliveryStatus.failed)
    )


def deliveries(session: Session, principal: Principal | None, hook_id: int) -> list[dict[str, Any]]:
    """The webhook's last 100 deliveries, newest first, each with its attempts."""
    hook = owned(session, principal, hook_id)
    rows = session.exec(
        select(WebhookDelivery)
        .where(WebhookDelivery.webhook_id == hook.id)
        .order_by(col(WebhookDelivery.id).desc())
        .limit(100)
    ).all()
    tries: dict[int, list[dict[str, Any]]] = {}
    for attempt in session.exec(
        select(WebhookAttempt)
        .where(col(WebhookAttempt.delivery_id).in_([r.id for r in rows]))
        .order_by(col(WebhookAttempt.id))
    ):
        tries.setdefault(attempt.delivery_id, []).append(
            attempt.model_dump(exclude={"delivery_id"})
        )
    return [{**r.model_dump(), "log": tries.get(r.id or 0, [])} for r in rows]


def unsafe_host(url: str, private_hosts: bool) -> str | None:
    """Why ``url`` may not be called (its host does not resolve, or resolves to an
    address of the platform's own networks), or None."""
    if private_hosts:
        return None
    host = urlsplit(url).hostname or ""
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except OSError:
        return f"The host {host!r} does not resolve."
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not address.is_global:
            return f"The host {host!r} is on a private or reserved network ({address})."
    return None


# --- queueing (in the transaction of the event) ---------------------------------------


def group_of(move: str) -> str:
    """The event group a contract move belongs to."""
    if move == "offered":
        return "award"
    return "escrow" if move in ESCROW_MOVES else "contract"


def enqueue(
    session: Session, company_ids: list[int], event: str, group: str, data: dict[str, Any]
) -> int:
    """Queue ``event`` for every active webhook of these companies subscribed to
    ``group``; how many deliveries were queued."""
    hooks = session.exec(
        select(Webhook).where(
            col(Webhook.company_id).in_(company_ids), col(Webhook.active).is_(True)
        )
    ).all()
    now = clock.now()
    queued = 0
    for hook in hooks:
        if group not in hook.events:
            continue
        delivery = WebhookDelivery(
            webhook_id=hook.id or 0,
            event=event,
            payload={},
            status=DeliveryStatus.pending,
            next_at=now,
            created_at=now,
        )
        session.add(delivery)
        session.flush()
        delivery.payload = {
            "id": delivery.id,
            "event": event,
            "created_at": clock.rfc3339(now),
            "data": data,
        }
        session.add(delivery)
        queued += 1
    return queued


# --- delivering (the app's loop) --------------------------------------------------------


def claim(session: Session) -> list[tuple[int, str, str, bytes, str]]:
    """Claim up to ``BATCH`` due deliveries for this worker (a lease of ``LEASE``):
    ``(delivery id, url, event, body, secret)`` each."""
    now = clock.now()
    free = or_(
        col(WebhookDelivery.claimed_at).is_(None), col(WebhookDelivery.claimed_at) < now - LEASE
    )
    rows = session.exec(
        select(WebhookDelivery, Webhook)
        .join(Webhook, col(Webhook.id) == WebhookDelivery.webhook_id)
        .where(
            col(WebhookDelivery.status) == DeliveryStatus.pending,
            col(WebhookDelivery.next_at) <= now,
            free,
        )
        .order_by(col(WebhookDelivery.id))
        .limit(BATCH)
    ).all()
    claimed = []
    for delivery, hook in rows:
        taken = session.execute(
            update(WebhookDelivery)
            .where(col(WebhookDelivery.id) == delivery.id, free)
            .values(claimed_at=now)
        )
        if taken.rowcount == 1:  # type: ignore[attr-defined]
            body = json.dumps(delivery.payload, separators=(",", ":")).encode()
            claimed.append((delivery.id or 0, hook.url, delivery.event, body, hook.secret))
    return claimed


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The ``X-RFQ-Signature`` header of ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def record(
    session: Session,
    delivery_id: int,
    status_code: int | None,
    error: str,
    duration_ms: int,
    retry_s: float,
) -> None:
    """Log one attempt; a 2xx delivers, anything else is retried with backoff until
    ``MAX_ATTEMPTS``, then the delivery has failed."""
    delivery = session.get(WebhookDelivery, delivery_id, with_for_update=True)
    if delivery is None or delivery.status is not DeliveryStatus.pending:
        return
    now = clock.now()
    session.add(
        WebhookAttempt(
            delivery_id=delivery_id,
            at=now,
            status_code=status_code,
            error=error[:500],
            duration_ms=duration_ms,
        )
    )
    delivery.attempts += 1
    delivery.claimed_at = None
    if status_code is not None and 200 <= status_code < 300:
        delivery.status, delivery.delivered_at = DeliveryStatus.delivered, now
    elif delivery.attempts >= MAX_ATTEMPTS:
        delivery.status = DeliveryStatus.failed
    else:
        delivery.next_at = now + timedelta(
            seconds=min(3600.0, retry_s * 2 ** (delivery.attempts - 1))
        )
    session.add(delivery)
