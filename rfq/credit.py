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

from rfq import certification
from rfq.access import require_login
from rfq.accounts import Company, CompanyKind, Principal, Role
from rfq.auctions import AuctionRecord, BidRecord
from rfq.certification import CertStatus
from rfq.contracts.model import GONE, Contract, ContractStatus, Dispute
from rfq.deposits import DepositAccount, DepositEntry
from rfq.platform.errors import NotFound
from rfq.rfq_tables import Rfq

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
    company = _supplier(session, caller, company_id)
    counts, found, rulings = _counts(session, company_id)
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


def standing(session: Session, company_id: int) -> dict[str, Any]:
    """What a buyer is shown beside a supplier: its certification level and badge, its
    score and the counts behind it (no contracts). The caller's right to see it is
    checked by whoever asks (the auction after its close, the contract, the profile)."""
    company = session.get(Company, company_id)
    cert = certification.current(session, company_id)
    approved = cert is not None and cert.status is CertStatus.approved
    counts, _, _ = _counts(session, company_id)
    return {
        "company_id": company_id,
        "company_name": company.name if company else "",
        "certification": cert.status.value if cert else "none",
        "level": cert.level if approved and cert else None,
        "badge": certification.LEVELS.get(cert.level or 0) if approved and cert else None,
        "score": score(counts),
        "counts": counts,
    }


def profile(session: Session, principal: Principal | None, company_id: int) -> dict[str, Any]:
    """A supplier's profile page: its standing, categories, brands and since when it
    is certified (buyers, operators, the supplier itself)."""
    caller = require_login(principal)
    _supplier(session, caller, company_id)
    cert = certification.current(session, company_id)
    return {
        **standing(session, company_id),
        "categories": cert.categories if cert else [],
        "brands": cert.brands if cert else [],
        "certified_at": cert.decided_at if cert and cert.status is not CertStatus.pending else None,
    }


def enforce(session: Session, company_id: int, declines: int, lost: int) -> bool:
    """The optional automatic suspension (``RFQ_SUSPEND_AFTER_DECLINES``,
    ``RFQ_SUSPEND_AFTER_LOST_DISPUTES``; 0 turns a rule off): once the supplier has
    declined ``declines`` awards or lost ``lost`` disputes since it was approved or last
    reinstated (so a reinstatement is not undone by old counts, nor by a replayed
    decline), its certification is suspended with a notice that says why and how to
    appeal. True if it was."""
    if not declines and not lost:
        return False
    cert = certification.current(session, company_id)
    if cert is None or cert.status is not CertStatus.approved or cert.decided_at is None:
        return False
    since = cert.decided_at  # approved or reinstated then: only what came later counts
    declined = session.exec(
        select(func.count()).where(
            Contract.supplier_company_id == company_id,
            Contract.status == ContractStatus.declined,
            col(Contract.closed_at) >= since,
        )
    ).one()
    refunded = session.exec(
        select(func.count())
        .select_from(Dispute)
        .join(Contract, col(Contract.id) == Dispute.contract_id)
        .where(
            Contract.supplier_company_id == company_id,
            Dispute.outcome == "refund",
            col(Dispute.resolved_at) >= since,
        )
    ).one()
    reasons = []
    if declines and declined >= declines:
        reasons.append(f"{declined} awards declined (the limit is {declines})")
    if lost and refunded >= lost:
        reasons.append(f"{refunded} disputes lost (the limit is {lost})")
    if not reasons:
        return False
    note = "Suspended automatically: " + "; ".join(reasons) + "."
    return certification.suspend_automatically(session, company_id, note) is not None


def _supplier(session: Session, caller: Principal, company_id: int) -> Company:
    company = session.get(Company, company_id)
    if company is None or company.kind is not CompanyKind.supplier:
        raise NotFound("No such supplier.")
    if not (caller.is_operator or caller.role is Role.buyer or caller.company_id == company_id):
        raise NotFound("No such supplier.")
    return company


def _counts(
    session: Session, company_id: int
) -> tuple[dict[str, int], list[Contract], dict[int | None, str | None]]:
    """The record's counts, the supplier's contracts (newest first) and their rulings."""
    bids, auctions = session.exec(
        select(func.count(), func.count(func.distinct(BidRecord.auction_id)))
        .select_from(BidRecord)
        .join(AuctionRecord, col(AuctionRecord.id) == col(BidRecord.auction_id))
        .join(Rfq, col(Rfq.id) == col(AuctionRecord.rfq_id))
        .where(BidRecord.company_id == company_id, col(Rfq.practice).is_(False))
    ).one()  # practice rooms are not the record
    found = list(
        session.exec(
            select(Contract)
            .where(Contract.supplier_company_id == company_id)
            .order_by(col(Contract.id).desc())
        ).all()
    )
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
        "contracts_completed": sum(
            1
            for c in found
            if c.status is ContractStatus.released and rulings.get(c.id) in (None, "release")
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
            if c.shipped_at is not None
            and (c.overdue_at is not None or (c.ship_by is not None and c.shipped_at > c.ship_by))
        ),
        "shipments_missed": sum(
            1 for c in found if c.overdue_at is not None and c.shipped_at is None
        ),
    }
    return counts, found, rulings
