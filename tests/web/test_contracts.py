"""Award, contracts and escrow end to end over HTTP, on SQLite and PostgreSQL.

Each test runs a short real auction (the scheduler opens and closes it on the server's
clock), awards it, and walks the contracts through escrow with the real endpoints.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import text

from loadtests import world
from rfq.contracts import commands
from rfq.platform import clock
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
    run_server,
    upload,
    wait_for,
    wait_state,
)


def _closed_auction(
    client: httpx.Client, operator: str, prices: list[int]
) -> tuple[dict[str, Any], list[dict[str, Any]], int]:
    """A buyer, one supplier per price, and a closed auction where each bid its price."""
    buyer = register(client, "buyer")
    suppliers = [certified_supplier(client, operator, ["fasteners"]) for _ in prices]
    auction_id = live_auction(client, buyer, seconds=3)
    for i, (supplier, price) in enumerate(zip(suppliers, prices, strict=True)):
        answer = place_bid(client, supplier, auction_id, price, f"k{i}")
        assert answer.status_code == 201, answer.text
        supplier["bid_id"] = answer.json()["bid_id"]
    wait_state(client, buyer["token"], auction_id, "closed", 15)
    return buyer, suppliers, auction_id


def _award(client: httpx.Client, buyer: dict[str, Any], auction_id: int, body: Any) -> Any:
    return client.post(
        f"/api/auctions/{auction_id}/award", json=body, headers=bearer(buyer["token"])
    )


def _do(client: httpx.Client, who: dict[str, Any] | str, contract_id: int, move: str, **body: Any):
    token = who if isinstance(who, str) else who["token"]
    return client.post(f"/api/contracts/{contract_id}/{move}", json=body, headers=bearer(token))


def _confirm_pending(client: httpx.Client, operator: str, contract_id: int, kind: str) -> None:
    pending = client.get("/api/admin/payments", headers=bearer(operator)).json()
    [payment] = [p for p in pending if p["contract_id"] == contract_id and p["kind"] == kind]
    done = client.post(f"/api/admin/payments/{payment['id']}/confirm", headers=bearer(operator))
    assert done.status_code == 200, done.text
    again = client.post(f"/api/admin/payments/{payment['id']}/confirm", headers=bearer(operator))
    assert again.json()["status"] == "confirmed"


def _balance(client: httpx.Client, supplier: dict[str, Any]) -> dict[str, Any]:
    rows = client.get("/api/deposits/balance", headers=bearer(supplier["token"])).json()
    return next(r for r in rows if r["currency"] == "CNY")


def test_award_best_bid_then_escrow_to_release(client: httpx.Client, operator: str) -> None:
    """The best bid is awarded by default; the contract goes offered -> funded ->
    shipped -> delivered -> released, money moving only through the ledger."""
    buyer, (a, b, c), auction_id = _closed_auction(client, operator, [110, 105, 100])
    wrong = _award(client, buyer, auction_id, {"awards": [{"bid_id": a["bid_id"]}]})
    assert_error(wrong, 422, "reason_required")
    assert_error(_award(client, a, auction_id, {"awards": [{"bid_id": c["bid_id"]}]}), 404)
    made = _award(client, buyer, auction_id, {"awards": [{"bid_id": c["bid_id"]}]})
    assert made.status_code == 201, made.text
    [contract] = made.json()["contracts"]
    cid = contract["id"]
    assert contract["status"] == "offered"
    assert contract["supplier_company_id"] == c["company"]["id"]
    assert (contract["quantity"], contract["unit_price"]) == (10_000, 100)
    assert contract["total"] == 1_000_000 and contract["currency"] == "CNY"
    assert_error(
        _award(client, buyer, auction_id, {"awards": [{"bid_id": b["bid_id"]}], "reason": "x"}),
        409,
        "already_decided",
    )
    late = place_bid(client, a, auction_id, 90, "late")  # refused, and not audited: the
    assert late.status_code in (403, 409), late.text  # chain's numbers now belong to SQL
    auth = bearer(buyer["token"])
    assert client.get(f"/api/auctions/{auction_id}", headers=auth).json()["state"] == "awarded"
    rfq_id = client.get(f"/api/auctions/{auction_id}", headers=auth).json()["rfq_id"]
    assert client.get(f"/api/rfqs/{rfq_id}", headers=auth).json()["status"] == "awarded"
    # losers' bonds are released once the lot is decided; the winner's on accepting
    assert _balance(client, a)["reserved"] == 0 and _balance(client, b)["reserved"] == 0
    assert _balance(client, c)["reserved"] == 500_000

    assert_error(_do(client, buyer, cid, "accept"), 403, "not_your_move")
    assert_error(_do(client, a, cid, "accept"), 404)
    accepted = _do(client, c, cid, "accept", key="acc-1")
    assert accepted.json()["status"] == "awaiting_funding"
    assert _do(client, c, cid, "accept", key="acc-1").json()["status"] == "awaiting_funding"
    assert _balance(client, c)["reserved"] == 0
    assert_error(_do(client, c, cid, "ship"), 409, "illegal_transition")
    assert_error(_do(client, c, cid, "ship", key="~inspection_timeout"), 422)
    funding = _do(client, buyer, cid, "fund")
    assert funding.status_code == 200, funding.text
    [payment] = funding.json()["payments"]
    assert payment["kind"] == "funding" and payment["amount"] == 1_000_000
    assert "10000.00 CNY" in payment["instructions"]
    assert funding.json()["status"] == "awaiting_funding"
    assert_error(_do(client, buyer, cid, "cancel"), 409, "funding_pending")
    # the buyer withdraws that payment (it pays another way): void, never confirmable;
    # it funds anew with a new reference
    assert_error(_do(client, c, cid, "withdraw"), 403, "buyer_only")
    withdrawn = _do(client, buyer, cid, "withdraw", key="wd-1")
    assert withdrawn.status_code == 200, withdrawn.text
    assert [p["status"] for p in withdrawn.json()["payments"]] == ["withdrawn"]
    assert _do(client, buyer, cid, "withdraw", key="wd-1").status_code == 200  # a replay
    assert_error(_do(client, buyer, cid, "withdraw"), 409, "no_pending_funding")
    confirm_withdrawn = client.post(
        f"/api/admin/payments/{payment['id']}/confirm", headers=bearer(operator)
    )
    assert_error(confirm_withdrawn, 409, "payment_withdrawn")
    pending = client.get("/api/admin/payments", headers=bearer(operator)).json()
    assert not [p for p in pending if p["contract_id"] == cid]
    again = _do(client, buyer, cid, "fund").json()
    assert [p["status"] for p in again["payments"]] == ["withdrawn", "pending"]
    assert again["payments"][1]["reference"] != payment["reference"]
    assert again["escrow"]["funded"] == 0
    _confirm_pending(client, operator, cid, "funding")
    funded = client.get(f"/api/contracts/{cid}", headers=auth).json()
    assert funded["status"] == "funded" and funded["escrow"]["held"] == 1_000_000
    assert _do(client, c, cid, "ship", tracking="SF123").json()["status"] == "shipped"
    delivered = _do(client, buyer, cid, "confirm").json()
    assert delivered["status"] == "delivered" and delivered["inspection_ends_at"]
    released = _do(client, buyer, cid, "release").json()
    assert released["status"] == "released"
    assert released["escrow"] == {
        "funded": 1_000_000,
        "held": 0,
        "released": 1_000_000,
        "refunded": 0,
        "fees": 0,
        "paid_out": 0,
        "refunds_paid": 0,
    }
    _confirm_pending(client, operator, cid, "payout")
    final = client.get(f"/api/contracts/{cid}", headers=bearer(c["token"])).json()
    assert final["escrow"]["paid_out"] == 1_000_000 and final["moves"] == []
    document = client.get(f"/api/contracts/{cid}/document", headers=auth)
    assert document.status_code == 200 and "10000.00" in document.text
    assert "text/html" in document.headers["content-type"]
    log = client.get(f"/api/auctions/{auction_id}/audit", headers=auth).json()
    assert log["verified"] is True
    kinds = [e["kind"] for e in log["entries"]]
    assert kinds[-8:] == [
        "awarded",
        "contract_offered",
        "contract_accept",
        "contract_withdraw",
        "contract_fund",
        "contract_ship",
        "contract_confirm",
        "contract_release",
    ]
    notes = client.get("/api/notifications", headers=bearer(c["token"])).json()
    assert {"contract_offered", "contract_fund", "contract_release"} <= {n["kind"] for n in notes}

    credit = client.get(f"/api/companies/{c['company']['id']}/credit", headers=auth).json()
    assert (credit["contracts_won"], credit["contracts_completed"], credit["auctions"]) == (1, 1, 1)
    assert credit["score"] == 60 + 3 + 1
    assert credit["awarded_value"] == [{"currency": "CNY", "amount": 1_000_000}]
    rival = client.get(f"/api/companies/{c['company']['id']}/credit", headers=bearer(a["token"]))
    assert_error(rival, 404)
    own = client.get(f"/api/companies/{a['company']['id']}/credit", headers=bearer(a["token"]))
    assert own.json()["score"] == 61 and own.json()["contracts"] == []
    exported = client.get(f"/api/companies/{c['company']['id']}/credit.csv", headers=auth)
    assert exported.status_code == 200 and f"{cid},{auction_id}," in exported.text


def test_split_award_decline_reaward_and_dispute(client: httpx.Client, operator: str) -> None:
    """A split gives exact totals and never more than the lot; a declined share can be
    awarded again; a dispute is resolved by an operator as a split of what is held."""
    buyer, (a, b, c), auction_id = _closed_auction(client, operator, [110, 105, 100])
    too_much = {
        "awards": [
            {"bid_id": c["bid_id"], "quantity": 6000},
            {"bid_id": b["bid_id"], "quantity": 4001},
        ],
        "reason": "dual sourcing",
    }
    assert_error(_award(client, buyer, auction_id, too_much), 422, "quantity_exceeds_lot")
    split = {
        "awards": [
            {"bid_id": c["bid_id"], "quantity": 6000},
            {"bid_id": b["bid_id"], "quantity": 4000},
        ],
        "reason": "dual sourcing",
        "milestones": [
            {"name": "On shipping", "bps": 3333},
            {"name": "On acceptance", "bps": 6667},
        ],
    }
    made = _award(client, buyer, auction_id, split)
    assert made.status_code == 201, made.text
    ours, theirs = made.json()["contracts"]
    assert (ours["total"], theirs["total"]) == (600_000, 420_000)
    assert [m["amount"] for m in ours["milestones"]] == [199_980, 400_020]

    assert _do(client, b, theirs["id"], "decline").json()["status"] == "declined"
    assert _balance(client, b)["reserved"] == 500_000  # kept for an operator to decide
    forfeit = client.post(
        "/api/admin/bonds/forfeit",
        json={"company_id": b["company"]["id"], "rfq_id": theirs["rfq_id"], "reason": "declined"},
        headers=bearer(operator),
    )
    assert forfeit.status_code == 200, forfeit.text
    assert_error(
        _award(client, buyer, auction_id, {"awards": [{"bid_id": b["bid_id"]}], "reason": "x"}),
        422,
        "bid_not_awardable",
    )
    again = _award(
        client, buyer, auction_id, {"awards": [{"bid_id": a["bid_id"]}], "reason": "next"}
    )
    assert again.status_code == 201, again.text
    third = again.json()["contracts"][-1]
    assert third["supplier_company_id"] == a["company"]["id"] and third["quantity"] == 4000
    assert [r["round"] for r in again.json()["awards"]] == [1, 2]

    cid = ours["id"]
    _do(client, c, cid, "accept")
    _do(client, buyer, cid, "fund")
    _confirm_pending(client, operator, cid, "funding")
    early = _do(client, buyer, cid, "release", milestone=0)
    assert early.json()["escrow"]["held"] == 400_020
    assert_error(_do(client, buyer, cid, "release", milestone=0, key="m0-again"), 409)
    assert_error(_do(client, buyer, cid, "dispute", reason="broken"), 409, "not_overdue")
    _do(client, c, cid, "ship", tracking="EMS 1")
    proof = upload(client, buyer["token"])
    opened = _do(
        client, buyer, cid, "dispute", reason="Half the bolts are grade 4.8", evidence=[proof]
    )
    assert opened.status_code == 200, opened.text
    assert opened.json()["status"] == "disputed"
    reply = client.post(
        f"/api/contracts/{cid}/evidence",
        json={"file_id": upload(client, c["token"]), "note": "Mill certificate"},
        headers=bearer(c["token"]),
    )
    assert reply.status_code == 201, reply.text
    queue = client.get("/api/admin/disputes?status=open", headers=bearer(operator)).json()
    [dispute] = [d for d in queue if d["contract_id"] == cid]
    assert len(dispute["evidence"]) == 2
    assert_error(
        client.post(
            f"/api/admin/disputes/{dispute['id']}/resolve",
            json={"outcome": "split", "supplier_amount": 500_000, "note": "more than held"},
            headers=bearer(operator),
        ),
        422,
        "invalid_split",
    )
    assert_error(
        client.post(
            f"/api/admin/disputes/{dispute['id']}/resolve",
            json={"outcome": "refund", "note": "x"},
            headers=bearer(buyer["token"]),
        ),
        403,
    )
    ruled = client.post(
        f"/api/admin/disputes/{dispute['id']}/resolve",
        json={"outcome": "split", "supplier_amount": 200_000, "note": "half defective"},
        headers=bearer(operator),
    )
    assert ruled.status_code == 200, ruled.text
    money = ruled.json()["escrow"]
    assert ruled.json()["status"] == "settled"
    assert money["held"] == 0 and money["refunded"] == 200_020
    assert money["released"] == 199_980 + 200_000
    assert money["funded"] == money["released"] + money["refunded"]
    auth = bearer(buyer["token"])
    declined = client.get(f"/api/companies/{b['company']['id']}/credit", headers=auth).json()
    assert (declined["contracts_declined"], declined["bonds_forfeited"]) == (1, 1)
    assert declined["score"] == 60 + 1 - 10 - 20
    split_ruled = client.get(f"/api/companies/{c['company']['id']}/credit", headers=auth).json()
    assert (split_ruled["disputes"], split_ruled["disputes_split"]) == (1, 1)
    assert split_ruled["score"] == 60 + 1 - 5


def test_ship_by_extension_partial_delivery_and_warranty(
    client: httpx.Client, operator: str
) -> None:
    """An award sets a ship-by date and after-sale terms. One supplier asks for more
    time, is refused, ships nothing by the date, and the buyer terminates with a full
    refund (a missed shipment on its record). The other is granted an extension, ships
    part of the quantity, the buyer accepts part of that: the release pays what was
    accepted less a retention, refunds the rest, and a warranty claim on the retention
    is ruled a refund."""
    buyer, (a, b), auction_id = _closed_auction(client, operator, [100, 105])
    ship_by = clock.now() + timedelta(seconds=4)
    terms = {
        "awards": [
            {"bid_id": a["bid_id"], "quantity": 4000},
            {"bid_id": b["bid_id"], "quantity": 6000},
        ],
        "reason": "dual sourcing",
        "ship_by": ship_by.isoformat(),
        "warranty_days": 30,
        "return_days": 7,
        "retention_bps": 500,
    }
    assert_error(
        _award(client, buyer, auction_id, {**terms, "ship_by": "2020-01-01T00:00:00Z"}), 422
    )
    assert_error(
        _award(client, buyer, auction_id, {**terms, "warranty_days": 0, "return_days": 0}), 422
    )
    standing = client.get(f"/api/auctions/{auction_id}/standing", headers=bearer(buyer["token"]))
    assert [s["company_id"] for s in standing.json()] == [a["company"]["id"], b["company"]["id"]]
    assert {s["badge"] for s in standing.json()} == {"Gold supplier"}  # the world certifies at 2
    assert standing.json()[0]["score"] == 61 and standing.json()[0]["counts"]["auctions"] == 1
    made = _award(client, buyer, auction_id, terms)
    assert made.status_code == 201, made.text
    late, good = made.json()["contracts"]
    seen = client.get(f"/api/contracts/{late['id']}", headers=bearer(buyer["token"])).json()
    assert seen["supplier_standing"]["company_id"] == a["company"]["id"]
    profile = client.get(f"/api/suppliers/{b['company']['id']}", headers=bearer(buyer["token"]))
    assert profile.json()["categories"] == ["fasteners"] and profile.json()["level"] == 2
    assert late["ship_by"].startswith(ship_by.isoformat()[:19])
    assert (good["warranty_days"], good["return_days"], good["retention_bps"]) == (30, 7, 500)
    for who, contract in ((a, late), (b, good)):
        _do(client, who, contract["id"], "accept")
        _do(client, buyer, contract["id"], "fund")
        _confirm_pending(client, operator, contract["id"], "funding")

    cid = late["id"]
    assert_error(_do(client, buyer, cid, "extension", days=3, reason="x"), 403, "supplier_only")
    asked = _do(client, a, cid, "extension", days=3, reason="Port strike")
    assert asked.status_code == 200, asked.text
    assert (
        "extension_answer"
        in client.get(f"/api/contracts/{cid}", headers=bearer(buyer["token"])).json()["moves"]
    )
    refused = _do(client, buyer, cid, "extension/answer", accept=False)
    assert refused.json()["extension_status"] == "refused"
    assert_error(
        _do(client, a, cid, "extension", days=3, reason="again", key="e2"), 409, "extension_used"
    )
    assert_error(_do(client, buyer, cid, "terminate"), 409, "not_overdue")
    assert_error(_do(client, buyer, cid, "dispute", reason="nothing came"), 409, "not_overdue")

    gid = good["id"]
    _do(client, b, gid, "extension", days=5, reason="Galvanising line down")
    granted = _do(client, buyer, gid, "extension/answer", accept=True)
    assert granted.status_code == 200, granted.text
    assert granted.json()["extension_status"] == "accepted"
    assert granted.json()["ship_by"] > good["ship_by"]

    wait_for(lambda: clock.now() > ship_by, 10, "the ship-by date")
    overdue = client.get(f"/api/contracts/{cid}", headers=bearer(buyer["token"])).json()
    assert overdue["overdue"] and {"terminate", "dispute"} <= set(overdue["moves"])
    assert (
        "dispute"
        not in client.get(f"/api/contracts/{cid}", headers=bearer(a["token"])).json()["moves"]
    )
    assert_error(_do(client, a, cid, "dispute", reason="blocking"), 403, "not_your_move")
    assert not client.get(f"/api/contracts/{gid}", headers=bearer(buyer["token"])).json()["overdue"]
    ended = _do(client, buyer, cid, "terminate")
    assert ended.status_code == 200, ended.text
    assert ended.json()["status"] == "refunded"
    assert ended.json()["escrow"]["refunded"] == 400_000 and ended.json()["escrow"]["held"] == 0
    _confirm_pending(client, operator, cid, "refund")
    auth = bearer(buyer["token"])
    missed = client.get(f"/api/companies/{a['company']['id']}/credit", headers=auth).json()
    assert missed["shipments_missed"] == 1 and missed["score"] == 60 + 1 - 15

    assert_error(_do(client, b, gid, "ship", quantity=6001), 422, "quantity_exceeds_contract")
    shipped = _do(client, b, gid, "ship", tracking="SF 9", quantity=5000)  # partial delivery
    assert shipped.json()["quantity_shipped"] == 5000
    assert_error(
        _do(client, buyer, gid, "confirm", quantity_accepted=5001), 422, "quantity_exceeds_shipped"
    )
    signed = _do(client, buyer, gid, "confirm", quantity_accepted=4000)  # 1000 rejected
    assert signed.json()["quantity_accepted"] == 4000
    released = _do(client, buyer, gid, "release")
    assert released.status_code == 200, released.text
    body = released.json()
    # 4000 x 1.05 = 4,200.00 accepted; 5 % of it (210.00) kept until the after-sale ends
    assert body["status"] == "warranty"
    assert body["escrow"]["released"] == 420_000 - 21_000
    assert body["escrow"]["refunded"] == 630_000 - 420_000
    assert body["escrow"]["held"] == 21_000
    claim = _do(client, buyer, gid, "dispute", reason="Threads strip at 40 Nm", kind="warranty")
    assert claim.status_code == 200, claim.text
    assert claim.json()["dispute"]["kind"] == "warranty"
    ruled = client.post(
        f"/api/admin/disputes/{claim.json()['dispute']['id']}/resolve",
        json={"outcome": "refund", "note": "defect confirmed by the lab"},
        headers=bearer(operator),
    )
    assert ruled.status_code == 200, ruled.text
    assert ruled.json()["status"] == "refunded"
    assert ruled.json()["escrow"]["refunded"] == 210_000 + 21_000
    record = client.get(f"/api/companies/{b['company']['id']}/credit", headers=auth).json()
    assert (record["shipments_late"], record["shipments_missed"], record["disputes_lost"]) == (
        0,
        0,
        1,
    )


def test_award_scenarios_compare_the_lots_and_one_becomes_the_award(
    client: httpx.Client, operator: str
) -> None:
    """Two lots: one supplier bids on both, two others each win one lot on price. The
    scenarios say what each way of awarding costs and saves; awarding the single
    supplier's scenario awards both lots to it, with contracts."""
    buyer = register(client, "buyer")
    both, first, second = (certified_supplier(client, operator, ["fasteners"]) for _ in range(3))
    body = rfq_body()
    body["lots"][0]["rules"].pop("soft_close")
    body["lots"].append({**body["lots"][0], "name": "M10 hex nuts", "quantity": 5_000})
    start = clock.now() + timedelta(seconds=1.5)
    body["starts_at"], body["ends_at"] = (
        start.isoformat(),
        (start + timedelta(seconds=4)).isoformat(),
    )
    rfq = world.publish(world.Api(str(client.base_url), buyer["token"]), body)
    bolts, nuts = (lot["auction_id"] for lot in rfq["lots"])
    wait_state(client, buyer["token"], bolts, "live", 10)
    compare = f"/api/rfqs/{rfq['id']}/scenarios"
    assert_error(client.get(compare, headers=bearer(buyer["token"])), 409, "nothing_to_award")
    for who, auction, price in (
        (both, bolts, 110),
        (both, nuts, 100),
        (first, bolts, 105),
        (second, nuts, 90),
    ):
        assert place_bid(client, who, auction, price, f"{auction}-{price}").status_code == 201
    for auction in (bolts, nuts):
        wait_state(client, buyer["token"], auction, "closed", 15)
    assert_error(client.get(compare, headers=bearer(both["token"])), 404)
    found = client.get(compare + "?split_bps=6000", headers=bearer(buyer["token"])).json()
    by_name = {s["name"]: s for s in found["scenarios"]}
    best = by_name["best_per_lot"]
    assert [line["company_id"] for line in best["lines"]] == [
        first["company"]["id"],
        second["company"]["id"],
    ]
    assert best["total"] == 105 * 10_000 + 90 * 5_000
    assert best["savings"] == (120 - 105) * 10_000 + (120 - 90) * 5_000
    single = by_name["single_supplier"]
    assert {line["company_id"] for line in single["lines"]} == {both["company"]["id"]}
    assert single["total"] == 110 * 10_000 + 100 * 5_000 and single["suppliers"] == 1
    split = by_name["split"]
    assert [(line["company_id"], line["quantity"]) for line in split["lines"]] == [
        (first["company"]["id"], 6_000),
        (both["company"]["id"], 4_000),
        (second["company"]["id"], 3_000),
        (both["company"]["id"], 2_000),
    ]
    assert split["total"] == 105 * 6_000 + 110 * 4_000 + 90 * 3_000 + 100 * 2_000

    awarded = client.post(
        compare + "/award",
        json={"scenario": "single_supplier", "reason": "one logistics contract"},
        headers=bearer(buyer["token"]),
    )
    assert awarded.status_code == 200, awarded.text
    assert [lot["ok"] for lot in awarded.json()["lots"]] == [True, True]
    contracts = [c for lot in awarded.json()["lots"] for c in lot["award"]["contracts"]]
    assert {c["supplier_company_id"] for c in contracts} == {both["company"]["id"]}
    assert sorted(c["total"] for c in contracts) == [500_000, 1_100_000]
    assert_error(client.get(compare, headers=bearer(buyer["token"])), 409, "nothing_to_award")


