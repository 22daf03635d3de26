"""Brand procurement festivals: themed, time-boxed events that RFQs attach to.

Operators create festivals (name, theme, dates, categories, organising buyers).
Buyers attach RFQs to a festival they organise (any buyer, when the festival names no
organisers); the RFQ's times must fall inside the festival's. Lots may close at
staggered times within it. The festival's report lists every lot with its state, best
price and the savings against its ceiling.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import AwareDatetime, field_validator, model_validator
from sqlalchemy import JSON, Column
from sqlmodel import Field, Session, SQLModel, col, select

from rfq import categories, history
from rfq.access import require_login, require_operator
from rfq.accounts import Company, CompanyKind, Principal
from rfq.auctions import AuctionRecord
from rfq.platform import clock
from rfq.platform.db import RowId, UtcDateTime
from rfq.platform.errors import Invalid, NotFound
from rfq.rfq_tables import Lot, Rfq


class Festival(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    theme: str = Field(default="", max_length=500)
    starts_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    ends_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    categories: list[str] = Field(sa_column=Column(JSON, nullable=False))
    organisers: list[int] = Field(sa_column=Column(JSON, nullable=False))
    created_by: int = Field(foreign_key="user.id")
    created_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))


class FestivalCreate(SQLModel):
    """``POST /api/festivals`` (operators)."""

    name: str = Field(min_length=1, max_length=200)
    theme: str = Field(default="", max_length=500)
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    categories: list[str] = Field(default_factory=list, max_length=50)
    organisers: list[RowId] = Field(default_factory=list, max_length=100)

    @field_validator("categories")
    @classmethod
    def _categories(cls, value: list[str]) -> list[str]:
        unknown = [c for c in value if not categories.exists(c)]
        if unknown:
            raise ValueError(f"unknown category codes: {', '.join(unknown)}")
        return sorted(set(value))

    @model_validator(mode="after")
    def _window(self) -> FestivalCreate:
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self


class FestivalPublic(SQLModel):
    id: int
    name: str
    theme: str
    starts_at: datetime
    ends_at: datetime
    categories: list[str]
    organisers: list[int]


def create(session: Session, principal: Principal | None, body: FestivalCreate) -> Festival:
    """An operator creates a festival; organisers must be buyer companies."""
    caller = require_operator(principal)
    if body.ends_at <= clock.now():
        raise Invalid("The festival must end in the future.", field="ends_at")
    for i, company_id in enumerate(body.organisers):
        company = session.get(Company, company_id)
        if company is None or company.kind is not CompanyKind.buyer:
            raise Invalid(
                f"Company {company_id} is not a buyer.", code="not_a_buyer", field=f"organisers.{i}"
            )
    festival = Festival(
        name=body.name.strip(),
        theme=body.theme.strip(),
        starts_at=body.starts_at,
        ends_at=body.ends_at,
        categories=body.categories,
        organisers=sorted(set(body.organisers)),
        created_by=caller.user_id,
        created_at=clock.now(),
    )
    session.add(festival)
    session.flush()
    assert festival.id is not None
    history.record(session, "festival", festival.id, "create", None, "created", caller.user_id)
    return festival


def listed(session: Session, principal: Principal | None) -> list[Festival]:
    """Every festival, soonest first (any logged-in user)."""
    require_login(principal)
    return list(session.exec(select(Festival).order_by(Festival.starts_at)).all())  # type: ignore[arg-type]


def get(session: Session, principal: Principal | None, festival_id: int) -> Festival:
    """One festival (any logged-in user)."""
    require_login(principal)
    festival = session.get(Festival, festival_id)
    if festival is None:
        raise NotFound("No such festival.")
    return festival


def check_attach(
    festival: Festival, buyer_company_id: int, starts: datetime, ends: datetime
) -> None:
    """Refuse an RFQ that its buyer may not attach to ``festival`` or that falls outside it."""
    if festival.organisers and buyer_company_id not in festival.organisers:
        raise Invalid(
            "Your company does not organise this festival.",
            code="not_an_organiser",
            field="festival_id",
        )
    if starts < festival.starts_at or ends > festival.ends_at:
        raise Invalid(
            "The RFQ's times must fall inside the festival's.",
            code="outside_festival",
            field="festival_id",
        )


class FestivalLot(SQLModel):
    auction_id: int
    rfq_id: int
    rfq_title: str
    lot_name: str
    state: str
    ends_at: datetime
    currency: str
    quantity: int
    ceiling_price: int
    best_price: int | None
    bidders: int | None
    """None where the lot hides its bids from this viewer (a sealed lot before its close)."""
    savings: int


class FestivalTotal(SQLModel):
    currency: str
    ceiling_value: int
    best_value: int
    savings: int


class FestivalReport(FestivalPublic):
    live_lots: int
    lots: list[FestivalLot]
    totals: list[FestivalTotal]


def lots_of(session: Session, festival_id: int) -> list[tuple[Any, Any, Any]]:
    """``(auction, lot, rfq)`` of every published lot attached to the festival."""
    return list(
        session.exec(
            select(AuctionRecord, Lot, Rfq)
            .join(Lot, col(Lot.id) == col(AuctionRecord.id))
            .join(Rfq, col(Rfq.id) == col(AuctionRecord.rfq_id))
            .where(col(Rfq.festival_id) == festival_id)
            .order_by(col(AuctionRecord.ends_at))
        ).all()
    )


def report(
    festival: Festival,
    rows: list[tuple[Any, Any, Any]],
    best: dict[int, tuple[int | None, int | None]],
) -> FestivalReport:
    """The festival with every lot's state, best price and savings against its ceiling.

    ``best`` maps an auction id to ``(best price, bidders)``. Savings are
    ``(ceiling - best) * quantity`` per lot with a bid, summed per currency.
    """
    lots = []
    totals: dict[str, list[int]] = {}
    for auction, lot, rfq in rows:
        price, bidders = best.get(auction.id, (None, 0))
        saving = (auction.ceiling_price - price) * auction.quantity if price is not None else 0
        lots.append(
            FestivalLot(
                auction_id=auction.id,
                rfq_id=rfq.id,
                rfq_title=rfq.title,
                lot_name=lot.name,
                state=auction.status,
                ends_at=auction.ends_at,
                currency=auction.currency,
                quantity=auction.quantity,
                ceiling_price=auction.ceiling_price,
                best_price=price,
                bidders=bidders,
                savings=saving,
            )
        )
        if price is not None:
            sums = totals.setdefault(auction.currency, [0, 0])
            sums[0] += auction.ceiling_price * auction.quantity
            sums[1] += price * auction.quantity
    return FestivalReport(
        **FestivalPublic.model_validate(festival).model_dump(),
        live_lots=sum(1 for lot in lots if lot.state == "live"),
        lots=lots,
        totals=[
            FestivalTotal(currency=c, ceiling_value=v[0], best_value=v[1], savings=v[0] - v[1])
            for c, v in sorted(totals.items())
        ],
    )
