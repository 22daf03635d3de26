"""Contracts and their escrow: from an award to released (or refunded) money.

One state machine covers the contract and its escrow (``MOVES``)::

    offered --accept--> awaiting_funding --fund--> funded --ship--> shipped
    offered --decline--> declined          (operator confirms funding)  |
    awaiting_funding --cancel (buyer)--> cancelled                       confirm (buyer signs)
                                                                         v
    released <--release (buyer, or the inspection period runs out)-- delivered
    shipped | delivered --dispute--> disputed --resolve_release--> released
                                              --resolve_refund---> refunded
                                              --resolve_split----> settled

Money moves only through the escrow ledger (``rfq/escrow.py``). Milestones split the
payment: the buyer may release each milestone but the last from ``funded`` on; the
final release pays what is still held. Every command carries a key (default: the
move's name), recorded per contract, so a replayed command changes nothing and
returns the contract as it is. Each move is on the record (history), sealed onto the
auction's audit chain, and notified to both parties.

Funding and payouts go through the payment-provider interface (``rfq/payments.py``):
the buyer's ``fund`` asks for a funding payment; the money counts when the provider
(an operator, with the manual provider) confirms it. Releases and refunds create
payouts, confirmed the same way.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from enum import StrEnum
from functools import partial
from typing import Any, Literal

from pydantic import BaseModel, field_validator
from sqlalchemy import JSON, BigInteger, Column, UniqueConstraint
from sqlmodel import Field, Session, SQLModel, col, select

from bidding.live import journal
from rfq import escrow, files, history, notifications, payments
from rfq.access import require_login, require_operator
from rfq.accounts import Company, Principal
from rfq.escrow import Account
from rfq.platform import clock
from rfq.platform.db import UtcDateTime, enum_type
from rfq.platform.errors import Conflict, Forbidden, Invalid, NotFound
from rfq.platform.statemachine import moves_from, transition

log = logging.getLogger("rfq.contracts")


class ContractStatus(StrEnum):
    offered = "offered"
    declined = "declined"
    awaiting_funding = "awaiting_funding"
    cancelled = "cancelled"
    funded = "funded"
    shipped = "shipped"
    delivered = "delivered"
    disputed = "disputed"
    released = "released"
    refunded = "refunded"
    settled = "settled"


S = ContractStatus
MOVES: dict[tuple[ContractStatus, str], ContractStatus] = {
    (S.offered, "accept"): S.awaiting_funding,
    (S.offered, "decline"): S.declined,
    (S.awaiting_funding, "cancel"): S.cancelled,
    (S.awaiting_funding, "fund"): S.funded,
    (S.funded, "ship"): S.shipped,
    (S.shipped, "confirm"): S.delivered,
    (S.shipped, "dispute"): S.disputed,
    (S.delivered, "dispute"): S.disputed,
    (S.delivered, "release"): S.released,
    (S.disputed, "resolve_release"): S.released,
    (S.disputed, "resolve_refund"): S.refunded,
    (S.disputed, "resolve_split"): S.settled,
}
SYSTEM_KEY = "~"
"""Keys of commands the platform makes itself (clients may not use them)."""
MILESTONE_STATES = frozenset({S.funded, S.shipped, S.delivered})
FINAL = frozenset({S.declined, S.cancelled, S.released, S.refunded, S.settled})
GONE = frozenset({S.declined, S.cancelled})
"""Contracts that gave their quantity back (never in force)."""

# Who may make each move: the buyer's members, the supplier's, or the platform.
_BUYER, _SUPPLIER, _PLATFORM = "buyer", "supplier", "platform"
_MAY = {
    "accept": {_SUPPLIER},
    "decline": {_SUPPLIER},
    "cancel": {_BUYER},
    "fund": {_PLATFORM},
    "ship": {_SUPPLIER},
    "confirm": {_BUYER},
    "dispute": {_BUYER, _SUPPLIER},
    "release": {_BUYER},
    "resolve_release": {_PLATFORM},
    "resolve_refund": {_PLATFORM},
    "resolve_split": {_PLATFORM},
    "milestone": {_BUYER},
}


class PaymentKind(StrEnum):
    funding = "funding"
    payout = "payout"
    refund = "refund"


class PaymentStatus(StrEnum):
    pending = "pending"
    confirmed = "confirmed"


class DisputeStatus(StrEnum):
    open = "open"
    resolved = "resolved"


Outcome = Literal["release", "refund", "split"]


class Contract(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    award_id: int = Field(foreign_key="award.id", index=True)
    auction_id: int = Field(foreign_key="auction.id", index=True)
    rfq_id: int = Field(foreign_key="rfq.id", index=True)
    buyer_company_id: int = Field(foreign_key="company.id", index=True)
    supplier_company_id: int = Field(foreign_key="company.id", index=True)
    bid_id: str = Field(max_length=64)
    lot_name: str = Field(max_length=200)
    quantity: int = Field(sa_type=BigInteger)
    unit: str = Field(max_length=20)
    unit_price: int = Field(sa_type=BigInteger)
    total: int = Field(sa_type=BigInteger)
    currency: str = Field(max_length=3)
    delivery_terms: str = Field(default="", max_length=2000)
    fee_bps: int = 0
    inspection_days: int = 7
    milestones: list[dict[str, Any]] = Field(sa_column=Column(JSON, nullable=False))
    status: ContractStatus = Field(sa_type=enum_type(ContractStatus), index=True)
    tracking: str = Field(default="", max_length=500)
    created_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    accepted_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime()))
    funded_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime()))
    shipped_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime()))
    delivered_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime()))
    inspection_ends_at: datetime | None = Field(
        default=None, sa_column=Column(UtcDateTime(), index=True)
    )
    closed_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime()))


class ContractCommand(SQLModel, table=True):
    """Every command applied to a contract, by its key: a replay is recognised here."""

    __tablename__ = "contract_command"
    __table_args__ = (UniqueConstraint("contract_id", "key"),)

    id: int | None = Field(default=None, primary_key=True)
    contract_id: int = Field(foreign_key="contract.id", index=True)
    key: str = Field(max_length=100)
    move: str = Field(max_length=24)
    actor_id: int | None = Field(default=None, foreign_key="user.id")
    at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))


class Payment(SQLModel, table=True):
    """Money in (funding) or out (payout, refund) through the payment provider."""

    __tablename__ = "contract_payment"

    id: int | None = Field(default=None, primary_key=True)
    contract_id: int = Field(foreign_key="contract.id", index=True)
    txn: str = Field(max_length=120, unique=True)
    kind: PaymentKind = Field(sa_type=enum_type(PaymentKind))
    amount: int = Field(sa_type=BigInteger)
    currency: str = Field(max_length=3)
    status: PaymentStatus = Field(sa_type=enum_type(PaymentStatus), index=True)
    provider: str = Field(max_length=32)
    reference: str = Field(max_length=100)
    instructions: str = Field(default="", max_length=1000)
    created_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    confirmed_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime()))


class Dispute(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    contract_id: int = Field(foreign_key="contract.id", unique=True)
    opened_by_company_id: int = Field(foreign_key="company.id")
    reason: str = Field(max_length=2000)
    status: DisputeStatus = Field(sa_type=enum_type(DisputeStatus), index=True)
    outcome: str | None = Field(default=None, max_length=16)
    supplier_amount: int | None = Field(default=None, sa_type=BigInteger)
    buyer_amount: int | None = Field(default=None, sa_type=BigInteger)
    note: str = Field(default="", max_length=2000)
    opened_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    resolved_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime()))
    resolved_by: int | None = Field(default=None, foreign_key="user.id")


class Evidence(SQLModel, table=True):
    __tablename__ = "dispute_evidence"

    id: int | None = Field(default=None, primary_key=True)
    dispute_id: int = Field(foreign_key="dispute.id", index=True)
    company_id: int = Field(foreign_key="company.id")
    file_id: str = Field(foreign_key="stored_file.id", max_length=32)
    note: str = Field(default="", max_length=1000)
    at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))


# --- request bodies ------------------------------------------------------------------


class Command(BaseModel):
    """A command's key: the same key again changes nothing (default: the move's name)."""

    key: str | None = None

    @field_validator("key")
    @classmethod
    def _key(cls, value: str | None) -> str | None:
        if value is not None and not 1 <= len(value) <= 100:
            raise ValueError("a key has 1 to 100 characters")
        if value is not None and value.startswith(SYSTEM_KEY):
            raise ValueError(f"keys starting with {SYSTEM_KEY!r} are the platform's own")
        return value


class Ship(Command):
    tracking: str = ""

    @field_validator("tracking")
    @classmethod
    def _tracking(cls, value: str) -> str:
        if len(value) > 500:
            raise ValueError("at most 500 characters")
        return value.strip()


class Release(Command):
    """Release one milestone (its index), or everything still held (no milestone)."""

    milestone: int | None = None


class DisputeOpen(Command):
    reason: str
    evidence: list[str] = []

    @field_validator("reason")
    @classmethod
    def _reason(cls, value: str) -> str:
        if not value.strip() or len(value) > 2000:
            raise ValueError("say what is wrong, in at most 2000 characters")
        return value.strip()

    @field_validator("evidence")
    @classmethod
    def _evidence(cls, value: list[str]) -> list[str]:
        if len(value) > 20:
            raise ValueError("at most 20 files")
        return value


class EvidenceAdd(BaseModel):
    file_id: str
    note: str = ""

    @field_validator("note")
    @classmethod
    def _note(cls, value: str) -> str:
        if len(value) > 1000:
            raise ValueError("at most 1000 characters")
        return value


class Resolution(Command):
    """An operator's ruling: ``release`` to the supplier, ``refund`` to the buyer, or a
    ``split`` giving ``supplier_amount`` of what is held to the supplier."""

    outcome: Outcome
    supplier_amount: int | None = None
    note: str

    @field_validator("note")
    @classmethod
    def _note(cls, value: str) -> str:
        if not value.strip() or len(value) > 2000:
            raise ValueError("give the ruling's reasons, in at most 2000 characters")
        return value.strip()


# --- creating contracts (from an award) ------------------------------------------------


def offer(
    session: Session,
    *,
    award_id: int,
    auction: Any,
    rfq: Any,
    lot: Any,
    line: dict[str, Any],
    decision: dict[str, Any],
) -> Contract:
    """The contract for one line of an award, offered to its supplier."""
    quantity, price = int(line["quantity"]), int(line["price"])
    contract = Contract(
        award_id=award_id,
        auction_id=auction.id,
        rfq_id=rfq.id,
        buyer_company_id=rfq.buyer_company_id,
        supplier_company_id=int(line["company"]),
        bid_id=line["bid_id"],
        lot_name=lot.name,
        quantity=quantity,
        unit=lot.unit,
        unit_price=price,
        total=price * quantity,
        currency=auction.currency,
        delivery_terms=decision.get("delivery_terms", ""),
        fee_bps=int(decision.get("fee_bps", 0)),
        inspection_days=int(decision.get("inspection_days", 7)),
        milestones=list(decision.get("milestones") or [{"name": "Acceptance", "bps": 10_000}]),
        status=ContractStatus.offered,
        created_at=clock.now(),
    )
    session.add(contract)
    session.flush()
    assert contract.id is not None
    history.record(session, "contract", contract.id, "offer", None, "offered", decision.get("by"))
    journal.append(
        session,
        auction.id,
        "contract_offered",
        {
            "contract": contract.id,
            "bid_id": contract.bid_id,
            "company": contract.supplier_company_id,
            "quantity": quantity,
            "price": price,
            "total": contract.total,
        },
    )
    _notify(session, contract, "offered", f"Contract offered: {lot.name}")
    return contract


# --- commands ------------------------------------------------------------------------


def accept(
    session: Session, principal: Principal | None, contract_id: int, key: str | None
) -> Contract:
    """The supplier accepts the contract; the buyer is asked to fund it."""
    contract, caller = _load(session, principal, contract_id)

    def apply() -> None:
        _move(session, contract, "accept", caller)
        contract.accepted_at = clock.now()
        from rfq import awards  # a cycle: awards creates contracts

        awards.settle_bonds(session, contract.rfq_id)

    return _command(session, contract, caller, key or "accept", "accept", apply)


def decline(
    session: Session, principal: Principal | None, contract_id: int, key: str | None
) -> Contract:
    """The supplier declines; its bond stays reserved for an operator to decide on, and
    the buyer may award the next-ranked bidder."""
    contract, caller = _load(session, principal, contract_id)
    return _command(
        session,
        contract,
        caller,
        key or "decline",
        "decline",
        lambda: _move(session, contract, "decline", caller),
    )


def cancel(
    session: Session, principal: Principal | None, contract_id: int, key: str | None
) -> Contract:
    """The buyer cancels a contract it has not funded (not while a funding payment is
    on its way: the operator confirms or the buyer waits)."""
    contract, caller = _load(session, principal, contract_id)

    def apply() -> None:
        pending = session.exec(
            select(Payment.id).where(
                Payment.contract_id == contract.id,
                Payment.kind == PaymentKind.funding,
                Payment.status == PaymentStatus.pending,
            )
        ).first()
        if pending is not None:
            raise Conflict(
                "A funding payment is pending; it must be confirmed or withdrawn first.",
                code="funding_pending",
            )
        _move(session, contract, "cancel", caller)

    return _command(session, contract, caller, key or "cancel", "cancel", apply)


def request_funding(
    session: Session, principal: Principal | None, contract_id: int, key: str | None
) -> Contract:
    """The buyer asks to fund the contract: a funding payment (one per contract, so a
    repeat returns it), pending until an operator confirms it."""
    contract, caller = _load(session, principal, contract_id)
    if _role(contract, caller) != _BUYER:
        raise Forbidden("Only the buyer funds a contract.", code="buyer_only")
    if contract.status is not ContractStatus.awaiting_funding:
        transition(MOVES, "contract", contract.status, "fund")  # raises, naming the state
    _payment(session, contract, PaymentKind.funding, f"c{contract.id}:fund", contract.total)
    return contract


def ship(session: Session, principal: Principal | None, contract_id: int, body: Ship) -> Contract:
    """The supplier ships the goods (with a tracking reference)."""
    contract, caller = _load(session, principal, contract_id)

    def apply() -> None:
        _move(session, contract, "ship", caller, body.tracking)
        contract.tracking, contract.shipped_at = body.tracking, clock.now()

    return _command(session, contract, caller, body.key or "ship", "ship", apply)


def confirm(
    session: Session, principal: Principal | None, contract_id: int, key: str | None
) -> Contract:
    """The buyer signs for the goods: the inspection period starts."""
    contract, caller = _load(session, principal, contract_id)

    def apply() -> None:
        _move(session, contract, "confirm", caller)
        contract.delivered_at = clock.now()
        contract.inspection_ends_at = contract.delivered_at + timedelta(
            days=contract.inspection_days
        )

    return _command(session, contract, caller, key or "confirm", "confirm", apply)


def release(
    session: Session, principal: Principal | None, contract_id: int, body: Release
) -> Contract:
    """The buyer accepts the goods (everything still held goes to the supplier), or
    releases one milestone early."""
    contract, caller = _load(session, principal, contract_id)
    if body.milestone is None:
        return _command(
            session,
            contract,
            caller,
            body.key or "release",
            "release",
            lambda: _final_release(session, contract, "release", caller),
        )
    index = body.milestone
    if _role(contract, caller) not in _MAY["milestone"]:
        raise Forbidden("Only the buyer releases milestones.", code="buyer_only")
    if not 0 <= index < len(contract.milestones) - 1:
        raise Invalid(
            "Name a milestone before the last; the last is paid by the final release.",
            code="invalid_milestone",
            field="milestone",
        )

    def apply() -> None:
        if contract.status not in MILESTONE_STATES:
            raise Conflict(
                f"A contract that is {contract.status.value} cannot release a milestone.",
                code="illegal_transition",
            )
        amounts = escrow.milestone_amounts(contract.total, [m["bps"] for m in contract.milestones])
        txn = f"c{contract.id}:milestone:{index}"
        if escrow.posted(session, txn):
            raise Conflict("That milestone is already released.", code="milestone_released")
        _pay_supplier(session, contract, txn, amounts[index], f"milestone {index}")
        _record(session, contract, "milestone", caller, contract.status, {"milestone": index})

    return _command(session, contract, caller, body.key or f"milestone:{index}", "milestone", apply)


def dispute(
    session: Session, principal: Principal | None, contract_id: int, body: DisputeOpen
) -> Contract:
    """A party opens a dispute after shipping, or during the inspection period."""
    contract, caller = _load(session, principal, contract_id)

    def apply() -> None:
        if (
            contract.status is ContractStatus.delivered
            and contract.inspection_ends_at is not None
            and clock.now() >= contract.inspection_ends_at
        ):
            raise Conflict("The inspection period is over.", code="inspection_over")
        company_id = caller.company_id or 0
        found = [files.owned_by(session, f, company_id) for f in body.evidence]
        _move(session, contract, "dispute", caller, body.reason)
        row = Dispute(
            contract_id=contract.id or 0,
            opened_by_company_id=company_id,
            reason=body.reason,
            status=DisputeStatus.open,
            opened_at=clock.now(),
        )
        session.add(row)
        session.flush()
        for f in found:
            session.add(
                Evidence(
                    dispute_id=row.id or 0, company_id=company_id, file_id=f.id, at=clock.now()
                )
            )

    return _command(session, contract, caller, body.key or "dispute", "dispute", apply)


def add_evidence(
    session: Session, principal: Principal | None, contract_id: int, body: EvidenceAdd
) -> Evidence:
    """Either party adds a file to the open dispute."""
    contract, caller = _load(session, principal, contract_id)
    row = _dispute_of(session, contract.id or 0)
    if row.status is not DisputeStatus.open or caller.is_operator:
        raise Conflict(
            "Evidence is added by the parties while the dispute is open.", code="dispute_closed"
        )
    stored = files.owned_by(session, body.file_id, caller.company_id)
    evidence = Evidence(
        dispute_id=row.id or 0,
        company_id=caller.company_id or 0,
        file_id=stored.id,
        note=body.note,
        at=clock.now(),
    )
    session.add(evidence)
    session.flush()
    _notify(session, contract, "evidence", f"New dispute evidence: {contract.lot_name}")
    return evidence


def resolve(
    session: Session, principal: Principal | None, dispute_id: int, body: Resolution
) -> Contract:
    """An operator rules on a dispute: release, refund, or split what is held."""
    caller = require_operator(principal)
    row = session.get(Dispute, dispute_id)
    if row is None:
        raise NotFound("No such dispute.")
    contract = _locked(session, row.contract_id)

    def apply() -> None:
        move = f"resolve_{body.outcome}"
        held = escrow.position(session, contract.id or 0).held
        to_supplier = {"release": held, "refund": 0}.get(body.outcome)
        if to_supplier is None:
            if body.supplier_amount is None or not 0 <= body.supplier_amount <= held:
                raise Invalid(
                    f"A split gives the supplier from 0 to {held} (what is held).",
                    code="invalid_split",
                    field="supplier_amount",
                )
            to_supplier = body.supplier_amount
        new = transition(MOVES, "contract", contract.status, move)
        txn = f"c{contract.id}:resolve"
        escrow.post(
            session,
            txn,
            contract.id or 0,
            contract.currency,
            escrow.split_legs(held, to_supplier, contract.fee_bps),
            f"dispute {dispute_id}: {body.outcome}",
        )
        payout = to_supplier - escrow.fee_of(to_supplier, contract.fee_bps)
        if payout:
            _payment(session, contract, PaymentKind.payout, txn + ":payout", payout)
        if held - to_supplier:
            _payment(session, contract, PaymentKind.refund, txn + ":refund", held - to_supplier)
        row.status, row.outcome, row.note = DisputeStatus.resolved, body.outcome, body.note
        row.supplier_amount, row.buyer_amount = to_supplier, held - to_supplier
        row.resolved_at, row.resolved_by = clock.now(), caller.user_id
        session.add(row)
        _record(
            session,
            contract,
            move,
            caller,
            new,
            {"supplier_amount": to_supplier, "buyer_amount": held - to_supplier},
        )
        contract.closed_at = clock.now()

    return _command(session, contract, caller, body.key or "resolve", "resolve", apply)


def confirm_payment(session: Session, principal: Principal | None, payment_id: int) -> Payment:
    """An operator confirms a payment went through (a replay changes nothing)."""
    caller = require_operator(principal)
    payment = session.get(Payment, payment_id)
    if payment is None:
        raise NotFound("No such payment.")
    contract = _locked(session, payment.contract_id)
    session.refresh(payment)  # read again under the lock: a racing confirm may have won
    if payment.status is PaymentStatus.confirmed:
        return payment
    legs: list[tuple[Account, int]]
    if payment.kind is PaymentKind.funding:
        new = transition(MOVES, "contract", contract.status, "fund")
        legs = [(Account.buyer_funding, -payment.amount), (Account.escrow, payment.amount)]
        escrow.post(
            session, payment.txn, contract.id or 0, contract.currency, legs, "funding received"
        )
        contract.funded_at = clock.now()
        _record(session, contract, "fund", caller, new, {"amount": payment.amount})
    elif payment.kind is PaymentKind.payout:
        legs = [
            (Account.supplier_payable, -payment.amount),
            (Account.supplier_paid, payment.amount),
        ]
        escrow.post(
            session, payment.txn + ":paid", contract.id or 0, contract.currency, legs, "paid out"
        )
    else:
        legs = [
            (Account.buyer_refundable, -payment.amount),
            (Account.buyer_refunded, payment.amount),
        ]
        escrow.post(
            session, payment.txn + ":paid", contract.id or 0, contract.currency, legs, "refunded"
        )
    payment.status, payment.confirmed_at = PaymentStatus.confirmed, clock.now()
    session.add(payment)
    if payment.kind is not PaymentKind.funding:  # funding is notified as the move "fund"
        what = "paid out to the supplier" if payment.kind is PaymentKind.payout else "refunded"
        _notify(session, contract, payment.kind.value, f"Contract {contract.id}: {what}")
    history.record(
        session, "payment", payment_id, "confirm", "pending", "confirmed", caller.user_id
    )
    return payment


def sweep(session: Session, now: datetime | None = None) -> list[int]:
    """Release every contract whose inspection period ran out (exactly once each: the
    status, the command key and the ledger transaction all say so); the ids released."""
    now = now or clock.now()
    due = session.exec(
        select(Contract.id).where(
            Contract.status == ContractStatus.delivered,
            col(Contract.inspection_ends_at) <= now,
        )
    ).all()
    released = []
    for contract_id in due:
        assert contract_id is not None
        try:
            with session.begin_nested():  # one contract's failure rolls back only itself
                contract = _locked(session, contract_id)
                if contract.status is not ContractStatus.delivered:
                    continue
                _command(
                    session,
                    contract,
                    None,
                    SYSTEM_KEY + "inspection_timeout",
                    "release",
                    partial(
                        _final_release,
                        session,
                        contract,
                        "release",
                        None,
                        "inspection period ran out",
                    ),
                )
            released.append(contract_id)
        except Exception:
            log.exception("releasing contract %s after its inspection period failed", contract_id)
    return released


# --- reading -------------------------------------------------------------------------


def get(session: Session, principal: Principal | None, contract_id: int) -> Contract:
    """A contract: its two parties' members and operators only."""
    contract, _ = _load(session, principal, contract_id)
    return contract


