"""Live auctions end to end through the HTTP API, on SQLite and PostgreSQL.

An RFQ is published to start a couple of seconds later; the scheduler opens it on the
server's clock, certified suppliers bid through ``POST /api/auctions/{id}/bids``, and
the ladder, the views per viewer, the CSV, the audit chain and the close are checked.
"""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import text

from rfq import rfqs
from rfq.accounts import Principal, Role, Via
from rfq.platform.db import Database
from tests.support import (
    LiveServer,
    assert_error,
    bearer,
    certified_supplier,
    live_auction,
    place_bid,
    register,
    rfq_body,
    rfq_cli,
    wait_for,
    wait_state,
)


def test_bidding_ranks_and_views(client: httpx.Client, operator: str) -> None:
    """Bids rank by price then time; each viewer sees only what rank_only allows."""
    buyer = register(client, "buyer")
    a = certified_supplier(client, operator, ["fasteners"])
    b = certified_supplier(client, operator, ["fasteners"])
    auction_id = live_auction(client, buyer)
    first = place_bid(client, a, auction_id, 110, "a1")
    assert first.status_code == 201, first.text
    assert first.json()["rank"] == 1
    second = place_bid(client, b, auction_id, 105, "b1")
    assert second.json()["rank"] == 1
    tie = place_bid(client, a, auction_id, 105, "a2")
    assert tie.json()["rank"] == 2  # earlier_wins: b bid 105 first
    buyer_view = client.get(f"/api/auctions/{auction_id}", headers=bearer(buyer["token"])).json()
    ladder = buyer_view["ladder"]
    assert [(e["supplier_company_id"], e["price"]) for e in ladder] == [
        (b["company"]["id"], 105),
        (a["company"]["id"], 105),
    ]
    assert buyer_view["reserve_met"] is False and buyer_view["reserve_price"] == 95
    a_view = client.get(f"/api/auctions/{auction_id}", headers=bearer(a["token"])).json()
    assert a_view["my_rank"] == 2 and a_view["my_price"] == 105
    assert "ladder" not in a_view and "best_price" not in a_view
    assert set(a_view) == {
        "id",
        "rfq_id",
        "lot_id",
        "currency",
        "state",
        "format",
        "visibility",
        "pre_bids",
        "ceiling_price",
        "starts_at",
        "ends_at",
        "ends_at_ms",
        "extensions",
        "seq",
        "epoch",
        "server_time",
        "bidders",
        "my_price",
        "my_bid_id",
        "my_bid_surrogate",
        "my_rank",
        "min_acceptable",
        "min_acceptable_reason",
    }
    assert a_view["my_bid_id"] == tie.json()["bid_id"]


def test_rejections_have_codes_and_min_acceptable(client: httpx.Client, operator: str) -> None:
    """Above ceiling, too small a step, a float and an uninvited bidder are refused by code."""
    buyer = register(client, "buyer")
    a = certified_supplier(client, operator, ["fasteners"])
    stranger = certified_supplier(client, operator, ["chemicals"])
    no_deposit = certified_supplier(client, operator, ["fasteners"], deposit=None)
    auction_id = live_auction(client, buyer)
    assert_error(place_bid(client, a, auction_id, 121, "x1"), 422, "above_ceiling")
    assert place_bid(client, a, auction_id, 100, "x2").status_code == 201
    step = assert_error(place_bid(client, a, auction_id, 100, "x3"), 422, "below_decrement")
    assert step["min_acceptable"] == 99
    assert_error(place_bid(client, a, auction_id, 99.5, "x4"), 422, "validation_error")
    assert_error(place_bid(client, a, auction_id, "98", "x5"), 422, "validation_error")
    assert_error(place_bid(client, a, auction_id, 0, "x6"), 422, "invalid_price")
    assert_error(place_bid(client, stranger, auction_id, 90, "s1"), 403, "not_eligible")
    poor = assert_error(place_bid(client, no_deposit, auction_id, 90, "n1"), 403, "not_eligible")
    assert "deposit" in poor["message"]
    assert_error(place_bid(client, buyer, auction_id, 90, "b1"), 403, "not_eligible")


def test_same_key_is_one_bid(client: httpx.Client, operator: str) -> None:
    """Sending a bid again with its key returns the first outcome and bids once."""
    buyer = register(client, "buyer")
    a = certified_supplier(client, operator, ["fasteners"])
    auction_id = live_auction(client, buyer)
    first = place_bid(client, a, auction_id, 100, "once")
    again = place_bid(client, a, auction_id, 90, "once")
    assert again.status_code == 201 and again.json()["replay"] is True
    assert again.json()["bid_id"] == first.json()["bid_id"] and again.json()["price"] == 100
    rows = _csv(client, buyer, auction_id)
    assert [r["price"] for r in rows] == ["100"]


