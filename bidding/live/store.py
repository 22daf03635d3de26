"""Engine output into SQL: the mapping from the scripts' events and audit entries to
the ``event``, ``audit``, ``bid`` and ``auction`` rows, in the caller's transaction.

Writes are idempotent (events by ``(auction, epoch, seq)``, audit entries by
``(auction, epoch, aseq)``, bids by id), so the scheduler's repair can hand the same
output in again from the Redis streams after a crash.

The record is provably complete: the auction row's ``seq`` and ``aseq`` are the
*contiguous* watermarks (every event ``1..seq`` and audit entry ``1..aseq`` is stored),
advanced here under the row's lock; an entry above a hole waits in SQL, the hole is
detected (the watermark stops below it) and the repair fills it from the streams.
Output of an older ``epoch`` than the row's is refused (the fence of a rebuild: the
rebuild's snapshot did not hold it, so storing it would put a bid in SQL that the live
ladder lacks), and so is a bid on an auction SQL has cancelled (the cancel is decided in
SQL; Redis follows); its caller answers "retry with the same key". What the domain does about
a committed move (an RFQ moving on, an award becoming contracts, suppliers told they
were outbid or that the end moved) is given as :class:`Hooks` and runs in the same
transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlmodel import Session, col

from bidding.auction import DECIDED, AuctionStatus
from rfq import auction_notices, audit_chain, awards, rfqs
from rfq.auctions import AuctionRecord, AuditRecord, BidRecord, EventRecord
from rfq.platform import bulk, clock

log = logging.getLogger("rfq.journal")

StatusHook = Callable[[Session, int, str, dict[str, Any]], None]
"""Called for every status an auction reaches (e.g. to move its RFQ, or to turn an award
into contracts), with the audit entry that moved it (``{}`` if none did: the move came in
with events only)."""

ExtendedHook = Callable[[Session, int, int, datetime], None]
"""Called for every extension written: the auction, the extension's number, the new end."""

OutbidHook = Callable[[Session, Sequence[tuple[int, int]]], None]
"""Called once per write with the ``(auction, company)`` pairs that lost first place to a
bid written, each pair once however often it happened in the write."""

SurrogateHook = Callable[[Session, Sequence[dict[str, Any]]], None]
"""Called once per write with the surrogate bids it stored (their ``bid`` rows), each
once: a replay tells nobody twice."""


@dataclass(frozen=True, slots=True)
class Hooks:
    """The domain's reactions to committed engine output."""

    on_status: Sequence[StatusHook] = ()
    on_extended: Sequence[ExtendedHook] = ()
    on_outbid: Sequence[OutbidHook] = ()
    on_surrogate: Sequence[SurrogateHook] = ()


@dataclass(slots=True)
class Output:
    """One engine call's records for one auction; ``outbid`` is the company that lost
    first place to this call's bid, to be told in the same transaction."""

    auction_id: int
    epoch: int
    events: list[dict[str, Any]]
    audit: list[dict[str, Any]]
    outbid: int | None = field(default=None)


@dataclass(frozen=True, slots=True)
class Mark:
    """An auction's record in SQL after a write: its epoch and contiguous watermarks."""

    epoch: int
    seq: int
    aseq: int


@dataclass(slots=True)
class Written:
    """What :func:`write` did: the outputs it refused (indexes into its argument: of an
    epoch older than the auction's, or of an unknown auction) and every touched
    auction's :class:`Mark`."""

    refused: set[int] = field(default_factory=set)
    marks: dict[int, Mark] = field(default_factory=dict)


