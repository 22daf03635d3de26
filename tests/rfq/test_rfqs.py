"""rfq/rfqs.py's commands called directly (no HTTP): a draft, its publication (the
auction records, the matched suppliers), a change that cannot hurt bidders and one that
would, the cancel, and another buyer who cannot see any of it. The companies are made
through the API (the shared world builder); the commands run in a session of the app's
database, SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlmodel import Session

from rfq import participation, rfqs
from rfq.accounts import Principal, Role, Via
from rfq.auctions import AuctionRecord
from rfq.lifecycle import RfqStatus
from rfq.platform.db import Database
from rfq.platform.errors import Invalid, NotFound
from rfq.rfqs import RfqCreate, RfqUpdate
from tests.support import LiveServer, certified_supplier, operator_token, register, rfq_body


def _buyer(data: dict[str, Any]) -> Principal:
    return Principal(
        data["user"]["id"], data["email"], Role.buyer, data["company"]["id"], 0, Via.bearer
    )


@pytest.fixture(scope="module")
def people(live: LiveServer) -> dict[str, Any]:
    with httpx.Client(base_url=live.url, timeout=30) as c:
        operator = operator_token(live)
        return {
            "buyer": _buyer(register(c, "buyer")),
            "other": _buyer(register(c, "buyer")),
            "supplier": certified_supplier(c, operator, ["fasteners"]),
        }


def _session(live: LiveServer) -> tuple[Database, Session]:
    database = Database(live.settings.database_url)
    return database, database.session()


def test_a_draft_is_published_changed_and_cancelled(
    live: LiveServer, people: dict[str, Any]
) -> None:
    """Publishing makes each lot's auction (scheduled) and invites the matched supplier;
    a lower ceiling after publishing is refused; the cancel moves the RFQ and is hidden
    from another buyer."""
    buyer, other = people["buyer"], people["other"]
    supplier_company = people["supplier"]["company"]["id"]
    database, session = _session(live)
    try:
        with session:
            draft = rfqs.create(session, buyer, RfqCreate.model_validate(rfq_body()))
            assert draft.id is not None and draft.status is RfqStatus.draft
            published = rfqs.publish(session, buyer, draft.id)
            assert published.status is RfqStatus.published
            [lot] = rfqs.lots_of(session, draft.id)
            auction = session.get(AuctionRecord, lot.id)
            assert auction is not None and auction.status == "scheduled"
            assert participation.find(session, draft.id, supplier_company) is not None
            lower = RfqUpdate.model_validate({"lots": [{"id": lot.id, "ceiling_price": 100}]})
            with pytest.raises(Invalid) as refused:
                rfqs.update(session, buyer, draft.id, lower)
            assert refused.value.code == "change_hurts_bidders"
            with pytest.raises(NotFound):
                rfqs.get(session, other, draft.id)
            cancelled = rfqs.cancel(session, buyer, draft.id, "no longer needed")
            assert cancelled.status is RfqStatus.cancelled
            session.commit()
    finally:
        database.dispose()
