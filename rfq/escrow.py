"""The escrow ledger: immutable double-entry postings per contract, keyed for replay.

Every money movement of a contract is one *transaction* (``txn``): a few legs, each
an amount on an account, that sum to zero in the contract's currency. A transaction's
``txn`` is unique, so posting it again (a replayed command, a timer firing twice)
changes nothing. Nothing is ever updated or deleted.

Accounts, per contract::

    buyer_funding     minus what the buyer paid in (funding confirmed)
    escrow            held by the platform
    supplier_payable  released to the supplier, not yet paid out
    supplier_paid     paid out to the supplier
    platform_fees     the platform's fee on released money (default rate 0)
    buyer_refundable  refunded to the buyer, not yet paid back
    buyer_refunded    paid back to the buyer

So ``funded = -buyer_funding``, ``released = supplier_payable + supplier_paid +
platform_fees``, ``refunded = buyer_refundable + buyer_refunded`` and ``held =
escrow = funded - released - refunded``, never negative.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Column, UniqueConstraint, func
from sqlmodel import Field, Session, SQLModel, col, select

from rfq.platform import clock
from rfq.platform.db import UtcDateTime, enum_type

BPS = 10_000


class Account(StrEnum):
    buyer_funding = "buyer_funding"
    escrow = "escrow"
    supplier_payable = "supplier_payable"
    supplier_paid = "supplier_paid"
    platform_fees = "platform_fees"
    buyer_refundable = "buyer_refundable"
    buyer_refunded = "buyer_refunded"


Legs = Sequence[tuple[Account, int]]


class Posting(SQLModel, table=True):
    """One leg of one transaction."""

    __tablename__ = "escrow_posting"
    __table_args__ = (UniqueConstraint("txn", "leg"),)

    id: int | None = Field(default=None, primary_key=True)
    txn: str = Field(max_length=120, index=True)
    leg: int
    contract_id: int = Field(foreign_key="contract.id", index=True)
    account: Account = Field(sa_type=enum_type(Account))
    amount: int = Field(sa_type=BigInteger)
    currency: str = Field(max_length=3)
    memo: str = Field(default="", max_length=200)
    at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))


class Unbalanced(ValueError):
    """A transaction whose legs do not sum to zero (a bug, never user input)."""


@dataclass(frozen=True, slots=True)
class Position:
    """A contract's money, summed from its postings."""

    funded: int
    released: int
    refunded: int
    held: int
    fees: int
    paid_out: int
    refunds_paid: int


# --- pure --------------------------------------------------------------------------


def fee_of(amount: int, fee_bps: int) -> int:
    """The platform's fee on releasing ``amount`` (rounded down: the supplier never
    pays more than the rate)."""
    return amount * fee_bps // BPS


def release_legs(amount: int, fee_bps: int) -> list[tuple[Account, int]]:
    """Legs that release ``amount`` from escrow to the supplier, less the fee."""
    fee = fee_of(amount, fee_bps)
    legs = [(Account.escrow, -amount), (Account.supplier_payable, amount - fee)]
    if fee:
        legs.append((Account.platform_fees, fee))
    return legs


def split_legs(held: int, to_supplier: int, fee_bps: int) -> list[tuple[Account, int]]:
    """Legs that settle everything ``held``: ``to_supplier`` released (less the fee),
    the rest refunded to the buyer."""
    legs = release_legs(to_supplier, fee_bps) if to_supplier else []
    if held - to_supplier:
        legs += [
            (Account.escrow, -(held - to_supplier)),
            (Account.buyer_refundable, held - to_supplier),
        ]
    return legs


def milestone_amounts(total: int, shares_bps: Sequence[int]) -> list[int]:
    """Each milestone's amount of ``total``; the last takes the remainder, so the
    amounts sum to ``total`` exactly."""
    amounts = [total * bps // BPS for bps in shares_bps[:-1]]
    return [*amounts, total - sum(amounts)]


# --- SQL ---------------------------------------------------------------------------


def posted(session: Session, txn: str) -> bool:
    """True if the transaction is already on the ledger."""
    return session.exec(select(Posting.id).where(Posting.txn == txn)).first() is not None


def post(
    session: Session, txn: str, contract_id: int, currency: str, legs: Legs, memo: str = ""
) -> bool:
    """Post a transaction; False (and nothing written) if ``txn`` was posted before."""
    legs = [(account, amount) for account, amount in legs if amount]
    if sum(amount for _, amount in legs) != 0:
        raise Unbalanced(f"transaction {txn} does not balance: {legs}")
    if not legs or posted(session, txn):
        return False
    at = clock.now()
    for i, (account, amount) in enumerate(legs):
        session.add(
            Posting(
                txn=txn,
                leg=i,
                contract_id=contract_id,
                account=account,
                amount=amount,
                currency=currency,
                memo=memo,
                at=at,
            )
        )
    session.flush()
    return True


def position(session: Session, contract_id: int) -> Position:
    """Sum the contract's postings into its position."""
    rows = session.exec(
        select(Posting.account, func.sum(col(Posting.amount)))
        .where(Posting.contract_id == contract_id)
        .group_by(col(Posting.account))
    ).all()
    b = {Account(account): int(total or 0) for account, total in rows}
    return Position(
        funded=-b.get(Account.buyer_funding, 0),
        released=b.get(Account.supplier_payable, 0)
        + b.get(Account.supplier_paid, 0)
        + b.get(Account.platform_fees, 0),
        refunded=b.get(Account.buyer_refundable, 0) + b.get(Account.buyer_refunded, 0),
        held=b.get(Account.escrow, 0),
        fees=b.get(Account.platform_fees, 0),
        paid_out=b.get(Account.supplier_paid, 0),
        refunds_paid=b.get(Account.buyer_refunded, 0),
    )


def transactions(session: Session, contract_id: int) -> list[Posting]:
    """The contract's postings in the order they were made."""
    return list(
        session.exec(
            select(Posting).where(Posting.contract_id == contract_id).order_by(col(Posting.id))
        ).all()
    )