def listed(
    session: Session, principal: Principal | None, status: ContractStatus | None
) -> list[Contract]:
    """The caller's company's contracts (either side); operators: all."""
    caller = require_login(principal)
    query = select(Contract).order_by(col(Contract.id).desc()).limit(500)
    if not caller.is_operator:
        query = query.where(
            (Contract.buyer_company_id == caller.company_id)
            | (Contract.supplier_company_id == caller.company_id)
        )
    if status is not None:
        query = query.where(Contract.status == status)
    return list(session.exec(query).all())


def public(session: Session, principal: Principal | None, contract: Contract) -> dict[str, Any]:
    """The contract as its parties see it: terms, escrow position, payments, dispute."""
    caller = require_login(principal)
    assert contract.id is not None
    pos = escrow.position(session, contract.id)
    amounts = escrow.milestone_amounts(contract.total, [m["bps"] for m in contract.milestones])
    names = {
        c.id: c.name
        for c in session.exec(
            select(Company).where(
                col(Company.id).in_([contract.buyer_company_id, contract.supplier_company_id])
            )
        )
    }
    role = _role(contract, caller)
    dispute_row = session.exec(select(Dispute).where(Dispute.contract_id == contract.id)).first()
    data = contract.model_dump(exclude={"milestones"})
    data.update(
        buyer_name=names.get(contract.buyer_company_id, ""),
        supplier_name=names.get(contract.supplier_company_id, ""),
        milestones=[
            {
                "index": i,
                "name": m["name"],
                "bps": m["bps"],
                "amount": amounts[i],
                "released": escrow.posted(session, f"c{contract.id}:milestone:{i}"),
            }
            for i, m in enumerate(contract.milestones)
        ],
        escrow={
            "funded": pos.funded,
            "held": pos.held,
            "released": pos.released,
            "refunded": pos.refunded,
            "fees": pos.fees,
            "paid_out": pos.paid_out,
            "refunds_paid": pos.refunds_paid,
        },
        payments=[
            p.model_dump()
            for p in session.exec(
                select(Payment).where(Payment.contract_id == contract.id).order_by(col(Payment.id))
            )
        ],
        dispute=_dispute_public(session, dispute_row) if dispute_row else None,
        moves=[m for m in moves_from(MOVES, contract.status) if role in _MAY[m]],
        history=[h.model_dump() for h in history.of(session, "contract", contract.id)],
    )
    return data


