"""Suppliers' security deposits and the bid bonds reserved from them.

A deposit is posted (``pending``) and held once the payment provider confirms it; with
the built-in manual provider an operator confirms receipt::

    pending --confirm--> held --refund--> refunded
    pending --cancel---> cancelled

Money moves only through the ledger (``deposit_entry``), one row per movement, each
with a unique ``key`` so that a replayed command changes nothing. Per company and
currency:

- ``held``: confirmed deposits, less refunds and forfeits;
- ``reserved``: bid bonds reserved for RFQs the supplier takes part in;
- ``available`` = held - reserved, never negative.

A bond is reserved when the supplier first takes part in an RFQ, released when the
lot is awarded to someone else, the RFQ is cancelled or closes without award, and
forfeited only by an operator's decision (a winner refusing its contract).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Column, func
from sqlalchemy import select as sa_select
from sqlmodel import Field, Session, SQLModel, col, select

from bidding.auction import OPEN
from rfq import history, payments
from rfq.access import require_member, require_operator, require_role
from rfq.accounts import Company, Principal, Role
from rfq.auctions import AuctionRecord
from rfq.platform import clock
from rfq.platform.db import UtcDateTime, enum_type
from rfq.platform.errors import Conflict, Invalid, NotFound
from rfq.platform.money import DEFAULT_CURRENCY, CurrencyCode, PositiveAmount, format_major
from rfq.platform.statemachine import transition

REQUIRED_CURRENCY = DEFAULT_CURRENCY
"""The currency of the platform's deposit requirement (``RFQ_DEPOSIT_REQUIRED``, by
default 2,000,000 minor units: 20,000.00 CNY, the operating plans' figure)."""


class DepositStatus(StrEnum):
    pending = "pending"
    held = "held"
    refunded = "refunded"
    cancelled = "cancelled"


MOVES: dict[tuple[DepositStatus, str], DepositStatus] = {
    (DepositStatus.pending, "confirm"): DepositStatus.held,
    (DepositStatus.pending, "cancel"): DepositStatus.cancelled,
    (DepositStatus.held, "refund"): DepositStatus.refunded,
}


class DepositAccount(StrEnum):
    held = "held"
    reserved = "reserved"
    forfeited = "forfeited"


class Deposit(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    company_id: int = Field(foreign_key="company.id", index=True)
    amount: int
    currency: str = Field(max_length=3)
    status: DepositStatus = Field(sa_type=enum_type(DepositStatus))
    provider: str = Field(max_length=32)
    provider_ref: str = Field(default="", max_length=100)
    instructions: str = Field(default="", max_length=1000)
    created_by: int = Field(foreign_key="user.id")
    created_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    confirmed_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime()))


class DepositEntry(SQLModel, table=True):
    __tablename__ = "deposit_entry"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=120, unique=True)
    company_id: int = Field(foreign_key="company.id", index=True)
    currency: str = Field(max_length=3)
    account: DepositAccount = Field(sa_type=enum_type(DepositAccount))
    amount: int
    rfq_id: int | None = Field(default=None, index=True)
    deposit_id: int | None = Field(default=None, foreign_key="deposit.id")
    reason: str = Field(default="", max_length=500)
    at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))


class DepositCreate(SQLModel):
    """``POST /api/deposits``."""

    amount: PositiveAmount
    currency: CurrencyCode = DEFAULT_CURRENCY


class DepositPublic(SQLModel):
    id: int
    company_id: int
    amount: int
    currency: str
    status: DepositStatus
    provider: str
    instructions: str
    created_at: datetime
    confirmed_at: datetime | None


class Note(SQLModel):
    note: str = Field(default="", max_length=500)


@dataclass(frozen=True, slots=True)
class Balance:
    """A company's deposit position in one currency."""

    currency: str
    held: int
    reserved: int

    @property
    def available(self) -> int:
        return self.held - self.reserved


class BalancePublic(SQLModel):
    currency: str
    held: int
    reserved: int
    available: int


class InsufficientDeposit(Conflict):
    """The supplier's available deposit does not cover the bond."""

    code = "deposit_insufficient"


# --- deposits --------------------------------------------------------------------


