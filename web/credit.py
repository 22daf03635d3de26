"""Suppliers' credit records: JSON for the app, CSV to export the history."""

from __future__ import annotations

from typing import Any

from rfq import awards, credit
from rfq.platform import clock
from web import csv_export
from web.routing import Call, api


@api("GET", "/api/companies/{company_id:int}/credit", response=dict[str, Any])
async def record(call: Call[Any]) -> Any:
    """A supplier's credit record and score (buyers, operators, the supplier itself)."""
    return await call.state.db.run(credit.record, call.principal, call.path["company_id"])


@api("GET", "/api/companies/{company_id:int}/credit.csv")
async def export(call: Call[Any]) -> Any:
    """The supplier's contract history as CSV, with the record's counts in a header."""
    data = await call.state.db.run(credit.record, call.principal, call.path["company_id"])
    columns = [
        "contract_id",
        "auction_id",
        "lot_name",
        "quantity",
        "unit_price",
        "total",
        "currency",
        "status",
        "dispute",
        "created_at",
        "closed_at",
    ]
    rows: list[list[Any]] = [
        ["# supplier", data["company_name"], "score", data["score"]],
        ["# bids", data["bids"], "auctions", data["auctions"]],
        columns,
    ]
    for row in data["contracts"]:
        rows.append(
            [clock.rfc3339(row[c]) if c.endswith("_at") and row[c] else row[c] for c in columns]
        )
    return csv_export.download(rows, f"credit-{data['company_id']}.csv")


@api("GET", "/api/suppliers/{company_id:int}", response=dict[str, Any])
async def profile(call: Call[Any]) -> Any:
    """A supplier's profile: level, badge, score and the counts behind it, categories
    (buyers, operators, the supplier itself)."""
    return await call.state.db.run(credit.profile, call.principal, call.path["company_id"])


@api("GET", "/api/auctions/{auction_id:int}/standing", response=list[dict[str, Any]])
async def bidders(call: Call[Any]) -> Any:
    """The standing (level, badge, score) of each supplier with a standing bid, for the
    lot's buyer and operators once the auction has closed (before, identities may be
    hidden)."""
    return await call.state.db.run(awards.bidder_standing, call.principal, call.path["auction_id"])


ROUTES = [record, export, profile, bidders]