def write(session: Session, outputs: Sequence[Output], hooks: Hooks = Hooks()) -> Written:
    """Write engine output in the caller's transaction, idempotently, and seal the chains.

    Per auction it locks the auction row (the chain's head lives there), refuses output
    of an older epoch, drops audit entries already stored (a replay), chains the rest in
    ``(epoch, aseq)`` order, inserts them with their hashes in one statement and
    advances the contiguous watermarks.
    """
    now = clock.now()
    written = Written()
    table = AuctionRecord.__table__  # type: ignore[attr-defined]
    wanted = [table.c[name] for name in _AUCTION_STATE]
    ids = sorted({out.auction_id for out in outputs})
    rows = session.execute(select(*wanted).where(table.c.id.in_(ids)).with_for_update()).mappings()
    auctions = {row["id"]: dict(row) for row in rows}
    before = {key: dict(value) for key, value in auctions.items()}
    kept: list[Output] = []
    for index, out in enumerate(outputs):
        auction = auctions.get(out.auction_id)
        if auction is None:
            log.error("engine output for unknown auction %s", out.auction_id)
            written.refused.add(index)
        elif out.epoch < auction["epoch"] or (
            auction["status"] == AuctionStatus.cancelled
            and any(e["kind"] in _BIDDING for e in out.audit)
        ):
            written.refused.add(index)
        else:
            kept.append(out)
    events: list[dict[str, Any]] = []
    bids: list[dict[str, Any]] = []
    voids: list[tuple[str, str]] = []
    surrogate: list[tuple[int, int, dict[str, Any]]] = []  # (auction, aseq, bid row)
    by_auction: dict[int, list[tuple[int, dict[str, Any]]]] = {}
    for out in kept:
        by_auction.setdefault(out.auction_id, [])
        for ev in out.events:
            events.append(
                {
                    "auction_id": out.auction_id,
                    "epoch": out.epoch,
                    "seq": ev["seq"],
                    "type": ev["type"],
                    "data": ev,
                    "at": _dt(ev["at"]),
                }
            )
        for entry in out.audit:
            by_auction[out.auction_id].append((out.epoch, entry))
            if entry["kind"] == "bid_accepted":
                bids.append(_bid_row(out, entry, now))
                if entry.get("by"):
                    surrogate.append((out.auction_id, entry["aseq"], bids[-1]))
            elif entry["kind"] == "voided":
                voids.append((entry["bid_id"], entry.get("reason", "")))
    entries: list[dict[str, Any]] = []
    changed: list[tuple[int, str, dict[str, Any]]] = []
    extended: set[tuple[int, int, int]] = set()
    fresh: set[tuple[int, int]] = set()  # (auction, aseq) stored by this write
    above = _stored_above(session, list(auctions.values()))
    for auction_id, audit_entries in by_auction.items():
        auction = auctions[auction_id]
        old_status = auction["status"]
        moved_by: dict[str, Any] = {}
        stored = above.get(("aseq", auction_id), set())
        for epoch, entry in _unstored(auction, audit_entries, stored):
            fresh.add((auction_id, entry["aseq"]))
            entries.append(audit_chain.seal(auction, epoch, entry))
            if entry["kind"] == "extended":  # new: a replay tells nobody twice
                extended.add((auction_id, entry["ext"], entry["ends"]))
            status = auction["status"]
            _apply(auction, entry)
            if auction["status"] != status:
                moved_by = entry
        for out in kept:
            if out.auction_id == auction_id:
                for ev in out.events:
                    _apply(auction, ev)
        if auction["status"] != old_status:
            changed.append((auction_id, auction["status"], moved_by))
    bulk.insert_ignore(session, EventRecord, events)
    bulk.insert_ignore(session, AuditRecord, entries)
    bulk.insert_ignore(session, BidRecord, bids)
    for out in kept:  # now stored, with whatever was stored above the watermarks before
        if out.epoch == auctions[out.auction_id]["epoch"]:
            above.setdefault(("seq", out.auction_id), set()).update(e["seq"] for e in out.events)
            above.setdefault(("aseq", out.auction_id), set()).update(e["aseq"] for e in out.audit)
    for auction in auctions.values():
        for name in ("seq", "aseq"):
            stored = above.get((name, auction["id"]), set())
            top = max(stored, default=0)
            auction[f"{name}_stored"] = max(auction[f"{name}_stored"], top)
            while auction[name] + 1 in stored:  # contiguous: over the batch, up to a hole
                auction[name] += 1
        written.marks[auction["id"]] = Mark(auction["epoch"], auction["seq"], auction["aseq"])
    _store_auctions(session, auctions, before)
    for bid_id, reason in voids:
        session.execute(
            update(BidRecord)
            .where(col(BidRecord.id) == bid_id)
            .values(voided=True, void_reason=reason)
        )
    for auction_id, status, entry in changed:
        for on_status in hooks.on_status:
            on_status(session, auction_id, status, entry)
    for auction_id, ext, ends in sorted(extended):
        for on_extended in hooks.on_extended:
            on_extended(session, auction_id, ext, _dt(ends))
    outbid = {
        (out.auction_id, out.outbid): None
        for out in kept
        if out.outbid is not None and any((out.auction_id, e["aseq"]) in fresh for e in out.audit)
    }
    if outbid:
        for on_outbid in hooks.on_outbid:
            on_outbid(session, list(outbid))
    surrogates = [row for auction_id, aseq, row in surrogate if (auction_id, aseq) in fresh]
    if surrogates:
        for on_surrogate in hooks.on_surrogate:
            on_surrogate(session, surrogates)
    return written


