"""Multi-round events: a closed sealed lot qualifies its best suppliers into a live
reverse auction, a new RFQ of its own that only they take part in.

:func:`advance` checks the call and drafts, invites and publishes the next round in the
caller's transaction; the web layer then links both audit chains through the engine
(a ``next_round`` entry on the sealed lot's, a ``previous_round`` entry on the new
lot's, which records the sealed chain's head so it commits to that history), carries
each qualified supplier's sealed price over as its pre-bid in the new lot, and closes
the sealed lot without award. Calling again resumes a call that was cut short: the
round is made once (``auction.previous_round`` is unique), the links once per name,
the carried bids once per key. :func:`links` and :func:`check_link` let ``rfq audit
verify`` follow the link both ways.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from pydantic import AwareDatetime, Field
from sqlalchemy import select
from sqlmodel import Session, SQLModel, col

from bidding.auction import AuctionStatus
from bidding.errors import InvalidRules
from bidding.rules import Format, parse_rules, rules_to_dict
from rfq import awards, participation, rfqs
from rfq.access import require_login
from rfq.accounts import Principal
from rfq.auctions import AuctionRecord
from rfq.platform import clock
from rfq.platform.errors import Conflict, Invalid
from rfq.rfq_tables import Audience, Lot, Rfq
from rfq.rfqs import LotCreate, RfqCreate

MAX_QUALIFIED = 50
MIN_LEAD = timedelta(seconds=10)
"""The next round must open at least this far ahead: its carried bids are pre-bids."""
NEXT, PREVIOUS = "next_round", "previous_round"
"""The kinds (and names) of the two linking entries on the audit chains."""


class NextRound(SQLModel):
    """``POST /api/auctions/{id}/next-round`` (the buyer of a closed sealed lot)."""

    qualify: int = Field(ge=1, le=MAX_QUALIFIED)
    """How many of the best suppliers go on (fewer if fewer bid)."""
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    rules: dict[str, Any]
    """The live round's rules: a ``reverse_english`` lot; it always takes pre-bids."""
    title: str | None = Field(default=None, min_length=1, max_length=200)


@dataclass(frozen=True, slots=True)
class Carried:
    """A qualified supplier and the sealed bid it carries over."""

    company_id: int
    price: int
    bid_id: str


@dataclass(frozen=True, slots=True)
class Round:
    """The outcome of :func:`advance`: the next round and what links it to the last."""

    sealed_auction: int
    rfq_id: int
    auction_id: int
    carried: tuple[Carried, ...]
    head_index: int
    """The sealed chain's length when the round was made (its ``previous_round`` link)."""
    head: str
    created: bool


def owner(session: Session, principal: Principal | None, auction_id: int) -> Rfq:
    """The RFQ of the lot, if the caller is its buyer (else 404; operators 403)."""
    caller = require_login(principal)
    refused = "Only the buyer runs the next round of its lots."
    return awards.buyers_lot(session, caller, auction_id, refused)[1]


def advance(
    session: Session, principal: Principal | None, auction_id: int, body: NextRound
) -> Round:
    """Make (or find, when called again) the next round of a closed sealed lot."""
    caller = require_login(principal)
    rfq = owner(session, principal, auction_id)
    sealed = session.get(AuctionRecord, auction_id, with_for_update=True)
    assert sealed is not None
    found = next_of(session, auction_id)
    if found is not None:
        return _round(session, sealed, found, created=False)
    if sealed.format != Format.sealed:
        raise Conflict(
            "Only a sealed lot qualifies suppliers into a next round.", code="wrong_format"
        )
    if sealed.status != AuctionStatus.closed:
        code = "auction_not_closed" if sealed.status in ("scheduled", "live") else "already_decided"
        raise Conflict(f"The lot is {sealed.status}; a next round follows its close.", code=code)
    standing = awards.standing_bids(session, auction_id)[: body.qualify]
    if not standing:
        raise Conflict("Nobody bid in the sealed round.", code="no_bids")
    lot = session.get(Lot, auction_id)
    assert lot is not None
    rules = _rules(body.rules, lot.ceiling_price)
    if body.starts_at < clock.now() + MIN_LEAD:
        raise Invalid(
            "The next round must open at least 10 s from now (the sealed prices are carried "
            "over as pre-bids before it opens).",
            code="invalid_times",
            field="starts_at",
        )
    draft = RfqCreate(
        title=body.title or f"{rfq.title[:186]} (live round)",
        description=rfq.description,
        category=rfq.category,
        keywords=rfq.keywords,
        currency=rfq.currency,
        audience=Audience.invited,
        delivery_terms=rfq.delivery_terms,
        lead_time_days=rfq.lead_time_days,
        starts_at=body.starts_at,
        ends_at=body.ends_at,
        lots=[
            LotCreate(
                name=lot.name,
                specification=lot.specification,
                quantity=lot.quantity,
                unit=lot.unit,
                ceiling_price=lot.ceiling_price,
                reserve_price=lot.reserve_price,
                rules=rules,
            )
        ],
    )  # no bid bond: the qualified suppliers' bonds stay with the sealed round
    made = rfqs.create(session, caller, draft)
    assert made.id is not None
    for bid in standing:
        participation.invite(session, caller, made, bid.company_id)
    rfqs.publish(session, caller, made.id, match=False)
    new = session.execute(
        select(AuctionRecord).where(col(AuctionRecord.rfq_id) == made.id)
    ).scalar_one()
    new.previous_round = auction_id
    session.add(new)
    session.flush()
    return _round(session, sealed, new, created=True)


