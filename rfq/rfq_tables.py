"""The RFQ and lot tables: what a buyer publishes, under everything that refers to an
RFQ (participation, matching, festivals, eligibility, awards); drafting, publishing and
changing them is ``rfq/rfqs.py``'s."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, false
from sqlmodel import Field, SQLModel

from rfq.lifecycle import RfqStatus
from rfq.platform.db import UtcDateTime, enum_type


class Audience(StrEnum):
    """Who may discover a published RFQ: every matching supplier, or invitees only."""

    public = "public"
    invited = "invited"


class Rfq(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    buyer_company_id: int = Field(foreign_key="company.id", index=True)
    created_by: int = Field(foreign_key="user.id")
    title: str = Field(max_length=200)
    description: str = Field(default="", max_length=10_000)
    category: str = Field(max_length=64, index=True)
    keywords: list[str] = Field(sa_column=Column(JSON, nullable=False))
    currency: str = Field(max_length=3)
    festival_id: int | None = Field(default=None, foreign_key="festival.id", index=True)
    bid_bond: int = 0
    audience: Audience = Field(sa_type=enum_type(Audience))
    delivery_terms: str = Field(default="", max_length=2000)
    lead_time_days: int = 30
    """Days from the award to the ship-by date of its contracts (the award may say otherwise)."""
    questions_until: datetime | None = Field(default=None, sa_column=Column(UtcDateTime()))
    """Suppliers' questions close then (None: at the end of the last lot)."""
    starts_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    ends_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    status: RfqStatus = Field(sa_type=enum_type(RfqStatus), index=True)
    created_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    published_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime()))
    practice: bool = Field(default=False, sa_column_kwargs={"server_default": false()})
    """A supplier's practice room against simulated rivals (``rfq/practice.py``): kept
    out of every list, report and record."""


class Lot(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    rfq_id: int = Field(foreign_key="rfq.id", index=True)
    position: int
    name: str = Field(max_length=200)
    specification: str = Field(default="", max_length=5000)
    quantity: int
    unit: str = Field(max_length=20)
    ceiling_price: int
    reserve_price: int | None = None
    starts_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    ends_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    rules: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
