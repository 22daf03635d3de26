"""RFQs (requests for quotation) and their lots, as buyers draft and publish them.

A buyer drafts an RFQ with one or more lots, each with its quantity, ceiling price,
private reserve and auction rules (validated by ``bidding.rules``); a lot's times
default to the RFQ's. Prices are unit prices in minor units of the RFQ's currency.
Publishing checks the times again, matches suppliers (``rfq.matching``) and makes the
lots' auctions known to the engine. After publishing, only changes that cannot hurt
bidders are accepted (a longer deadline before the start, a lower bid bond, a higher
ceiling, more description), and participants are notified of each.

Each lot has one auction; its ``auction_id`` is the lot's id.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pydantic import AwareDatetime, field_validator
from sqlmodel import Field, Session, SQLModel, col, select

from bidding.auction import DECIDED, ENDED, OPEN, AuctionStatus
from bidding.errors import InvalidRules
from bidding.price_clock import last_level
from bidding.rules import Clock, check_secrecy, parse_rules, rules_to_dict
from bidding.views import Viewer
from rfq import (
    auctions,
    categories,
    certification,
    festivals,
    history,
    lifecycle,
    matching,
    participation,
)
from rfq.access import may_see, require_login, require_member, require_role
from rfq.accounts import Principal, Role
from rfq.auctions import AuctionRecord
from rfq.lifecycle import RfqStatus
from rfq.platform import clock
from rfq.platform.db import RowId
from rfq.platform.errors import Conflict, Invalid, NotFound
from rfq.platform.money import DEFAULT_CURRENCY, Amount, CurrencyCode, PositiveAmount
from rfq.rfq_tables import Audience, Lot, Rfq

MAX_LOTS = 100
_AS_GIVEN = {
    "description", "category", "keywords", "currency", "festival_id", "bid_bond", "audience",
    "delivery_terms", "lead_time_days", "questions_until", "starts_at", "ends_at",
}  # fmt: skip
"""The fields of an RFQ taken from the draft's body as they are."""


class LotCreate(SQLModel):
    name: str = Field(min_length=1, max_length=200)
    specification: str = Field(default="", max_length=5000)
    quantity: PositiveAmount
    unit: str = Field(min_length=1, max_length=20)
    ceiling_price: PositiveAmount
    reserve_price: Amount | None = None
    starts_at: AwareDatetime | None = None
    ends_at: AwareDatetime | None = None
    rules: dict[str, Any]


class RfqCreate(SQLModel):
    """``POST /api/rfqs`` (buyers): a draft with its lots."""

    title: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=10_000)
    category: str
    keywords: list[str] = Field(default_factory=list, max_length=30)
    currency: CurrencyCode = DEFAULT_CURRENCY
    festival_id: RowId | None = None
    bid_bond: Amount = 0
    audience: Audience = Audience.public
    delivery_terms: str = Field(default="", max_length=2000)
    lead_time_days: int = Field(default=30, ge=1, le=365)
    """Days from the award to the contracts' ship-by date."""
    questions_until: AwareDatetime | None = None
    """Suppliers' questions close then (None: at the end of the last lot)."""
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    lots: list[LotCreate] = Field(min_length=1, max_length=MAX_LOTS)

    @field_validator("category")
    @classmethod
    def _category(cls, value: str) -> str:
        if not categories.exists(value):
            raise ValueError(f"unknown category code {value!r} (see /api/categories)")
        return value

    @field_validator("keywords")
    @classmethod
    def _keywords(cls, value: list[str]) -> list[str]:
        return sorted({w.strip().lower() for w in value if w.strip()})


class LotChange(SQLModel):
    id: RowId
    ceiling_price: PositiveAmount | None = None
    ends_at: AwareDatetime | None = None


class RfqUpdate(SQLModel):
    """``PATCH /api/rfqs/{id}``: after publishing, only changes that cannot hurt bidders."""

    description: str | None = Field(default=None, max_length=10_000)
    ends_at: AwareDatetime | None = None
    bid_bond: Amount | None = None
    lots: list[LotChange] = Field(default_factory=list, max_length=MAX_LOTS)


