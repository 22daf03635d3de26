"""Festival endpoints: operators create, everyone logged in reads."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from bidding.views import concealed
from rfq import festivals, rfqs
from rfq.access import may_see, require_login
from rfq.festivals import Festival, FestivalCreate, FestivalPublic, FestivalReport
from web.routing import Call, api


@api("POST", "/api/festivals", body=FestivalCreate, response=FestivalPublic, status=201)
async def create(call: Call[FestivalCreate]) -> Any:
    """Operators create a brand procurement festival."""
    return await call.state.db.run(festivals.create, call.principal, call.body)


@api("GET", "/api/festivals", response=list[FestivalPublic])
async def listed(call: Call[Any]) -> Any:
    """Every festival, soonest first."""
    return await call.state.db.run(festivals.listed, call.principal)


@api("GET", "/api/festivals/{festival_id:int}", response=FestivalReport)
async def one(call: Call[Any]) -> Any:
    """One festival with its lots: state, best price, bidders, savings against ceilings."""

    def load(session: Session) -> tuple[Festival, list[Any], set[int]]:
        caller = require_login(call.principal)
        festival = festivals.get(session, caller, call.path["festival_id"])
        rows = festivals.lots_of(session, festival.id or 0)
        rows = [r for r in rows if rfqs.visible_to(session, caller, r[2])]
        status_only = {r[0].id for r in rows if rfqs.viewer_of_rfq(session, caller, r[2]).public}
        return festival, rows, status_only

    festival, rows, status_only = await call.state.db.read(load)
    caller = require_login(call.principal)
    desk = call.state.desk
    best: dict[int, tuple[int | None, int | None]] = {}
    for auction, _, rfq in rows:
        if auction.id in status_only:  # an RFQ the supplier does not take part in
            best[auction.id] = (None, None)
            continue
        meta, standings = await desk.engine.state(auction.id)
        if meta and int(meta.get("dseq") or 0) < int(meta["seq"]):
            meta, standings = await desk.state(auction.id)  # only what SQL holds
        price = standings[0]["price"] if standings else None
        buyer_side = may_see(caller, rfq.buyer_company_id)
        shown = buyer_side or auction.rules.get("visibility") in ("best_price", "full_ladder")
        if concealed(auction.format, auction.status, bool(auction.rules.get("pre_bids"))):
            # sealed bids stay sealed unless the lot closes normally; others do not even
            # learn how many there are (as on /ws)
            best[auction.id] = (None, len(standings) if buyer_side else None)
        else:
            best[auction.id] = (price if shown else None, len(standings))
    return festivals.report(festival, rows, best)


ROUTES = [create, listed, one]
