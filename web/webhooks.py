"""Webhook endpoints (register, list, remove, the delivery log) and the delivery loop
every worker runs (``rfq/webhooks.py`` says what is sent and how it is signed)."""

from __future__ import annotations

import logging
import time
from typing import Any

import anyio
import httpx
from sqlmodel import Session
from starlette.responses import Response

from rfq import webhooks
from rfq.platform import clock
from rfq.platform.db import Database
from rfq.platform.settings import Settings
from rfq.webhooks import WebhookCreate, WebhookCreated, WebhookPublic
from web.routing import Call, api

log = logging.getLogger("rfq.webhooks")


@api("POST", "/api/webhooks", body=WebhookCreate, response=WebhookCreated, status=201)
async def register(call: Call[WebhookCreate]) -> Any:
    """Register an endpoint for some of the event groups ``award``, ``contract`` and
    ``escrow``; the answer carries the signing secret, once."""
    private = call.state.settings.webhook_private_hosts
    return await call.state.db.run(webhooks.register, call.principal, call.body, private)


@api("GET", "/api/webhooks", response=list[WebhookPublic])
async def listed(call: Call[Any]) -> Any:
    """The caller's company's webhooks (no secrets)."""

    def work(session: Session) -> list[WebhookPublic]:
        return [WebhookPublic(**h.model_dump()) for h in webhooks.listed(session, call.principal)]

    return await call.state.db.run(work)


@api("DELETE", "/api/webhooks/{hook_id:int}", status=204)
async def remove(call: Call[Any]) -> Any:
    """Stop a webhook (its pending deliveries are dropped)."""
    await call.state.db.run(webhooks.remove, call.principal, call.path["hook_id"])
    return Response(status_code=204)


@api("GET", "/api/webhooks/{hook_id:int}/deliveries", response=list[dict[str, Any]])
async def deliveries(call: Call[Any]) -> Any:
    """The webhook's last 100 deliveries, newest first, each with its attempts."""
    return await call.state.db.run(webhooks.deliveries, call.principal, call.path["hook_id"])


ROUTES = [register, listed, remove, deliveries]


async def deliver_loop(database: Database, settings: Settings, every_s: float = 1.0) -> None:
    """For the app's lifetime: send due deliveries (at least once: a crash between the
    POST and its record sends the delivery again after the lease, with the same id)."""
    async with httpx.AsyncClient(timeout=webhooks.TIMEOUT_S, follow_redirects=False) as client:
        while True:
            try:
                due = await database.run(webhooks.claim)
                for delivery_id, url, event, body, secret in due:
                    outcome = await _send(client, settings, url, event, delivery_id, body, secret)
                    await database.run(
                        webhooks.record, delivery_id, *outcome, settings.webhook_retry_s
                    )
            except Exception:  # the database may be away: the leases run out, rows wait
                log.warning("delivering webhooks failed", exc_info=True)
            await anyio.sleep(every_s)


async def _send(
    client: httpx.AsyncClient,
    settings: Settings,
    url: str,
    event: str,
    delivery_id: int,
    body: bytes,
    secret: str,
) -> tuple[int | None, str, int]:
    """POST one delivery: ``(status code or None, error, milliseconds)``."""
    started = time.perf_counter()
    refused = await anyio.to_thread.run_sync(
        webhooks.unsafe_host, url, settings.webhook_private_hosts
    )
    if refused is not None:
        return None, refused, 0
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "RFQ-Arena-Webhooks/1",
        "X-RFQ-Event": event,
        "X-RFQ-Delivery": str(delivery_id),
        "X-RFQ-Signature": webhooks.signature(secret, int(clock.now().timestamp()), body),
    }
    try:
        answer = await client.post(url, content=body, headers=headers)
        status, error = answer.status_code, "" if answer.is_success else answer.text[:200]
    except httpx.HTTPError as exc:
        status, error = None, f"{type(exc).__name__}: {exc}"[:500]
    return status, error, int((time.perf_counter() - started) * 1000)
