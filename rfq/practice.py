"""Practice rooms: a supplier tries any lot format against simulated rivals, on the
bidding room's own page and under the engine's own rules, kept out of the record.

:func:`start` makes a one-lot RFQ flagged ``practice`` for the asking supplier: the
platform's practice desk (a buyer company whose one login nobody knows) publishes it to
open ``LEAD`` from now, invited only (no matching, no notification, no opening reminder,
no bid bond), with the supplier and three simulated rivals (supplier companies of the
desk's own) invited. Only the invitation counts to bid in it (no certification, deposit
or bond: a supplier may practise before it is approved). The web layer runs the rivals
(:func:`rival_move` decides each one's next bid from the same state a supplier sees).

Kept out of the record: RFQ lists (``rfq/rfqs.py``), credit counts (``rfq/credit.py``),
the demand statistics (``rfq/demand.py``); a practice lot is never awarded and belongs to
no festival. One open practice room per supplier (``practice_running``).
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlmodel import Session, SQLModel, col

from bidding.auction import OPEN
from rfq import accounts, participation, rfqs
from rfq.access import require_role
from rfq.accounts import Company, CompanyKind, Principal, Role, User, Via
from rfq.auctions import AuctionRecord
from rfq.platform import clock
from rfq.platform.errors import Conflict
from rfq.rfq_tables import Audience, Rfq
from rfq.rfqs import LotCreate, RfqCreate

LEAD = timedelta(seconds=5)
"""A practice lot opens this long after it is made: time to open the room."""
DESK_EMAIL = "practice-desk@rfq-arena.invalid"
RIVALS = ("A", "B", "C")
CEILING = 12_000
"""Every practice lot's ceiling, in minor units (120.00 per unit)."""
STEP = 50
"""The reverse lots' decrement, in minor units."""
_SOFT = {"window_s": 30, "extend_s": 30, "trigger": "any", "max_extensions": 3}


class PracticeFormat(StrEnum):
    """The lot formats a supplier may practise."""

    reverse_english = "reverse_english"
    sealed = "sealed"
    japanese = "japanese"
    dutch = "dutch"


_LOTS: Mapping[PracticeFormat, tuple[dict[str, Any], int]] = {
    PracticeFormat.reverse_english: (
        {"format": "reverse_english", "visibility": "best_price",
         "decrement": {"amount": STEP}, "soft_close": _SOFT},
        180,
    ),
    PracticeFormat.sealed: (
        {"format": "sealed", "visibility": "best_price", "decrement": {"amount": STEP}},
        90,
    ),
    PracticeFormat.japanese: (
        {"format": "japanese", "visibility": "rank_only",
         "clock": {"start_price": CEILING, "step": 300, "interval_s": 10, "end_price": 9_000}},
        130,
    ),
    PracticeFormat.dutch: (
        {"format": "dutch", "visibility": "rank_only",
         "clock": {"start_price": 9_000, "step": 300, "interval_s": 10, "end_price": CEILING}},
        130,
    ),
}  # fmt: skip
"""Each format's rules and running time in seconds (a clock's 11 levels of 10 s fit)."""


class PracticeCreate(SQLModel):
    """``POST /api/practice`` (suppliers)."""

    format: PracticeFormat


@dataclass(frozen=True, slots=True)
class Room:
    """A practice room: its RFQ and lot, and the rivals' companies."""

    rfq_id: int
    auction_id: int
    format: str
    rivals: tuple[int, ...]
    ends_at_ms: int


def start(session: Session, principal: Principal | None, body: PracticeCreate) -> Room:
    """A new practice room for the supplier (one open at a time)."""
    caller = require_role(principal, Role.supplier)
    assert caller.company_id is not None
    running = [r for r in rooms_of(session, caller.company_id) if r["state"] in OPEN]
    if running:
        raise Conflict(
            f"Your practice room {running[0]['auction_id']} is still open; finish it first.",
            code="practice_running",
        )
    desk = _desk(session)
    rivals = [_rival(session, name) for name in RIVALS]
    rules, seconds = _LOTS[body.format]
    starts = clock.now() + LEAD
    draft = RfqCreate(
        title=f"Practice: {body.format.value.replace('_', ' ')}",
        description="A practice room against simulated rivals; nothing here is recorded.",
        category="fasteners.bolts",
        audience=Audience.invited,
        starts_at=starts,
        ends_at=starts + timedelta(seconds=seconds),
        lots=[
            LotCreate(name="M8x40 hex bolts (practice)", quantity=1_000, unit="pcs",
                      ceiling_price=CEILING, rules=rules)
        ],
    )  # fmt: skip
    made = rfqs.create(session, desk, draft)
    assert made.id is not None
    made.practice = True
    session.add(made)
    for company_id in (caller.company_id, *rivals):
        participation.invite(session, desk, made, company_id)
    rfqs.publish(session, desk, made.id, match=False)
    auction = session.execute(
        select(AuctionRecord).where(col(AuctionRecord.rfq_id) == made.id)
    ).scalar_one()
    auction.reminded_at = clock.now()  # no "opens soon" notice
    session.add(auction)
    session.flush()
    return Room(made.id, auction.id, body.format.value, tuple(rivals), clock.to_ms(auction.ends_at))


