"""A contract and its escrow: the states and the moves between them (``MOVES``), who
may make each move, and the tables (contracts, their commands, payments, disputes and
evidence).

One state machine covers the contract and its escrow (``MOVES``)::

    offered --accept--> awaiting_funding --fund--> funded --ship--> shipped
    offered --decline--> declined          (operator confirms funding)  |
    awaiting_funding --cancel (buyer)--> cancelled                       confirm (buyer signs)
                                                                         v
    released <--release (buyer, or the inspection period runs out)-- delivered
    settled  <--release_partial (part of the goods accepted)-------- delivered
    warranty <--release_retained (a retention kept for after-sale)--- delivered
    warranty --warranty_end (the after-sale period runs out), release--> released
    funded --terminate (buyer, past the ship-by date)--> refunded
    funded (past ship-by) | shipped | delivered | warranty --dispute--> disputed
    disputed --resolve_release--> released
             --resolve_refund---> refunded
             --resolve_split----> settled

Besides the moves, a funded contract's supplier may ask once to extend its ship-by
date, which the buyer accepts or refuses (``rfq/contracts/delivery.py``).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from sqlalchemy import JSON, BigInteger, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from rfq.platform.db import UtcDateTime, enum_type


class ContractStatus(StrEnum):
    offered = "offered"
    declined = "declined"
    awaiting_funding = "awaiting_funding"
    cancelled = "cancelled"
    funded = "funded"
    shipped = "shipped"
    delivered = "delivered"
    disputed = "disputed"
    warranty = "warranty"
    """Goods accepted and paid for, less a retention held until the after-sale period
    (warranty days, return window) runs out."""
    released = "released"
    refunded = "refunded"
    settled = "settled"


S = ContractStatus
MOVES: dict[tuple[ContractStatus, str], ContractStatus] = {
    (S.offered, "accept"): S.awaiting_funding,
    (S.offered, "decline"): S.declined,
    (S.awaiting_funding, "cancel"): S.cancelled,
    (S.awaiting_funding, "fund"): S.funded,
    (S.funded, "ship"): S.shipped,
    (S.shipped, "confirm"): S.delivered,
    (S.shipped, "dispute"): S.disputed,
    (S.delivered, "dispute"): S.disputed,
    (S.delivered, "release"): S.released,
    (S.delivered, "release_partial"): S.settled,
    (S.delivered, "release_retained"): S.warranty,
    (S.funded, "terminate"): S.refunded,
    (S.funded, "dispute"): S.disputed,
    (S.warranty, "dispute"): S.disputed,
    (S.warranty, "release"): S.released,
    (S.warranty, "warranty_end"): S.released,
    (S.disputed, "resolve_release"): S.released,
    (S.disputed, "resolve_refund"): S.refunded,
    (S.disputed, "resolve_split"): S.settled,
}
SYSTEM_KEY = "~"
"""Keys of commands the platform makes itself (clients may not use them)."""
MILESTONE_STATES = frozenset({S.funded, S.shipped, S.delivered})
RELEASES = frozenset({"release", "release_partial", "release_retained"})
"""The moves of a final release: which one depends on what the buyer accepted."""
FINAL = frozenset({S.declined, S.cancelled, S.released, S.refunded, S.settled})
GONE = frozenset({S.declined, S.cancelled})
"""Contracts that gave their quantity back (never in force)."""

# Who may make each move: the buyer's members, the supplier's, or the platform.
BUYER, SUPPLIER, PLATFORM = "buyer", "supplier", "platform"
MAY = {
    "accept": {SUPPLIER},
    "decline": {SUPPLIER},
    "cancel": {BUYER},
    "fund": {PLATFORM},
    "ship": {SUPPLIER},
    "confirm": {BUYER},
    "dispute": {BUYER, SUPPLIER},
    "release": {BUYER},
    "release_partial": {BUYER},
    "release_retained": {BUYER},
    "warranty_end": {PLATFORM},
    "terminate": {BUYER},
    "resolve_release": {PLATFORM},
    "resolve_refund": {PLATFORM},
    "resolve_split": {PLATFORM},
    "milestone": {BUYER},
}


class PaymentKind(StrEnum):
    funding = "funding"
    payout = "payout"
    refund = "refund"


class PaymentStatus(StrEnum):
    pending = "pending"
    confirmed = "confirmed"
    withdrawn = "withdrawn"
    """A funding payment its buyer withdrew before an operator confirmed it."""


class DisputeKind(StrEnum):
    delivery = "delivery"
    """About goods shipped or delivered (wrong, damaged, short)."""
    non_delivery = "non_delivery"
    """Nothing shipped by the ship-by date."""
    warranty = "warranty"
    """A defect within the warranty days after delivery."""
    return_ = "return"
    """Goods sent back within the return window after delivery."""


class ExtensionStatus(StrEnum):
    none = "none"
    requested = "requested"
    accepted = "accepted"
    refused = "refused"


class DisputeStatus(StrEnum):
    open = "open"
    resolved = "resolved"


Outcome = Literal["release", "refund", "split"]


class Contract(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    award_id: int = Field(foreign_key="award.id", index=True)
    auction_id: int = Field(foreign_key="auction.id", index=True)
    rfq_id: int = Field(foreign_key="rfq.id", index=True)
    buyer_company_id: int = Field(foreign_key="company.id", index=True)
    supplier_company_id: int = Field(foreign_key="company.id", index=True)
    bid_id: str = Field(max_length=64)
    lot_name: str = Field(max_length=200)
    quantity: int = Field(sa_type=BigInteger)
    unit: str = Field(max_length=20)
    unit_price: int = Field(sa_type=BigInteger)
    total: int = Field(sa_type=BigInteger)
    currency: str = Field(max_length=3)
    delivery_terms: str = Field(default="", max_length=2000)
    fee_bps: int = 0
    inspection_days: int = 7
    ship_by: datetime | None = Field(default=None, sa_column=Column(UtcDateTime(), index=True))
    overdue_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime()))
    """When the ship-by date passed with nothing shipped (set once, by the timer)."""
    extension_days: int = 0
    extension_status: ExtensionStatus = Field(
        default=ExtensionStatus.none, sa_type=enum_type(ExtensionStatus)
    )
    extension_reason: str = Field(default="", max_length=1000)
    quantity_shipped: int | None = Field(default=None, sa_type=BigInteger)
    quantity_accepted: int | None = Field(default=None, sa_type=BigInteger)
    warranty_days: int = 0
    return_days: int = 0
    retention_bps: int = 0
    aftersale_ends_at: datetime | None = Field(
        default=None, sa_column=Column(UtcDateTime(), index=True)
    )
    milestones: list[dict[str, Any]] = Field(sa_column=Column(JSON, nullable=False))
    status: ContractStatus = Field(sa_type=enum_type(ContractStatus), index=True)
    tracking: str = Field(default="", max_length=500)
    created_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    accepted_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime()))
    funded_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime()))
    shipped_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime()))
    delivered_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime()))
    inspection_ends_at: datetime | None = Field(
        default=None, sa_column=Column(UtcDateTime(), index=True)
    )
    closed_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime()))


class ContractCommand(SQLModel, table=True):
    """Every command applied to a contract, by its key: a replay is recognised here."""

    __tablename__ = "contract_command"
    __table_args__ = (UniqueConstraint("contract_id", "key"),)

    id: int | None = Field(default=None, primary_key=True)
    contract_id: int = Field(foreign_key="contract.id", index=True)
    key: str = Field(max_length=100)
    move: str = Field(max_length=24)
    actor_id: int | None = Field(default=None, foreign_key="user.id")
    at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))


class Payment(SQLModel, table=True):
    """Money in (funding) or out (payout, refund) through the payment provider."""

    __tablename__ = "contract_payment"

    id: int | None = Field(default=None, primary_key=True)
    contract_id: int = Field(foreign_key="contract.id", index=True)
    txn: str = Field(max_length=120, unique=True)
    kind: PaymentKind = Field(sa_type=enum_type(PaymentKind))
    amount: int = Field(sa_type=BigInteger)
    currency: str = Field(max_length=3)
    status: PaymentStatus = Field(sa_type=enum_type(PaymentStatus), index=True)
    provider: str = Field(max_length=32)
    reference: str = Field(max_length=100)
    instructions: str = Field(default="", max_length=1000)
    created_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    confirmed_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime()))


class Dispute(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    contract_id: int = Field(foreign_key="contract.id", unique=True)
    opened_by_company_id: int = Field(foreign_key="company.id")
    kind: DisputeKind = Field(default=DisputeKind.delivery, sa_type=enum_type(DisputeKind))
    reason: str = Field(max_length=2000)
    status: DisputeStatus = Field(sa_type=enum_type(DisputeStatus), index=True)
    outcome: str | None = Field(default=None, max_length=16)
    supplier_amount: int | None = Field(default=None, sa_type=BigInteger)
    buyer_amount: int | None = Field(default=None, sa_type=BigInteger)
    note: str = Field(default="", max_length=2000)
    opened_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    resolved_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime()))
    resolved_by: int | None = Field(default=None, foreign_key="user.id")


class Evidence(SQLModel, table=True):
    __tablename__ = "dispute_evidence"

    id: int | None = Field(default=None, primary_key=True)
    dispute_id: int = Field(foreign_key="dispute.id", index=True)
    company_id: int = Field(foreign_key="company.id")
    file_id: str = Field(foreign_key="stored_file.id", max_length=32)
    note: str = Field(default="", max_length=1000)
    at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