def test_not_live_before_start(client: httpx.Client, operator: str) -> None:
    """A bid before the auction opens is refused with auction_not_live."""
    buyer = register(client, "buyer")
    a = certified_supplier(client, operator, ["fasteners"])
    auth = bearer(buyer["token"])
    rfq = client.post("/api/rfqs", json=rfq_body(minutes_from_now=30), headers=auth).json()
    published = client.post(f"/api/rfqs/{rfq['id']}/publish", headers=auth).json()
    auction_id = published["lots"][0]["auction_id"]
    assert_error(place_bid(client, a, auction_id, 100, "early"), 409, "auction_not_live")
    state = client.get(f"/api/auctions/{auction_id}", headers=auth).json()
    assert state["state"] == "scheduled"


def test_soft_close_extends_and_auction_closes(client: httpx.Client, operator: str) -> None:
    """A bid in the soft-close window extends the end; the scheduler closes it once, and
    the RFQ closes with its only lot."""
    buyer = register(client, "buyer")
    a = certified_supplier(client, operator, ["fasteners"])
    soft = {"window_s": 60, "extend_s": 3, "trigger": "any", "max_extensions": 1}
    auction_id = live_auction(client, buyer, seconds=2, soft_close=soft)
    before = client.get(f"/api/auctions/{auction_id}", headers=bearer(buyer["token"])).json()
    bid = place_bid(client, a, auction_id, 100, "late")
    assert bid.status_code == 201, bid.text
    assert bid.json()["extended"] is True and bid.json()["extensions"] == 1
    assert bid.json()["ends_at"] > before["ends_at"]
    notes = client.get("/api/notifications", headers=bearer(a["token"])).json()
    [note] = [n for n in notes if n["kind"] == "extended"]
    assert note["data"] == {"auction_id": auction_id, "ends_at": bid.json()["ends_at"]}
    auth = bearer(buyer["token"])
    wait_state(client, buyer["token"], auction_id, "closed", 15)
    assert_error(place_bid(client, a, auction_id, 90, "after"), 409, "auction_not_live")
    rfq_id = client.get(f"/api/auctions/{auction_id}", headers=auth).json()["rfq_id"]
    wait_for(
        lambda: client.get(f"/api/rfqs/{rfq_id}", headers=auth).json()["status"] == "closed",
        10,
        "the RFQ to close",
    )
    log = client.get(f"/api/auctions/{auction_id}/audit", headers=auth).json()
    kinds = [e["kind"] for e in log["entries"]]
    assert log["verified"] is True
    assert kinds.count("closed") == 1 and kinds.count("opened") == 1
    assert "extended" in kinds and "bid_rejected" in kinds


def test_csv_and_audit_are_for_the_buyer(client: httpx.Client, operator: str) -> None:
    """The buyer gets the bids CSV and a verified audit chain; a supplier gets 404."""
    buyer = register(client, "buyer")
    a = certified_supplier(client, operator, ["fasteners"])
    auction_id = live_auction(client, buyer)
    place_bid(client, a, auction_id, 111, "c1")
    place_bid(client, a, auction_id, 130, "c2")
    rows = _csv(client, buyer, auction_id)
    assert rows[0]["supplier_company_id"] == str(a["company"]["id"]) and rows[0]["price"] == "111"
    log = client.get(f"/api/auctions/{auction_id}/audit", headers=bearer(buyer["token"])).json()
    assert log["verified"] is True and len(log["head"]) == 64
    assert [e["index"] for e in log["entries"]] == list(range(1, len(log["entries"]) + 1))
    assert_error(client.get(f"/api/auctions/{auction_id}/audit", headers=bearer(a["token"])), 404)
    assert_error(
        client.get(f"/api/auctions/{auction_id}/bids.csv", headers=bearer(a["token"])), 404
    )
    other = register(client, "buyer")
    assert_error(client.get(f"/api/auctions/{auction_id}", headers=bearer(other["token"])), 404)


def test_operator_voids_a_bid(client: httpx.Client, operator: str) -> None:
    """Voiding the leading bid reranks without it and restores the supplier's earlier bid."""
    buyer = register(client, "buyer")
    a = certified_supplier(client, operator, ["fasteners"])
    b = certified_supplier(client, operator, ["fasteners"])
    auction_id = live_auction(client, buyer)
    place_bid(client, a, auction_id, 110, "v1")
    place_bid(client, b, auction_id, 105, "v2")
    shill = place_bid(client, a, auction_id, 50, "v3").json()["bid_id"]
    assert_error(
        client.post(
            f"/api/auctions/{auction_id}/bids/{shill}/void",
            json={"reason": "x"},
            headers=bearer(buyer["token"]),
        ),
        403,
    )
    done = client.post(
        f"/api/auctions/{auction_id}/bids/{shill}/void",
        json={"reason": "shill bidding"},
        headers=bearer(operator),
    )
    assert done.status_code == 200, done.text
    ladder = client.get(f"/api/auctions/{auction_id}", headers=bearer(buyer["token"])).json()
    assert [(e["supplier_company_id"], e["price"]) for e in ladder["ladder"]] == [
        (b["company"]["id"], 105),
        (a["company"]["id"], 110),
    ]
    rows = _csv(client, buyer, auction_id)
    assert {r["bid_id"]: r["voided"] for r in rows}[shill] == "True"