def rooms_of(session: Session, company_id: int) -> list[dict[str, Any]]:
    """The supplier's latest practice rooms, newest first."""
    found = session.execute(
        select(AuctionRecord, Rfq)
        .join(Rfq, col(Rfq.id) == col(AuctionRecord.rfq_id))
        .where(col(Rfq.practice).is_(True))
        .where(col(Rfq.id).in_(participation.rfq_ids_of(session, company_id) or [0]))
        .order_by(col(AuctionRecord.id).desc())
        .limit(10)
    ).all()
    return [
        {"auction_id": a.id, "rfq_id": r.id, "format": a.format, "state": a.status,
         "starts_at": clock.rfc3339(a.starts_at), "ends_at": clock.rfc3339(a.ends_at)}
        for a, r in found
    ]  # fmt: skip


def rival_move(state: Mapping[str, Any], limit: int, rng: random.Random) -> int | None:
    """The price a simulated rival bids now, from the state a supplier sees, or None.

    ``limit`` is the rival's own: the lowest price it goes to in a reverse, sealed or
    japanese lot, the price it waits for in a dutch one. In a reverse lot it undercuts
    the highest acceptable price (and the best price, where the lot shows it) by zero to
    three steps unless it leads; in a sealed one
    it bids once; on a clock it accepts every level it may while the price is on its
    side of its limit.
    """
    if state.get("state") != "live" or state.get("public"):
        return None
    c = state.get("clock")
    if c is not None:
        if not c.get("may_accept"):
            return None
        price = int(c["price"])
        keep = price >= limit  # japanese: not below its floor; dutch: once high enough
        return price if keep else None
    if state["format"] == "sealed":
        if state.get("my_price") is not None:
            return None
        return rng.randint(min(limit, CEILING), CEILING)
    top = state.get("min_acceptable")
    if state.get("my_rank") == 1 or top is None:
        return None
    if state.get("best_price") is not None:  # aim below the best where it shows
        top = min(int(top), int(state["best_price"]) - STEP)
    price = int(top) - rng.randint(0, 3) * STEP
    return price if price >= limit else None


def limit_for(rng: random.Random) -> int:
    """A rival's limit (see :func:`rival_move`): 78 to 92 % of the ceiling."""
    return CEILING * rng.randint(78, 92) // 100


def _desk(session: Session) -> Principal:
    """The practice desk's principal (made the first time)."""
    user = accounts.find_user(session, DESK_EMAIL)
    if user is None:
        user, _ = _account(session, DESK_EMAIL, "RFQ Arena practice desk", CompanyKind.buyer)
    assert user.id is not None
    return Principal(user.id, user.email, Role.buyer, user.company_id, 0, Via.bearer)


def _rival(session: Session, name: str) -> int:
    email = f"practice-rival-{name.lower()}@rfq-arena.invalid"
    user = accounts.find_user(session, email)
    if user is None:
        user, _ = _account(session, email, f"Practice rival {name}", CompanyKind.supplier)
    assert user.company_id is not None
    return user.company_id


def _account(session: Session, email: str, name: str, kind: CompanyKind) -> tuple[User, Company]:
    """A company with one login whose password nobody knows (a random one, hashed)."""
    now = clock.now()
    company = Company(name=name, kind=kind, created_at=now)
    session.add(company)
    session.flush()
    password_hash = accounts.hash_password(secrets.token_urlsafe(32))
    user = User(email=email, password_hash=password_hash, role=Role(kind.value),
                company_id=company.id, created_at=now)  # fmt: skip
    session.add(user)
    session.flush()
    return user, company
