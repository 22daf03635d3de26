"""Auction endpoints: state per viewer, bids (the supplier's own and surrogate ones too),
proxies, voids, transforms, CSV and audit."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, Field, Strict
from sqlalchemy import select
from sqlmodel import Session, col

from bidding.auction import AuctionStatus
from bidding.live.desk import Ack, Desk
from bidding.live.engine import Outcome
from bidding.sealed import handle
from bidding.views import Viewer, concealed
from rfq import audit_chain
from rfq.access import require_login, require_member, require_operator
from rfq.accounts import Company, Principal, User
from rfq.auctions import AuctionRecord, BidRecord, TransformRecord
from rfq.platform import clock
from rfq.platform.db import RowId
from rfq.platform.errors import Conflict, Invalid, NotFound
from rfq.platform.money import MAX_AMOUNT
from web import csv_export
from web.routing import Call, api

Price = Annotated[int, Strict(), Field(ge=-MAX_AMOUNT, le=MAX_AMOUNT)]


class BidCreate(BaseModel):
    """``POST /api/auctions/{id}/bids``: a unit price in minor units and a client key."""

    price: Price
    key: str = Field(min_length=1, max_length=100)


class BidAck(BaseModel):
    auction_id: int
    bid_id: str
    price: int
    rank: int | None
    ends_at: str
    extensions: int
    extended: bool
    seq: int | None
    replay: bool


class ProxyCreate(BaseModel):
    """``POST /api/auctions/{id}/proxy``: a floor (None clears it) and a client key."""

    floor: Price | None
    key: str = Field(min_length=1, max_length=100)


class SurrogateCreate(BaseModel):
    """``POST /api/auctions/{id}/surrogate-bids``: a bid for a supplier, with a reason."""

    supplier_company_id: RowId
    price: Price
    key: str = Field(min_length=1, max_length=96)
    reason: str = Field(min_length=1, max_length=500)


class VoidCreate(BaseModel):
    reason: str = Field(min_length=1, max_length=500)


class TransformCreate(BaseModel):
    """A supplier's ranking transform: ``price * multiplier_bps / 10000 + adder``."""

    supplier_company_id: RowId
    multiplier_bps: Annotated[int, Strict(), Field(ge=1_000, le=100_000)] = 10_000
    adder: Annotated[int, Strict(), Field(ge=-(10**10), le=10**10)] = 0
    reason: str = Field(default="", max_length=500)


async def viewer_of(state: Any, caller: Principal, auction_id: int) -> Viewer:
    """What ``caller`` may see of the auction (``Desk.viewer``)."""
    desk: Desk = state.desk
    return await desk.viewer(caller, auction_id)


async def _viewer(call: Call[Any], auction_id: int) -> tuple[Principal, Viewer]:
    caller = require_login(call.principal)
    return caller, await viewer_of(call.state, caller, auction_id)


@api("GET", "/api/auctions/{auction_id:int}")
async def state(call: Call[Any]) -> Any:
    """The auction's live state as the caller may see it."""
    auction_id = call.path["auction_id"]
    _, viewer = await _viewer(call, auction_id)
    desk: Desk = call.state.desk
    _, _, state = await desk.view(auction_id, viewer)
    return state


@api("POST", "/api/auctions/{auction_id:int}/bids", body=BidCreate, response=BidAck, status=201)
async def place_bid(call: Call[BidCreate]) -> Any:
    """Place a bid (the same engine as the websocket's ``bid``); 201 once durable."""
    caller = require_login(call.principal)
    desk: Desk = call.state.desk
    ack = await desk.bid(caller, call.path["auction_id"], call.body.price, call.body.key)
    return _ack(ack)


@api(
    "POST",
    "/api/auctions/{auction_id:int}/surrogate-bids",
    body=SurrogateCreate,
    response=BidAck,
    status=201,
)
async def place_surrogate_bid(call: Call[SurrogateCreate]) -> Any:
    """The buyer or an operator bids on a supplier's behalf (a phone bid), with a
    reason: the supplier's eligibility, the rules and its rate limit apply as if it bid;
    the bid is marked surrogate and the supplier is told. 201 once durable."""
    caller = require_login(call.principal)
    desk: Desk = call.state.desk
    body = call.body
    ack = await desk.surrogate(
        caller, call.path["auction_id"], body.supplier_company_id, body.price, body.key,
        body.reason.strip() or body.reason,
    )  # fmt: skip
    return _ack(ack)


def _ack(ack: Ack) -> BidAck:
    return BidAck(
        auction_id=ack.auction_id,
        bid_id=ack.bid_id,
        price=ack.price,
        rank=ack.rank,
        ends_at=clock.rfc3339(clock.from_ms(ack.ends_at_ms)),
        extensions=ack.extensions,
        extended=ack.extended,
        seq=ack.seq,
        replay=ack.replay,
    )


