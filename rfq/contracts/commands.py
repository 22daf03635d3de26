"""Contract commands, from an award's offer to released money (disputes are
``disputes.py``'s).

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

from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field, field_validator
from sqlmodel import Session, col, select

from rfq import audit_chain, escrow, history
from rfq.access import require_operator
from rfq.accounts import Principal
from rfq.contracts import bonds
from rfq.contracts.model import (
    BUYER,
    MAY,
    MILESTONE_STATES,
    MOVES,
    SYSTEM_KEY,
    Contract,
    ContractStatus,
    Payment,
    PaymentKind,
    PaymentStatus,
)
from rfq.contracts.moves import (
    ask_payment,
    final_release,
    load,
    locked,
    notify,
    pay_supplier,
    record,
    release_due,
    role_of,
    run_once,
    step,
)
from rfq.escrow import Account
from rfq.platform import clock
from rfq.platform.errors import Conflict, Forbidden, Invalid, NotFound
from rfq.platform.money import MAX_AMOUNT
from rfq.platform.statemachine import transition


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
    """Ship the goods; ``quantity`` less than the contract's is a partial delivery."""

    tracking: str = ""
    quantity: int | None = Field(default=None, ge=1, le=MAX_AMOUNT, strict=True)

    @field_validator("tracking")
    @classmethod
    def _tracking(cls, value: str) -> str:
        if len(value) > 500:
            raise ValueError("at most 500 characters")
        return value.strip()


class Confirm(Command):
    """Sign for the goods; ``quantity_accepted`` less than what was shipped rejects the
    rest (the buyer is refunded for it at the release)."""

    quantity_accepted: int | None = Field(default=None, ge=0, le=MAX_AMOUNT, strict=True)


