"""Practice rooms: the endpoints, and the simulated rivals that bid in them
(``rfq/practice.py`` makes the room and decides each rival's move)."""

from __future__ import annotations

import asyncio
import logging
import random
import secrets
from typing import Any

from bidding.auction import ENDED
from bidding.errors import BidRejected
from bidding.live.desk import Desk
from bidding.views import Viewer
from rfq import practice
from rfq.access import require_role
from rfq.accounts import Role
from rfq.platform import clock
from rfq.platform.errors import RfqError
from rfq.practice import PracticeCreate, Room
from web.routing import Call, api

log = logging.getLogger("rfq.practice")

Doc = dict[str, Any]
PAUSE_S = (1.0, 3.0)
"""How long the rivals wait between two looks at the lot (drawn in this range)."""


@api("POST", "/api/practice", body=PracticeCreate, response=Doc, status=201)
async def start(call: Call[PracticeCreate]) -> Any:
    """A supplier opens a practice room of a format: a lot opening in 5 s against three
    simulated rivals, on the bidding room's page, kept out of the record."""
    room: Room = await call.state.db.run(practice.start, call.principal, call.body)
    await call.state.desk.restore(room.auction_id, rebuild=False)
    call.state.tasks.start_soon(rivals, call.state.desk, room)
    return {"rfq_id": room.rfq_id, "auction_id": room.auction_id, "format": room.format,
            "url": f"/auctions/{room.auction_id}"}  # fmt: skip


@api("GET", "/api/practice", response=list[Doc])
async def mine(call: Call[Any]) -> Any:
    """The supplier's latest practice rooms, newest first."""
    caller = require_role(call.principal, Role.supplier)
    assert caller.company_id is not None
    found: list[Doc] = await call.state.db.run(practice.rooms_of, caller.company_id)
    return found


async def rivals(desk: Desk, room: Room, rng: random.Random | None = None) -> None:
    """Bid as the room's rivals until its lot ends: each looks at the lot as a supplier
    sees it and bids what `rfq.practice.rival_move` says. Runs in the worker that made
    the room (a restart leaves the room without rivals)."""
    # simulated bidders' choices, not a secret
    rng = rng or random.Random(secrets.randbits(64))  # nosec B311
    limits = {company: practice.limit_for(rng) for company in room.rivals}
    deadline = room.ends_at_ms + 120_000  # a soft close can move the end (3 x 30 s)
    while clock.now_ms() < deadline:
        await asyncio.sleep(rng.uniform(*PAUSE_S))
        for company in rng.sample(room.rivals, len(room.rivals)):
            try:
                _, _, state = await desk.view(room.auction_id, Viewer(False, company_id=company))
                if state["state"] in ENDED:
                    return
                price = practice.rival_move(state, limits[company], rng)
                if price is not None:
                    key = f"rival-{secrets.token_hex(6)}"
                    await desk.simulate(room.auction_id, company, price, key)
            except (BidRejected, RfqError):
                continue  # the lot moved meanwhile: look again next time
            except Exception:  # never the app's task group: a rival just skips its turn
                log.warning("practice rivals of %s: a call failed", room.auction_id, exc_info=True)


ROUTES = [start, mine]