def post(session: Session, principal: Principal | None, body: DepositCreate) -> Deposit:
    """A supplier posts a deposit; it is pending until the provider confirms it."""
    caller = require_role(principal, Role.supplier)
    assert caller.company_id is not None
    provider = payments.provider()
    deposit = Deposit(
        company_id=caller.company_id,
        amount=body.amount,
        currency=body.currency,
        status=DepositStatus.pending,
        provider=provider.name,
        created_by=caller.user_id,
        created_at=clock.now(),
    )
    session.add(deposit)
    session.flush()
    assert deposit.id is not None
    intent = provider.start(f"deposit-{deposit.id}", body.amount, body.currency)
    deposit.provider_ref, deposit.instructions = intent.reference, intent.instructions
    history.record(session, "deposit", deposit.id, "post", None, "pending", caller.user_id)
    return deposit


def confirm(session: Session, principal: Principal | None, deposit_id: int) -> Deposit:
    """An operator confirms receipt: the deposit is held (a replay changes nothing)."""
    caller = require_operator(principal)
    deposit = _get(session, deposit_id)
    if deposit.status is DepositStatus.held:
        return deposit
    deposit.status = transition(MOVES, "deposit", deposit.status, "confirm")
    deposit.confirmed_at = clock.now()
    _post(
        session,
        f"deposit:{deposit_id}",
        deposit.company_id,
        deposit.currency,
        DepositAccount.held,
        deposit.amount,
        deposit_id=deposit_id,
        reason="deposit received",
    )
    history.record(session, "deposit", deposit_id, "confirm", "pending", "held", caller.user_id)
    return deposit


def cancel(session: Session, principal: Principal | None, deposit_id: int) -> Deposit:
    """The supplier (or an operator) withdraws a deposit that was never received."""
    deposit = _get(session, deposit_id)
    caller = require_member(principal, deposit.company_id, "deposit")
    deposit.status = transition(MOVES, "deposit", deposit.status, "cancel")
    history.record(session, "deposit", deposit_id, "cancel", "pending", "cancelled", caller.user_id)
    return deposit


def refund(session: Session, principal: Principal | None, deposit_id: int, note: str) -> Deposit:
    """An operator pays a held deposit back, if no bond is reserved against it."""
    caller = require_operator(principal)
    deposit = _get(session, deposit_id)
    new = transition(MOVES, "deposit", deposit.status, "refund")
    _lock_company(session, deposit.company_id)
    if balance(session, deposit.company_id, deposit.currency).available < deposit.amount:
        raise InsufficientDeposit("Bonds are still reserved against this deposit.")
    deposit.status = new
    _post(
        session,
        f"refund:{deposit_id}",
        deposit.company_id,
        deposit.currency,
        DepositAccount.held,
        -deposit.amount,
        deposit_id=deposit_id,
        reason=note or "refunded",
    )
    history.record(
        session, "deposit", deposit_id, "refund", "held", "refunded", caller.user_id, note
    )
    return deposit


def listed(
    session: Session, principal: Principal | None, status: DepositStatus | None
) -> list[Deposit]:
    """Operators: every deposit (optionally in one status); suppliers: their own."""
    query = select(Deposit).order_by(Deposit.id)  # type: ignore[arg-type]
    caller = require_role(principal, Role.supplier, Role.operator)
    if not caller.is_operator:
        query = query.where(Deposit.company_id == caller.company_id)
    if status is not None:
        query = query.where(Deposit.status == status)
    return list(session.exec(query).all())


def get(session: Session, principal: Principal | None, deposit_id: int) -> Deposit:
    """One deposit: its company's members and operators only."""
    deposit = _get(session, deposit_id)
    require_member(principal, deposit.company_id, "deposit")
    return deposit


# --- bonds -----------------------------------------------------------------------


def balance(session: Session, company_id: int, currency: str) -> Balance:
    """The company's held and reserved amounts in ``currency``."""
    rows = session.exec(
        select(DepositEntry.account, func.sum(DepositEntry.amount))
        .where(DepositEntry.company_id == company_id, DepositEntry.currency == currency)
        .group_by(DepositEntry.account)
    ).all()
    sums = {DepositAccount(account): int(total or 0) for account, total in rows}
    return Balance(currency, sums.get(DepositAccount.held, 0), sums.get(DepositAccount.reserved, 0))


def balances(session: Session, company_id: int) -> list[Balance]:
    """The company's position in every currency it has used."""
    currencies = session.exec(
        select(DepositEntry.currency).where(DepositEntry.company_id == company_id).distinct()
    ).all()
    return [balance(session, company_id, c) for c in sorted(currencies)]


@dataclass(frozen=True)
class Requirement:
    """The platform's deposit requirement as one supplier stands against it."""

    amount: int
    currency: str
    held: int
    met: bool