@api("POST", "/api/auctions/{auction_id:int}/proxy", body=ProxyCreate)
async def set_proxy(call: Call[ProxyCreate]) -> Any:
    """Set (or clear, with ``floor`` null) the supplier's private proxy floor."""
    caller = require_login(call.principal)
    desk: Desk = call.state.desk
    outcome: Outcome = await desk.proxy(
        caller, call.path["auction_id"], call.body.floor, call.body.key
    )
    return {"floor": call.body.floor, "rank": outcome.rank, "replay": outcome.replay}


@api("POST", "/api/auctions/{auction_id:int}/bids/{bid_id}/void", body=VoidCreate)
async def void_bid(call: Call[VoidCreate]) -> Any:
    """Operators void a bid, with a reason on the record; the ladder is ranked without it."""
    require_operator(call.principal)
    auction_id, bid_id = call.path["auction_id"], call.path["bid_id"]

    await call.state.desk.void(auction_id, bid_id, call.body.reason)
    return {"ok": True, "bid_id": bid_id}


@api("POST", "/api/auctions/{auction_id:int}/transforms", body=TransformCreate, status=201)
async def set_transform(call: Call[TransformCreate]) -> Any:
    """The buyer fixes a supplier's ranking transform before the auction starts."""
    auction_id = call.path["auction_id"]
    desk: Desk = call.state.desk
    facts = await desk.facts(auction_id)
    require_member(call.principal, facts.buyer_company_id, "auction")
    body = call.body

    def write(session: Session) -> None:
        auction = session.get(AuctionRecord, auction_id)
        assert auction is not None
        if auction.status != AuctionStatus.scheduled or auction.starts_at <= clock.now():
            raise Conflict("Transforms are fixed before the start.", code="auction_started")
        placed = session.execute(
            select(col(BidRecord.id)).where(col(BidRecord.auction_id) == auction_id).limit(1)
        ).first()
        if placed is not None:  # a pre-bid was ranked by the transform it was placed under
            raise Conflict("Transforms are fixed once a pre-bid is in.", code="pre_bids_placed")
        if auction.format in ("japanese", "dutch"):
            raise Conflict(
                "A clock auction sets one price for every supplier; it takes no transforms.",
                code="wrong_format",
            )
        company = session.get(Company, body.supplier_company_id)
        if company is None or company.kind.value != "supplier":
            raise Invalid("No such supplier.", field="supplier_company_id")
        row = session.execute(
            select(TransformRecord).where(
                col(TransformRecord.auction_id) == auction_id,
                col(TransformRecord.company_id) == body.supplier_company_id,
            )
        ).scalars().first() or TransformRecord(
            auction_id=auction_id,
            company_id=body.supplier_company_id,
            multiplier_bps=10_000,
            adder=0,
        )
        row.multiplier_bps, row.adder, row.reason = body.multiplier_bps, body.adder, body.reason
        session.add(row)

    await call.state.db.run(write)
    await desk.restore(auction_id, rebuild=True)
    return body.model_dump()


_BID_COLUMNS = (
    "bid_id",
    "supplier_company_id",
    "supplier",
    "price",
    "currency",
    "ranking_price_e4",
    "proxy",
    "at",
    "voided",
    "void_reason",
    "surrogate",
    "surrogate_by",
    "surrogate_reason",
)


async def _bids(call: Call[Any]) -> list[dict[str, Any]]:
    """Every bid of the auction in the order placed (the buyer and operators); a sealed
    auction before its close, and pre-bids before the opening, show only that bids
    arrived."""
    auction_id = call.path["auction_id"]
    desk: Desk = call.state.desk
    facts = await desk.facts(auction_id)
    require_member(call.principal, facts.buyer_company_id, "auction")

    def rows(session: Session) -> list[dict[str, Any]]:
        found = session.execute(
            select(BidRecord, col(Company.name), col(User.email))
            .join(Company, col(Company.id) == col(BidRecord.company_id))
            .outerjoin(User, col(User.id) == col(BidRecord.surrogate_by))
            .where(col(BidRecord.auction_id) == auction_id)
            .order_by(col(BidRecord.epoch), col(BidRecord.seq))
        ).all()
        return [
            {
                "bid_id": b.id,
                "supplier_company_id": b.company_id,
                "supplier": name,
                "price": b.price,
                "currency": facts.currency,
                "ranking_price_e4": b.transformed,
                "proxy": b.proxy,
                "at": clock.rfc3339(b.at),
                "voided": b.voided,
                "void_reason": b.void_reason or "",
                "surrogate": b.surrogate_by is not None,
                "surrogate_by": by or "",
                "surrogate_reason": b.surrogate_reason or "",
            }
            for b, name, by in found
        ]

    found: list[dict[str, Any]] = await call.state.db.read(rows)
    if await _concealed(desk, facts.format, auction_id):
        hidden = dict.fromkeys(_BID_COLUMNS, None)
        found = [
            {**hidden, "currency": b["currency"], "voided": b["voided"], "surrogate": None}
            for b in found
        ]
    return found