def next_of(session: Session, auction_id: int) -> AuctionRecord | None:
    """The round that follows ``auction_id``, if one was made."""
    return session.execute(
        select(AuctionRecord).where(col(AuctionRecord.previous_round) == auction_id)
    ).scalar_one_or_none()


def links(entries: list[dict[str, Any]]) -> list[tuple[str, int, dict[str, Any]]]:
    """The ``(kind, other auction, data)`` of a chain's linking entries (its verified
    ``entries`` as `rfq.audit_chain.chain` returns them)."""
    return [
        (e["kind"], int(e["data"]["auction"]), e["data"])
        for e in entries
        if e["kind"] in (NEXT, PREVIOUS) and isinstance(e["data"].get("auction"), int)
    ]


def check_link(
    earlier: int, earlier_log: dict[str, Any], later: int, later_log: dict[str, Any]
) -> str | None:
    """Why the link between two rounds' verified chains does not hold, or None: the
    earlier names the later as its next round, the later names the earlier as its
    previous one, and the head the later recorded is the earlier's entry at that index."""
    forward = [d for k, a, d in links(earlier_log["entries"]) if k == NEXT and a == later]
    back = [d for k, a, d in links(later_log["entries"]) if k == PREVIOUS and a == earlier]
    if not forward:
        return f"auction {earlier} does not name auction {later} as its next round"
    if not back:
        return f"auction {later} does not name auction {earlier} as its previous round"
    index, head = back[0].get("index"), back[0].get("head")
    at = [e for e in earlier_log["entries"] if e["index"] == index]
    if not at or at[0]["hash"] != head:
        return f"auction {later} records a head of auction {earlier}'s chain it does not have"
    return None


def carried_reason(sealed_auction: int) -> str:
    """The reason a carried bid is recorded with (its surrogate reason)."""
    return f"Carried over from the sealed round (auction {sealed_auction})"


def _rules(data: dict[str, Any], ceiling: int) -> dict[str, Any]:
    try:
        parsed = parse_rules({**data, "pre_bids": True}, ceiling_price=ceiling)
    except InvalidRules as exc:
        raise Invalid(exc.message, code="invalid_rules", field=exc.field) from None
    if parsed.format is not Format.reverse_english:
        raise Invalid(
            "The next round is a live reverse auction (format reverse_english).",
            code="invalid_rules",
            field="rules.format",
        )
    return rules_to_dict(parsed)


def _round(session: Session, sealed: AuctionRecord, new: AuctionRecord, *, created: bool) -> Round:
    carried = tuple(
        Carried(company_id=b.company_id, price=b.price, bid_id=b.id)
        for b in awards.standing_bids(session, sealed.id)
        if participation.is_invited(session, new.rfq_id, b.company_id)
    )
    return Round(
        sealed_auction=sealed.id,
        rfq_id=new.rfq_id,
        auction_id=new.id,
        carried=carried,
        head_index=sealed.chain_index,
        head=sealed.chain_head or "",
        created=created,
    )
