"""Brand procurement festivals: themed, time-boxed events that RFQs attach to.

Operators create festivals (name, theme, dates, categories, organising buyers).
Buyers attach RFQs to a festival they organise (any buyer, when the festival names no
organisers); the RFQ's times must fall inside the festival's. Lots may close at
staggered times within it.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import AwareDatetime, field_validator, model_validator
from sqlalchemy import JSON, Column
from sqlmodel import Field, Session, SQLModel, select

from rfq import categories, clock, history
from rfq.access import require_login, require_operator
from rfq.accounts import Company, CompanyKind, Principal
from rfq.db import UtcDateTime
from rfq.errors import Invalid, NotFound


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
    organisers: list[int] = Field(default_factory=list, max_length=100)

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
