"""Bid bonds once an RFQ is decided: a supplier's bond is released when it holds no
open offer and declined nothing (a decline may forfeit it, ``rfq/deposits.py``)."""

from __future__ import annotations

from sqlmodel import Session, select

from bidding.auction import DECIDED
from rfq import deposits
from rfq.auctions import AuctionRecord
from rfq.contracts.model import Contract, ContractStatus
from rfq.participation import Participant


def settle(session: Session, rfq_id: int) -> None:
    """Once every lot of the RFQ is decided, release the bonds of suppliers that hold
    no open offer and declined nothing."""
    statuses = session.exec(select(AuctionRecord.status).where(AuctionRecord.rfq_id == rfq_id))
    if not all(s in DECIDED for s in statuses):
        return
    keep = {
        c.supplier_company_id
        for c in session.exec(select(Contract).where(Contract.rfq_id == rfq_id))
        if c.status in (ContractStatus.offered, ContractStatus.declined)
    }
    for row in session.exec(select(Participant).where(Participant.rfq_id == rfq_id)).all():
        if row.company_id not in keep:
            deposits.release_bond(session, row.company_id, rfq_id, "RFQ decided")
