"""bidding/live/commit_process.py: a live server whose journal commits in a child process,
as ``rfq serve`` runs it (SQLite and PostgreSQL). Bids acknowledged through it are in
SQL, the domain's hooks ran in the child (the supplier that lost first place is told),
and when the child is killed (SIGKILL) while bids are being placed the journal replaces
it: every bid is acknowledged in the end (a bid whose outcome was unknown is retried
with its key, as a client does), each key is one bid in SQL, and the auction's events
in SQL are numbered without a gap."""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
from sqlalchemy import select
from sqlmodel import col

from rfq.auctions import BidRecord, EventRecord
from rfq.platform.db import Database
from tests.support import (
    LiveServer,
    bearer,
    certified_suppliers,
    live_auction,
    operator_token,
    place_bid,
    register,
    wait_for,
)

JOURNAL_PROCESS = True
"""Read by the ``live`` fixture: this module's server commits in a child process."""

SUPPLIERS = 4
BIDS_EACH = 12
KILLS = 3


def _children() -> list[multiprocessing.process.BaseProcess]:
    return [p for p in multiprocessing.active_children() if p.name == "rfq-journal-commits"]


def _bid_until_known(
    client: httpx.Client, supplier: dict[str, Any], auction: int, price: int, key: str
) -> str:
    """Place a bid, retrying the same key while the outcome is unknown (503); its id."""
    for _ in range(100):
        response = place_bid(client, supplier, auction, price, key)
        if response.status_code != 503:
            assert response.status_code == 201, response.text
            return str(response.json()["bid_id"])
        assert response.json()["error"]["code"] == "unavailable"
    raise AssertionError(f"bid {key} stayed unavailable")


def test_a_killed_commit_process_is_replaced_and_the_record_stays_whole(
    client: httpx.Client, live: LiveServer
) -> None:
    operator = operator_token(live)
    buyer = register(client, "buyer")
    suppliers = certified_suppliers(live.url, operator, SUPPLIERS, ["fasteners"])
    auction = live_auction(client, buyer, seconds=120, ceiling=100_000)
    first = wait_for(_children, what="the journal's commit process")[0]

    # Before any kill: a bid, then a lower one from a rival; the first supplier is told.
    lead, rival = suppliers[0], suppliers[1]
    acked = {"warm-0": _bid_until_known(client, lead, auction, 99_000, "warm-0")}
    acked["warm-1"] = _bid_until_known(client, rival, auction, 98_000, "warm-1")
    notes = client.get("/api/notifications", headers=bearer(lead["token"])).json()
    assert [n["data"]["auction_id"] for n in notes if n["kind"] == "outbid"] == [auction]

    killed: list[int] = []
    stop = threading.Event()

    def killer() -> None:
        while len(killed) < KILLS and not stop.is_set():
            children = _children()
            if children and children[0].pid not in killed:
                assert children[0].pid is not None
                os.kill(children[0].pid, signal.SIGKILL)
                killed.append(children[0].pid)
            stop.wait(0.15)

    def supplier_bids(n: int) -> dict[str, str]:
        who = suppliers[n]
        with httpx.Client(base_url=live.url, timeout=30) as own:
            return {
                f"s{n}-{k}": _bid_until_known(own, who, auction, 97_000 - 10 * k - n, f"s{n}-{k}")
                for k in range(BIDS_EACH)
            }

    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    try:
        with ThreadPoolExecutor(SUPPLIERS) as pool:
            for placed in pool.map(supplier_bids, range(SUPPLIERS)):
                acked.update(placed)
    finally:
        stop.set()
        thread.join(10)
    assert killed and killed[0] == first.pid
    after = _bid_until_known(client, lead, auction, 50_000, "after")  # a fresh child answers
    acked["after"] = after

    database = Database(live.settings.database_url)
    try:
        with database.session() as session:
            bids = session.exec(select(BidRecord).where(col(BidRecord.auction_id) == auction))
            stored = {b.key: b.id for b in bids.scalars()}
            seqs = session.exec(
                select(EventRecord.seq).where(col(EventRecord.auction_id) == auction)
            ).scalars()
            numbers = sorted(seqs)
    finally:
        database.dispose()
    assert stored == acked  # every acknowledged bid, each key once, nothing else
    assert numbers == list(range(1, len(numbers) + 1))
    assert len(_children()) == 1