def test_proxy_bids_answer_competitors(client: httpx.Client, operator: str) -> None:
    """A proxy floor answers a competitor's bid with the smallest step that leads."""
    buyer = register(client, "buyer")
    a = certified_supplier(client, operator, ["fasteners"])
    b = certified_supplier(client, operator, ["fasteners"])
    auction_id = live_auction(client, buyer)
    place_bid(client, a, auction_id, 115, "p0")
    proxy = client.post(
        f"/api/auctions/{auction_id}/proxy",
        json={"floor": 90, "key": "px"},
        headers=bearer(a["token"]),
    )
    assert proxy.status_code == 200, proxy.text
    answer = place_bid(client, b, auction_id, 100, "p1")
    assert answer.json()["rank"] == 2
    state = client.get(f"/api/auctions/{auction_id}", headers=bearer(buyer["token"])).json()
    leader = state["ladder"][0]
    assert leader["supplier_company_id"] == a["company"]["id"] and leader["price"] == 99
    assert leader["proxy"] is True


def _csv(client: httpx.Client, buyer: dict[str, Any], auction_id: int) -> list[dict[str, str]]:
    response = client.get(f"/api/auctions/{auction_id}/bids.csv", headers=bearer(buyer["token"]))
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.text)))


def test_audit_verify_detects_tampering(
    client: httpx.Client, operator: str, live: LiveServer
) -> None:
    """`rfq audit verify` passes on an untouched log and fails once a sealed entry changes."""
    buyer = register(client, "buyer")
    a = certified_supplier(client, operator, ["fasteners"])
    auction_id = live_auction(client, buyer)
    place_bid(client, a, auction_id, 111, "t1")
    place_bid(client, a, auction_id, 105, "t2")
    env = {
        "RFQ_DATABASE_URL": live.settings.database_url,
        "RFQ_DATA_DIR": str(live.settings.data_dir),
    }
    ok = rfq_cli(["audit", "verify", str(auction_id)], env)
    assert ok.returncode == 0 and "chain verified" in ok.stdout
    database = Database(live.settings.database_url)
    try:
        with database.engine.begin() as conn:
            conn.execute(
                text(
                    "UPDATE audit_entry SET kind = 'bid_rejected' "
                    "WHERE auction_id = :a AND kind = 'bid_accepted'"
                ),
                {"a": auction_id},
            )
    finally:
        database.dispose()
    broken = rfq_cli(["audit", "verify", str(auction_id)], env)
    assert broken.returncode == 1 and "BROKEN" in broken.stderr


def _festival_lot(
    client: httpx.Client, operator: str, buyer: dict[str, Any], rules: dict[str, Any]
) -> tuple[dict[str, Any], int]:
    """A festival, and a one-lot RFQ of the buyer's in it with these rules, live now."""
    now = datetime.now(UTC)
    festival = client.post(
        "/api/festivals",
        headers=bearer(operator),
        json={
            "name": f"Fest {uuid.uuid4().hex[:6]}",
            "starts_at": now.isoformat(),
            "ends_at": (now + timedelta(hours=2)).isoformat(),
        },
    ).json()
    start = now + timedelta(seconds=1.5)
    body = rfq_body(festival_id=festival["id"])
    body["starts_at"] = start.isoformat()
    body["ends_at"] = (start + timedelta(minutes=5)).isoformat()
    body["lots"][0]["rules"] = rules
    auth = bearer(buyer["token"])
    rfq = client.post("/api/rfqs", json=body, headers=auth).json()
    published = client.post(f"/api/rfqs/{rfq['id']}/publish", headers=auth).json()
    auction_id = int(published["lots"][0]["auction_id"])
    wait_for(
        lambda: client.get(f"/api/auctions/{auction_id}", headers=auth).json()["state"] == "live",
        10,
        "open",
    )
    return festival, auction_id


