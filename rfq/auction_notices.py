"""What suppliers are told about an auction's live moves: that they lost first place,
that its end moved, and that a bid was placed on their behalf (the engine's journal
calls these as hooks, in its commit)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import select
from sqlmodel import Session, col

from rfq import notifications
from rfq.auctions import AuctionRecord, BidRecord
from rfq.platform import clock
from rfq.rfq_tables import Rfq

_PRACTICE: WeakKeyDictionary[Any, dict[int, bool]] = WeakKeyDictionary()
"""Per database engine: whether an auction is a practice room's (fixed when it is made)."""


def practice(session: Session, auction_ids: Sequence[int]) -> set[int]:
    """The practice rooms' auctions among ``auction_ids`` (``rfq/practice.py``): their
    moves tell nobody, as they are not the record."""
    known = _PRACTICE.setdefault(session.get_bind(), {})
    unknown = [a for a in set(auction_ids) if a not in known]
    if unknown:
        found = session.execute(
            select(col(AuctionRecord.id), col(Rfq.practice))
            .join(Rfq, col(Rfq.id) == col(AuctionRecord.rfq_id))
            .where(col(AuctionRecord.id).in_(unknown))
        ).all()
        known.update({auction_id: bool(flag) for auction_id, flag in found})
    return {a for a in auction_ids if known.get(a)}


def outbid(session: Session, lost: Sequence[tuple[int, int]]) -> None:
    """Tell each ``(auction, company)``'s supplier that another one took first place:
    once per journal batch, in bulk (this runs in the commit every acknowledgement
    waits for)."""
    skip = practice(session, [auction_id for auction_id, _ in lost])
    told = [(c, {"auction_id": a}) for a, c in lost if a not in skip]
    if not told:
        return
    notifications.notify_companies(
        session,
        told,
        "outbid",
        "You were outbid",
        "Another supplier took first place.",
    )


def extended(session: Session, auction_id: int, extension: int, ends_at: datetime) -> None:
    """Tell every supplier that has bid in the auction that its end moved, in bulk (this
    runs in the commit every acknowledgement waits for, and a festival's lots extend
    together in its closing minutes)."""
    if practice(session, [auction_id]):
        return
    bidders = session.execute(
        select(col(BidRecord.company_id)).where(col(BidRecord.auction_id) == auction_id).distinct()
    ).scalars()
    when = clock.rfc3339(ends_at)
    data = {"auction_id": auction_id, "ends_at": when}
    notifications.notify_companies(
        session,
        [(company_id, data) for company_id in bidders],
        "extended",
        "Auction extended",
        f"A bid in the closing window extended the auction (extension {extension}); it "
        f"now ends at {when}.",
    )


def surrogate(session: Session, bids: Sequence[dict[str, Any]]) -> None:
    """Tell each supplier that the buyer or an operator placed a bid for it (a phone
    bid), with the price and the reason given."""
    for bid in bids:
        notifications.notify_company(
            session,
            bid["company_id"],
            "surrogate_bid",
            "A bid was placed on your behalf",
            f"A bid of {bid['price']} (minor units) was placed for your company in auction "
            f"{bid['auction_id']} by the buyer or an operator: {bid['surrogate_reason']}",
            auction_id=bid["auction_id"],
            bid_id=bid["id"],
            price=bid["price"],
            reason=bid["surrogate_reason"] or "",
        )
