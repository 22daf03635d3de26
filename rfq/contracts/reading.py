"""Reading contracts, their disputes and pending payments, for the parties and operators."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from rfq import escrow, history
from rfq.access import require_login, require_operator
from rfq.accounts import Company, Principal
from rfq.contracts import delivery
from rfq.contracts.model import (
    BUYER,
    MAY,
    MOVES,
    SUPPLIER,
    Contract,
    ContractStatus,
    Dispute,
    DisputeStatus,
    Evidence,
    ExtensionStatus,
    Payment,
    PaymentStatus,
)
from rfq.contracts.moves import load, role_of
from rfq.platform.statemachine import moves_from


def get(session: Session, principal: Principal | None, contract_id: int) -> Contract:
    """A contract: its two parties' members and operators only."""
    contract, _ = load(session, principal, contract_id)
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
    role = role_of(contract, caller)
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
        overdue=delivery.overdue(contract),
        moves=_moves(contract, role),
        history=[h.model_dump() for h in history.of(session, "contract", contract.id)],
    )
    return data


HIDDEN = frozenset({"release_partial", "release_retained", "warranty_end"})
"""Moves a final release makes by itself (the buyer asks for ``release``)."""
LATE_ONLY = frozenset({"terminate", "dispute"})
"""A funded contract's moves open to the buyer (only) once its ship-by date has passed."""


def _moves(contract: Contract, role: str) -> list[str]:
    """What the caller may do now: the state's moves for its side, and the extension."""
    late = delivery.overdue(contract)
    unshipped = contract.status is ContractStatus.funded
    found = [
        m
        for m in moves_from(MOVES, contract.status)
        if role in MAY[m]
        and m not in HIDDEN
        and not (unshipped and m in LATE_ONLY and not (late and role == BUYER))
    ]
    if (
        role == SUPPLIER
        and contract.status in (ContractStatus.awaiting_funding, ContractStatus.funded)
        and contract.extension_status is ExtensionStatus.none
        and contract.ship_by is not None
        and not late
    ):
        found.append("extension")
    if (
        role == BUYER
        and contract.extension_status is ExtensionStatus.requested
        and contract.status in (ContractStatus.awaiting_funding, ContractStatus.funded)
    ):
        found.append("extension_answer")
    return found


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


def _dispute_public(session: Session, row: Dispute) -> dict[str, Any]:
    evidence = session.exec(
        select(Evidence).where(Evidence.dispute_id == row.id).order_by(col(Evidence.id))
    )
    return {**row.model_dump(), "evidence": [e.model_dump() for e in evidence]}
