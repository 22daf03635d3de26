"""Who may bid in an auction: the procurement facts the engine checks at every bid.

A company may bid in a lot's auction when all hold:

- it is a supplier, and not the RFQ's buyer;
- its certification is approved (not pending, rejected or suspended);
- it takes part in the RFQ: matched by category or keyword on publishing, invited by
  the buyer, or admitted after asking to join;
- its deposit covers the RFQ's bid bond, which is reserved (once) at its first bid.

:func:`check` answers with None (eligible) or a sentence saying what is missing.
"""

from __future__ import annotations

from sqlmodel import Session

from rfq import certification, deposits, participation
from rfq.accounts import Company, CompanyKind
from rfq.lifecycle import OPEN_TO_BIDDERS
from rfq.rfq_tables import Rfq

NOT_OPEN = "The RFQ is not open for bids now."
"""The reason for an RFQ that is no longer (or not yet) open: not a question of who
bids, so the desk answers it as ``auction_not_live``."""

RESERVE = "The RFQ's bid bond is to be reserved."
"""What a check without ``reserve`` answers for a company that may bid once its bond is
reserved: the caller checks again in a transaction that may write."""


def check(
    session: Session,
    company_id: int | None,
    rfq: Rfq,
    deposit_required: int = 0,
    *,
    reserve: bool = True,
) -> str | None:
    """None if the company may bid in this RFQ's auctions, else why not.

    Without ``reserve`` it only reads: :data:`RESERVE` instead of reserving a bond that
    is not reserved yet.

    ``deposit_required``: the platform's security deposit (``RFQ_DEPOSIT_REQUIRED``, in
    the platform's currency) the company must hold before it first takes part in an
    RFQ, that is, until the RFQ's bid bond is reserved (later refunds or forfeits do not
    cut it off from an RFQ it already bids in)."""
    company = session.get(Company, company_id) if company_id is not None else None
    if company is None or company.kind is not CompanyKind.supplier:
        return "Only supplier companies bid."
    if company_id == rfq.buyer_company_id:
        return "A company cannot bid in its own RFQ."
    if rfq.status not in OPEN_TO_BIDDERS:
        return NOT_OPEN
    if rfq.practice:  # a practice room (rfq/practice.py): only the invitation counts
        invited = rfq.id is not None and participation.is_invited(session, rfq.id, company_id)
        return None if invited else "Your company is not invited to this RFQ."
    if not certification.is_approved(session, company_id):
        return "Your company's certification is not approved."
    assert rfq.id is not None and company_id is not None
    if not participation.is_invited(session, rfq.id, company_id):
        return "Your company is not invited to this RFQ; ask the buyer to join."
    if deposit_required > 0 and not deposits.bond_reserved(session, company_id, rfq.id):
        short = deposits.short_of_requirement(session, company_id, deposit_required)
        if short is not None:
            return short
    if rfq.bid_bond > 0:
        if not reserve:
            return None if deposits.bond_reserved(session, company_id, rfq.id) else RESERVE
        try:
            deposits.reserve_bond(session, company_id, rfq.id, rfq.bid_bond, rfq.currency)
        except deposits.InsufficientDeposit as exc:
            return exc.message
    return None