def test_festival_report_shows_lots_and_savings(client: httpx.Client, operator: str) -> None:
    """A festival's report lists its lots with best price and savings for the buyer; a
    supplier of a rank_only lot sees no best price there."""
    buyer = register(client, "buyer")
    a = certified_supplier(client, operator, ["fasteners"])
    rules = {k: v for k, v in rfq_body()["lots"][0]["rules"].items() if k != "soft_close"}
    festival, auction_id = _festival_lot(client, operator, buyer, rules)
    auth = bearer(buyer["token"])
    assert place_bid(client, a, auction_id, 100, "fest").status_code == 201
    report = client.get(f"/api/festivals/{festival['id']}", headers=auth).json()
    lot = report["lots"][0]
    assert lot["best_price"] == 100 and lot["savings"] == (120 - 100) * 10_000
    assert report["live_lots"] == 1
    assert report["totals"] == [
        {"currency": "CNY", "ceiling_value": 1_200_000, "best_value": 1_000_000, "savings": 200_000}
    ]
    seen = client.get(f"/api/festivals/{festival['id']}", headers=bearer(a["token"])).json()
    assert seen["lots"][0]["best_price"] is None and seen["lots"][0]["bidders"] == 1


def test_festival_report_keeps_sealed_bids_sealed(client: httpx.Client, operator: str) -> None:
    """A sealed lot's best price is in nobody's festival report while it runs, nor after
    its RFQ is cancelled (sealed bids open only at a normal close); a supplier does not
    learn how many bids it has, the buyer does."""
    buyer = register(client, "buyer")
    a = certified_supplier(client, operator, ["fasteners"])
    sealed = {"format": "sealed", "visibility": "best_price", "decrement": {"amount": 1}}
    festival, auction_id = _festival_lot(client, operator, buyer, sealed)
    auth = bearer(buyer["token"])
    rfq_id = client.get(f"/api/auctions/{auction_id}", headers=auth).json()["rfq_id"]
    assert place_bid(client, a, auction_id, 100, "sealed-fest").status_code == 201

    def lot(token: str) -> dict[str, Any]:
        report = client.get(f"/api/festivals/{festival['id']}", headers=bearer(token)).json()
        [found] = [x for x in report["lots"] if x["auction_id"] == auction_id]
        return dict(found)

    assert (lot(buyer["token"])["best_price"], lot(buyer["token"])["bidders"]) == (None, 1)
    assert (lot(a["token"])["best_price"], lot(a["token"])["bidders"]) == (None, None)
    cancel = client.post(f"/api/rfqs/{rfq_id}/cancel", json={"reason": "x"}, headers=auth)
    assert cancel.status_code == 200, cancel.text
    for token in (buyer["token"], a["token"]):
        seen = lot(token)
        assert seen["state"] == "cancelled" and seen["best_price"] is None, seen
        assert seen["savings"] == 0


def test_losing_first_place_notifies_the_supplier(client: httpx.Client, operator: str) -> None:
    """When a rival takes first place, the former leader gets an `outbid` notification."""
    buyer = register(client, "buyer")
    a = certified_supplier(client, operator, ["fasteners"])
    b = certified_supplier(client, operator, ["fasteners"])
    auction_id = live_auction(client, buyer)
    assert place_bid(client, a, auction_id, 110, "o1").status_code == 201
    assert place_bid(client, b, auction_id, 100, "o2").status_code == 201
    notes = client.get("/api/notifications", headers=bearer(a["token"])).json()
    assert [n["data"]["auction_id"] for n in notes if n["kind"] == "outbid"] == [auction_id]
    mine = client.get("/api/notifications", headers=bearer(b["token"])).json()
    assert not [n for n in mine if n["kind"] == "outbid"]


def test_amending_a_live_rfq_keeps_the_extended_end(client: httpx.Client, operator: str) -> None:
    """A buyer's harmless edit of a live RFQ leaves a soft-close extension in place."""
    buyer = register(client, "buyer")
    a = certified_supplier(client, operator, ["fasteners"])
    soft = {"window_s": 60, "extend_s": 30, "trigger": "any", "max_extensions": 1}
    auction_id = live_auction(client, buyer, seconds=10, soft_close=soft)
    extended = place_bid(client, a, auction_id, 100, "amend").json()
    assert extended["extended"] is True
    auth = bearer(buyer["token"])
    rfq_id = client.get(f"/api/auctions/{auction_id}", headers=auth).json()["rfq_id"]
    lot_id = client.get(f"/api/rfqs/{rfq_id}", headers=auth).json()["lots"][0]["id"]
    edit = client.patch(
        f"/api/rfqs/{rfq_id}",
        headers=auth,
        json={"description": "More details.", "lots": [{"id": lot_id, "ceiling_price": 150}]},
    )
    assert edit.status_code == 200, edit.text
    state = client.get(f"/api/auctions/{auction_id}", headers=auth).json()
    assert state["ends_at"] == extended["ends_at"] and state["state"] == "live"
    assert state["ceiling_price"] == 150
    assert place_bid(client, a, auction_id, 99, "after-amend").status_code == 201