def requirement(session: Session, company_id: int | None, required: int) -> Requirement:
    """What the platform requires and what ``company_id`` holds (nothing if None)."""
    held = balance(session, company_id, REQUIRED_CURRENCY).held if company_id else 0
    return Requirement(required, REQUIRED_CURRENCY, held, held >= required)


def short_of_requirement(session: Session, company_id: int, required: int) -> str | None:
    """Why the company may not take part yet, if its deposit is below ``required``."""
    found = requirement(session, company_id, required)
    if found.met:
        return None
    need, held = format_major(required, found.currency), format_major(found.held, found.currency)
    return f"Post the platform's security deposit of {need} {found.currency} first ({held} held)."


def bond_reserved(session: Session, company_id: int, rfq_id: int) -> bool:
    """True if the company's bond for this RFQ is reserved and not yet released."""
    total = session.exec(
        select(func.sum(DepositEntry.amount)).where(
            DepositEntry.company_id == company_id,
            DepositEntry.rfq_id == rfq_id,
            DepositEntry.account == DepositAccount.reserved,
        )
    ).one()
    return int(total or 0) > 0


def reserve_bond(session: Session, company_id: int, rfq_id: int, bond: int, currency: str) -> None:
    """Reserve ``bond`` for the RFQ from the company's available deposit (idempotent while
    reserved; reserved anew after a release, e.g. for a later award round)."""
    if bond <= 0 or bond_reserved(session, company_id, rfq_id):
        return
    _lock_company(session, company_id)
    if bond_reserved(session, company_id, rfq_id):
        return  # reserved by a racing call while this one waited for the lock
    available = balance(session, company_id, currency).available
    if available < bond:
        raise InsufficientDeposit(
            f"This RFQ's bid bond is {bond} {currency} minor units and your available "
            f"deposit is {available}; post or top up a deposit first."
        )
    n = _reservations(session, company_id, rfq_id) + 1
    _post(
        session,
        _bond_key("reserve", rfq_id, company_id, n),
        company_id,
        currency,
        DepositAccount.reserved,
        bond,
        rfq_id=rfq_id,
        reason="bid bond reserved",
    )


def release_bond(session: Session, company_id: int, rfq_id: int, reason: str) -> None:
    """Release the company's bond for the RFQ, if one is reserved (idempotent)."""
    _lock_company(session, company_id)
    entry = _reservation(session, company_id, rfq_id)
    if entry is None:
        return
    _post(
        session,
        _settled_key(session, company_id, rfq_id),
        company_id,
        entry.currency,
        DepositAccount.reserved,
        -entry.amount,
        rfq_id=rfq_id,
        reason=reason,
    )


def reserved_bonds(session: Session, principal: Principal | None) -> list[dict[str, Any]]:
    """Operators: every bid bond still reserved, by supplier and RFQ, oldest first (to
    forfeit or release once the RFQ's lots are closed)."""
    require_operator(principal)
    rows = session.execute(
        sa_select(
            col(DepositEntry.company_id),
            col(DepositEntry.rfq_id),
            col(DepositEntry.currency),
            func.sum(DepositEntry.amount),
            func.min(DepositEntry.at),
        )
        .where(col(DepositEntry.account) == DepositAccount.reserved)
        .group_by(
            col(DepositEntry.company_id), col(DepositEntry.rfq_id), col(DepositEntry.currency)
        )
        .order_by(func.min(DepositEntry.at))
    ).all()
    names = {c.id: c.name for c in session.exec(select(Company))} if rows else {}
    return [
        {
            "company_id": company_id,
            "company_name": names.get(company_id, ""),
            "rfq_id": rfq_id,
            "amount": int(total),
            "currency": currency,
            "since": since,
        }
        for company_id, rfq_id, currency, total, since in rows
        if int(total or 0) > 0
    ]


def release_by_operator(
    session: Session, principal: Principal | None, company_id: int, rfq_id: int, reason: str
) -> None:
    """An operator releases a bond it decided not to forfeit (e.g. a declined contract);
    not while a lot of the RFQ can still take bids."""
    require_operator(principal)
    _require_no_open_lot(session, rfq_id)
    release_bond(session, company_id, rfq_id, f"released by an operator: {reason}")


