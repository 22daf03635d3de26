"""Multi-round events: a closed sealed lot's best suppliers go on to a live round
(``rfq/rounds.py`` makes the round; here the engine links the chains, carries the
sealed prices over and closes the sealed lot without award)."""

from __future__ import annotations

from typing import Any

from bidding.errors import BidRejected
from bidding.live.desk import Desk
from rfq import rounds
from rfq.access import require_login
from rfq.awards import AwardCreate
from rfq.platform.errors import Conflict, RfqError
from rfq.rounds import NEXT, PREVIOUS, NextRound
from web.contracts import award_lot
from web.routing import Call, api

Doc = dict[str, Any]


@api("POST", "/api/auctions/{auction_id:int}/next-round", body=NextRound, response=Doc, status=201)
async def next_round(call: Call[NextRound]) -> Any:
    """The buyer qualifies a closed sealed lot's best ``qualify`` suppliers into a live
    reverse auction (a new RFQ only they take part in), their sealed prices carried
    over as their starting bids; both audit chains link to each other and the sealed
    lot closes without award. Calling again finishes a call that was cut short and
    answers the same round."""
    caller = require_login(call.principal)
    desk: Desk = call.state.desk
    sealed = call.path["auction_id"]
    await call.state.db.run(rounds.owner, caller, sealed)
    await desk.settle(sealed)  # every sealed bid in SQL before the best are chosen
    made = await call.state.db.run(rounds.advance, caller, sealed, call.body)
    await desk.restore(made.auction_id, rebuild=False)
    qualified = [c.company_id for c in made.carried]
    await desk.note(
        sealed, NEXT, NEXT,
        {"auction": made.auction_id, "rfq": made.rfq_id, "qualified": qualified},
        public=False,
    )  # fmt: skip
    await desk.note(
        made.auction_id, PREVIOUS, PREVIOUS,
        {"auction": sealed, "index": made.head_index, "head": made.head},
        public=False,
    )  # fmt: skip
    carried = []
    for c in made.carried:
        row: Doc = {"supplier_company_id": c.company_id, "price": c.price}
        try:
            ack = await desk.surrogate(
                caller, made.auction_id, c.company_id, c.price,
                f"round:{sealed}:{c.company_id}", rounds.carried_reason(sealed),
            )  # fmt: skip
            row.update(carried=True, bid_id=ack.bid_id)
        except (BidRejected, RfqError) as exc:  # e.g. suspended meanwhile, or rate limited
            row.update(carried=False, code=exc.code, message=str(exc))
        carried.append(row)
    reason = (
        f"Its best {len(qualified)} suppliers went on to a live round (auction {made.auction_id})."
    )
    try:
        await award_lot(call.state, caller, sealed, AwardCreate(no_award=True, reason=reason))
    except Conflict as exc:
        if exc.code != "already_decided":  # a resumed call: it was closed the first time
            raise
    return {
        "sealed_auction_id": sealed,
        "rfq_id": made.rfq_id,
        "auction_id": made.auction_id,
        "qualified": carried,
        "created": made.created,
    }


ROUTES = [next_round]