def test_cancelled_rfq_takes_no_more_bids(client: httpx.Client, operator: str) -> None:
    """Cancelling a live RFQ cancels its auctions; a bid afterwards is refused as
    auction_not_live (not as a question of who may bid)."""
    buyer = register(client, "buyer")
    a = certified_supplier(client, operator, ["fasteners"])
    auction_id = live_auction(client, buyer)
    auth = bearer(buyer["token"])
    rfq_id = client.get(f"/api/auctions/{auction_id}", headers=auth).json()["rfq_id"]
    done = client.post(f"/api/rfqs/{rfq_id}/cancel", json={"reason": "specs changed"}, headers=auth)
    assert done.status_code == 200, done.text
    assert client.get(f"/api/auctions/{auction_id}", headers=auth).json()["state"] == "cancelled"
    assert_error(place_bid(client, a, auction_id, 100, "late"), 409, "auction_not_live")


def test_a_cancel_the_engine_missed_still_ends_the_record(
    client: httpx.Client, live: LiveServer, operator: str
) -> None:
    """The cancel is decided in SQL; Redis follows. With the engine not told (the RFQ
    cancelled in SQL alone, as when Redis is away at that moment), a bid Redis still
    takes is not recorded (503 "retry with the same key"), the scheduler cancels the lot
    in Redis within a second or two, and the retry is refused auction_not_live."""
    buyer = register(client, "buyer")
    a = certified_supplier(client, operator, ["fasteners"])
    auction_id = live_auction(client, buyer)
    auth = bearer(buyer["token"])
    rfq_id = client.get(f"/api/auctions/{auction_id}", headers=auth).json()["rfq_id"]
    me = buyer["user"]
    principal = Principal(me["id"], buyer["email"], Role.buyer, me["company_id"], 0, Via.bearer)
    database = Database(live.settings.database_url)
    try:
        database.run_sync(lambda s: rfqs.cancel(s, principal, rfq_id, "engine missed it"))
    finally:
        database.dispose()
    first = place_bid(client, a, auction_id, 100, "after-cancel")
    assert first.status_code in (409, 503), first.text
    wait_state(client, buyer["token"], auction_id, "cancelled", 10)
    assert_error(place_bid(client, a, auction_id, 100, "after-cancel"), 409, "auction_not_live")
    assert client.get(f"/api/auctions/{auction_id}/bids", headers=auth).json() == []


def test_bonds_are_not_settled_while_their_lot_is_live(client: httpx.Client, operator: str) -> None:
    """An operator can neither release nor forfeit a bond while its lot takes bids."""
    buyer = register(client, "buyer")
    a = certified_supplier(client, operator, ["fasteners"])
    auction_id = live_auction(client, buyer)
    assert place_bid(client, a, auction_id, 110, "bonded").status_code == 201
    rfq_id = client.get(f"/api/auctions/{auction_id}", headers=bearer(buyer["token"])).json()[
        "rfq_id"
    ]
    body = {"company_id": a["company"]["id"], "rfq_id": rfq_id, "reason": "early"}
    for path in ("/api/admin/bonds/release", "/api/admin/bonds/forfeit"):
        assert_error(client.post(path, json=body, headers=bearer(operator)), 409, "auction_live")
    [position] = client.get("/api/deposits/balance", headers=bearer(a["token"])).json()
    assert position["reserved"] == 500_000


def test_rules_that_would_leak_a_hidden_price_are_refused(client: httpx.Client) -> None:
    """A lot that hides prices may not reject ties (tie_not_allowed would name a rival's
    price) nor decrement from the best bid (below_decrement would locate it); a full
    ladder, which shows every price, may do both."""
    buyer = register(client, "buyer")
    auth = bearer(buyer["token"])

    def draft(**rules: Any) -> httpx.Response:
        body = rfq_body()
        body["lots"][0]["rules"].update(rules)
        return client.post("/api/rfqs", json=body, headers=auth)

    for visibility in ("rank_only", "best_price"):
        error = assert_error(draft(visibility=visibility, ties="rejected"), 422, "invalid_rules")
        assert error["field"] == "lots.0.rules.ties"
    error = assert_error(draft(visibility="rank_only", decrement_from="best"), 422, "invalid_rules")
    assert error["field"] == "lots.0.rules.decrement_from"
    assert draft(visibility="best_price", decrement_from="best").status_code == 201
    assert (
        draft(visibility="full_ladder", ties="rejected", decrement_from="best").status_code == 201
    )


