"""Disputes: a party opens one when nothing shipped by the ship-by date, after shipping,
during the inspection period, or (a warranty claim or a return) during the after-sale
period; both add evidence while it is open; an operator rules (release, refund, or a
split of what is held: during the after-sale period, the retention).
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, Field, field_validator
from sqlmodel import Session, select

from rfq import escrow, files
from rfq.access import require_operator
from rfq.accounts import Principal
from rfq.contracts import delivery
from rfq.contracts.commands import Command
from rfq.contracts.model import (
    BUYER,
    MOVES,
    Contract,
    ContractStatus,
    Dispute,
    DisputeKind,
    DisputeStatus,
    Evidence,
    Outcome,
    PaymentKind,
)
from rfq.contracts.moves import (
    ask_payment,
    load,
    locked,
    next_state,
    notify,
    record,
    role_of,
    run_once,
    step,
)
from rfq.platform import clock
from rfq.platform.errors import Conflict, Forbidden, Invalid, NotFound
from rfq.platform.statemachine import transition


class DisputeOpen(Command):
    """Open a dispute; ``kind`` defaults to what the contract's state allows:
    ``non_delivery`` (funded, past its ship-by date), ``delivery`` (shipped, or within
    the inspection period), ``warranty`` (after acceptance, within the warranty days);
    ``return`` names a return within the return window instead."""

    reason: str
    kind: DisputeKind | None = None
    evidence: list[str] = Field(default_factory=list)

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


def dispute(
    session: Session, principal: Principal | None, contract_id: int, body: DisputeOpen
) -> Contract:
    """A party opens a dispute after shipping, or during the inspection period."""
    contract, caller = load(session, principal, contract_id)

    def apply() -> None:
        next_state(contract, caller, "dispute")  # who may, before when
        kind = _kind(contract, body.kind)
        if kind is DisputeKind.non_delivery and role_of(contract, caller) != BUYER:
            raise Forbidden(
                "A missed shipment is the buyer's to dispute (or to terminate).",
                code="not_your_move",
            )
        company_id = caller.company_id or 0
        found = [files.owned_by(session, f, company_id) for f in body.evidence]
        step(session, contract, "dispute", caller, body.reason)
        row = Dispute(
            contract_id=contract.id or 0,
            opened_by_company_id=company_id,
            reason=body.reason,
            kind=kind,
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

    return run_once(session, contract, caller, body.key or "dispute", "dispute", apply)


def add_evidence(
    session: Session, principal: Principal | None, contract_id: int, body: EvidenceAdd
) -> Evidence:
    """Either party adds a file to the open dispute."""
    contract, caller = load(session, principal, contract_id)
    row = dispute_of(session, contract.id or 0)
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
    notify(session, contract, "evidence", f"New dispute evidence: {contract.lot_name}")
    return evidence


def resolve(
    session: Session, principal: Principal | None, dispute_id: int, body: Resolution
) -> Contract:
    """An operator rules on a dispute: release, refund, or split what is held."""
    caller = require_operator(principal)
    row = session.get(Dispute, dispute_id)
    if row is None:
        raise NotFound("No such dispute.")
    contract = locked(session, row.contract_id)

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
            ask_payment(session, contract, PaymentKind.payout, txn + ":payout", payout)
        if held - to_supplier:
            ask_payment(session, contract, PaymentKind.refund, txn + ":refund", held - to_supplier)
        row.status, row.outcome, row.note = DisputeStatus.resolved, body.outcome, body.note
        row.supplier_amount, row.buyer_amount = to_supplier, held - to_supplier
        row.resolved_at, row.resolved_by = clock.now(), caller.user_id
        session.add(row)
        record(
            session,
            contract,
            move,
            caller,
            new,
            {"supplier_amount": to_supplier, "buyer_amount": held - to_supplier},
        )
        contract.closed_at = clock.now()

    return run_once(session, contract, caller, body.key or "resolve", "resolve", apply)


_KINDS = {
    ContractStatus.funded: (DisputeKind.non_delivery,),
    ContractStatus.shipped: (DisputeKind.delivery,),
    ContractStatus.delivered: (DisputeKind.delivery,),
    ContractStatus.warranty: (DisputeKind.warranty, DisputeKind.return_),
}


def _kind(contract: Contract, asked: DisputeKind | None) -> DisputeKind:
    """The dispute's kind, if the contract may have one of it now (else a conflict)."""
    allowed = _KINDS.get(contract.status, ())
    kind = asked or (allowed[0] if allowed else DisputeKind.delivery)
    if kind not in allowed:
        raise Conflict(
            f"A contract that is {contract.status.value} cannot have a {kind.value} dispute.",
            code="illegal_transition",
        )
    now = clock.now()
    if kind is DisputeKind.non_delivery and not delivery.overdue(contract, now):
        raise Conflict("The ship-by date has not passed.", code="not_overdue")
    ends = contract.inspection_ends_at
    if contract.status is ContractStatus.delivered and ends is not None and now >= ends:
        raise Conflict("The inspection period is over.", code="inspection_over")
    if contract.status is ContractStatus.warranty:
        days = contract.warranty_days if kind is DisputeKind.warranty else contract.return_days
        start = contract.delivered_at or now
        if now >= start + timedelta(days=days):
            code = "warranty_over" if kind is DisputeKind.warranty else "return_window_over"
            raise Conflict(f"The {kind.value} period is over.", code=code)
    return kind


def dispute_of(session: Session, contract_id: int) -> Dispute:
    row = session.exec(select(Dispute).where(Dispute.contract_id == contract_id)).first()
    if row is None:
        raise Conflict("This contract has no dispute.", code="no_dispute")
    return row
