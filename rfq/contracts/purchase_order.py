"""A contract as a purchase order an ERP can import: JSON, and CSV rows (one per line).

Available to both parties and operators once the supplier has accepted the contract
(an offer, a declined or a cancelled contract is no order). Money is in integer minor
units (``*_minor``) and, for spreadsheets and ERPs that want decimals, as the exact
decimal string in major units (``*_major``, made by string arithmetic, never a float).
The fields are documented in ``docs/api.md``.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, select

from rfq import certification
from rfq.accounts import Company, Principal
from rfq.contracts.model import Contract, ContractStatus
from rfq.contracts.moves import load
from rfq.platform import clock
from rfq.platform.errors import Conflict
from rfq.platform.money import format_major
from rfq.rfq_tables import Lot

NOT_ORDERS = frozenset({ContractStatus.offered, ContractStatus.declined, ContractStatus.cancelled})
CSV_COLUMNS = [
    "po_number", "po_date", "status", "buyer_id", "buyer_name", "supplier_id",
    "supplier_name", "supplier_uscc", "line", "item", "specification", "quantity", "uom",
    "unit_price_minor", "unit_price_major", "line_total_minor", "line_total_major",
    "currency", "ship_by", "delivery_terms", "payment_terms", "warranty_days",
    "return_days", "retention_bps", "rfq_id", "auction_id", "contract_id",
]  # fmt: skip


def number(contract: Contract) -> str:
    """The order's number: stable, one per contract."""
    return f"RFQA-PO-{contract.id:06d}"


def document(session: Session, principal: Principal | None, contract_id: int) -> dict[str, Any]:
    """The purchase order of an accepted contract (409 ``not_an_order`` before)."""
    contract, _ = load(session, principal, contract_id)
    if contract.status in NOT_ORDERS:
        raise Conflict(
            f"A contract that is {contract.status.value} is not a purchase order.",
            code="not_an_order",
        )
    buyer = session.get(Company, contract.buyer_company_id)
    supplier = session.get(Company, contract.supplier_company_id)
    cert = certification.current(session, contract.supplier_company_id)
    lot = session.exec(select(Lot).where(Lot.id == contract.auction_id)).first()
    currency = contract.currency
    milestones = ", ".join(
        f"{m['name']} {m['bps'] // 100}.{m['bps'] % 100:02d} %" for m in contract.milestones
    )
    return {
        "po_number": number(contract),
        "po_date": clock.rfc3339(contract.accepted_at or contract.created_at),
        "status": contract.status.value,
        "currency": currency,
        "buyer": {"id": contract.buyer_company_id, "name": buyer.name if buyer else ""},
        "supplier": {
            "id": contract.supplier_company_id,
            "name": supplier.name if supplier else "",
            "uscc": cert.uscc if cert else "",
        },
        "lines": [
            {
                "line": 1,
                "item": contract.lot_name,
                "specification": lot.specification if lot else "",
                "quantity": contract.quantity,
                "uom": contract.unit,
                "unit_price_minor": contract.unit_price,
                "unit_price_major": format_major(contract.unit_price, currency),
                "line_total_minor": contract.total,
                "line_total_major": format_major(contract.total, currency),
            }
        ],
        "total_minor": contract.total,
        "total_major": format_major(contract.total, currency),
        "ship_by": clock.rfc3339(contract.ship_by) if contract.ship_by else None,
        "delivery_terms": contract.delivery_terms,
        "payment_terms": f"Escrow through RFQ Arena; released on acceptance ({milestones}); "
        f"inspection {contract.inspection_days} days",
        "warranty_days": contract.warranty_days,
        "return_days": contract.return_days,
        "retention_bps": contract.retention_bps,
        "references": {
            "contract_id": contract.id,
            "award_id": contract.award_id,
            "rfq_id": contract.rfq_id,
            "auction_id": contract.auction_id,
            "bid_id": contract.bid_id,
        },
    }


def csv_rows(order: dict[str, Any]) -> list[list[Any]]:
    """The order as CSV rows: the header, then one row per line (header fields repeated,
    as ERP imports of order lines expect)."""
    rows: list[list[Any]] = [CSV_COLUMNS]
    refs = order["references"]
    for line in order["lines"]:
        values = {
            "po_number": order["po_number"],
            "po_date": order["po_date"],
            "status": order["status"],
            "buyer_id": order["buyer"]["id"],
            "buyer_name": order["buyer"]["name"],
            "supplier_id": order["supplier"]["id"],
            "supplier_name": order["supplier"]["name"],
            "supplier_uscc": order["supplier"]["uscc"],
            **line,
            "currency": order["currency"],
            "ship_by": order["ship_by"] or "",
            "delivery_terms": order["delivery_terms"],
            "payment_terms": order["payment_terms"],
            "warranty_days": order["warranty_days"],
            "return_days": order["return_days"],
            "retention_bps": order["retention_bps"],
            "rfq_id": refs["rfq_id"],
            "auction_id": refs["auction_id"],
            "contract_id": refs["contract_id"],
        }
        rows.append([values[c] for c in CSV_COLUMNS])
    return rows
