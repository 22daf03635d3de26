"""A supplier's credit record, built from its history on the platform.

Everything is counted from the records themselves (bids, awards, contracts, disputes,
forfeited bonds), nothing is stored, so the record is always complete and matches the
history it can be exported with. The score (0-100) is a plain, documented formula a
buyer can check and may use when fixing transformed-bid factors::

    60
    + 3 per contract completed (released, or a dispute ruled in the supplier's favour), up to +30
    + 1 per auction taken part in, up to +10
    - 10 per contract declined
    - 15 per dispute ruled against the supplier (refunded), - 5 per split ruling
    - 20 per bid bond forfeited
    - 5 per shipment made after its ship-by date (late)
    - 15 per contract whose ship-by date passed with nothing shipped (missed)
    clamped to 0..100

Buyers and operators may read any supplier's record; a supplier reads its own. The
counts cover everything; the list of contracts shows another buyer's contracts only to
the supplier itself and operators (their prices are that buyer's business).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from rfq.access import require_login
from rfq.accounts import Company, CompanyKind, Principal, Role
from rfq.auctions import BidRecord
from rfq.contracts.model import GONE, Contract, ContractStatus, Dispute
from rfq.deposits import DepositAccount, DepositEntry
from rfq.platform.errors import NotFound

BASE = 60


def score(counts: dict[str, int]) -> int:
    """The score of a record's counts (the formula in the module docstring)."""
    value = (
        BASE
        + min(30, 3 * counts["contracts_completed"])
        + min(10, counts["auctions"])
        - 10 * counts["contracts_declined"]
        - 15 * counts["disputes_lost"]
        - 5 * counts["disputes_split"]
        - 20 * counts["bonds_forfeited"]
        - 5 * counts["shipments_late"]
        - 15 * counts["shipments_missed"]
    )
    return max(0, min(100, value))


def record(session: Session, principal: Principal | None, company_id: int) -> dict[str, Any]:
    """The supplier's credit record: counts, score, and its contracts, newest first."""
    caller = require_login(principal)
    company = session.get(Company, company_id)
    if company is None or company.kind is not CompanyKind.supplier:
        raise NotFound("No such supplier.")
    if not (caller.is_operator or caller.role is Role.buyer or caller.company_id == company_id):
        raise NotFound("No such supplier.")
    bids, auctions = session.exec(
        select(func.count(), func.count(func.distinct(BidRecord.auction_id))).where(
            BidRecord.company_id == company_id
        )
    ).one()
    found = session.exec(
        select(Contract)
        .where(Contract.supplier_company_id == company_id)
        .order_by(col(Contract.id).desc())
    ).all()
    rulings: dict[int | None, str | None] = {
        d.contract_id: d.outcome
        for d in session.exec(
            select(Dispute).where(col(Dispute.contract_id).in_([c.id for c in found]))
        )
    }
    forfeited = session.exec(
        select(func.count()).where(
            DepositEntry.company_id == company_id, DepositEntry.account == DepositAccount.forfeited
        )
    ).one()
    done = (ContractStatus.released, ContractStatus.refunded, ContractStatus.settled)
    counts = {
        "bids": int(bids),
        "auctions": int(auctions),
        "contracts_won": len(found),
        "contracts_completed": len(
            [
                c
                for c in found
                if c.status is ContractStatus.released and rulings.get(c.id) in (None, "release")
            ]
        ),
        "contracts_in_progress": sum(
            1 for c in found if c.status not in done and c.status not in GONE
        ),
        "contracts_declined": sum(1 for c in found if c.status is ContractStatus.declined),
        "disputes": len(rulings),
        "disputes_lost": sum(1 for o in rulings.values() if o == "refund"),
        "disputes_split": sum(1 for o in rulings.values() if o == "split"),
        "bonds_forfeited": int(forfeited),
        "shipments_late": sum(
            1
            for c in found
            if c.shipped_at is not None and c.ship_by is not None and c.shipped_at > c.ship_by
        ),
        "shipments_missed": sum(
            1 for c in found if c.overdue_at is not None and c.shipped_at is None
        ),
    }
    won: dict[str, int] = {}
    for c in found:
        if c.status not in GONE:
            won[c.currency] = won.get(c.currency, 0) + c.total
    return {
        "company_id": company_id,
        "company_name": company.name,
        "score": score(counts),
        **counts,
        "awarded_value": [{"currency": k, "amount": v} for k, v in sorted(won.items())],
        "contracts": [
            {
                "contract_id": c.id,
                "auction_id": c.auction_id,
                "lot_name": c.lot_name,
                "quantity": c.quantity,
                "unit_price": c.unit_price,
                "total": c.total,
                "currency": c.currency,
                "status": c.status.value,
                "dispute": rulings.get(c.id, "") or "",
                "created_at": c.created_at,
                "closed_at": c.closed_at,
            }
            for c in found
            if caller.is_operator or caller.company_id in (company_id, c.buyer_company_id)
        ],
    }
