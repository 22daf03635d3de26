"""Liveness and readiness probes for load balancers and orchestrators, and metrics."""

from __future__ import annotations

import asyncio
from typing import Any

from pydantic import BaseModel
from starlette.responses import JSONResponse, Response

from rfq.access import require_operator
from rfq.platform import metrics
from web.routing import Call, api

_CHECK_TIMEOUT_S = 2.0


class Health(BaseModel):
    status: str
    checks: dict[str, str] = {}


@api("GET", "/healthz", response=Health, auth=False, tags=("ops",))
async def healthz(call: Call[Any]) -> Any:
    """The process is alive and serving."""
    return Health(status="ok")


@api("GET", "/readyz", response=Health, auth=False, tags=("ops",))
async def readyz(call: Call[Any]) -> Any:
    """The database and Redis both answer and the startup reconciliation has run (so
    SQL holds whatever Redis accepted before a crash); 503 otherwise."""
    checks = {
        "database": await _check(call.state.db.run(lambda session: session.connection())),
        "redis": await _check(call.state.redis.ping()),
    }
    ok = all(v == "ok" for v in checks.values())
    status = "ok" if ok else "unavailable"
    if ok and not call.state.scheduler.reconciled.is_set():
        ok, status = False, "reconciling"
    body = Health(status=status, checks=checks)
    return JSONResponse(body.model_dump(), 200 if ok else 503)


async def _check(awaitable: Any) -> str:
    try:
        async with asyncio.timeout(_CHECK_TIMEOUT_S):
            await awaitable
    except TimeoutError:
        return "timeout"
    except Exception as exc:  # a probe reports any failure rather than raising it
        return f"error: {type(exc).__name__}"
    return "ok"


@api("GET", "/metrics", tags=("ops",))
async def prometheus(call: Call[Any]) -> Any:
    """Prometheus metrics of every worker (operators: scrape with an operator's API
    token as the bearer): bids by outcome and code, answer latency, connections,
    frames sent, slow clients, Redis script and SQL latency."""
    require_operator(call.principal)
    body, content_type = metrics.render()
    return Response(body, headers={"Content-Type": content_type})


ROUTES = [healthz, readyz, prometheus]
