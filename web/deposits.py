"""Deposit endpoints: suppliers post, operators confirm and refund; bonds are forfeited."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field
from sqlmodel import Session

from rfq import deposits
from rfq.access import require_login, require_operator, require_role
from rfq.accounts import Role
from rfq.deposits import BalancePublic, DepositCreate, DepositPublic, DepositStatus, Note
from rfq.platform.db import RowId
from web.routing import Call, api, query_enum


class Forfeit(BaseModel):
    """``POST /api/admin/bonds/forfeit`` and ``/release``."""

    company_id: RowId
    rfq_id: RowId
    reason: str = Field(min_length=1, max_length=500)


@api("POST", "/api/deposits", body=DepositCreate, response=DepositPublic, status=201)
async def post(call: Call[DepositCreate]) -> Any:
    """A supplier posts its security deposit (pending until an operator confirms it)."""
    return await call.state.db.run(deposits.post, call.principal, call.body)


@api("GET", "/api/deposits", response=list[DepositPublic])
async def listed(call: Call[Any]) -> Any:
    """The caller's company's deposits (operators: all, ``?status=`` to filter)."""
    status = query_enum(call.request, "status", DepositStatus)
    return await call.state.db.run(deposits.listed, call.principal, status)


@api("GET", "/api/deposits/balance", response=list[BalancePublic])
async def balance(call: Call[Any]) -> Any:
    """The caller's company's held, reserved and available deposit per currency."""
    caller = require_role(call.principal, Role.supplier)

    def work(session: Session) -> list[BalancePublic]:
        return [
            BalancePublic(
                currency=b.currency, held=b.held, reserved=b.reserved, available=b.available
            )
            for b in deposits.balances(session, caller.company_id or 0)
        ]

    return await call.state.db.run(work)


class RequirementPublic(BaseModel):
    """``GET /api/deposits/requirement``."""

    amount: int
    currency: str
    held: int
    met: bool


@api("GET", "/api/deposits/requirement", response=RequirementPublic)
async def requirement(call: Call[Any]) -> Any:
    """The platform's security deposit (``RFQ_DEPOSIT_REQUIRED``) a supplier must hold
    before it first takes part in an RFQ, and, for a supplier, what it holds."""
    caller = require_login(call.principal)
    company = caller.company_id if caller.role is Role.supplier else None
    required = call.state.settings.deposit_required

    def work(session: Session) -> RequirementPublic:
        found = deposits.requirement(session, company, required)
        return RequirementPublic(
            amount=found.amount, currency=found.currency, held=found.held, met=found.met
        )

    return await call.state.db.run(work)


@api("POST", "/api/deposits/{deposit_id:int}/cancel", response=DepositPublic)
async def cancel(call: Call[Any]) -> Any:
    """Withdraw a deposit that was never received."""
    return await call.state.db.run(deposits.cancel, call.principal, call.path["deposit_id"])


@api("GET", "/api/admin/deposits", response=list[DepositPublic])
async def admin_listed(call: Call[Any]) -> Any:
    """Operators: deposits to confirm (``?status=pending``) or in any status."""
    require_operator(call.principal)
    status = query_enum(call.request, "status", DepositStatus)
    return await call.state.db.run(deposits.listed, call.principal, status)


@api("POST", "/api/admin/deposits/{deposit_id:int}/confirm", response=DepositPublic)
async def confirm(call: Call[Any]) -> Any:
    """Operators confirm that a deposit was received: it is held."""
    return await call.state.db.run(deposits.confirm, call.principal, call.path["deposit_id"])


@api("POST", "/api/admin/deposits/{deposit_id:int}/refund", body=Note, response=DepositPublic)
async def refund(call: Call[Note]) -> Any:
    """Operators pay a held deposit back (no bond may be reserved against it)."""
    return await call.state.db.run(
        deposits.refund, call.principal, call.path["deposit_id"], call.body.note
    )


@api("GET", "/api/admin/bonds", response=list[dict[str, Any]])
async def bonds(call: Call[Any]) -> Any:
    """Operators: bid bonds still reserved, by supplier and RFQ."""
    return await call.state.db.run(deposits.reserved_bonds, call.principal)


@api("POST", "/api/admin/bonds/forfeit", body=Forfeit)
async def forfeit(call: Call[Forfeit]) -> Any:
    """Operators forfeit a supplier's bid bond for an RFQ (a winner refused its contract)."""
    body = call.body
    await call.state.db.run(
        deposits.forfeit_bond, call.principal, body.company_id, body.rfq_id, body.reason
    )
    return {"ok": True}


@api("POST", "/api/admin/bonds/release", body=Forfeit)
async def release(call: Call[Forfeit]) -> Any:
    """Operators release a bond they decided not to forfeit (e.g. a declined contract)."""
    body = call.body
    await call.state.db.run(
        deposits.release_by_operator, call.principal, body.company_id, body.rfq_id, body.reason
    )
    return {"ok": True}


ROUTES = [
    post, listed, balance, requirement, cancel, admin_listed, confirm, refund, bonds, forfeit,
    release,
]  # fmt: skip