class LotPublic(SQLModel):
    id: int
    auction_id: int
    position: int
    name: str
    specification: str
    quantity: int
    unit: str
    ceiling_price: int
    reserve_price: int | None = None
    currency: str
    starts_at: datetime
    ends_at: datetime
    rules: dict[str, Any]


class RfqPublic(SQLModel):
    id: int
    buyer_company_id: int
    title: str
    description: str
    category: str
    keywords: list[str]
    currency: str
    festival_id: int | None
    bid_bond: int
    audience: Audience
    delivery_terms: str
    lead_time_days: int
    questions_until: datetime | None
    starts_at: datetime
    ends_at: datetime
    status: RfqStatus
    created_at: datetime
    published_at: datetime | None
    lots: list[LotPublic]


# --- operations ------------------------------------------------------------------


def create(session: Session, principal: Principal | None, body: RfqCreate) -> Rfq:
    """A buyer drafts an RFQ with its lots."""
    caller = require_role(principal, Role.buyer)
    assert caller.company_id is not None
    lots = [_lot_values(i, lot, body) for i, lot in enumerate(body.lots)]
    _check_times(body.starts_at, body.ends_at, lots, clock.now())
    if body.questions_until is not None and body.questions_until > _last_end(lots, body):
        raise Invalid(
            "Questions must close by the end of the last lot.",
            code="invalid_times",
            field="questions_until",
        )
    if body.festival_id is not None:
        festival = session.get(festivals.Festival, body.festival_id)
        if festival is None:
            raise Invalid("No such festival.", code="unknown_festival", field="festival_id")
        festivals.check_attach(festival, caller.company_id, body.starts_at, _last_end(lots, body))
    now = clock.now()
    rfq = Rfq(
        **body.model_dump(include=_AS_GIVEN),
        title=body.title.strip(),
        buyer_company_id=caller.company_id,
        created_by=caller.user_id,
        status=RfqStatus.draft,
        created_at=now,
    )
    session.add(rfq)
    session.flush()
    assert rfq.id is not None
    for values in lots:
        session.add(Lot(rfq_id=rfq.id, **values))
    session.flush()
    history.record(session, "rfq", rfq.id, "draft", None, "draft", caller.user_id)
    return rfq


def get(session: Session, principal: Principal | None, rfq_id: int) -> Rfq:
    """The RFQ if the caller may see it: its buyer, operators, or a supplier that takes
    part or may discover it. Anyone else reads it as not found."""
    caller = require_login(principal)
    rfq = session.get(Rfq, rfq_id)
    if rfq is None or not visible_to(session, caller, rfq):
        raise NotFound("No such RFQ.")
    return rfq


def owned(session: Session, principal: Principal | None, rfq_id: int) -> Rfq:
    """The RFQ if the caller is its buyer (or an operator)."""
    rfq = session.get(Rfq, rfq_id)
    if rfq is None:
        raise NotFound("No such RFQ.")
    require_member(principal, rfq.buyer_company_id, "RFQ")
    return rfq


def visible_to(session: Session, principal: Principal, rfq: Rfq) -> bool:
    """True if the caller may see the RFQ at all."""
    if may_see(principal, rfq.buyer_company_id):
        return True
    if principal.role is not Role.supplier or rfq.status is RfqStatus.draft:
        return False
    if participation.find(session, rfq.id or 0, principal.company_id) is not None:
        return True
    return rfq.audience is Audience.public


def viewer_of_rfq(session: Session, principal: Principal, rfq: Rfq) -> Viewer:
    """What a caller that may see ``rfq`` sees of its lots' auctions: the buyer side (its
    buyer, operators) everything; a supplier that takes part (invited, matched or
    admitted) what the lot's visibility shows; a supplier that may only discover the RFQ
    the status (``public``). Anyone else reads ``NotFound``."""
    if may_see(principal, rfq.buyer_company_id):
        return Viewer(full=True)
    if principal.company_id is None or principal.role is not Role.supplier:
        raise NotFound("No such auction.")
    takes_part = participation.is_invited(session, rfq.id or 0, principal.company_id)
    return Viewer(full=False, company_id=principal.company_id, public=not takes_part)


def lots_of(session: Session, rfq_id: int) -> list[Lot]:
    """The RFQ's lots in order."""
    return list(
        session.exec(select(Lot).where(Lot.rfq_id == rfq_id).order_by(Lot.position)).all()  # type: ignore[arg-type]
    )