def test_no_award_and_who_may_see(client: httpx.Client, operator: str, live: LiveServer) -> None:
    """No award needs a reason and releases every bond; contracts are hidden from
    everyone but their two parties and operators."""
    buyer, (a, b), auction_id = _closed_auction(client, operator, [110, 100])
    assert_error(_award(client, buyer, auction_id, {"no_award": True}), 422, "reason_required")
    assert_error(_award(client, buyer, auction_id, {}), 422)
    assert_error(
        client.post(
            f"/api/auctions/{auction_id}/award",
            json={"no_award": True, "reason": "x"},
            headers=bearer(operator),
        ),
        403,
        "buyer_only",
    )
    other = register(client, "buyer")
    assert_error(_award(client, other, auction_id, {"no_award": True, "reason": "x"}), 404)
    done = _award(client, buyer, auction_id, {"no_award": True, "reason": "Budget withdrawn"})
    assert done.status_code == 201, done.text
    assert done.json()["contracts"] == [] and done.json()["awards"][0]["kind"] == "no_award"
    auth = bearer(buyer["token"])
    assert client.get(f"/api/auctions/{auction_id}", headers=auth).json()["state"] == "no_award"
    assert _balance(client, a)["reserved"] == 0 and _balance(client, b)["reserved"] == 0

    buyer2, (winner, loser), auction2 = _closed_auction(client, operator, [100, 110])
    made = _award(client, buyer2, auction2, {"awards": [{"bid_id": winner["bid_id"]}]})
    cid = made.json()["contracts"][0]["id"]
    for outsider in (other["token"], loser["token"], buyer["token"]):
        assert_error(client.get(f"/api/contracts/{cid}", headers=bearer(outsider)), 404)
        assert_error(_do(client, outsider, cid, "accept"), 404)
        assert_error(client.get(f"/api/contracts/{cid}/document", headers=bearer(outsider)), 404)
    assert_error(httpx.get(f"{live.url}/api/contracts/{cid}"), 401)
    assert client.get(f"/api/contracts/{cid}", headers=bearer(operator)).status_code == 200
    assert_error(client.get("/api/admin/payments", headers=bearer(buyer2["token"])), 403)
    assert_error(client.get("/api/admin/disputes", headers=bearer(winner["token"])), 403)
    mine = client.get("/api/contracts", headers=bearer(winner["token"])).json()
    assert [x["id"] for x in mine] == [cid]
    assert client.get("/api/contracts", headers=bearer(loser["token"])).json() == []


