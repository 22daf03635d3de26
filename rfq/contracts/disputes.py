"""Disputes: a party opens one after shipping or during the inspection period, both add
evidence while it is open, an operator rules (release, refund, or a split of what is
held).
"""

from __future__ import annotations

from pydantic import BaseModel, Field, field_validator
from sqlmodel import Session, select

from rfq import escrow, files
from rfq.access import require_operator
from rfq.accounts import Principal
from rfq.contracts.commands import Command
from rfq.contracts.model import (
    MOVES,
    Contract,
    ContractStatus,
    Dispute,
    DisputeStatus,
    Evidence,
    Outcome,
    PaymentKind,
)
from rfq.contracts.moves import ask_payment, load, locked, notify, record, run_once, step
from rfq.platform import clock
from rfq.platform.errors import Conflict, Invalid, NotFound
from rfq.platform.statemachine import transition


class DisputeOpen(Command):
    reason: str
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
        if (
            contract.status is ContractStatus.delivered
            and contract.inspection_ends_at is not None
            and clock.now() >= contract.inspection_ends_at
        ):
            raise Conflict("The inspection period is over.", code="inspection_over")
        company_id = caller.company_id or 0
        found = [files.owned_by(session, f, company_id) for f in body.evidence]
        step(session, contract, "dispute", caller, body.reason)
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


def dispute_of(session: Session, contract_id: int) -> Dispute:
    row = session.exec(select(Dispute).where(Dispute.contract_id == contract_id)).first()
    if row is None:
        raise Conflict("This contract has no dispute.", code="no_dispute")
    return row
