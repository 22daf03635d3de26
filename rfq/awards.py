"""Awarding a closed lot: the buyer's decision, checked, then turned into contracts.

``decide()`` checks a decision against SQL (the buyer's own closed auction, standing
bids, quantities, reasons) and returns it as a plain map. The first decision of an
auction then goes through the engine (``status.lua``'s ``award`` / ``no_award``), which
lets exactly one decision win however many arrive at once, and carries it in the
audit entry; the journal, committing that entry, calls :func:`on_auction_status`,
which records the award and offers one contract per line in the same transaction. So
an award Redis took but SQL never got (a crash in between) is completed by the
reconciler from the Redis streams, like a bid.

Rules a sourcing team expects:

- the default is the best-ranked standing bid for the whole lot; another bidder, part
  of the lot, or a split across bidders by quantity, needs a recorded reason; so does
  no award;
- only a supplier's standing bid (its latest, not void) can be awarded, one line per
  supplier, and the awarded quantities never exceed the lot;
- while part of the lot is open (never awarded, or given back by a declined or
  cancelled contract) the buyer may award it in a later round (in SQL alone: the
  engine's part is over) to a bidder holding no contract for the lot; an operator may
  forfeit a decliner's bond.

Bid bonds: once every lot of the RFQ is decided, the bonds of suppliers without an
open offer are released; a winner's bond is released when it accepts its contract,
and a decliner's stays reserved for an operator to forfeit or release.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import AwareDatetime, BaseModel, Field, model_validator
from sqlalchemy import Column, UniqueConstraint
from sqlmodel import Field as SQLField
from sqlmodel import Session, SQLModel, col, select

from bidding.auction import DECIDED, OPEN, AuctionStatus
from rfq import audit_chain, credit, history, notifications
from rfq.access import require_login
from rfq.accounts import Principal
from rfq.auctions import AuctionRecord, BidRecord
from rfq.contracts import bonds, commands, reading
from rfq.contracts.model import GONE, Contract
from rfq.platform import clock
from rfq.platform.db import UtcDateTime
from rfq.platform.errors import Conflict, Forbidden, Invalid, NotFound
from rfq.platform.money import MAX_AMOUNT, PositiveAmount
from rfq.rfq_tables import Lot, Rfq

log = logging.getLogger("rfq.awards")


class Line(BaseModel):
    bid_id: str = Field(min_length=1, max_length=64)
    quantity: PositiveAmount | None = None


class Milestone(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    bps: int = Field(ge=1, le=10_000, strict=True)


class AwardCreate(BaseModel):
    """``POST /api/auctions/{id}/award``: lines to award, or ``no_award``, with a reason;
    optional contract terms (delivery terms default to the RFQ's, the inspection period
    to the platform's setting, one milestone paying everything on acceptance)."""

    awards: list[Line] = Field(default_factory=list, max_length=50)
    no_award: bool = False
    reason: str = Field(default="", max_length=1000)
    delivery_terms: str | None = Field(default=None, max_length=2000)
    inspection_days: int | None = Field(default=None, ge=0, le=90, strict=True)
    milestones: list[Milestone] | None = Field(default=None, min_length=1, max_length=10)
    ship_by: AwareDatetime | None = None
    """The contracts' ship-by date (default: the RFQ's lead time from now)."""
    warranty_days: int = Field(default=0, ge=0, le=3650, strict=True)
    return_days: int = Field(default=0, ge=0, le=365, strict=True)
    retention_bps: int = Field(default=0, ge=0, le=3_000, strict=True)
    """The share of the accepted value kept in escrow through the after-sale period."""

    @model_validator(mode="after")
    def _shape(self) -> AwardCreate:
        if self.no_award == bool(self.awards):
            raise ValueError("give either awards or no_award: true")
        if self.milestones is not None and sum(m.bps for m in self.milestones) != 10_000:
            raise ValueError("milestone shares (bps) must add up to 10000")
        if self.retention_bps and not (self.warranty_days or self.return_days):
            raise ValueError("a retention needs warranty_days or return_days to be held for")
        return self


class Award(SQLModel, table=True):
    """One decision on a lot; ``round`` counts re-awards after declined contracts."""

    __table_args__ = (UniqueConstraint("auction_id", "round"),)

    id: int | None = SQLField(default=None, primary_key=True)
    auction_id: int = SQLField(foreign_key="auction.id", index=True)
    round: int
    kind: str = SQLField(max_length=16)
    reason: str = SQLField(default="", max_length=1000)
    decided_by: int | None = SQLField(default=None, foreign_key="user.id")
    decided_at: datetime = SQLField(sa_column=Column(UtcDateTime(), nullable=False))


@dataclass(frozen=True, slots=True)
class Terms:
    """The platform's settings an award's contracts are made under."""

    fee_bps: int
    inspection_days: int


def buyers_lot(
    session: Session, caller: Principal, auction_id: int, refused: str
) -> tuple[AuctionRecord, Rfq]:
    """The lot and its RFQ, if ``caller`` is its buyer: anyone else reads 404, an
    operator 403 ``buyer_only`` with ``refused``."""
    auction = session.get(AuctionRecord, auction_id)
    rfq = session.get(Rfq, auction.rfq_id) if auction else None
    if auction is None or rfq is None:
        raise NotFound("No such auction.")
    if caller.company_id != rfq.buyer_company_id:
        if caller.is_operator:
            raise Forbidden(refused, code="buyer_only")
        raise NotFound("No such auction.")
    return auction, rfq


def decide(
    session: Session, principal: Principal | None, auction_id: int, body: AwardCreate, terms: Terms
) -> dict[str, Any]:
    """Check the buyer's decision; return it as the map the engine and the journal carry."""
    caller = require_login(principal)
    auction, rfq = buyers_lot(session, caller, auction_id, "Only the buyer awards its lots.")
    advanced = session.execute(
        select(AuctionRecord.id).where(col(AuctionRecord.previous_round) == auction_id)
    ).first()
    if advanced is not None and not body.no_award:  # its best went on to a live round
        raise Conflict(
            f"This lot's best suppliers went on to a next round (auction {advanced[0]}); "
            "award that one.",
            code="next_round_made",
        )
    round_ = _round(session, auction, body)
    lot = session.get(Lot, auction_id)
    assert lot is not None
    decision: dict[str, Any] = {
        "kind": "no_award" if body.no_award else "award",
        "round": round_,
        "by": caller.user_id,
        "reason": body.reason.strip(),
    }
    if body.no_award:
        if not decision["reason"]:
            raise Invalid("Say why nothing is awarded.", code="reason_required", field="reason")
        return decision
    excluded = _taken(session, auction_id)
    available = _open_quantity(session, auction)
    standing = [b for b in standing_bids(session, auction_id) if b.company_id not in excluded]
    by_id = {b.id: b for b in standing}
    lines, total_quantity, companies = [], 0, set()
    for i, line in enumerate(body.awards):
        bid = by_id.get(line.bid_id)
        if bid is None:
            raise Invalid(
                "Only a supplier's standing bid in this auction can be awarded "
                "(not a superseded, void or declined one).",
                code="bid_not_awardable",
                field=f"awards.{i}.bid_id",
            )
        if bid.company_id in companies:
            raise Invalid("One line per supplier.", code="duplicate_supplier", field=f"awards.{i}")
        companies.add(bid.company_id)
        quantity = line.quantity
        if quantity is None:
            if len(body.awards) > 1:
                raise Invalid("A split names each quantity.", field=f"awards.{i}.quantity")
            quantity = available
        total_quantity += quantity
        if bid.price * quantity > MAX_AMOUNT:
            raise Invalid("The contract total is too large.", field=f"awards.{i}.quantity")
        lines.append(
            {"bid_id": bid.id, "company": bid.company_id, "quantity": quantity, "price": bid.price}
        )
    if total_quantity > available:
        raise Invalid(
            f"The awarded quantities add up to {total_quantity}; {available} of the lot "
            "is open to award.",
            code="quantity_exceeds_lot",
            field="awards",
        )
    best = standing[0].id if standing else None
    whole = len(lines) == 1 and lines[0]["bid_id"] == best and total_quantity == available
    if not whole and not decision["reason"]:
        raise Invalid(
            "Awarding other than the best-ranked bid for the whole lot needs a reason.",
            code="reason_required",
            field="reason",
        )
    decision["awards"] = lines
    decision["delivery_terms"] = (
        body.delivery_terms if body.delivery_terms is not None else rfq.delivery_terms
    )
    decision["inspection_days"] = (
        body.inspection_days if body.inspection_days is not None else terms.inspection_days
    )
    decision["fee_bps"] = terms.fee_bps
    ship_by = body.ship_by or clock.now() + timedelta(days=rfq.lead_time_days)
    if ship_by <= clock.now():
        raise Invalid("The ship-by date must be in the future.", field="ship_by")
    decision["ship_by"] = clock.rfc3339(ship_by)
    decision["warranty_days"] = body.warranty_days
    decision["return_days"] = body.return_days
    decision["retention_bps"] = body.retention_bps
    if body.milestones is not None:
        decision["milestones"] = [m.model_dump() for m in body.milestones]
    return decision


def on_auction_status(
    session: Session, auction_id: int, status: str, entry: dict[str, Any]
) -> None:
    """The journal's hook: an ``awarded`` / ``no_award`` entry becomes the award record
    and its contracts, in the journal's transaction."""
    if status not in (AuctionStatus.awarded, AuctionStatus.no_award):
        return
    decision = entry.get("decision")
    if not isinstance(decision, dict):
        log.error("auction %s became %s without a decision to record", auction_id, status)
        return
    try:
        with session.begin_nested():  # never fail the journal's batch (other auctions' bids)
            record(session, auction_id, decision)
    except Exception:
        log.exception("recording the award of auction %s failed", auction_id)


def record(session: Session, auction_id: int, decision: dict[str, Any]) -> Award:
    """Store a checked decision: the award, one contract per line, notifications, bonds.
    Recording the same round again changes nothing."""
    round_ = int(decision["round"])
    existing = session.exec(
        select(Award).where(Award.auction_id == auction_id, Award.round == round_)
    ).first()
    if existing is not None:
        return existing
    auction = session.get(AuctionRecord, auction_id)
    assert auction is not None
    rfq = session.get(Rfq, auction.rfq_id)
    lot = session.get(Lot, auction_id)
    assert rfq is not None and lot is not None
    award = Award(
        auction_id=auction_id,
        round=round_,
        kind=decision["kind"],
        reason=decision.get("reason", ""),
        decided_by=decision.get("by"),
        decided_at=clock.now(),
    )
    session.add(award)
    session.flush()
    assert award.id is not None
    history.record(
        session, "auction", auction_id, decision["kind"], "closed", decision["kind"],
        decision.get("by"), award.reason,
    )  # fmt: skip
    if round_ > 1:
        audit_chain.append(session, auction_id, "reawarded", {"round": round_, **decision})
    winners = set()
    for line in decision.get("awards", []):
        commands.offer(
            session, award_id=award.id, auction=auction, rfq=rfq, lot=lot, line=line,
            decision=decision,
        )  # fmt: skip
        winners.add(int(line["company"]))
    for company_id in {b.company_id for b in standing_bids(session, auction_id)} - winners:
        notifications.notify_company(
            session,
            company_id,
            "not_awarded",
            f"Lot decided: {lot.name}",
            "The buyer awarded this lot to another supplier."
            if winners
            else "The buyer closed this lot without an award.",
            auction_id=auction_id,
        )
    bonds.settle(session, rfq.id or 0)
    return award


def of_auction(session: Session, principal: Principal | None, auction_id: int) -> dict[str, Any]:
    """The auction's awards and contracts, for the buyer and operators."""
    caller = require_login(principal)
    auction = session.get(AuctionRecord, auction_id)
    rfq = session.get(Rfq, auction.rfq_id) if auction else None
    if rfq is None or not (caller.is_operator or caller.company_id == rfq.buyer_company_id):
        raise NotFound("No such auction.")
    rounds = session.exec(
        select(Award).where(Award.auction_id == auction_id).order_by(col(Award.round))
    ).all()
    found = session.exec(
        select(Contract).where(Contract.auction_id == auction_id).order_by(col(Contract.id))
    ).all()
    return {
        "auction_id": auction_id,
        "awards": [a.model_dump() for a in rounds],
        "contracts": [reading.public(session, caller, c) for c in found],
    }


def bidder_standing(
    session: Session, principal: Principal | None, auction_id: int
) -> list[dict[str, Any]]:
    """Each supplier with a standing bid, best-ranked first, with its standing (level,
    badge, score: ``rfq/credit.py``), for the buyer and operators once the auction has
    closed; while it is open, identities may be hidden, so it is refused."""
    caller = require_login(principal)
    auction = session.get(AuctionRecord, auction_id)
    rfq = session.get(Rfq, auction.rfq_id) if auction else None
    if auction is None or rfq is None:
        raise NotFound("No such auction.")
    if not (caller.is_operator or caller.company_id == rfq.buyer_company_id):
        raise NotFound("No such auction.")
    if auction.status == AuctionStatus.cancelled or (
        auction.status in OPEN and auction.ends_at > clock.now()
    ):
        raise Conflict(
            "Bidders' standing is shown once the auction has closed.", code="auction_not_closed"
        )
    return [
        {"bid_id": b.id, **credit.standing(session, b.company_id)}
        for b in standing_bids(session, auction_id)
    ]


def _round(session: Session, auction: AuctionRecord, body: AwardCreate) -> int:
    """The round this decision would be: 1 for a closed auction, a later round once some
    contract of the lot was declined or cancelled; otherwise a clear conflict."""
    last = session.exec(
        select(Award).where(Award.auction_id == auction.id).order_by(col(Award.round).desc())
    ).first()
    if last is None:
        if auction.status in OPEN and auction.ends_at > clock.now():
            raise Conflict("The auction has not closed yet.", code="auction_not_closed")
        if auction.status in DECIDED:
            raise Conflict(f"The auction is {auction.status}.", code="already_decided")
        return 1
    if last.kind == "no_award" or _open_quantity(session, auction) == 0:
        raise Conflict("The lot is already decided.", code="already_decided")
    if body.no_award:
        raise Conflict(
            "The lot is awarded; award what was declined to another bidder, or leave it.",
            code="already_decided",
        )
    return last.round + 1


def _open_quantity(session: Session, auction: AuctionRecord) -> int:
    """The lot's quantity not held by a contract that is still on (declined and
    cancelled ones give theirs back)."""
    held = sum(
        c.quantity
        for c in session.exec(select(Contract).where(Contract.auction_id == auction.id))
        if c.status not in GONE
    )
    return auction.quantity - held


def _taken(session: Session, auction_id: int) -> set[int]:
    """Suppliers that cannot be awarded again: those that declined or cancelled, and
    those already holding a contract for the lot."""
    return {
        c.supplier_company_id
        for c in session.exec(select(Contract).where(Contract.auction_id == auction_id))
    }


def standing_bids(session: Session, auction_id: int) -> list[BidRecord]:
    """Each supplier's latest bid that is not void, best-ranked first (ranking price,
    then earlier wins)."""
    bids = session.exec(
        select(BidRecord)
        .where(BidRecord.auction_id == auction_id, col(BidRecord.voided).is_(False))
        .order_by(col(BidRecord.epoch), col(BidRecord.seq))
    ).all()
    latest: dict[int, BidRecord] = {}
    for bid in bids:
        latest[bid.company_id] = bid
    return sorted(latest.values(), key=lambda b: (b.transformed, b.epoch, b.seq))