def test_inspection_period_runs_out_once_even_across_a_restart(
    client: httpx.Client, operator: str, live: LiveServer
) -> None:
    """A delivered contract whose inspection period ran out while no server ran is
    released at the next start, exactly once."""
    buyer, (c,), auction_id = _closed_auction(client, operator, [99])
    made = _award(
        client, buyer, auction_id, {"awards": [{"bid_id": c["bid_id"]}], "inspection_days": 1}
    )
    cid = made.json()["contracts"][0]["id"]
    _do(client, c, cid, "accept")
    _do(client, buyer, cid, "fund")
    _confirm_pending(client, operator, cid, "funding")
    _do(client, c, cid, "ship")
    delivered = _do(client, buyer, cid, "confirm").json()
    assert delivered["inspection_days"] == 1
    db = Database(live.settings.database_url)
    try:
        assert db.run_sync(commands.sweep) == []  # not yet due
        past = clock.now() - timedelta(minutes=1)
        db.run_sync(
            lambda s: s.execute(
                text("UPDATE contract SET inspection_ends_at = :t WHERE id = :id"),
                {"t": past.replace(tzinfo=None), "id": cid},
            )
        )
        with run_server(live.settings) as restarted:  # its startup sweep finds it due
            auth = bearer(buyer["token"])
            wait_for(
                lambda: (
                    httpx.get(f"{restarted.url}/api/contracts/{cid}", headers=auth).json()["status"]
                    == "released"
                ),
                15,
                "the inspection timer to release the contract",
            )
        assert db.run_sync(commands.sweep) == []
        late = _do(client, buyer, cid, "dispute", reason="too late")
        assert_error(late, 409, "illegal_transition")
        final = client.get(f"/api/contracts/{cid}", headers=bearer(buyer["token"])).json()
        assert final["escrow"]["released"] == 990_000 and final["escrow"]["held"] == 0
        releases = db.run_sync(
            lambda s: s.execute(
                text("SELECT count(*) FROM escrow_posting WHERE txn = :t"),
                {"t": f"c{cid}:release"},
            ).scalar_one()
        )
        assert releases == 2  # one transaction of two legs (no fee)
    finally:
        db.dispose()