def _stored_above(
    session: Session, auctions: list[dict[str, Any]]
) -> dict[tuple[str, int], set[int]]:
    """The ``seq`` (events) and ``aseq`` (audit) numbers stored above each auction's
    watermarks in its epoch: what another worker committed above a hole (usually
    nothing). ``("seq" | "aseq", auction id)`` -> numbers; one query per table."""
    found: dict[tuple[str, int], set[int]] = {}
    for name, model in (("seq", EventRecord), ("aseq", AuditRecord)):
        holed = [a for a in auctions if a[f"{name}_stored"] > a[name]]
        if not holed:
            continue  # the common case: nothing stored above the watermarks, no query
        c = model.__table__.c  # type: ignore[union-attr]
        where = or_(
            *(
                and_(c.auction_id == a["id"], c.epoch == a["epoch"], c[name] > a[name])
                for a in holed
            )
        )
        for auction_id, number in session.execute(select(c.auction_id, c[name]).where(where)):
            found.setdefault((name, auction_id), set()).add(number)
    return found


_BIDDING = ("bid_accepted", "proxy_set")
"""Audit kinds refused on an auction SQL has cancelled (the engine may not know yet)."""

_AUCTION_STATE = (
    "id",
    "epoch",
    "status",
    "seq",
    "aseq",
    "seq_stored",
    "aseq_stored",
    "ends_at",
    "extensions",
    "closed_at",
    "chain_index",
    "chain_head",
)
_HOT = (
    "seq",
    "aseq",
    "seq_stored",
    "aseq_stored",
    "chain_index",
    "chain_head",
    "extensions",
    "status",
)


def _store_auctions(
    session: Session, auctions: dict[int, dict[str, Any]], before: dict[int, dict[str, Any]]
) -> None:
    """Write the auctions' new counters and chain heads (at the driver's speed), and their
    times through SQLAlchemy when they changed (rare)."""
    if not auctions:
        return
    bulk.update_many(session, AuctionRecord, _HOT, list(auctions.values()))
    table = AuctionRecord.__table__  # type: ignore[attr-defined]
    for auction_id, state in auctions.items():
        old = before[auction_id]
        if state["ends_at"] != old["ends_at"] or state["closed_at"] != old["closed_at"]:
            session.execute(
                update(table)
                .where(table.c.id == auction_id)
                .values(ends_at=state["ends_at"], closed_at=state["closed_at"])
            )


def _unstored(
    auction: dict[str, Any], entries: list[tuple[int, dict[str, Any]]], stored: set[int]
) -> list[tuple[int, dict[str, Any]]]:
    """The entries not stored yet, deduplicated, in (epoch, aseq) order: an ``aseq`` at
    or below the contiguous watermark is stored for sure, and ``stored`` holds those
    stored above it."""
    wanted = {
        (epoch, e["aseq"]): (epoch, e)
        for epoch, e in entries
        if e["aseq"] > auction["aseq"] and e["aseq"] not in stored
    }
    return [wanted[k] for k in sorted(wanted)]


_ORDER = {
    AuctionStatus.scheduled: 0,
    AuctionStatus.live: 1,
    AuctionStatus.closed: 2,
    **{status: 3 for status in DECIDED},
}


def _apply(auction: dict[str, Any], item: dict[str, Any]) -> None:
    """Advance an auction row by one event or audit entry (monotonic, order-free; the
    watermarks move in :func:`write`)."""
    kind = item.get("kind") or item.get("type")
    if kind == "extended" and item["ext"] > auction["extensions"]:
        auction["ends_at"], auction["extensions"] = _dt(item["ends"]), item["ext"]
    elif "status" in item and _ORDER.get(item["status"], 0) > _ORDER.get(auction["status"], 0):
        # Statuses only move forward; commits from several workers may arrive out of order.
        auction["status"], auction["ends_at"] = item["status"], _dt(item["ends"])
        if item["status"] == AuctionStatus.closed and auction["closed_at"] is None:
            auction["closed_at"] = clock.now()


def _bid_row(out: Output, entry: dict[str, Any], now: datetime) -> dict[str, Any]:
    return {
        "id": entry["bid_id"],
        "auction_id": out.auction_id,
        "company_id": int(entry["company"]),
        "epoch": out.epoch,
        "seq": entry["seq"],
        "price": entry["price"],
        "transformed": entry["t"],
        "proxy": bool(entry.get("proxy")),
        "key": entry.get("key") or None,
        "commitment": entry.get("commit") or None,
        "nonce": entry.get("nonce") or None,
        "at": _dt(entry["at"]),
        "recorded_at": now,
        "voided": False,
        "surrogate_by": int(entry["by"]) if entry.get("by") else None,
        "surrogate_reason": entry.get("reason") if entry.get("by") else None,
    }


def _dt(ms: int) -> datetime:
    return clock.from_ms(ms)


DOMAIN_HOOKS = Hooks(
    on_status=(rfqs.on_auction_status, awards.on_auction_status),
    on_extended=(auction_notices.extended,),
    on_outbid=(auction_notices.outbid,),
    on_surrogate=(auction_notices.surrogate,),
)
"""The reactions every served journal runs: the RFQ follows its lots, an award becomes
contracts, and suppliers hear that they were outbid, that the end moved or that a bid
was placed for them."""