@api("GET", "/api/auctions/{auction_id:int}/bids")
async def bids(call: Call[Any]) -> Any:
    """Every bid of the auction, oldest first (buyer, operators): ``[{bid_id,
    supplier_company_id, supplier, price, currency, ranking_price_e4, proxy, at, voided,
    void_reason, surrogate, surrogate_by, surrogate_reason}]``; before a sealed auction's
    close (and pre-bids before the opening) every field but ``currency`` and ``voided``
    is null."""
    return await _bids(call)


@api("GET", "/api/auctions/{auction_id:int}/my-bids")
async def my_bids(call: Call[Any]) -> Any:
    """The calling supplier's own bids in the auction, oldest first: ``[{bid_id, price,
    currency, proxy, at, voided, surrogate, surrogate_reason}]`` (a surrogate bid is one
    the buyer or an operator placed for it). A supplier that does not take part in the
    RFQ, and the buyer side, read 404."""
    auction_id = call.path["auction_id"]
    caller, viewer = await _viewer(call, auction_id)
    if viewer.full or viewer.public or caller.company_id is None:
        raise NotFound("No such auction.")
    desk: Desk = call.state.desk
    facts = await desk.facts(auction_id)
    company_id = caller.company_id

    def rows(session: Session) -> list[dict[str, Any]]:
        found = session.execute(
            select(BidRecord)
            .where(col(BidRecord.auction_id) == auction_id, col(BidRecord.company_id) == company_id)
            .order_by(col(BidRecord.epoch), col(BidRecord.seq))
        ).scalars()
        auction = session.get(AuctionRecord, auction_id)
        scheduled = auction is not None and auction.status == AuctionStatus.scheduled
        blind = facts.format == "sealed" or scheduled  # pre-bids: until the opening
        return [
            {
                "bid_id": handle(desk.secret, b.id) if blind else b.id,
                "price": b.price,
                "currency": facts.currency,
                "proxy": b.proxy,
                "at": clock.rfc3339(b.at),
                "voided": b.voided,
                "surrogate": b.surrogate_by is not None,
                "surrogate_reason": b.surrogate_reason or "",
            }
            for b in found
        ]

    return await call.state.db.read(rows)


@api("GET", "/api/auctions/{auction_id:int}/bids.csv")
async def bids_csv(call: Call[Any]) -> Any:
    """Every bid of the auction as CSV (the buyer and operators), voided ones marked."""
    rows: list[list[Any]] = [list(_BID_COLUMNS)]
    for row in await _bids(call):
        sealed = row["price"] is None
        rows.append(["sealed" if sealed and v is None else v for v in row.values()])
    return csv_export.download(rows, f"auction-{call.path['auction_id']}-bids.csv")


@api("GET", "/api/auctions/{auction_id:int}/audit")
async def audit_log(call: Call[Any]) -> Any:
    """The auction's hash-chained audit log and its verification (buyer, operators)."""
    auction_id = call.path["auction_id"]
    desk: Desk = call.state.desk
    facts = await desk.facts(auction_id)
    require_member(call.principal, facts.buyer_company_id, "auction")
    log = await call.state.db.run(audit_chain.chain, auction_id)
    if await _concealed(desk, facts.format, auction_id):
        until = "the close" if facts.format == "sealed" else "the opening"
        for entry in log["entries"]:
            for secret in ("price", "t", "nonce", "company", "key", "bid_id", "floor"):
                if secret in entry["data"]:
                    entry["data"][secret] = f"sealed until {until}"
    return log


async def _concealed(desk: Desk, fmt: str, auction_id: int) -> bool:
    """True while nobody may see the auction's bids: a sealed one's before its close,
    pre-bids before the opening (`bidding.views.concealed`)."""
    meta = await desk.engine.meta(auction_id)
    if not meta:  # loaded from SQL first if Redis lacks it
        meta, _ = await desk.state(auction_id)
    return concealed(fmt, meta["status"], meta.get("pre") == "1")


ROUTES = [
    state,
    place_bid,
    place_surrogate_bid,
    set_proxy,
    void_bid,
    set_transform,
    bids,
    bids_csv,
    my_bids,
    audit_log,
]
