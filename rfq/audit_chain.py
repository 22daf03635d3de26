"""An auction's hash-chained audit log in SQL: sealing entries, appending the domain's
own, and reading the chain back verified.

The hashing itself is pure (``bidding/audit.py``); this module is where it meets the
``auction`` row (which holds the chain's head and length) and the ``audit`` table. The
engine's entries are sealed by the journal in its batch (:func:`seal`); entries that SQL
alone writes after the award (contract moves, a later award round) by :func:`append`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlmodel import Session, col

from bidding import audit
from rfq.auctions import AuctionRecord, AuditRecord
from rfq.platform import clock


def seal(auction: dict[str, Any], epoch: int, entry: dict[str, Any]) -> dict[str, Any]:
    """The ``audit`` row of ``entry`` linked after the chain of ``auction`` (a dict of the
    auction row's ``id``, ``chain_index`` and ``chain_head``, advanced in place)."""
    auction["chain_index"] += 1
    row = {
        "auction_id": auction["id"],
        "epoch": epoch,
        "aseq": entry["aseq"],
        "kind": entry["kind"],
        "data": entry,
        "at": clock.from_ms(entry["at"]),
        "chain_index": auction["chain_index"],
    }
    hashed = audit.Entry(
        row["auction_id"], epoch, row["aseq"], row["kind"], entry["at"], row["data"]
    )
    head = auction["chain_head"] or audit.genesis(auction["id"])
    auction["chain_head"] = row["hash"] = audit.link(head, hashed)
    return row


def append(session: Session, auction_id: int, kind: str, data: dict[str, Any]) -> None:
    """Seal one entry that SQL alone writes (a contract's moves after the award) onto
    the auction's chain, in the caller's transaction.

    The engine writes nothing more for an awarded auction, so these entries take the
    ``aseq`` numbers after its last one without meeting Redis's.
    """
    table = AuctionRecord.__table__  # type: ignore[attr-defined]
    row = session.execute(
        select(table.c.epoch, table.c.aseq, table.c.chain_index, table.c.chain_head)
        .where(table.c.id == auction_id)
        .with_for_update()
    ).one()
    at = clock.from_ms(clock.now_ms())
    entry = audit.Entry(auction_id, row.epoch, row.aseq + 1, kind, clock.to_ms(at), data)
    head = audit.link(row.chain_head or audit.genesis(auction_id), entry)
    session.add(
        AuditRecord(
            auction_id=auction_id,
            epoch=row.epoch,
            aseq=row.aseq + 1,
            chain_index=row.chain_index + 1,
            kind=kind,
            data=data,
            at=at,
            hash=head,
        )
    )
    session.execute(
        update(table)
        .where(table.c.id == auction_id)
        .values(
            aseq=row.aseq + 1,
            aseq_stored=row.aseq + 1,
            chain_index=row.chain_index + 1,
            chain_head=head,
        )
    )
    session.flush()


def chain(session: Session, auction_id: int) -> dict[str, Any]:
    """The sealed audit log of an auction, and whether its hash chain verifies."""
    records = (
        session.execute(
            select(AuditRecord)
            .where(
                col(AuditRecord.auction_id) == auction_id,
                col(AuditRecord.chain_index).is_not(None),
            )
            .order_by(col(AuditRecord.chain_index))
        )
        .scalars()
        .all()
    )
    verdict = audit.verify(auction_id, ((r.chain_index or 0, entry_of(r), r.hash) for r in records))
    return {
        "auction_id": auction_id,
        "verified": verdict.ok,
        "problem": verdict.problem,
        "head": verdict.head,
        "entries": [
            {
                "index": r.chain_index,
                "epoch": r.epoch,
                "aseq": r.aseq,
                "kind": r.kind,
                "at": clock.rfc3339(r.at),
                "data": r.data,
                "hash": r.hash,
            }
            for r in records
        ],
    }


def entry_of(record: AuditRecord) -> audit.Entry:
    """The hashed form of a stored audit entry."""
    return audit.Entry(
        record.auction_id,
        record.epoch,
        record.aseq,
        record.kind,
        clock.to_ms(record.at),
        record.data,
    )