def public(session: Session, principal: Principal, rfq: Rfq) -> RfqPublic:
    """The RFQ as this caller may see it (suppliers never see reserve prices)."""
    sees_reserve = may_see(principal, rfq.buyer_company_id)
    lots = [
        LotPublic(
            **lot.model_dump(exclude={"rfq_id", "reserve_price"}),
            auction_id=lot.id or 0,
            currency=rfq.currency,
            reserve_price=lot.reserve_price if sees_reserve else None,
        )
        for lot in lots_of(session, rfq.id or 0)
    ]
    return RfqPublic(**rfq.model_dump(exclude={"created_by"}), lots=lots)


def listed(session: Session, principal: Principal | None, scope: str) -> list[Rfq]:
    """Buyers: their own RFQs. Suppliers: ``mine`` (taking part) or ``discover`` (public
    published RFQs in their categories). Operators: all."""
    caller = require_login(principal)
    query = select(Rfq).order_by(Rfq.id.desc()).limit(500)  # type: ignore[union-attr]
    query = query.where(col(Rfq.practice).is_(False))  # practice rooms: rfq/practice.py
    if caller.is_operator:
        return list(session.exec(query).all())
    if caller.role is Role.buyer:
        return list(session.exec(query.where(Rfq.buyer_company_id == caller.company_id)).all())
    if scope == "discover":
        cert = certification.current(session, caller.company_id)
        codes = cert.categories if cert else []
        open_rfqs = session.exec(
            query.where(Rfq.audience == Audience.public).where(
                Rfq.status.in_(lifecycle.OPEN_TO_BIDDERS)  # type: ignore[attr-defined]
            )
        ).all()
        return [r for r in open_rfqs if categories.matches(codes, r.category)]
    ids = participation.rfq_ids_of(session, caller.company_id)
    return list(session.exec(query.where(Rfq.id.in_(ids))).all()) if ids else []  # type: ignore[union-attr]


def publish(
    session: Session, principal: Principal | None, rfq_id: int, *, match: bool = True
) -> Rfq:
    """The buyer publishes a draft: times are checked again and suppliers matched
    (``match=False``: only the invited take part, as in a next round)."""
    rfq = owned(session, principal, rfq_id)
    caller = require_role(principal, Role.buyer)
    lots = lots_of(session, rfq_id)
    values = [
        {"starts_at": lot.starts_at, "ends_at": lot.ends_at, "rules": lot.rules} for lot in lots
    ]
    _check_times(rfq.starts_at, rfq.ends_at, values, clock.now())
    rfq.status = lifecycle.move(session, rfq_id, rfq.status, "publish", caller.user_id)
    rfq.published_at = clock.now()
    session.add(rfq)
    for lot in lots:
        auctions.create(session, lot, rfq)
    if match:
        matching.match_and_invite(session, rfq, [f"{lot.name} {lot.specification}" for lot in lots])
    elif not rfq.practice:
        matching.notify_invited(session, rfq)
    return rfq


def cancel(session: Session, principal: Principal | None, rfq_id: int, reason: str) -> Rfq:
    """The buyer (or an operator) cancels an RFQ that has not closed; bonds are released."""
    rfq = owned(session, principal, rfq_id)
    caller = require_login(principal)
    if not reason.strip():
        raise Invalid("Say why the RFQ is cancelled.", code="reason_required", field="reason")
    rfq.status = lifecycle.move(session, rfq_id, rfq.status, "cancel", caller.user_id, reason)
    session.add(rfq)
    for auction in session.exec(select(AuctionRecord).where(AuctionRecord.rfq_id == rfq_id)):
        if auction.status in OPEN:
            auction.status = AuctionStatus.cancelled  # in this transaction; the engine is told next
            session.add(auction)
    participation.release_all(session, rfq, f"RFQ cancelled: {reason}")
    participation.notify_all(session, rfq, "rfq_cancelled", f"RFQ cancelled: {rfq.title}", reason)
    return rfq