def disputes(
    session: Session, principal: Principal | None, status: DisputeStatus | None
) -> list[dict[str, Any]]:
    """Operators: the dispute queue."""
    require_operator(principal)
    query = select(Dispute).order_by(col(Dispute.id))
    if status is not None:
        query = query.where(Dispute.status == status)
    return [_dispute_public(session, d) for d in session.exec(query)]


def pending_payments(session: Session, principal: Principal | None) -> list[Payment]:
    """Operators: payments waiting for confirmation."""
    require_operator(principal)
    return list(
        session.exec(
            select(Payment).where(Payment.status == PaymentStatus.pending).order_by(col(Payment.id))
        ).all()
    )


# --- internals -----------------------------------------------------------------------


def _dispute_public(session: Session, row: Dispute) -> dict[str, Any]:
    evidence = session.exec(
        select(Evidence).where(Evidence.dispute_id == row.id).order_by(col(Evidence.id))
    )
    return {**row.model_dump(), "evidence": [e.model_dump() for e in evidence]}


def _dispute_of(session: Session, contract_id: int) -> Dispute:
    row = session.exec(select(Dispute).where(Dispute.contract_id == contract_id)).first()
    if row is None:
        raise Conflict("This contract has no dispute.", code="no_dispute")
    return row


def _load(
    session: Session, principal: Principal | None, contract_id: int
) -> tuple[Contract, Principal]:
    caller = require_login(principal)
    contract = _locked(session, contract_id)
    if not caller.is_operator and caller.company_id not in (
        contract.buyer_company_id,
        contract.supplier_company_id,
    ):
        raise NotFound("No such contract.")
    return contract, caller


