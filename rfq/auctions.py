"""The engine's SQL records: auctions, bids, events and the hash-chained audit log.

SQL is the truth; Redis holds the live state, rebuilt from these tables whenever it
is lost (each rebuild bumps the auction's ``epoch``). Rows are written by the
group-commit journal (``bidding/live/journal.py``); every insert is keyed, so writing the
same engine output twice changes nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, UniqueConstraint
from sqlmodel import Field, Session, SQLModel

from bidding.auction import AuctionStatus
from rfq.platform.db import UtcDateTime
from rfq.rfq_tables import Lot, Rfq


class AuctionRecord(SQLModel, table=True):
    """One lot's auction. Its id is the lot's id."""

    __tablename__ = "auction"

    id: int = Field(primary_key=True, foreign_key="lot.id")
    rfq_id: int = Field(foreign_key="rfq.id", index=True)
    status: str = Field(max_length=16, index=True)
    format: str = Field(max_length=16)
    rules: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    currency: str = Field(max_length=3)
    quantity: int
    ceiling_price: int
    reserve_price: int | None = None
    starts_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    ends_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    extensions: int = 0
    seq: int = 0
    """Every event ``1..seq`` is stored (the contiguous watermark)."""
    aseq: int = 0
    """Every audit entry ``1..aseq`` is stored."""
    seq_stored: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    """The highest event number stored (above ``seq`` only when there is a hole)."""
    aseq_stored: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    """The highest audit number stored."""
    epoch: int = 1
    chain_index: int = 0
    chain_head: str | None = Field(default=None, max_length=64)
    rebuilt_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime()))
    closed_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime()))
    reminded_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime()))
    previous_round: int | None = Field(default=None, foreign_key="auction.id", unique=True)
    """The sealed lot whose best suppliers qualified into this one (``rfq/rounds.py``)."""


class BidRecord(SQLModel, table=True):
    """An accepted bid (manual or proxy); voided bids stay, marked."""

    __tablename__ = "bid"

    id: str = Field(primary_key=True, max_length=64)
    auction_id: int = Field(foreign_key="auction.id", index=True)
    company_id: int = Field(foreign_key="company.id", index=True)
    epoch: int
    seq: int
    price: int = Field(sa_type=BigInteger)
    transformed: int = Field(sa_type=BigInteger)
    proxy: bool = False
    key: str | None = Field(default=None, max_length=100)
    commitment: str | None = Field(default=None, max_length=64)
    nonce: str | None = Field(default=None, max_length=64)
    at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    recorded_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    voided: bool = False
    void_reason: str | None = Field(default=None, max_length=500)
    surrogate_by: int | None = Field(default=None, foreign_key="user.id")
    """A surrogate (phone) bid: the buyer's or operator's user who placed it."""
    surrogate_reason: str | None = Field(default=None, max_length=500)


class EventRecord(SQLModel, table=True):
    """Every public event of an auction, as the real-time layer streamed it."""

    __tablename__ = "auction_event"
    __table_args__ = (UniqueConstraint("auction_id", "epoch", "seq"),)

    id: int | None = Field(default=None, primary_key=True)
    auction_id: int = Field(foreign_key="auction.id", index=True)
    epoch: int
    seq: int
    type: str = Field(max_length=24)
    data: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))


class AuditRecord(SQLModel, table=True):
    """One entry of an auction's audit log: accepted and rejected bids, proxies, voids,
    extensions, status moves and awards. Entries are sealed in the order they reach
    SQL: ``chain_index`` numbers them 1, 2, ... and ``hash`` chains each to the one
    before (``bidding/audit.py``)."""

    __tablename__ = "audit_entry"
    __table_args__ = (
        UniqueConstraint("auction_id", "epoch", "aseq"),
        UniqueConstraint("auction_id", "chain_index"),
    )

    id: int | None = Field(default=None, primary_key=True)
    auction_id: int = Field(foreign_key="auction.id", index=True)
    epoch: int
    aseq: int
    chain_index: int | None = None
    kind: str = Field(max_length=24)
    data: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    hash: str | None = Field(default=None, max_length=64)


class TransformRecord(SQLModel, table=True):
    """A supplier's ranking transform in one auction, fixed before the start."""

    __tablename__ = "bid_transform"
    __table_args__ = (UniqueConstraint("auction_id", "company_id"),)

    id: int | None = Field(default=None, primary_key=True)
    auction_id: int = Field(foreign_key="auction.id", index=True)
    company_id: int = Field(foreign_key="company.id")
    multiplier_bps: int
    adder: int
    reason: str = Field(default="", max_length=500)


def create(session: Session, lot: Lot, rfq: Rfq) -> AuctionRecord:
    """The auction record of a lot being published (status scheduled, epoch 1); the
    existing one if the lot has it already."""
    existing = session.get(AuctionRecord, lot.id)
    if existing is not None:
        return existing
    record = AuctionRecord(
        id=lot.id or 0,
        rfq_id=rfq.id or 0,
        status=AuctionStatus.scheduled,
        format=lot.rules["format"],
        rules=lot.rules,
        currency=rfq.currency,
        quantity=lot.quantity,
        ceiling_price=lot.ceiling_price,
        reserve_price=lot.reserve_price,
        starts_at=lot.starts_at,
        ends_at=lot.ends_at,
    )
    session.add(record)
    session.flush()
    return record