class Release(Command):
    """Release one milestone (its index), or everything still held (no milestone)."""

    milestone: int | None = None


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
        ship_by=datetime.fromisoformat(decision["ship_by"]) if decision.get("ship_by") else None,
        warranty_days=int(decision.get("warranty_days", 0)),
        return_days=int(decision.get("return_days", 0)),
        retention_bps=int(decision.get("retention_bps", 0)),
        milestones=list(decision.get("milestones") or [{"name": "Acceptance", "bps": 10_000}]),
        status=ContractStatus.offered,
        created_at=clock.now(),
    )
    session.add(contract)
    session.flush()
    assert contract.id is not None
    history.record(session, "contract", contract.id, "offer", None, "offered", decision.get("by"))
    audit_chain.append(
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
    notify(session, contract, "offered", f"Contract offered: {lot.name}")
    return contract


def accept(
    session: Session, principal: Principal | None, contract_id: int, key: str | None
) -> Contract:
    """The supplier accepts the contract; the buyer is asked to fund it."""
    contract, caller = load(session, principal, contract_id)

    def apply() -> None:
        step(session, contract, "accept", caller)
        contract.accepted_at = clock.now()
        bonds.settle(session, contract.rfq_id)

    return run_once(session, contract, caller, key or "accept", "accept", apply)


def decline(
    session: Session, principal: Principal | None, contract_id: int, key: str | None
) -> Contract:
    """The supplier declines; its bond stays reserved for an operator to decide on, and
    the buyer may award the next-ranked bidder."""
    contract, caller = load(session, principal, contract_id)
    return run_once(
        session,
        contract,
        caller,
        key or "decline",
        "decline",
        lambda: step(session, contract, "decline", caller),
    )


def cancel(
    session: Session, principal: Principal | None, contract_id: int, key: str | None
) -> Contract:
    """The buyer cancels a contract it has not funded (not while a funding payment is
    on its way: the operator confirms or the buyer waits)."""
    contract, caller = load(session, principal, contract_id)

    def apply() -> None:
        if _funding(session, contract, PaymentStatus.pending):
            raise Conflict(
                "A funding payment is pending; it must be confirmed or withdrawn first.",
                code="funding_pending",
            )
        step(session, contract, "cancel", caller)

    return run_once(session, contract, caller, key or "cancel", "cancel", apply)


def request_funding(
    session: Session, principal: Principal | None, contract_id: int, key: str | None
) -> Contract:
    """The buyer asks to fund the contract: a funding payment (one per contract, so a
    repeat returns it), pending until an operator confirms it."""
    contract, caller = load(session, principal, contract_id)
    if role_of(contract, caller) != BUYER:
        raise Forbidden("Only the buyer funds a contract.", code="buyer_only")
    if contract.status is not ContractStatus.awaiting_funding:
        transition(MOVES, "contract", contract.status, "fund")  # raises, naming the state
    withdrawn = _funding(session, contract, PaymentStatus.withdrawn)
    txn = f"c{contract.id}:fund" + (f":{len(withdrawn) + 1}" if withdrawn else "")
    ask_payment(session, contract, PaymentKind.funding, txn, contract.total)
    return contract


def withdraw_funding(
    session: Session, principal: Principal | None, contract_id: int, key: str | None
) -> Contract:
    """The buyer withdraws its pending funding payment before an operator confirmed it
    (it will pay another way, or not at all): the payment is void, nothing moved in the
    ledger, and the contract awaits funding again, so the buyer may fund it anew or
    cancel it. An operator's confirmation of the withdrawn payment is refused."""
    contract, caller = load(session, principal, contract_id)
    if role_of(contract, caller) != BUYER:
        raise Forbidden("Only the buyer withdraws its funding.", code="buyer_only")
    pending = next(iter(_funding(session, contract, PaymentStatus.pending)), None)

    def apply() -> None:
        if pending is None:
            raise Conflict("No funding payment is pending.", code="no_pending_funding")
        pending.status = PaymentStatus.withdrawn
        session.add(pending)
        history.record(
            session, "payment", pending.id or 0, "withdraw", "pending", "withdrawn", caller.user_id
        )
        state = contract.status.value
        history.record(
            session, "contract", contract.id or 0, "withdraw", state, state, caller.user_id,
            f"payment {pending.id}",
        )  # fmt: skip
        audit_chain.append(
            session,
            contract.auction_id,
            "contract_withdraw",
            {"contract": contract.id, "payment": pending.id, "amount": pending.amount},
        )
        notify(session, contract, "withdraw", f"Contract {contract.id}: funding withdrawn")

    default = f"withdraw:{pending.id}" if pending is not None else "withdraw"
    return run_once(session, contract, caller, key or default, "withdraw", apply)


def _funding(session: Session, contract: Contract, status: PaymentStatus) -> list[Payment]:
    """The contract's funding payments in ``status``, oldest first."""
    return list(
        session.exec(
            select(Payment)
            .where(
                Payment.contract_id == contract.id,
                Payment.kind == PaymentKind.funding,
                Payment.status == status,
            )
            .order_by(col(Payment.id))
        ).all()
    )


def ship(session: Session, principal: Principal | None, contract_id: int, body: Ship) -> Contract:
    """The supplier ships the goods (with a tracking reference), all of them or part
    (a partial delivery: the buyer pays for what it accepts of what came)."""
    contract, caller = load(session, principal, contract_id)

    def apply() -> None:
        quantity = contract.quantity if body.quantity is None else body.quantity
        if quantity > contract.quantity:
            raise Invalid(
                f"The contract is for {contract.quantity} {contract.unit}.",
                code="quantity_exceeds_contract",
                field="quantity",
            )
        note = body.tracking + (
            f" ({quantity} of {contract.quantity})" if quantity < contract.quantity else ""
        )
        step(session, contract, "ship", caller, note.strip())
        contract.tracking, contract.shipped_at = body.tracking, clock.now()
        contract.quantity_shipped = quantity

    return run_once(session, contract, caller, body.key or "ship", "ship", apply)


def confirm(
    session: Session, principal: Principal | None, contract_id: int, body: Confirm
) -> Contract:
    """The buyer signs for the goods, accepting all that was shipped or part of it: the
    inspection period starts."""
    contract, caller = load(session, principal, contract_id)
    key = body.key

    def apply() -> None:
        shipped = contract.quantity_shipped or contract.quantity
        accepted = shipped if body.quantity_accepted is None else body.quantity_accepted
        if accepted > shipped:
            raise Invalid(
                f"{shipped} {contract.unit} were shipped; accept at most that.",
                code="quantity_exceeds_shipped",
                field="quantity_accepted",
            )
        contract.quantity_accepted = accepted
        note = f"{accepted} of {contract.quantity} accepted" if accepted < contract.quantity else ""
        step(session, contract, "confirm", caller, note)
        contract.delivered_at = clock.now()
        contract.inspection_ends_at = contract.delivered_at + timedelta(
            days=contract.inspection_days
        )

    return run_once(session, contract, caller, key or "confirm", "confirm", apply)


def release(
    session: Session, principal: Principal | None, contract_id: int, body: Release
) -> Contract:
    """The buyer accepts the goods (everything still held goes to the supplier), or
    releases one milestone early."""
    contract, caller = load(session, principal, contract_id)
    if body.milestone is None:
        default = "release:retention" if contract.status is ContractStatus.warranty else "release"
        return run_once(
            session,
            contract,
            caller,
            body.key or default,
            "release",
            lambda: final_release(session, contract, "release", caller),
        )
    index = body.milestone
    if role_of(contract, caller) not in MAY["milestone"]:
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
        pay_supplier(session, contract, txn, amounts[index], f"milestone {index}")
        record(session, contract, "milestone", caller, contract.status, {"milestone": index})

    return run_once(session, contract, caller, body.key or f"milestone:{index}", "milestone", apply)


def confirm_payment(session: Session, principal: Principal | None, payment_id: int) -> Payment:
    """An operator confirms a payment went through (a replay changes nothing)."""
    caller = require_operator(principal)
    payment = session.get(Payment, payment_id)
    if payment is None:
        raise NotFound("No such payment.")
    contract = locked(session, payment.contract_id)
    session.refresh(payment)  # read again under the lock: a racing confirm may have won
    if payment.status is PaymentStatus.confirmed:
        return payment
    if payment.status is PaymentStatus.withdrawn:
        raise Conflict("The buyer withdrew this payment.", code="payment_withdrawn")
    legs: list[tuple[Account, int]]
    if payment.kind is PaymentKind.funding:
        new = transition(MOVES, "contract", contract.status, "fund")
        legs = [(Account.buyer_funding, -payment.amount), (Account.escrow, payment.amount)]
        escrow.post(
            session, payment.txn, contract.id or 0, contract.currency, legs, "funding received"
        )
        contract.funded_at = clock.now()
        record(session, contract, "fund", caller, new, {"amount": payment.amount})
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
        notify(session, contract, payment.kind.value, f"Contract {contract.id}: {what}")
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
    return release_due(
        session, due, ContractStatus.delivered, "inspection_timeout", "release",
        "inspection period ran out",
    )  # fmt: skip