def _locked(session: Session, contract_id: int) -> Contract:
    """The contract, row-locked and read afresh (not the session's possibly stale copy)."""
    contract = session.exec(
        select(Contract)
        .where(Contract.id == contract_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()
    if contract is None:
        raise NotFound("No such contract.")
    return contract


def _role(contract: Contract, caller: Principal | None) -> str:
    if caller is None or caller.is_operator:
        return _PLATFORM
    if caller.company_id == contract.buyer_company_id:
        return _BUYER
    if caller.company_id == contract.supplier_company_id:
        return _SUPPLIER
    return ""


def _command(
    session: Session,
    contract: Contract,
    caller: Principal | None,
    key: str,
    move: str,
    apply: Callable[[], None],
) -> Contract:
    """Run ``apply`` once per key: a replayed key returns the contract unchanged."""
    assert contract.id is not None
    seen = session.exec(
        select(ContractCommand).where(
            ContractCommand.contract_id == contract.id, ContractCommand.key == key
        )
    ).first()
    if seen is not None:
        if seen.move != move:
            raise Conflict(f"Key {key!r} was already used for {seen.move}.", code="key_reused")
        if caller is not None and move in _MAY and _role(contract, caller) not in _MAY[move]:
            raise Forbidden(f"You may not {move} this contract.", code="not_your_move")
        return contract  # a replay answers only those who may make the move
    apply()
    session.add(contract)
    session.add(
        ContractCommand(
            contract_id=contract.id,
            key=key,
            move=move,
            actor_id=caller.user_id if caller else None,
            at=clock.now(),
        )
    )
    session.flush()
    return contract


def _next(contract: Contract, caller: Principal | None, move: str) -> ContractStatus:
    """The state ``move`` leads to, if ``caller`` may make it (None: the platform's timer)."""
    if caller is not None and _role(contract, caller) not in _MAY[move]:
        raise Forbidden(f"You may not {move} this contract.", code="not_your_move")
    return transition(MOVES, "contract", contract.status, move)


def _move(
    session: Session, contract: Contract, move: str, caller: Principal | None, note: str = ""
) -> None:
    new = _next(contract, caller, move)
    _record(session, contract, move, caller, new, {"note": note} if note else {})


def _record(
    session: Session,
    contract: Contract,
    move: str,
    caller: Principal | None,
    new: ContractStatus,
    data: dict[str, Any],
) -> None:
    """Put a move on the record, seal it onto the auction's chain, tell both parties."""
    assert contract.id is not None
    old = contract.status
    contract.status = new
    if new in FINAL:
        contract.closed_at = contract.closed_at or clock.now()
    history.record(
        session,
        "contract",
        contract.id,
        move,
        old.value,
        new.value,
        caller.user_id if caller else None,
        str(data.get("note", "")),
    )
    journal.append(
        session,
        contract.auction_id,
        f"contract_{move}"[:24],
        {"contract": contract.id, "from": old.value, "to": new.value, **data},
    )
    _notify(
        session,
        contract,
        move,
        f"Contract {contract.id} ({contract.lot_name}): {new.value.replace('_', ' ')}",
    )


def _final_release(
    session: Session, contract: Contract, move: str, caller: Principal | None, note: str = ""
) -> None:
    new = _next(contract, caller, move)
    held = escrow.position(session, contract.id or 0).held
    _pay_supplier(session, contract, f"c{contract.id}:release", held, note or "goods accepted")
    _record(
        session, contract, move, caller, new, {"amount": held, **({"note": note} if note else {})}
    )


def _pay_supplier(session: Session, contract: Contract, txn: str, amount: int, memo: str) -> None:
    if amount <= 0:
        return
    held = escrow.position(session, contract.id or 0).held
    if amount > held:
        raise Conflict(
            f"Escrow holds {held}; {amount} cannot be released.", code="insufficient_escrow"
        )
    escrow.post(
        session,
        txn,
        contract.id or 0,
        contract.currency,
        escrow.release_legs(amount, contract.fee_bps),
        memo,
    )
    net = amount - escrow.fee_of(amount, contract.fee_bps)
    if net:
        _payment(session, contract, PaymentKind.payout, txn + ":payout", net)


def _payment(
    session: Session, contract: Contract, kind: PaymentKind, txn: str, amount: int
) -> Payment:
    existing = session.exec(select(Payment).where(Payment.txn == txn)).first()
    if existing is not None:
        return existing
    provider = payments.provider()
    reference = f"RFQ-{txn.upper()}"
    intent = (
        provider.start(reference, amount, contract.currency)
        if kind is PaymentKind.funding
        else provider.payout(reference, amount, contract.currency)
    )
    payment = Payment(
        contract_id=contract.id or 0,
        txn=txn,
        kind=kind,
        amount=amount,
        currency=contract.currency,
        status=PaymentStatus.pending,
        provider=provider.name,
        reference=intent.reference,
        instructions=intent.instructions,
        created_at=clock.now(),
    )
    session.add(payment)
    session.flush()
    return payment


def _notify(session: Session, contract: Contract, move: str, title: str) -> None:
    for company_id in (contract.buyer_company_id, contract.supplier_company_id):
        notifications.notify_company(
            session, company_id, f"contract_{move}", title, contract_id=contract.id
        )
