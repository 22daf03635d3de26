"""Clarification (Q&A) endpoints, and the chaining of questions and answers onto the
lots' audit chains (``rfq/clarifications.py`` says who may ask, answer and read)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from bidding.live.desk import Desk
from rfq import clarifications
from rfq.clarifications import AnswerCreate, Clarification, QuestionCreate
from rfq.platform.db import Database
from web.routing import Call, api

log = logging.getLogger("rfq.clarifications")

Doc = dict[str, Any]
CHAIN_EVERY_S = 10.0
"""How often the loop chains what a request could not (Redis was away)."""


@api("POST", "/api/rfqs/{rfq_id:int}/questions", body=QuestionCreate, response=Doc, status=201)
async def ask(call: Call[QuestionCreate]) -> Any:
    """A supplier taking part asks a question (about the RFQ or one lot)."""
    row = await call.state.db.run(
        clarifications.ask, call.principal, call.path["rfq_id"], call.body
    )
    await _chain_quietly(call.state.db, call.state.desk, row)
    return {**clarifications.public(row), "mine": True}


@api(
    "POST",
    "/api/rfqs/{rfq_id:int}/questions/{question_id:int}/answer",
    body=AnswerCreate,
    response=Doc,
)
async def answer(call: Call[AnswerCreate]) -> Any:
    """The buyer answers a question once, for every supplier taking part (over ``/ws``,
    as a notification), without saying who asked."""
    row = await call.state.db.run(
        clarifications.answer,
        call.principal,
        call.path["rfq_id"],
        call.path["question_id"],
        call.body,
    )
    await _chain_quietly(call.state.db, call.state.desk, row)
    return {**clarifications.public(row), "mine": False}


@api("GET", "/api/rfqs/{rfq_id:int}/questions", response=list[Doc])
async def listed(call: Call[Any]) -> Any:
    """The RFQ's clarifications: every question for the buyer side, the answered ones
    and its own for a supplier taking part; never who asked (operators excepted)."""
    return await call.state.db.run(clarifications.listed, call.principal, call.path["rfq_id"])


async def chain(db: Database, desk: Desk, row: Clarification) -> None:
    """Put the row's question (and answer) on every lot's audit chain, then mark it."""
    wanted = clarifications.entries(row)
    if not wanted:
        return
    auctions = await db.run(clarifications.auctions_of, row.rfq_id)
    for kind, name, data, public in wanted:
        for auction_id in auctions:
            await desk.note(auction_id, kind, name, data, public=public)
    level = clarifications.ANSWERED if row.answer is not None else clarifications.ASKED
    assert row.id is not None
    await db.run(clarifications.mark_chained, row.id, level)


async def chain_loop(db: Database, desk: Desk, every_s: float = CHAIN_EVERY_S) -> None:
    """For the app's lifetime: chain what a request left unchained."""
    while True:
        await asyncio.sleep(every_s)
        try:
            for row in await db.run(clarifications.unchained):
                await chain(db, desk, row)
        except Exception:  # Redis or the database is away: the next round retries
            log.warning("chaining clarifications failed", exc_info=True)


async def _chain_quietly(db: Database, desk: Desk, row: Clarification) -> None:
    """Chain now; what fails (Redis away) is committed already, and the loop retries."""
    try:
        await chain(db, desk, row)
    except Exception:
        log.warning("clarification %s: chaining failed; the loop retries", row.id, exc_info=True)


ROUTES = [ask, answer, listed]
