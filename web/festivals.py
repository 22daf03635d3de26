"""Festival endpoints: operators create, everyone logged in reads."""

from __future__ import annotations

from typing import Any

from rfq import festivals
from rfq.festivals import FestivalCreate, FestivalPublic
from web.routing import Call, api


@api(
    "POST",
    "/api/festivals",
    body=FestivalCreate,
    response=FestivalPublic,
    status=201,
    tags=("festivals",),
)
async def create(call: Call[FestivalCreate]) -> Any:
    """Operators create a brand procurement festival."""
    return await call.state.db.run(festivals.create, call.principal, call.body)


@api("GET", "/api/festivals", response=list[FestivalPublic], tags=("festivals",))
async def listed(call: Call[Any]) -> Any:
    """Every festival, soonest first."""
    return await call.state.db.run(festivals.listed, call.principal)


@api("GET", "/api/festivals/{festival_id:int}", response=FestivalPublic, tags=("festivals",))
async def one(call: Call[Any]) -> Any:
    """One festival."""
    return await call.state.db.run(festivals.get, call.principal, call.path["festival_id"])


ROUTES = [create, listed, one]
