"""The operators' supply/demand view: purchase requests per supply listing.

The operating plans aim at three purchase requests per supply listing. Purchase
requests are lots published in a period; supply listings are approved suppliers'
top-level categories. The view is overall and per top-level category.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel
from sqlmodel import Session, col, select

from rfq.access import require_operator
from rfq.accounts import Principal
from rfq.certification import Certification, CertStatus
from rfq.platform import clock
from rfq.rfq_tables import Lot, Rfq

TARGET_RATIO = 3.0


class RatioRow(BaseModel):
    category: str
    purchase_requests: int
    supply_listings: int
    ratio: float | None


class RatioPeriod(BaseModel):
    """One period of the report's history: lots published in it, against the supply
    listings of suppliers certified by its end (and not rejected since)."""

    starts_at: datetime
    ends_at: datetime
    purchase_requests: int
    supply_listings: int
    ratio: float | None


class RatioReport(BaseModel):
    days: int
    target: float
    overall: RatioRow
    by_category: list[RatioRow]
    history: list[RatioPeriod]
    """The overall ratio in each of the last ``PERIODS`` periods of ``days``, oldest first."""


def ratio_report(session: Session, principal: Principal | None, days: int) -> RatioReport:
    """Purchase requests (lots published in the last ``days``) per supply listing."""
    require_operator(principal)
    since = clock.now() - timedelta(days=days)
    demand: dict[str, int] = {}
    rows = session.exec(
        select(Rfq.category, Lot.id)
        .join(Lot)
        .where(Rfq.published_at >= since, col(Rfq.practice).is_(False))  # type: ignore[operator]
    ).all()
    for category, _ in rows:
        top = category.split(".")[0]
        demand[top] = demand.get(top, 0) + 1
    supply: dict[str, int] = {}
    certs = session.exec(
        select(Certification).where(Certification.status == CertStatus.approved)
    ).all()
    for cert in certs:
        for top in {c.split(".")[0] for c in cert.categories}:
            supply[top] = supply.get(top, 0) + 1
    by_category = [
        _row(top, demand.get(top, 0), supply.get(top, 0))
        for top in sorted(set(demand) | set(supply))
    ]
    overall = _row("all", sum(demand.values()), sum(supply.values()))
    return RatioReport(
        days=days,
        target=TARGET_RATIO,
        overall=overall,
        by_category=by_category,
        history=_history(session, days),
    )


PERIODS = 6


def _history(session: Session, days: int) -> list[RatioPeriod]:
    now = clock.now()
    published = [
        at
        for at in session.exec(
            select(Rfq.published_at)
            .join(Lot)
            .where(
                Rfq.published_at >= now - timedelta(days=days * PERIODS),  # type: ignore[operator]
                col(Rfq.practice).is_(False),
            )
        ).all()
        if at is not None
    ]
    listed = [
        (cert.decided_at, len({c.split(".")[0] for c in cert.categories}))
        for cert in session.exec(
            select(Certification).where(
                col(Certification.status).in_([CertStatus.approved, CertStatus.suspended])
            )
        ).all()
        if cert.decided_at is not None
    ]
    periods = []
    for i in range(PERIODS, 0, -1):
        start, end = now - timedelta(days=days * i), now - timedelta(days=days * (i - 1))
        purchase = sum(1 for at in published if start <= at < end)
        supply = sum(n for at, n in listed if at < end)
        ratio = round(purchase / supply, 2) if supply else None
        periods.append(
            RatioPeriod(
                starts_at=start,
                ends_at=end,
                purchase_requests=purchase,
                supply_listings=supply,
                ratio=ratio,
            )
        )
    return periods


def _row(category: str, purchase: int, supply: int) -> RatioRow:
    ratio = round(purchase / supply, 2) if supply else None
    return RatioRow(
        category=category, purchase_requests=purchase, supply_listings=supply, ratio=ratio
    )
