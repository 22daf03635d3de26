"""Suppliers' credit records: JSON for the app, CSV to export the history."""

from __future__ import annotations

import csv
import io
from typing import Any

from starlette.responses import Response

from rfq import credit
from rfq.platform import clock
from web.routing import Call, api


@api("GET", "/api/companies/{company_id:int}/credit", response=dict[str, Any])
async def record(call: Call[Any]) -> Any:
    """A supplier's credit record and score (buyers, operators, the supplier itself)."""
    return await call.state.db.run(credit.record, call.principal, call.path["company_id"])


@api("GET", "/api/companies/{company_id:int}/credit.csv")
async def export(call: Call[Any]) -> Any:
    """The supplier's contract history as CSV, with the record's counts in a header."""
    data = await call.state.db.run(credit.record, call.principal, call.path["company_id"])
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["# supplier", data["company_name"], "score", data["score"]])
    writer.writerow(["# bids", data["bids"], "auctions", data["auctions"]])
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
    writer.writerow(columns)
    for row in data["contracts"]:
        writer.writerow(
            [clock.rfc3339(row[c]) if c.endswith("_at") and row[c] else row[c] for c in columns]
        )
    name = f"credit-{data['company_id']}.csv"
    return Response(
        buffer.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


ROUTES = [record, export]
