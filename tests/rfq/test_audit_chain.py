"""rfq/audit_chain.py: entries that SQL alone writes are sealed onto an auction's chain,
the chain reads back verified, and a changed entry breaks it (SQLite and PostgreSQL; the
world is built through the API, the chain is called directly)."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import update
from sqlmodel import col

from rfq import audit_chain
from rfq.auctions import AuctionRecord, AuditRecord
from rfq.platform.db import Database
from tests.support import LiveServer, bearer, register, rfq_body


@pytest.fixture(scope="module")
def auction_id(live: LiveServer) -> int:
    """A published lot whose auction opens in an hour."""
    with httpx.Client(base_url=live.url, timeout=30) as c:
        buyer = register(c, "buyer")
        auth = bearer(buyer["token"])
        rfq = c.post("/api/rfqs", json=rfq_body(), headers=auth).json()
        published = c.post(f"/api/rfqs/{rfq['id']}/publish", headers=auth).json()
        return int(published["lots"][0]["auction_id"])


def test_appended_entries_chain_and_verify(live: LiveServer, auction_id: int) -> None:
    """Two appended entries take the next aseq and chain index; the chain verifies and its
    head is the auction row's."""
    database = Database(live.settings.database_url)
    try:
        with database.session() as session:
            audit_chain.append(session, auction_id, "note", {"n": 1})
            audit_chain.append(session, auction_id, "note", {"n": 2})
            session.commit()
        with database.session() as session:
            log = audit_chain.chain(session, auction_id)
            auction = session.get(AuctionRecord, auction_id)
            assert auction is not None
        assert log["verified"] and log["problem"] is None
        notes = [e for e in log["entries"] if e["kind"] == "note"]
        assert [e["data"] for e in notes] == [{"n": 1}, {"n": 2}]
        assert notes[1]["aseq"] == notes[0]["aseq"] + 1
        assert log["head"] == auction.chain_head == log["entries"][-1]["hash"]
    finally:
        database.dispose()


def test_a_changed_entry_breaks_the_chain(live: LiveServer, auction_id: int) -> None:
    """Rewriting a sealed entry's data makes the chain fail verification."""
    database = Database(live.settings.database_url)
    try:
        with database.session() as session:
            audit_chain.append(session, auction_id, "note", {"n": 3})
            session.commit()
            session.execute(
                update(AuditRecord)
                .where(col(AuditRecord.auction_id) == auction_id, col(AuditRecord.kind) == "note")
                .values(data={"n": 99})
            )
            session.commit()
        with database.session() as session:
            log = audit_chain.chain(session, auction_id)
        assert not log["verified"] and log["problem"]
    finally:
        database.dispose()