def forfeit_bond(
    session: Session, principal: Principal | None, company_id: int, rfq_id: int, reason: str
) -> None:
    """An operator forfeits a reserved bond (the winner refused its contract); not while a
    lot of the RFQ can still take bids."""
    caller = require_operator(principal)
    if not reason.strip():
        raise Invalid("Say why the bond is forfeited.", code="reason_required", field="reason")
    _require_no_open_lot(session, rfq_id)
    _lock_company(session, company_id)
    entry = _reservation(session, company_id, rfq_id)
    if entry is None:
        raise Conflict("No bond of this supplier is reserved for this RFQ.", code="no_bond")
    settled = _settled_key(session, company_id, rfq_id)
    _post(
        session,
        settled,
        company_id,
        entry.currency,
        DepositAccount.reserved,
        -entry.amount,
        rfq_id=rfq_id,
        reason=reason,
    )
    _post(
        session,
        settled + ":held",
        company_id,
        entry.currency,
        DepositAccount.held,
        -entry.amount,
        rfq_id=rfq_id,
        reason=reason,
    )
    _post(
        session,
        settled + ":forfeited",
        company_id,
        entry.currency,
        DepositAccount.forfeited,
        entry.amount,
        rfq_id=rfq_id,
        reason=reason,
    )
    history.record(
        session,
        "bond",
        rfq_id,
        "forfeit",
        "reserved",
        "forfeited",
        caller.user_id,
        f"company {company_id}: {reason}",
    )


def _require_no_open_lot(session: Session, rfq_id: int) -> None:
    """A bond backs bids: it is not settled while a lot of its RFQ can take bids."""
    statuses = session.exec(select(AuctionRecord.status).where(AuctionRecord.rfq_id == rfq_id))
    if any(status in OPEN for status in statuses):
        raise Conflict(
            "A lot of this RFQ is still scheduled or live; its bonds are settled after it.",
            code="auction_live",
        )


def _reservations(session: Session, company_id: int, rfq_id: int) -> int:
    """How many times the company's bond for the RFQ has been reserved."""
    count = session.exec(
        select(func.count()).where(
            DepositEntry.company_id == company_id,
            DepositEntry.rfq_id == rfq_id,
            DepositEntry.account == DepositAccount.reserved,
            DepositEntry.amount > 0,
        )
    ).one()
    return int(count or 0)


def _bond_key(what: str, rfq_id: int, company_id: int, n: int) -> str:
    """The ledger key of a bond's ``n``-th reservation or of its settlement: one key per
    reservation, so a release and a forfeit of the same one cannot both be posted."""
    base = f"{what}:{rfq_id}:{company_id}"
    return base if n == 1 else f"{base}:{n}"


def _settled_key(session: Session, company_id: int, rfq_id: int) -> str:
    """The key that ends the current reservation, whether released or forfeited."""
    return _bond_key("settle", rfq_id, company_id, _reservations(session, company_id, rfq_id))


def _reservation(session: Session, company_id: int, rfq_id: int) -> DepositEntry | None:
    """The reservation that stands (the latest), if the bond is reserved."""
    if not bond_reserved(session, company_id, rfq_id):
        return None
    return session.exec(
        select(DepositEntry)
        .where(
            DepositEntry.company_id == company_id,
            DepositEntry.rfq_id == rfq_id,
            DepositEntry.account == DepositAccount.reserved,
            DepositEntry.amount > 0,
        )
        .order_by(col(DepositEntry.id).desc())
    ).first()


def _post(
    session: Session,
    key: str,
    company_id: int,
    currency: str,
    account: DepositAccount,
    amount: int,
    *,
    rfq_id: int | None = None,
    deposit_id: int | None = None,
    reason: str = "",
) -> None:
    if session.exec(select(DepositEntry.id).where(DepositEntry.key == key)).first() is not None:
        return  # a replay: already posted
    session.add(
        DepositEntry(
            key=key,
            company_id=company_id,
            currency=currency,
            account=account,
            amount=amount,
            rfq_id=rfq_id,
            deposit_id=deposit_id,
            reason=reason,
            at=clock.now(),
        )
    )
    session.flush()


def _lock_company(session: Session, company_id: int) -> None:
    # Serialises balance checks of one company (a row lock on PostgreSQL; SQLite's
    # BEGIN IMMEDIATE already serialises all writers).
    session.exec(select(Company.id).where(Company.id == company_id).with_for_update()).first()


def _get(session: Session, deposit_id: int) -> Deposit:
    deposit = session.get(Deposit, deposit_id)
    if deposit is None:
        raise NotFound("No such deposit.")
    return deposit
