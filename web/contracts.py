"""Award, contract and escrow endpoints, and the printable contract document."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlmodel import Session
from starlette.responses import HTMLResponse

from bidding.auction import OPEN
from bidding.live.desk import Desk
from rfq import awards, credit, scenarios
from rfq.access import require_login
from rfq.auctions import AuctionRecord
from rfq.awards import AwardCreate, Line, Terms
from rfq.contracts import commands, delivery, disputes, reading
from rfq.contracts import purchase_order as order
from rfq.contracts.commands import Command, Confirm, Release, Ship
from rfq.contracts.delivery import ExtensionAnswer, ExtensionRequest
from rfq.contracts.disputes import DisputeOpen, EvidenceAdd, Resolution
from rfq.contracts.model import ContractStatus, DisputeStatus
from rfq.platform import money
from rfq.platform.errors import Conflict, RfqError
from web import csv_export
from web.pages import templates
from web.routing import Call, api, query_enum, query_int

Doc = dict[str, Any]


@api("POST", "/api/auctions/{auction_id:int}/award", body=AwardCreate, response=Doc, status=201)
async def award(call: Call[AwardCreate]) -> Any:
    """The buyer awards a closed lot (best bid, another bidder, a split) or closes it
    without award; the contracts are offered to the winners."""
    return await award_lot(call.state, call.principal, call.path["auction_id"], call.body)


async def award_lot(state: Any, principal: Any, auction_id: int, body: AwardCreate) -> Doc:
    """Decide a closed lot (the award endpoint's work, also a next round's no award)."""
    settings = state.settings
    terms = Terms(settings.platform_fee_bps, settings.inspection_days)
    db, desk = state.db, state.desk
    await desk.settle(auction_id)  # the closing barrier: SQL holds every bid first
    decision = await db.run(_decide, principal, auction_id, body, terms)
    if decision["round"] == 1:
        await _first_award(desk, auction_id, decision)
    done: Doc = await db.run(awards.of_auction, principal, auction_id)
    return done


@api("GET", "/api/rfqs/{rfq_id:int}/scenarios", response=Doc)
async def scenarios_of(call: Call[Any]) -> Any:
    """The RFQ's closed lots compared: best per lot, best single supplier, a split
    (``?split_bps=7000``: the best bidder's share of each lot)."""
    share = query_int(call.request, "split_bps", 7_000, 1, 9_999)
    return await _compare(call, share)


async def _compare(call: Call[Any], share: int) -> Doc:
    """The scenarios, from a record that holds every bid of the lots compared (each
    closed lot passes the closing barrier first, as an award does)."""
    db, rfq_id = call.state.db, call.path["rfq_id"]
    first: Doc = await db.run(scenarios.compare, call.principal, rfq_id, share)
    for lot in first["lots"]:
        await call.state.desk.settle(lot["auction_id"])
    found: Doc = await db.run(scenarios.compare, call.principal, rfq_id, share)
    return found


class ScenarioAward(BaseModel):
    """``POST /api/rfqs/{id}/scenarios/award``: award every lot as the scenario says."""

    scenario: Literal["best_per_lot", "single_supplier", "split"]
    split_bps: int = Field(default=7_000, ge=1, le=9_999, strict=True)
    reason: str = Field(default="", max_length=500)


@api("POST", "/api/rfqs/{rfq_id:int}/scenarios/award", body=ScenarioAward, response=Doc)
async def scenario_award(call: Call[ScenarioAward]) -> Any:
    """Award each lot of the chosen scenario (lot by lot, through the award's own
    checks); the answer lists each lot's award or the error that stopped it."""
    body = call.body
    found = await _compare(call, body.split_bps)
    chosen = next(s for s in found["scenarios"] if s["name"] == body.scenario)
    if not chosen["available"]:
        raise Conflict(chosen["reason"], code="scenario_unavailable")
    reason = f"Award scenario {body.scenario}" + (f": {body.reason}" if body.reason else "")
    results = []
    for lot in found["lots"]:
        lines = [
            Line(bid_id=line["bid_id"], quantity=line["quantity"])
            for line in chosen["lines"]
            if line["auction_id"] == lot["auction_id"]
        ]
        try:
            done = await award_lot(
                call.state,
                call.principal,
                lot["auction_id"],
                AwardCreate(awards=lines, reason=reason),
            )
            results.append({"auction_id": lot["auction_id"], "ok": True, "award": done})
        except RfqError as exc:
            results.append(
                {
                    "auction_id": lot["auction_id"],
                    "ok": False,
                    "code": exc.code,
                    "message": exc.message,
                }
            )
    return {"scenario": body.scenario, "total": chosen["total"], "lots": results}


def _decide(
    session: Session, principal: Any, auction_id: int, body: AwardCreate, terms: Terms
) -> dict[str, Any]:
    """Check the decision under the auction's row lock; a later round (after a decline,
    or for quantity left open) is recorded right here, in SQL alone."""
    session.get(AuctionRecord, auction_id, with_for_update=True)
    decision = awards.decide(session, principal, auction_id, body, terms)
    if decision["round"] > 1:
        awards.record(session, auction_id, decision)
    return decision


async def _first_award(desk: Desk, auction_id: int, decision: dict[str, Any]) -> None:
    """Through the engine: exactly one decision wins; the journal makes the contracts."""
    move = "no_award" if decision["kind"] == "no_award" else "award"
    out = await desk.move(auction_id, move, decision=decision)
    if out.result == "pending":  # a bid came in between: it must be in SQL first
        raise Conflict(
            "The lot's record is still being written; try again in a moment.",
            code="record_incomplete",
        )
    if out.result == "stale":
        raise Conflict(
            "A bid of this award was voided meanwhile; look at the ladder and decide again.",
            code="award_stale",
        )
    if out.result != "ok":
        if out.status in OPEN:
            raise Conflict("The auction has not closed yet.", code="auction_not_closed")
        raise Conflict(f"The auction is {out.status}.", code="already_decided")


@api("GET", "/api/auctions/{auction_id:int}/award", response=Doc)
async def award_of(call: Call[Any]) -> Any:
    """The lot's award rounds and contracts (the buyer and operators)."""
    return await call.state.db.run(awards.of_auction, call.principal, call.path["auction_id"])


@api("GET", "/api/contracts", response=list[Doc])
async def listed(call: Call[Any]) -> Any:
    """The caller's company's contracts, as buyer or supplier (operators: all)."""
    status = query_enum(call.request, "status", ContractStatus)

    def work(session: Session) -> list[Doc]:
        found = reading.listed(session, call.principal, status)
        return [reading.public(session, call.principal, c) for c in found]

    return await call.state.db.run(work)


@api("GET", "/api/contracts/{contract_id:int}", response=Doc)
async def one(call: Call[Any]) -> Any:
    """One contract: terms, status, escrow position, payments, dispute, allowed moves."""
    return await _public(call, reading.get, call.path["contract_id"])


@api("GET", "/api/contracts/{contract_id:int}/purchase-order", response=Doc)
async def purchase_order(call: Call[Any]) -> Any:
    """The accepted contract as a purchase order (JSON; fields in docs/api.md)."""
    return await call.state.db.run(order.document, call.principal, call.path["contract_id"])


@api("GET", "/api/contracts/{contract_id:int}/purchase-order.csv")
async def purchase_order_csv(call: Call[Any]) -> Any:
    """The purchase order as CSV, one row per line, for an ERP's import."""
    found = await call.state.db.run(order.document, call.principal, call.path["contract_id"])
    return csv_export.download(order.csv_rows(found), f"{found['po_number']}.csv")


@api("GET", "/api/contracts/{contract_id:int}/document")
async def document(call: Call[Any]) -> Any:
    """The contract as a printable HTML document."""

    def work(session: Session) -> Doc:
        contract = reading.get(session, call.principal, call.path["contract_id"])
        return reading.public(session, call.principal, contract)

    data = await call.state.db.run(work)
    html = templates.get_template("contract_document.html").render(
        c=data, major=lambda amount: money.format_major(amount, data["currency"])
    )
    return HTMLResponse(html)


def _command_route(move: str, fn: Any, body: type[Any], doc: str) -> Any:
    async def handler(call: Call[Any]) -> Any:
        arg = call.body if body is not Command else call.body.key
        return await _public(call, fn, call.path["contract_id"], arg, enforce=move == "decline")

    handler.__doc__ = doc
    handler.__name__ = f"contract_{move.replace('/', '_')}"
    return api(
        "POST",
        f"/api/contracts/{{contract_id:int}}/{move}",
        body=body,
        response=Doc,
    )(handler)


accept = _command_route("accept", commands.accept, Command, "The supplier accepts the contract.")
decline = _command_route(
    "decline", commands.decline, Command, "The supplier declines the contract."
)
cancel = _command_route(
    "cancel", commands.cancel, Command, "Either party cancels an unfunded contract."
)
fund = _command_route(
    "fund",
    commands.request_funding,
    Command,
    "The buyer asks to fund the escrow: payment instructions, pending until confirmed.",
)
withdraw = _command_route(
    "withdraw",
    commands.withdraw_funding,
    Command,
    "The buyer withdraws its pending funding payment (before an operator confirms it).",
)
ship = _command_route("ship", commands.ship, Ship, "The supplier ships the goods.")
confirm = _command_route(
    "confirm",
    commands.confirm,
    Confirm,
    "The buyer signs for the goods (all, or ``quantity_accepted`` of them); inspection starts.",
)
release = _command_route(
    "release", commands.release, Release, "The buyer releases a milestone or accepts the goods."
)
dispute = _command_route(
    "dispute", disputes.dispute, DisputeOpen, "A party opens a dispute, with evidence files."
)
terminate = _command_route(
    "terminate",
    delivery.terminate,
    Command,
    "The buyer ends a contract not shipped by its ship-by date: everything held is refunded.",
)
extension = _command_route(
    "extension",
    delivery.request_extension,
    ExtensionRequest,
    "The supplier asks once, before its ship-by date, for more days to ship.",
)
extension_answer = _command_route(
    "extension/answer",
    delivery.answer_extension,
    ExtensionAnswer,
    "The buyer accepts (the ship-by date moves) or refuses the supplier's extension.",
)


@api(
    "POST", "/api/contracts/{contract_id:int}/evidence", body=EvidenceAdd, response=Doc, status=201
)
async def evidence(call: Call[EvidenceAdd]) -> Any:
    """A party adds a file to the open dispute."""

    def work(session: Session) -> Doc:
        row = disputes.add_evidence(session, call.principal, call.path["contract_id"], call.body)
        return row.model_dump()

    return await call.state.db.run(work)


@api("GET", "/api/admin/disputes", response=list[Doc])
async def dispute_queue(call: Call[Any]) -> Any:
    """Operators: disputes (``?status=open`` for the queue)."""
    status = query_enum(call.request, "status", DisputeStatus)
    return await call.state.db.run(reading.disputes, call.principal, status)


@api("POST", "/api/admin/disputes/{dispute_id:int}/resolve", body=Resolution, response=Doc)
async def resolve(call: Call[Resolution]) -> Any:
    """Operators rule on a dispute: release, refund or split what escrow holds."""

    return await _public(call, disputes.resolve, call.path["dispute_id"], call.body, enforce=True)


@api("GET", "/api/admin/payments", response=list[Doc])
async def payments_pending(call: Call[Any]) -> Any:
    """Operators: escrow payments (funding, payouts, refunds) waiting for confirmation."""

    def work(session: Session) -> list[Doc]:
        return [p.model_dump() for p in reading.pending_payments(session, call.principal)]

    return await call.state.db.run(work)


@api("POST", "/api/admin/payments/{payment_id:int}/confirm", response=Doc)
async def payment_confirm(call: Call[Any]) -> Any:
    """Operators confirm a payment went through: funding moves money into escrow."""

    def work(session: Session) -> Doc:
        payment = commands.confirm_payment(session, call.principal, call.path["payment_id"])
        return payment.model_dump()

    return await call.state.db.run(work)


async def _public(call: Call[Any], fn: Any, *args: Any, enforce: bool = False) -> Doc:
    """Run a contract command (or read one) and answer the contract as the caller sees
    it, with its supplier's standing. ``enforce``: after a decline or a ruling, the
    automatic suspension rule is applied to the supplier in the same transaction."""
    require_login(call.principal)
    settings = call.state.settings
    suspended = False

    def work(session: Session) -> Doc:
        nonlocal suspended
        contract = fn(session, call.principal, *args)
        if enforce:
            suspended = credit.enforce(
                session,
                contract.supplier_company_id,
                settings.suspend_after_declines,
                settings.suspend_after_lost_disputes,
            )
        doc = reading.public(session, call.principal, contract)
        doc["supplier_standing"] = credit.standing(session, contract.supplier_company_id)
        return doc

    result: Doc = await call.state.db.run(work)
    if suspended:
        await call.state.desk.announce(result["supplier_company_id"])
    return result


ROUTES = [
    award,
    award_of,
    scenarios_of,
    scenario_award,
    listed,
    one,
    purchase_order,
    purchase_order_csv,
    document,
    accept,
    decline,
    cancel,
    fund,
    withdraw,
    ship,
    confirm,
    release,
    dispute,
    terminate,
    extension,
    extension_answer,
    evidence,
    dispute_queue,
    resolve,
    payments_pending,
    payment_confirm,
]