def test_rejected_ties_do_not_reveal_rival_prices(client: httpx.Client, operator: str) -> None:
    """With ties rejected (a full ladder lot), a tie is refused tie_not_allowed and an
    undercut of the own bid that is not enough still refused below_decrement."""
    buyer = register(client, "buyer")
    a = certified_supplier(client, operator, ["fasteners"])
    b = certified_supplier(client, operator, ["fasteners"])
    auction_id = live_auction(client, buyer, ties="rejected", visibility="full_ladder")
    assert place_bid(client, a, auction_id, 100, "t1").status_code == 201
    assert place_bid(client, b, auction_id, 99, "t2").status_code == 201
    assert_error(place_bid(client, b, auction_id, 99, "t3"), 422, "below_decrement")
    assert_error(place_bid(client, a, auction_id, 99, "t4"), 422, "tie_not_allowed")


def test_invited_suppliers_are_reminded_once_before_the_start(
    client: httpx.Client, operator: str, live: LiveServer
) -> None:
    """An auction starting within ten minutes is announced to its invited suppliers
    once, however often the timer runs."""
    from rfq import participation

    buyer = register(client, "buyer")
    a = certified_supplier(client, operator, ["fasteners"])
    body = rfq_body(minutes_from_now=5)
    auth = bearer(buyer["token"])
    rfq = client.post("/api/rfqs", json=body, headers=auth).json()
    lots = client.post(f"/api/rfqs/{rfq['id']}/publish", headers=auth).json()["lots"]
    database = Database(live.settings.database_url)
    try:
        database.run_sync(participation.remind_opening)  # (the app's own timer may be first)
        assert lots[0]["auction_id"] not in database.run_sync(participation.remind_opening)
    finally:
        database.dispose()
    notes = client.get("/api/notifications", headers=bearer(a["token"])).json()
    soon = [n for n in notes if n["kind"] == "opens_soon"]
    assert [n["data"]["auction_id"] for n in soon] == [lots[0]["auction_id"]]


def test_a_sealed_bid_is_known_to_its_supplier_by_a_name_that_counts_nothing(
    client: httpx.Client, operator: str
) -> None:
    """In a sealed lot the engine's bid id (``{auction}.{epoch}-{seq}``) and the ack's
    ``seq`` would tell a supplier how many bids came before its own: it gets a keyed name
    instead, the same on a replay and in its state, and no ``seq``; the buyer's record
    keeps the engine's ids."""
    buyer = register(client, "buyer")
    a = certified_supplier(client, operator, ["fasteners"])
    b = certified_supplier(client, operator, ["fasteners"])
    auction_id = live_auction(client, buyer, format="sealed", visibility="rank_only")
    for n in range(3):
        assert place_bid(client, b, auction_id, 110 - n, f"rival-{n}").status_code == 201
    first = place_bid(client, a, auction_id, 100, "mine")
    assert first.status_code == 201, first.text
    ack = first.json()
    assert ack["seq"] is None and ack["bid_id"].startswith(f"{auction_id}.sealed-"), ack
    again = place_bid(client, a, auction_id, 100, "mine").json()
    assert again["replay"] is True and again["bid_id"] == ack["bid_id"]
    mine = client.get(f"/api/auctions/{auction_id}", headers=bearer(a["token"])).json()
    assert mine["my_bid_id"] == ack["bid_id"] and "seq" not in mine, mine
    rival = place_bid(client, b, auction_id, 90, "rival-3").json()
    assert rival["bid_id"] != ack["bid_id"] and rival["seq"] is None
    record = client.get(f"/api/auctions/{auction_id}/bids", headers=bearer(buyer["token"]))
    assert len(record.json()) == 5  # the buyer learns that bids arrived, not their ids yet


def test_a_supplier_below_the_platform_deposit_may_not_take_part(
    client: httpx.Client, operator: str
) -> None:
    """``RFQ_DEPOSIT_REQUIRED`` (20,000.00 CNY by default): a certified supplier holding
    less is refused ``not_eligible`` with a sentence naming the deposit, until it posts
    enough; ``GET /api/deposits/requirement`` tells it where it stands."""
    buyer = register(client, "buyer")
    short = certified_supplier(client, operator, ["fasteners"], deposit=1_000_000)
    auth = bearer(short["token"])
    needed = client.get("/api/deposits/requirement", headers=auth).json()
    assert needed == {"amount": 2_000_000, "currency": "CNY", "held": 1_000_000, "met": False}
    auction_id = live_auction(client, buyer)
    refused = place_bid(client, short, auction_id, 110, "short")
    error = assert_error(refused, 403, "not_eligible")
    assert "20000.00 CNY" in error["message"] and "10000.00 held" in error["message"]
    posted = client.post("/api/deposits", json={"amount": 1_000_000}, headers=auth).json()
    confirm = client.post(f"/api/admin/deposits/{posted['id']}/confirm", headers=bearer(operator))
    assert confirm.status_code == 200, confirm.text
    assert client.get("/api/deposits/requirement", headers=auth).json()["met"] is True
    later = live_auction(client, buyer)  # (the refusal of the first is cached a moment)
    assert place_bid(client, short, later, 110, "enough").status_code == 201
    buyers_view = client.get("/api/deposits/requirement", headers=bearer(buyer["token"]))
    assert buyers_view.json() == {"amount": 2_000_000, "currency": "CNY", "held": 0, "met": False}