def update(
    session: Session, principal: Principal | None, rfq_id: int, body: RfqUpdate
) -> tuple[Rfq, dict[int, dict[str, Any]]]:
    """Change an RFQ; once published only in ways that cannot hurt bidders.

    Returns the RFQ and, per lot whose auction changed, the new ``ceiling_price`` and/or
    ``ends_at`` (the engine is told exactly these, nothing else).
    """
    rfq = owned(session, principal, rfq_id)
    caller = require_role(principal, Role.buyer)
    if rfq.status not in (RfqStatus.draft, *lifecycle.OPEN_TO_BIDDERS):
        raise Conflict(f"An RFQ that is {rfq.status.value} cannot change.", code="rfq_final")
    now = clock.now()
    lots = {lot.id: lot for lot in lots_of(session, rfq_id)}
    changes: list[str] = []
    touched: dict[int, dict[str, Any]] = {}
    if body.description is not None:
        rfq.description = body.description
        changes.append("description")
    if body.bid_bond is not None and body.bid_bond != rfq.bid_bond:
        if rfq.status is not RfqStatus.draft and body.bid_bond > rfq.bid_bond:
            raise _hurts("bid_bond", "The bid bond can only be lowered after publishing.")
        rfq.bid_bond = body.bid_bond
        changes.append("bid bond")
    if body.ends_at is not None and body.ends_at != rfq.ends_at:
        _check_later(rfq.status, rfq.ends_at, body.ends_at, rfq.starts_at, now, "ends_at")
        for lot in lots.values():
            if lot.ends_at == rfq.ends_at:
                lot.ends_at = body.ends_at
                touched.setdefault(lot.id or 0, {})["ends_at"] = body.ends_at
        rfq.ends_at = body.ends_at
        changes.append("deadline")
    for i, change in enumerate(body.lots):
        if change.id not in lots:
            raise Invalid(f"Lot {change.id} is not part of this RFQ.", field=f"lots.{i}.id")
        lot = lots[change.id]
        if change.ceiling_price is not None and change.ceiling_price != lot.ceiling_price:
            if rfq.status is not RfqStatus.draft and change.ceiling_price < lot.ceiling_price:
                raise _hurts(
                    f"lots.{i}.ceiling_price", "The ceiling can only be raised after publishing."
                )
            _rules(lot.rules, change.ceiling_price, f"lots.{i}")
            lot.ceiling_price = change.ceiling_price
            touched.setdefault(lot.id or 0, {})["ceiling_price"] = change.ceiling_price
            changes.append(f"ceiling of {lot.name}")
        if change.ends_at is not None and change.ends_at != lot.ends_at:
            _check_later(
                rfq.status, lot.ends_at, change.ends_at, lot.starts_at, now, f"lots.{i}.ends_at"
            )
            lot.ends_at = change.ends_at
            touched.setdefault(lot.id or 0, {})["ends_at"] = change.ends_at
            rfq.ends_at = max(rfq.ends_at, change.ends_at)
            changes.append(f"deadline of {lot.name}")
        session.add(lot)
    session.add(rfq)
    for lot_id, fields in touched.items():
        auction = session.get(AuctionRecord, lot_id)
        if auction is not None:
            for name, value in fields.items():
                setattr(auction, name, value)
            session.add(auction)
    if changes and rfq.status is not RfqStatus.draft:
        history.record(
            session,
            "rfq",
            rfq_id,
            "amend",
            rfq.status.value,
            rfq.status.value,
            caller.user_id,
            ", ".join(changes),
        )
        participation.notify_all(
            session,
            rfq,
            "rfq_amended",
            f"RFQ amended: {rfq.title}",
            "Changed: " + ", ".join(changes),
        )
    return rfq, touched


# --- validation ------------------------------------------------------------------


def _lot_values(i: int, lot: LotCreate, body: RfqCreate) -> dict[str, Any]:
    where = f"lots.{i}"
    if lot.reserve_price is not None and lot.reserve_price > lot.ceiling_price:
        raise Invalid("The reserve cannot be above the ceiling.", field=f"{where}.reserve_price")
    rules = _rules(lot.rules, lot.ceiling_price, where, drafting=True)
    return {
        "position": i,
        "name": lot.name.strip(),
        "specification": lot.specification,
        "quantity": lot.quantity,
        "unit": lot.unit.strip(),
        "ceiling_price": lot.ceiling_price,
        "reserve_price": lot.reserve_price,
        "starts_at": lot.starts_at or body.starts_at,
        "ends_at": lot.ends_at or body.ends_at,
        "rules": rules,
    }


