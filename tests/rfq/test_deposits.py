"""rfq/deposits.py's bid bonds called directly (no HTTP): a bond released can be reserved
again (a later award round), and settling it twice settles it once. The supplier is
made through the API; SQLite and PostgreSQL."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from rfq import accounts, deposits
from rfq.accounts import Principal, Role, Via
from rfq.platform.db import Database
from rfq.platform.errors import Conflict
from tests.support import (
    PASSWORD,
    LiveServer,
    bearer,
    certified_supplier,
    operator_token,
    register,
    rfq_body,
    unique_email,
    wait_for,
)


def test_a_released_bond_is_reserved_again_and_settles_once(live: LiveServer) -> None:
    """Reserve, release, reserve again: the bond stands again; a release and a forfeit of
    that reservation settle it once (the forfeit after the release finds no bond)."""
    company, rfq_id = _supplier_and_rfq(live)
    database = Database(live.settings.database_url)
    try:
        op = _operator(database)
        with database.session() as s:
            deposits.reserve_bond(s, company, rfq_id, 300_000, "CNY")
            assert deposits.balance(s, company, "CNY").reserved == 300_000
            deposits.release_bond(s, company, rfq_id, "round 1 decided")
            assert deposits.balance(s, company, "CNY").reserved == 0
            deposits.reserve_bond(s, company, rfq_id, 300_000, "CNY")
            assert deposits.bond_reserved(s, company, rfq_id)
            assert deposits.balance(s, company, "CNY").reserved == 300_000
            deposits.release_bond(s, company, rfq_id, "round 2 decided")
            deposits.release_bond(s, company, rfq_id, "again")
            with pytest.raises(Conflict):
                deposits.forfeit_bond(s, op, company, rfq_id, "too late")
            position = deposits.balance(s, company, "CNY")
            assert (position.held, position.reserved) == (1_000_000, 0)
            s.commit()
    finally:
        database.dispose()


def test_a_release_waits_for_a_forfeit_in_flight(live: LiveServer) -> None:
    """A forfeit holds the company's lock until it commits; a release of the same bond
    made meanwhile waits, then finds nothing to release: the bond is settled once and
    the reserved deposit never goes below zero. (PostgreSQL: SQLite's writers take the
    write lock when they begin, so there they never overlap.)"""
    if live.settings.is_sqlite:
        pytest.skip("SQLite serialises writers (BEGIN IMMEDIATE)")
    company, rfq_id = _supplier_and_rfq(live)
    database = Database(live.settings.database_url)
    try:
        op = _operator(database)
        with database.session() as s:
            deposits.reserve_bond(s, company, rfq_id, 400_000, "CNY")
            s.commit()
        with database.session() as forfeiting:
            deposits.forfeit_bond(forfeiting, op, company, rfq_id, "refused the contract")
            with ThreadPoolExecutor(1) as pool:
                release = pool.submit(
                    database.run_sync, deposits.release_bond, company, rfq_id, "decided"
                )
                # the release either waits for this transaction's lock, or (without one)
                # has gone ahead and committed; only then does the forfeit commit
                pid = forfeiting.execute(text("SELECT pg_backend_pid()")).scalar_one()
                wait_for(lambda: release.done() or _blocked(database, pid), 20, "the release")
                forfeiting.commit()
                release.result(timeout=30)
        with database.session() as s:
            position = deposits.balance(s, company, "CNY")
        assert (position.held, position.reserved) == (600_000, 0)
    finally:
        database.dispose()


def _operator(database: Database) -> Principal:
    """A new operator account, as the principal its commands run for."""
    with database.session() as s:
        user = accounts.create_operator(s, unique_email("operator"), PASSWORD)
        s.commit()
        return Principal(user.id or 0, user.email, Role.operator, None, 0, Via.bearer)


def _blocked(database: Database, pid: int) -> bool:
    """True if another backend waits for a lock that backend ``pid`` holds (asked on a
    connection of its own: a transaction sees pg_stat_activity as it was when it began)."""
    with database.session() as probe:
        waiting = probe.execute(
            text("SELECT count(*) FROM pg_stat_activity WHERE :pid = ANY(pg_blocking_pids(pid))"),
            {"pid": pid},
        ).scalar_one()
    return bool(waiting)


def _supplier_and_rfq(live: LiveServer) -> tuple[int, int]:
    """A certified supplier with a deposit of 1,000,000, and a decided RFQ."""
    with httpx.Client(base_url=live.url, timeout=30) as c:
        operator = operator_token(live)
        buyer = register(c, "buyer")
        supplier = certified_supplier(c, operator, ["fasteners"], deposit=1_000_000)
        return int(supplier["company"]["id"]), _decided_rfq(c, buyer)


def _decided_rfq(client: httpx.Client, buyer: dict[str, Any]) -> int:
    """A published RFQ, cancelled (its lot takes no bids: its bonds may be settled)."""
    auth = bearer(buyer["token"])
    rfq = client.post("/api/rfqs", json=rfq_body(), headers=auth).json()
    client.post(f"/api/rfqs/{rfq['id']}/publish", headers=auth).raise_for_status()
    client.post(f"/api/rfqs/{rfq['id']}/cancel", json={"reason": "x"}, headers=auth)
    return int(rfq["id"])