def test_a_surrogate_bid_is_marked_everywhere_and_told(client: httpx.Client, operator: str) -> None:
    """The buyer phones in a bid for a supplier: the rules and the supplier's eligibility
    apply, the record, the CSV, the audit chain and the supplier's own view mark it, the
    supplier is notified; nobody else may place one."""
    buyer = register(client, "buyer")
    a = certified_supplier(client, operator, ["fasteners"])
    b = certified_supplier(client, operator, ["fasteners"])
    stranger = certified_supplier(client, operator, ["chemicals"])
    auction_id = live_auction(client, buyer)
    url = f"/api/auctions/{auction_id}/surrogate-bids"

    def phone(token: str, company: dict[str, Any], price: int, key: str) -> httpx.Response:
        body = {"supplier_company_id": company["company"]["id"], "price": price, "key": key,
                "reason": "Line down at the plant; bid confirmed by phone at 10:02"}  # fmt: skip
        return client.post(url, json=body, headers=bearer(token))

    assert place_bid(client, a, auction_id, 110, "k1").status_code == 201
    done = phone(buyer["token"], a, 104, "k1")  # the supplier's own key is not replayed
    assert done.status_code == 201, done.text
    assert done.json()["price"] == 104 and done.json()["rank"] == 1
    assert phone(buyer["token"], a, 104, "k1").json()["replay"] is True
    assert_error(phone(buyer["token"], a, 104, "k2"), 422, "below_decrement")
    assert_error(phone(buyer["token"], stranger, 100, "k3"), 403, "not_eligible")
    for token in (a["token"], b["token"], register(client, "buyer")["token"]):
        assert_error(phone(token, b, 100, "k4"), 404)
    assert_error(client.post(url, json={"supplier_company_id": 1, "price": 1, "key": "x",
                                        "reason": ""}, headers=bearer(buyer["token"])),
                 422, "validation_error")  # fmt: skip
    assert phone(operator, b, 100, "k5").status_code == 201

    full = client.get(f"/api/auctions/{auction_id}", headers=bearer(buyer["token"])).json()
    assert [(e["price"], e["surrogate"]) for e in full["ladder"]] == [(100, True), (104, True)]
    mine = client.get(f"/api/auctions/{auction_id}", headers=bearer(a["token"])).json()
    assert mine["my_price"] == 104 and mine["my_bid_surrogate"] is True
    own = client.get(f"/api/auctions/{auction_id}/my-bids", headers=bearer(a["token"])).json()
    assert [(x["price"], x["surrogate"]) for x in own] == [(110, False), (104, True)]
    assert own[1]["surrogate_reason"].startswith("Line down")
    assert_error(
        client.get(f"/api/auctions/{auction_id}/my-bids", headers=bearer(stranger["token"])), 404
    )
    assert_error(
        client.get(f"/api/auctions/{auction_id}/my-bids", headers=bearer(buyer["token"])), 404
    )
    rows = _csv(client, buyer, auction_id)
    assert [(r["price"], r["surrogate"]) for r in rows] == [
        ("110", "False"),
        ("104", "True"),
        ("100", "True"),
    ]
    assert [r["surrogate_by"] for r in rows[:2]] == ["", buyer["email"]]
    assert rows[2]["surrogate_by"] not in ("", buyer["email"])  # the operator's
    notes = client.get("/api/notifications", headers=bearer(a["token"])).json()
    told = [n for n in notes if n["kind"] == "surrogate_bid"]
    assert len(told) == 1 and told[0]["data"]["price"] == 104, told
    assert told[0]["data"]["reason"].startswith("Line down")
    log = client.get(f"/api/auctions/{auction_id}/audit", headers=bearer(buyer["token"])).json()
    assert log["verified"] is True
    accepted = [e["data"] for e in log["entries"] if e["kind"] == "bid_accepted"]
    assert [d.get("by") is not None for d in accepted] == [False, True, True]
    assert accepted[1]["reason"].startswith("Line down")