# Who gets what, for a contract that is still ``offered``: 401 anonymous, 404 for anyone
# outside the two parties, 403 for the wrong party or role, 409 (past authorization,
# refused by the state machine) for the party whose move it would be. The supplier's
# own accept/decline (the one success in this state) is exercised by the flow tests.
ROLES = ("anonymous", "buyer", "other_buyer", "supplier", "other_supplier", "operator")
MATRIX: list[tuple[str, str, dict[str, Any], tuple[int, ...]]] = [
    ("GET", "/api/contracts/{cid}", {}, (401, 200, 404, 200, 404, 200)),
    ("GET", "/api/contracts/{cid}/document", {}, (401, 200, 404, 200, 404, 200)),
    ("POST", "/api/contracts/{cid}/accept", {}, (401, 403, 404, 0, 404, 403)),
    ("POST", "/api/contracts/{cid}/decline", {}, (401, 403, 404, 0, 404, 403)),
    ("POST", "/api/contracts/{cid}/cancel", {}, (401, 409, 404, 403, 404, 403)),
    ("POST", "/api/contracts/{cid}/fund", {}, (401, 409, 404, 403, 404, 403)),
    ("POST", "/api/contracts/{cid}/ship", {}, (401, 403, 404, 409, 404, 403)),
    ("POST", "/api/contracts/{cid}/confirm", {}, (401, 409, 404, 403, 404, 403)),
    ("POST", "/api/contracts/{cid}/release", {}, (401, 409, 404, 403, 404, 403)),
    ("POST", "/api/contracts/{cid}/dispute", {"reason": "r"}, (401, 409, 404, 409, 404, 403)),
    ("POST", "/api/contracts/{cid}/evidence", {"file_id": "f"}, (401, 409, 404, 409, 404, 409)),
    ("POST", "/api/contracts/{cid}/terminate", {}, (401, 409, 404, 403, 404, 403)),
    (
        "POST",
        "/api/contracts/{cid}/extension",
        {"days": 1, "reason": "r"},
        (401, 403, 404, 409, 404, 403),
    ),
    (
        "POST",
        "/api/contracts/{cid}/extension/answer",
        {"accept": True},
        (401, 409, 404, 403, 404, 403),
    ),
    ("GET", "/api/auctions/{aid}/award", {}, (401, 200, 404, 404, 404, 200)),
    (
        "POST",
        "/api/auctions/{aid}/award",
        {"no_award": True, "reason": "r"},
        (401, 409, 404, 404, 404, 403),
    ),
    ("GET", "/api/admin/disputes", {}, (401, 403, 403, 403, 403, 200)),
    (
        "POST",
        "/api/admin/disputes/999999/resolve",
        {"outcome": "refund", "note": "n"},
        (401, 403, 403, 403, 403, 404),
    ),
    ("GET", "/api/admin/payments", {}, (401, 403, 403, 403, 403, 200)),
    ("POST", "/api/admin/payments/999999/confirm", {}, (401, 403, 403, 403, 403, 404)),
]


