"""How every contract command runs: the contract loaded and row-locked for a party (or
an operator), the move checked against ``MOVES`` and against who may make it, run once
per key (a replay returns the contract as it is), put on the record (history), sealed
onto the auction's audit chain and notified to both parties; payments asked of the
provider (``rfq/payments.py``) and money posted on the escrow ledger (``rfq/escrow.py``).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Sequence
from datetime import timedelta
from functools import partial
from typing import Any

from sqlmodel import Session, select

from rfq import audit_chain, escrow, history, notifications, payments, webhooks
from rfq.access import require_login
from rfq.accounts import Principal
from rfq.contracts.model import (
    BUYER,
    FINAL,
    MAY,
    MOVES,
    PLATFORM,
    SUPPLIER,
    SYSTEM_KEY,
    Contract,
    ContractCommand,
    ContractStatus,
    Payment,
    PaymentKind,
    PaymentStatus,
)
from rfq.escrow import Account
from rfq.platform import clock
from rfq.platform.errors import Conflict, Forbidden, NotFound
from rfq.platform.statemachine import transition

log = logging.getLogger("rfq.contracts")


def load(
    session: Session, principal: Principal | None, contract_id: int
) -> tuple[Contract, Principal]:
    caller = require_login(principal)
    contract = locked(session, contract_id)
    if not caller.is_operator and caller.company_id not in (
        contract.buyer_company_id,
        contract.supplier_company_id,
    ):
        raise NotFound("No such contract.")
    return contract, caller


def locked(session: Session, contract_id: int) -> Contract:
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


def role_of(contract: Contract, caller: Principal | None) -> str:
    if caller is None or caller.is_operator:
        return PLATFORM
    if caller.company_id == contract.buyer_company_id:
        return BUYER
    if caller.company_id == contract.supplier_company_id:
        return SUPPLIER
    return ""


def run_once(
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
        if caller is not None and move in MAY and role_of(contract, caller) not in MAY[move]:
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


def next_state(contract: Contract, caller: Principal | None, move: str) -> ContractStatus:
    """The state ``move`` leads to, if ``caller`` may make it (None: the platform's timer)."""
    if caller is not None and role_of(contract, caller) not in MAY[move]:
        raise Forbidden(f"You may not {move} this contract.", code="not_your_move")
    return transition(MOVES, "contract", contract.status, move)


def step(
    session: Session, contract: Contract, move: str, caller: Principal | None, note: str = ""
) -> None:
    new = next_state(contract, caller, move)
    record(session, contract, move, caller, new, {"note": note} if note else {})


def record(
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
    audit_chain.append(
        session,
        contract.auction_id,
        f"contract_{move}"[:24],
        {"contract": contract.id, "from": old.value, "to": new.value, **data},
    )
    notify(
        session,
        contract,
        move,
        f"Contract {contract.id} ({contract.lot_name}): {new.value.replace('_', ' ')}",
    )


def final_release(
    session: Session, contract: Contract, move: str, caller: Principal | None, note: str = ""
) -> None:
    """Pay the supplier for what the buyer accepted, less a retention kept for the
    after-sale period; refund the rest of what is held to the buyer.

    From ``delivered``: the supplier's due is ``unit_price x quantity_accepted`` less
    what milestones already paid; its retention (``retention_bps`` of the accepted
    value, when the contract has after-sale days) stays in escrow and the contract
    goes to ``warranty``; otherwise ``settled`` when something was refunded
    (partial delivery or rejection), else ``released``. From ``warranty``
    (``release``, or ``warranty_end`` by the timer) everything still held goes to the
    supplier."""
    position = escrow.position(session, contract.id or 0)
    held = position.held
    if contract.status is ContractStatus.warranty:
        next_state(contract, caller, move)
        pay_supplier(session, contract, f"c{contract.id}:retention", held, note or "retention")
        record(session, contract, move, caller, ContractStatus.released, {"amount": held})
        return
    due, retention, refund = release_split(contract, position.released, held)
    move = "release_retained" if retention else "release_partial" if refund else "release"
    new = next_state(contract, caller, move)
    pay_supplier(session, contract, f"c{contract.id}:release", due, note or "goods accepted")
    if refund:
        txn = f"c{contract.id}:release:refund"
        legs = [(Account.escrow, -refund), (Account.buyer_refundable, refund)]
        escrow.post(session, txn, contract.id or 0, contract.currency, legs, "not accepted")
        ask_payment(session, contract, PaymentKind.refund, txn, refund)
    if retention:
        contract.aftersale_ends_at = (contract.delivered_at or clock.now()) + timedelta(
            days=max(contract.warranty_days, contract.return_days)
        )
    data: dict[str, Any] = {"amount": due, "refund": refund, "retention": retention}
    record(session, contract, move, caller, new, {**data, **({"note": note} if note else {})})


def release_due(
    session: Session,
    due: Sequence[int | None],
    status: ContractStatus,
    timer: str,
    move: str,
    note: str,
) -> list[int]:
    """The platform's timer: a final release (``move``) of each contract in ``due`` that
    is still in ``status``, exactly once each (the row lock and the status re-checked,
    the command key ``~timer`` unique per contract, the ledger transaction too), each in
    a savepoint so that one failure holds up no other; the ids released."""
    released = []
    for contract_id in due:
        assert contract_id is not None
        try:
            with session.begin_nested():
                contract = locked(session, contract_id)
                if contract.status is not status:
                    continue
                run_once(
                    session, contract, None, SYSTEM_KEY + timer, move,
                    partial(final_release, session, contract, move, None, note),
                )  # fmt: skip
            released.append(contract_id)
        except Exception:
            log.exception("the timer's %s of contract %s failed", move, contract_id)
    return released


def release_split(contract: Contract, released: int, held: int) -> tuple[int, int, int]:
    """What a final release from ``delivered`` pays the supplier now, keeps as the
    retention and refunds the buyer, of the ``held`` money (``released``: paid before,
    by milestones). The three sum to ``held``."""
    accepted = (
        contract.quantity if contract.quantity_accepted is None else contract.quantity_accepted
    )
    value = contract.unit_price * accepted
    aftersale = max(contract.warranty_days, contract.return_days) > 0
    owed = max(0, value - released)  # milestones may have paid more than was accepted
    retention = min(held, owed, value * contract.retention_bps // escrow.BPS) if aftersale else 0
    due = max(0, min(held - retention, owed - retention))
    return due, retention, held - due - retention


def pay_supplier(session: Session, contract: Contract, txn: str, amount: int, memo: str) -> None:
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
        ask_payment(session, contract, PaymentKind.payout, txn + ":payout", net)


def ask_payment(
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


def notify(session: Session, contract: Contract, move: str, title: str) -> None:
    """Tell both parties: in the app, by email, and through their webhooks."""
    parties = [contract.buyer_company_id, contract.supplier_company_id]
    for company_id in parties:
        notifications.notify_company(
            session, company_id, f"contract_{move}", title, contract_id=contract.id
        )
    data = {
        "contract": {
            "id": contract.id,
            "status": contract.status.value,
            "auction_id": contract.auction_id,
            "rfq_id": contract.rfq_id,
            "award_id": contract.award_id,
            "buyer_company_id": contract.buyer_company_id,
            "supplier_company_id": contract.supplier_company_id,
            "lot_name": contract.lot_name,
            "quantity": contract.quantity,
            "unit": contract.unit,
            "unit_price": contract.unit_price,
            "total": contract.total,
            "currency": contract.currency,
        },
        "escrow": dataclasses.asdict(escrow.position(session, contract.id or 0)),
        "title": title,
    }
    webhooks.enqueue(session, parties, f"contract.{move}", webhooks.group_of(move), data)
