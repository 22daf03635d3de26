"""Award scenarios: the closed lots of an RFQ compared three ways before the award.

- ``best_per_lot``: each lot to its best-ranked standing bid, whole;
- ``single_supplier``: every lot to one supplier, the one whose bids on all of them cost
  least in total (only suppliers that bid on every lot qualify);
- ``split``: each lot shared between its two best bidders, ``split_bps`` of the
  quantity to the best (rounded down to whole units), the rest to the second (a lot
  with one bidder goes to it whole).

Each gives its lines (lot, bid, supplier, quantity, unit price, total), the total and
the savings against the ceilings, in the RFQ's currency and integer minor units. Only
lots that are closed and not yet decided take part; the buyer and operators see it.
Awarding a scenario (``web/contracts.py``) awards each lot its lines through the same
path as a single award, so every rule of an award holds.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from bidding.auction import OPEN, AuctionStatus
from rfq import awards
from rfq.access import require_login
from rfq.accounts import Company, Principal
from rfq.auctions import AuctionRecord, BidRecord
from rfq.platform import clock
from rfq.platform.errors import Conflict, NotFound
from rfq.rfq_tables import Lot, Rfq

NAMES = ("best_per_lot", "single_supplier", "split")
BPS = 10_000


def compare(
    session: Session, principal: Principal | None, rfq_id: int, split_bps: int = 7_000
) -> dict[str, Any]:
    """The three scenarios over the RFQ's lots that are closed and open to award."""
    caller = require_login(principal)
    rfq = session.get(Rfq, rfq_id)
    if rfq is None or not (caller.is_operator or caller.company_id == rfq.buyer_company_id):
        raise NotFound("No such RFQ.")
    lots = session.exec(
        select(Lot, AuctionRecord)
        .join(AuctionRecord, col(AuctionRecord.id) == Lot.id)
        .where(Lot.rfq_id == rfq_id)
        .order_by(col(Lot.position))
    ).all()
    now = clock.now()
    open_lots = [
        (lot, auction, awards.standing_bids(session, auction.id or 0))
        for lot, auction in lots
        if auction.status == AuctionStatus.closed
        or (auction.status in OPEN and auction.ends_at <= now)
    ]
    open_lots = [(lot, auction, bids) for lot, auction, bids in open_lots if bids]
    if not open_lots:
        raise Conflict(
            "No lot of this RFQ is closed with bids and waiting for its award.",
            code="nothing_to_award",
        )
    names = _names(session, {b.company_id for _, _, bids in open_lots for b in bids})
    lines = {
        "best_per_lot": [[(bids[0], auction.quantity)] for _, auction, bids in open_lots],
        "single_supplier": _single(open_lots),
        "split": [_split(bids, auction.quantity, split_bps) for _, auction, bids in open_lots],
    }
    return {
        "rfq_id": rfq_id,
        "currency": rfq.currency,
        "split_bps": split_bps,
        "lots": [
            {"auction_id": a.id, "lot_name": lot.name, "quantity": a.quantity, "bids": len(bids)}
            for lot, a, bids in open_lots
        ],
        "scenarios": [_scenario(name, open_lots, lines[name], names) for name in NAMES],
    }


def _single(open_lots: list[tuple[Lot, AuctionRecord, list[BidRecord]]]) -> list[Any] | None:
    """Each lot to the one supplier that bid on every lot and costs least in all."""
    per_lot = [{b.company_id: b for b in bids} for _, _, bids in open_lots]
    everywhere = set(per_lot[0]).intersection(*per_lot[1:])
    if not everywhere:
        return None

    def cost(company: int) -> int:
        return sum(
            lot_bids[company].price * auction.quantity
            for lot_bids, (_, auction, _) in zip(per_lot, open_lots, strict=True)
        )

    best = min(sorted(everywhere), key=cost)
    return [
        [(lot_bids[best], auction.quantity)]
        for lot_bids, (_, auction, _) in zip(per_lot, open_lots, strict=True)
    ]


def _split(bids: list[BidRecord], quantity: int, share_bps: int) -> list[tuple[BidRecord, int]]:
    if len(bids) < 2:
        return [(bids[0], quantity)]
    first = quantity * share_bps // BPS
    parts = [(bids[0], first), (bids[1], quantity - first)]
    return [(bid, n) for bid, n in parts if n > 0]


def _scenario(
    name: str,
    open_lots: list[tuple[Lot, AuctionRecord, list[BidRecord]]],
    per_lot: list[list[tuple[BidRecord, int]]] | None,
    names: dict[int, str],
) -> dict[str, Any]:
    if per_lot is None:
        return {
            "name": name,
            "available": False,
            "reason": "No supplier bid on every lot.",
            "lines": [],
            "total": None,
            "savings": None,
            "suppliers": 0,
        }
    lines = []
    for (lot, auction, _), chosen in zip(open_lots, per_lot, strict=True):
        for bid, quantity in chosen:
            lines.append(
                {
                    "auction_id": auction.id,
                    "lot_name": lot.name,
                    "bid_id": bid.id,
                    "company_id": bid.company_id,
                    "company_name": names.get(bid.company_id, ""),
                    "quantity": quantity,
                    "unit_price": bid.price,
                    "total": bid.price * quantity,
                    "savings": (auction.ceiling_price - bid.price) * quantity,
                }
            )
    return {
        "name": name,
        "available": True,
        "reason": "",
        "lines": lines,
        "total": sum(line["total"] for line in lines),
        "savings": sum(line["savings"] for line in lines),
        "suppliers": len({line["company_id"] for line in lines}),
    }


def _names(session: Session, company_ids: set[int]) -> dict[int, str]:
    rows = session.exec(select(Company).where(col(Company.id).in_(company_ids))).all()
    return {c.id or 0: c.name for c in rows}