def test_authorization_matrix(client: httpx.Client, operator: str, live: LiveServer) -> None:
    """Every award, contract and escrow endpoint answers each role as the table says,
    and no refusal leaks the object (outsiders get 404, never 403)."""
    buyer, (supplier, other_supplier), auction_id = _closed_auction(client, operator, [100, 105])
    made = _award(client, buyer, auction_id, {"awards": [{"bid_id": supplier["bid_id"]}]})
    cid = made.json()["contracts"][0]["id"]
    tokens = {
        "anonymous": None,
        "buyer": buyer["token"],
        "other_buyer": register(client, "buyer")["token"],
        "supplier": supplier["token"],
        "other_supplier": other_supplier["token"],
        "operator": operator,
    }
    seen = []
    with httpx.Client(base_url=live.url, timeout=30) as fresh:  # no cookies
        for method, path, body, expected in MATRIX:
            url = path.format(cid=cid, aid=auction_id)
            for role, want in zip(ROLES, expected, strict=True):
                if want == 0:
                    continue
                token = tokens[role]
                headers = bearer(token) if token else {}
                got = fresh.request(
                    method, url, json=body if method == "POST" else None, headers=headers
                )
                seen.append((method, path, role, got.status_code, want))
    wrong = [row for row in seen if row[3] != row[4]]
    assert wrong == [], wrong
    state = client.get(f"/api/contracts/{cid}", headers=bearer(operator)).json()
    assert state["status"] == "offered" and state["escrow"]["funded"] == 0
