"""Practice rooms: a supplier bids against simulated rivals in a lot of any format,
through the same engine and pages, and nothing of it reaches the record."""

from __future__ import annotations

from typing import Any

import httpx

from tests.support import (
    assert_error,
    bearer,
    certified_supplier,
    pending_supplier,
    place_bid,
    register,
    wait_for,
    wait_state,
)


def _state(client: httpx.Client, who: dict[str, Any], auction_id: int) -> dict[str, Any]:
    answer = client.get(f"/api/auctions/{auction_id}", headers=bearer(who["token"]))
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


def test_a_supplier_practises_against_simulated_rivals_off_the_record(
    client: httpx.Client, operator: str
) -> None:
    """A supplier, even one not yet certified, opens a reverse English practice room: it
    opens in seconds, rivals bid against it, its own bids rank as in any lot; one room at
    a time; no list, credit count or other supplier sees it; buyers cannot practise."""
    learner = pending_supplier(client, ["fasteners"])
    other = certified_supplier(client, operator, ["fasteners"])
    auth = bearer(learner["token"])
    made = client.post("/api/practice", json={"format": "reverse_english"}, headers=auth)
    assert made.status_code == 201, made.text
    room = made.json()
    auction_id = room["auction_id"]
    assert room["url"] == f"/auctions/{auction_id}"
    again = client.post("/api/practice", json={"format": "sealed"}, headers=auth)
    assert_error(again, 409, "practice_running")
    buyer = register(client, "buyer")
    assert_error(client.post("/api/practice", json={"format": "sealed"},
                             headers=bearer(buyer["token"])), 403)  # fmt: skip
    assert_error(client.post("/api/practice", json={"format": "english"}, headers=auth), 422)

    wait_state(client, learner["token"], auction_id, "live", 15)
    first = place_bid(client, learner, auction_id, 11_800, "p1")
    assert first.status_code == 201, first.text
    wait_for(lambda: _state(client, learner, auction_id)["bidders"] >= 3, 20, "the rivals' bids")
    state = _state(client, learner, auction_id)
    assert state["best_price"] < 11_800  # a rival undercut it
    low = place_bid(client, learner, auction_id, 9_000, "p2")  # below every rival's limit
    assert low.json()["rank"] == 1, low.text

    rooms = client.get("/api/practice", headers=auth).json()
    assert [(r["auction_id"], r["format"]) for r in rooms] == [(auction_id, "reverse_english")]
    listed = client.get("/api/rfqs?scope=mine", headers=auth).json()
    assert room["rfq_id"] not in [r["id"] for r in listed]
    credit = client.get(f"/api/companies/{learner['company']['id']}/credit", headers=auth)
    assert credit.status_code == 200, credit.text
    assert (credit.json()["bids"], credit.json()["auctions"]) == (0, 0)
    assert_error(client.get(f"/api/auctions/{auction_id}", headers=bearer(other["token"])), 404)
    assert_error(place_bid(client, other, auction_id, 9_000, "x1"), 403, "not_eligible")
    notes = client.get("/api/notifications", headers=auth).json()
    quiet = ("rfq_invitation", "rfq_matched", "opens_soon", "outbid", "extended")
    assert not [n for n in notes if n["kind"] in quiet], notes


def test_every_format_can_be_practised(client: httpx.Client) -> None:
    """Sealed and clock rooms open too, and their rivals take part."""
    for fmt in ("sealed", "japanese", "dutch"):
        learner = register(client, "supplier")
        made = client.post("/api/practice", json={"format": fmt}, headers=bearer(learner["token"]))
        assert made.status_code == 201, made.text
        auction_id = made.json()["auction_id"]
        state = _state(client, learner, auction_id)
        assert state["format"] == fmt and state["state"] == "scheduled"
    wait_state(client, learner["token"], auction_id, "live", 15)  # the dutch clock
    assert _state(client, learner, auction_id)["clock"]["may_accept"] is True