def test_pre_bids_are_blind_until_the_opening_and_start_the_ranking(
    client: httpx.Client, operator: str
) -> None:
    """A pre-bid lot takes bids before its start, checked against the ceiling and the
    bidder's own pre-bid only; until the opening nobody sees a price, a rank, a number
    or who bid (the buyer sees how many); the ranking starts from them. A lot without
    pre-bids refuses bids before its start."""
    buyer = register(client, "buyer")
    a = certified_supplier(client, operator, ["fasteners"])
    b = certified_supplier(client, operator, ["fasteners"])
    body = rfq_body()
    lot = body["lots"][0]
    lot["rules"].update(visibility="best_price", decrement_from="best", pre_bids=True)
    body["lots"].append({**lot, "name": "M10 nuts", "rules": {**lot["rules"], "pre_bids": False}})
    start = datetime.now(UTC) + timedelta(seconds=6)
    body["starts_at"], body["ends_at"] = (
        start.isoformat(),
        (start + timedelta(seconds=60)).isoformat(),
    )
    rfq = client.post("/api/rfqs", json=body, headers=bearer(buyer["token"])).json()
    assert rfq["lots"][0]["rules"]["pre_bids"] is True and "pre_bids" not in rfq["lots"][1]["rules"]
    published = client.post(f"/api/rfqs/{rfq['id']}/publish", headers=bearer(buyer["token"]))
    pre_lot, plain_lot = (int(x["auction_id"]) for x in published.json()["lots"])

    first = place_bid(client, a, pre_lot, 110, "a1")
    assert first.status_code == 201, first.text
    ack = first.json()
    assert ack["rank"] is None and ack["seq"] is None
    assert ack["bid_id"].startswith(f"{pre_lot}.sealed-")  # an opaque handle: no number
    assert place_bid(client, b, pre_lot, 115, "b1").status_code == 201  # blind: above a's
    assert_error(place_bid(client, a, pre_lot, 110, "a2"), 422, "below_decrement")
    assert_error(place_bid(client, a, plain_lot, 110, "a3"), 409, "auction_not_live")
    mine = client.get(f"/api/auctions/{pre_lot}", headers=bearer(a["token"])).json()
    assert mine["state"] == "scheduled" and mine["pre_bids"] is True
    assert (mine["my_price"], mine["my_rank"], mine["bidders"]) == (110, None, None)
    assert "best_price" not in mine and "seq" not in mine and mine["my_bid_id"] == ack["bid_id"]
    assert (mine["min_acceptable"], mine["min_acceptable_reason"]) == (109, "own")
    proxy = client.post(f"/api/auctions/{pre_lot}/proxy", json={"floor": 110, "key": "a-px"},
                        headers=bearer(a["token"]))  # fmt: skip
    assert proxy.status_code == 200 and proxy.json()["rank"] is None, proxy.text  # no rank yet
    probe = {"supplier_company_id": b["company"]["id"], "price": 121, "key": "probe",
             "reason": "a probe of b's pre-bid"}  # fmt: skip
    refused = assert_error(
        client.post(f"/api/auctions/{pre_lot}/surrogate-bids", json=probe,
                    headers=bearer(buyer["token"])), 422, "above_ceiling",
    )  # fmt: skip
    assert refused.get("min_acceptable") is None  # b's own bound would tell its pre-bid
    full = client.get(f"/api/auctions/{pre_lot}", headers=bearer(buyer["token"])).json()
    assert full["ladder"] == [] and full["sealed_bids"] == 2 and full["best_price"] is None
    listed = client.get(f"/api/auctions/{pre_lot}/bids", headers=bearer(buyer["token"])).json()
    assert [row["price"] for row in listed] == [None, None]
    transform = {"supplier_company_id": b["company"]["id"], "multiplier_bps": 9_000,
                 "adder": 0, "reason": "freight"}  # fmt: skip
    assert_error(
        client.post(f"/api/auctions/{pre_lot}/transforms", json=transform,
                    headers=bearer(buyer["token"])),
        409, "pre_bids_placed",
    )  # fmt: skip

    wait_state(client, buyer["token"], pre_lot, "live", 15)
    full = client.get(f"/api/auctions/{pre_lot}", headers=bearer(buyer["token"])).json()
    assert [(e["supplier_company_id"], e["price"]) for e in full["ladder"]] == [
        (a["company"]["id"], 110),
        (b["company"]["id"], 115),
    ]
    mine = client.get(f"/api/auctions/{pre_lot}", headers=bearer(a["token"])).json()
    assert mine["my_rank"] == 1 and mine["best_price"] == 110
    assert_error(place_bid(client, b, pre_lot, 112, "b2"), 422, "below_decrement")  # best now
    assert place_bid(client, b, pre_lot, 109, "b3").json()["rank"] == 1
    own = client.get(f"/api/auctions/{pre_lot}/my-bids", headers=bearer(a["token"])).json()
    assert [x["price"] for x in own] == [110] and own[0]["bid_id"] == f"{pre_lot}.1-1"
    log = client.get(f"/api/auctions/{pre_lot}/audit", headers=bearer(buyer["token"])).json()
    assert log["verified"] is True
    assert [e["data"]["price"] for e in log["entries"] if e["kind"] == "bid_accepted"] == [
        110, 115, 109,
    ]  # fmt: skip
