"""What suppliers are told about an auction's live moves: that they lost first place,
that its end moved, and that a bid was placed on their behalf (the engine's journal
calls these as hooks, in its commit)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlmodel import Session, col

from rfq import notifications
from rfq.auctions import BidRecord
from rfq.platform import clock


def outbid(session: Session, lost: Sequence[tuple[int, int]]) -> None:
    """Tell each ``(auction, company)``'s supplier that another one took first place:
    once per journal batch, in bulk (this runs in the commit every acknowledgement
    waits for)."""
    notifications.notify_companies(
        session,
        [(company_id, {"auction_id": auction_id}) for auction_id, company_id in lost],
        "outbid",
        "You were outbid",
        "Another supplier took first place.",
    )


def extended(session: Session, auction_id: int, extension: int, ends_at: datetime) -> None:
    """Tell every supplier that has bid in the auction that its end moved (extensions
    happen only in the soft-close window, so this is rare on the hot path)."""
    bidders = session.execute(
        select(col(BidRecord.company_id)).where(col(BidRecord.auction_id) == auction_id).distinct()
    ).scalars()
    when = clock.rfc3339(ends_at)
    for company_id in bidders:
        notifications.notify_company(
            session,
            company_id,
            "extended",
            "Auction extended",
            f"A bid in the closing window extended the auction (extension {extension}); it "
            f"now ends at {when}.",
            auction_id=auction_id,
            ends_at=when,
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