def _rules(
    data: dict[str, Any], ceiling_price: int, where: str, *, drafting: bool = False
) -> dict[str, Any]:
    """The lot's rules, validated; a lot being drafted also keeps its visibility's
    secrets (`bidding.rules.check_secrecy`)."""
    try:
        rules = parse_rules(data, ceiling_price=ceiling_price)
        if drafting:
            check_secrecy(rules)
        return rules_to_dict(rules)
    except InvalidRules as exc:
        raise Invalid(exc.message, code="invalid_rules", field=f"{where}.{exc.field}") from None


def _check_times(
    starts: datetime, ends: datetime, lots: list[dict[str, Any]], now: datetime
) -> None:
    if starts <= now:
        raise Invalid("The RFQ must start in the future.", code="starts_in_past", field="starts_at")
    if ends <= starts:
        raise Invalid(
            "The RFQ must end after it starts.", code="ends_before_start", field="ends_at"
        )
    for i, lot in enumerate(lots):
        if lot["starts_at"] < starts:
            raise Invalid("A lot cannot start before its RFQ.", field=f"lots.{i}.starts_at")
        if lot["ends_at"] <= lot["starts_at"]:
            raise Invalid(
                "A lot must end after it starts.",
                code="ends_before_start",
                field=f"lots.{i}.ends_at",
            )
        _check_clock(i, lot)


def _check_clock(i: int, lot: dict[str, Any]) -> None:
    """A clock lot must stay open until its clock can run out (its last level's end)."""
    data = lot["rules"].get("clock")
    if data is None:
        return
    c = Clock(**data)
    levels = last_level(c) + 1
    runs_until = lot["starts_at"] + timedelta(seconds=levels * c.interval_s)
    if lot["ends_at"] < runs_until:
        raise Invalid(
            f"The clock's {levels} levels of {c.interval_s} s run until "
            f"{clock.rfc3339(runs_until)}; the lot must not end before.",
            code="clock_outlasts_lot",
            field=f"lots.{i}.ends_at",
        )


def _check_later(
    status: RfqStatus, old: datetime, new: datetime, starts: datetime, now: datetime, field: str
) -> None:
    if new <= starts:
        raise Invalid("The deadline must be after the start.", field=field)
    if status is RfqStatus.draft:
        return
    if new < old:
        raise _hurts(field, "A deadline can only move later after publishing.")
    if starts <= now:
        raise _hurts(field, "The deadline of a running auction is set by its rules only.")


def _last_end(lots: list[dict[str, Any]], body: RfqCreate) -> datetime:
    ends: list[datetime] = [body.ends_at, *(lot["ends_at"] for lot in lots)]
    return max(ends)


def _hurts(field: str, message: str) -> Invalid:
    return Invalid(message, code="change_hurts_bidders", field=field)


def on_auction_status(
    session: Session, auction_id: int, status: str, entry: dict[str, Any] | None = None
) -> None:
    """Move the RFQ when its auctions move: live with the first lot that opens, closed
    when every lot's auction has closed, awarded (or no_award) when every lot is decided
    (called by the journal inside its commit)."""
    auction = session.get(AuctionRecord, auction_id)
    if auction is None:
        return
    rfq = session.get(Rfq, auction.rfq_id)
    if rfq is None or rfq.id is None:
        return
    if status == AuctionStatus.live and rfq.status is RfqStatus.published:
        rfq.status = lifecycle.move(session, rfq.id, rfq.status, "open", None)
        session.add(rfq)
    siblings = list(
        session.exec(select(AuctionRecord.status).where(AuctionRecord.rfq_id == rfq.id))
    )
    if status in ENDED and rfq.status is RfqStatus.live:
        if all(s in ENDED for s in siblings):
            rfq.status = lifecycle.move(session, rfq.id, rfq.status, "close", None)
            session.add(rfq)
    if status in DECIDED and rfq.status is RfqStatus.closed:
        if all(s in DECIDED for s in siblings):
            move = "award" if "awarded" in siblings else "no_award"
            rfq.status = lifecycle.move(session, rfq.id, rfq.status, move, None)
            session.add(rfq)
