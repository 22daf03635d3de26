"""Certification, deposits, festivals, RFQs and matching end to end, on both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from tests.conftest import make_settings
from tests.support import (
    PNG,
    LiveServer,
    assert_error,
    bearer,
    certified_supplier,
    live_auction,
    operator_token,
    place_bid,
    register,
    rfq_body,
    run_server,
    upload,
    uscc_for,
    wait_state,
)


def test_categories_tree(client: httpx.Client) -> None:
    """/api/categories is a two-level tree with codes and names in both languages."""
    tree = client.get("/api/categories").json()
    fasteners = next(c for c in tree if c["code"] == "fasteners")
    assert fasteners["name_zh"] == "紧固件"
    assert any(c["code"] == "fasteners.bolts" for c in fasteners["children"])


def test_files_accept_pdf_png_and_refuse_other_types(
    client: httpx.Client, live: LiveServer
) -> None:
    """Uploads are typed by content; text is refused; owners and operators may read them."""
    owner = register(client, "supplier")
    file_id = upload(client, owner["token"], PNG, "logo.txt")
    got = client.get(f"/api/files/{file_id}", headers=bearer(owner["token"]))
    assert got.status_code == 200 and got.headers["content-type"] == "image/png"
    bad = client.post(
        "/api/files", files={"file": ("x.pdf", b"hello")}, headers=bearer(owner["token"])
    )
    assert_error(bad, 422, "unsupported_file_type")
    other = register(client, "buyer")
    assert_error(client.get(f"/api/files/{file_id}", headers=bearer(other["token"])), 404)
    operator = operator_token(live)
    assert client.get(f"/api/files/{file_id}", headers=bearer(operator)).status_code == 200


def test_certification_flow(client: httpx.Client, operator: str) -> None:
    """A supplier applies, sees pending, an operator approves with a level, the badge shows."""
    supplier = register(client, "supplier")
    token = supplier["token"]
    body = {
        "uscc": uscc_for(424242),
        "company_name": "Ningbo Test Fasteners",
        "categories": ["fasteners"],
        "documents": [{"kind": "business_licence", "file_id": upload(client, token)}],
    }
    applied = client.post("/api/certification", json=body, headers=bearer(token))
    assert applied.status_code == 201, applied.text
    assert applied.json()["status"] == "pending" and applied.json()["badge"] is None
    again = client.post("/api/certification", json=body, headers=bearer(token))
    assert_error(again, 409, "already_applied")
    queue = client.get("/api/admin/certifications", headers=bearer(operator)).json()
    assert applied.json()["id"] in {c["id"] for c in queue}
    cert_id = applied.json()["id"]
    no_reason = client.post(
        f"/api/admin/certifications/{cert_id}/suspend", json={}, headers=bearer(operator)
    )
    assert_error(no_reason, 409, "illegal_transition")
    approve = client.post(
        f"/api/admin/certifications/{cert_id}/approve", json={"level": 3}, headers=bearer(operator)
    )
    assert approve.json()["status"] == "approved"
    mine = client.get("/api/certification", headers=bearer(token)).json()
    assert mine["badge"] == "Strategic supplier"
    twice = client.post(
        f"/api/admin/certifications/{cert_id}/approve", json={}, headers=bearer(operator)
    )
    assert_error(twice, 409, "illegal_transition")
    suspend = client.post(
        f"/api/admin/certifications/{cert_id}/suspend",
        json={"note": "expired licence"},
        headers=bearer(operator),
    )
    assert suspend.json()["status"] == "suspended"


def test_certification_rejects_bad_codes_and_missing_licence(client: httpx.Client) -> None:
    """A wrong check character names the problem; a missing business licence is refused."""
    supplier = register(client, "supplier")
    token = supplier["token"]
    file_id = upload(client, token)
    body = {
        "uscc": "91350100M000100Y44",
        "company_name": "X",
        "categories": ["fasteners"],
        "documents": [{"kind": "business_licence", "file_id": file_id}],
    }
    error = assert_error(client.post("/api/certification", json=body, headers=bearer(token)), 422)
    assert error["field"] == "uscc" and "check character" in error["message"]
    body["uscc"] = "91350100M000100Y43"
    body["documents"] = [{"kind": "trademark_registration", "file_id": file_id}]
    missing = client.post("/api/certification", json=body, headers=bearer(token))
    assert_error(missing, 422, "business_licence_required")
    body["documents"] = [{"kind": "business_licence", "file_id": "f" * 32}]
    assert_error(
        client.post("/api/certification", json=body, headers=bearer(token)), 422, "unknown_file"
    )


def test_deposit_is_pending_until_confirmed(client: httpx.Client, operator: str) -> None:
    """A posted deposit is pending with transfer instructions; confirming it makes it held."""
    supplier = register(client, "supplier")
    token = supplier["token"]
    posted = client.post(
        "/api/deposits", json={"amount": 2_000_000, "currency": "CNY"}, headers=bearer(token)
    )
    assert posted.status_code == 201
    assert posted.json()["status"] == "pending" and "20000.00 CNY" in posted.json()["instructions"]
    assert client.get("/api/deposits/balance", headers=bearer(token)).json() == []
    deposit_id = posted.json()["id"]
    confirmed = client.post(f"/api/admin/deposits/{deposit_id}/confirm", headers=bearer(operator))
    assert confirmed.json()["status"] == "held"
    replay = client.post(f"/api/admin/deposits/{deposit_id}/confirm", headers=bearer(operator))
    assert replay.status_code == 200
    balance = client.get("/api/deposits/balance", headers=bearer(token)).json()
    assert balance == [
        {"currency": "CNY", "held": 2_000_000, "reserved": 0, "available": 2_000_000}
    ]


@pytest.mark.parametrize("amount", [2000000.0, "2000000", -5, 0, True])
def test_deposit_amount_must_be_a_positive_integer(client: httpx.Client, amount: object) -> None:
    """Floats, strings, booleans and non-positive amounts are 422."""
    supplier = register(client, "supplier")
    response = client.post(
        "/api/deposits", json={"amount": amount}, headers=bearer(supplier["token"])
    )
    assert assert_error(response, 422)["field"] == "amount"


def test_festival_and_rfq_publish_matches_suppliers(client: httpx.Client, operator: str) -> None:
    """Publishing invites and notifies exactly the approved suppliers whose categories or
    keywords fit."""
    buyer = register(client, "buyer")
    now = datetime.now(UTC)
    festival = client.post(
        "/api/festivals",
        headers=bearer(operator),
        json={
            "name": "Spring fastener festival",
            "theme": "Bolts and nuts",
            "starts_at": now.isoformat(),
            "ends_at": (now + timedelta(days=2)).isoformat(),
            "categories": ["fasteners"],
            "organisers": [buyer["company"]["id"]],
        },
    )
    assert festival.status_code == 201, festival.text
    parent = certified_supplier(client, operator, ["fasteners"])
    exact = certified_supplier(client, operator, ["fasteners.bolts"])
    by_keyword = certified_supplier(client, operator, ["steel.bar"], keywords=["m8x40"])
    other = certified_supplier(client, operator, ["chemicals.resins"])
    unapproved = register(client, "supplier")
    body = rfq_body(festival_id=festival.json()["id"])
    created = client.post("/api/rfqs", json=body, headers=bearer(buyer["token"]))
    assert created.status_code == 201, created.text
    rfq = created.json()
    assert rfq["status"] == "draft" and rfq["lots"][0]["auction_id"] == rfq["lots"][0]["id"]
    published = client.post(f"/api/rfqs/{rfq['id']}/publish", headers=bearer(buyer["token"]))
    assert published.status_code == 200, published.text
    assert published.json()["status"] == "published"
    invited = client.get(
        f"/api/rfqs/{rfq['id']}/invitations", headers=bearer(buyer["token"])
    ).json()
    expected = {parent["company"]["id"], exact["company"]["id"], by_keyword["company"]["id"]}
    assert {p["company_id"] for p in invited} == expected
    assert all(p["source"] == "matched" for p in invited)
    for supplier in (parent, exact, by_keyword):
        notes = client.get("/api/notifications", headers=bearer(supplier["token"])).json()
        assert any(n["kind"] == "rfq_matched" and n["data"]["rfq_id"] == rfq["id"] for n in notes)
        seen = client.get(f"/api/rfqs/{rfq['id']}", headers=bearer(supplier["token"])).json()
        assert seen["lots"][0]["reserve_price"] is None
    for outsider in (other, unapproved):
        notes = client.get("/api/notifications", headers=bearer(outsider["token"])).json()
        assert not any(n["data"].get("rfq_id") == rfq["id"] for n in notes)
    history = client.get(f"/api/rfqs/{rfq['id']}/history", headers=bearer(buyer["token"])).json()
    assert [h["move"] for h in history] == ["draft", "publish"]


def test_join_request_then_invitation(client: httpx.Client, operator: str) -> None:
    """A supplier outside the categories discovers a public RFQ, asks to join, is admitted."""
    buyer = register(client, "buyer")
    rfq = client.post(
        "/api/rfqs", json=rfq_body(category="packaging.cartons"), headers=bearer(buyer["token"])
    ).json()
    client.post(f"/api/rfqs/{rfq['id']}/publish", headers=bearer(buyer["token"]))
    asker = certified_supplier(client, operator, ["packaging"])
    found = client.get("/api/rfqs?scope=discover", headers=bearer(asker["token"])).json()
    assert rfq["id"] in {r["id"] for r in found}
    outsider = certified_supplier(client, operator, ["tools"])
    joined = client.post(f"/api/rfqs/{rfq['id']}/join", headers=bearer(outsider["token"]))
    assert joined.status_code == 201 and joined.json()["status"] == "requested"
    admitted = client.post(
        f"/api/rfqs/{rfq['id']}/invitations",
        json={"supplier_company_id": outsider["company"]["id"]},
        headers=bearer(buyer["token"]),
    )
    assert admitted.json()["status"] == "invited"
    mine = client.get("/api/rfqs", headers=bearer(outsider["token"])).json()
    assert rfq["id"] in {r["id"] for r in mine}


def test_rfq_validation_errors_name_the_field(client: httpx.Client) -> None:
    """Past start, end before start, bad rules and a reserve above the ceiling are 422."""
    buyer = register(client, "buyer")
    auth = bearer(buyer["token"])

    def field_of(body: dict) -> str:
        return assert_error(client.post("/api/rfqs", json=body, headers=auth), 422)["field"]

    assert field_of(rfq_body(minutes_from_now=-10)) == "starts_at"
    body = rfq_body()
    body["ends_at"] = body["starts_at"]
    assert field_of(body) == "ends_at"
    body = rfq_body()
    body["lots"][0]["rules"]["decrement"] = {"bps": 0}
    assert field_of(body).startswith("lots.0.rules.decrement")
    body = rfq_body()
    body["lots"][0]["reserve_price"] = 500
    assert field_of(body) == "lots.0.reserve_price"
    body = rfq_body()
    body["lots"][0]["ceiling_price"] = 1.5
    assert field_of(body) == "lots.0.ceiling_price"
    assert field_of(rfq_body(category="nope")) == "category"


def test_published_rfq_accepts_only_changes_that_cannot_hurt(
    client: httpx.Client, operator: str
) -> None:
    """After publishing: a later deadline and a higher ceiling pass and notify; the reverse
    is refused with change_hurts_bidders."""
    buyer = register(client, "buyer")
    supplier = certified_supplier(client, operator, ["fasteners"])
    auth = bearer(buyer["token"])
    rfq = client.post("/api/rfqs", json=rfq_body(), headers=auth).json()
    client.post(f"/api/rfqs/{rfq['id']}/publish", headers=auth)
    lot = rfq["lots"][0]
    later = (datetime.fromisoformat(rfq["ends_at"]) + timedelta(minutes=10)).isoformat()
    ok = client.patch(
        f"/api/rfqs/{rfq['id']}",
        headers=auth,
        json={
            "ends_at": later,
            "lots": [{"id": lot["id"], "ceiling_price": 130}],
        },
    )
    assert ok.status_code == 200, ok.text
    assert ok.json()["lots"][0]["ceiling_price"] == 130
    lower = client.patch(
        f"/api/rfqs/{rfq['id']}",
        headers=auth,
        json={"lots": [{"id": lot["id"], "ceiling_price": 100}]},
    )
    assert_error(lower, 422, "change_hurts_bidders")
    bond_up = client.patch(f"/api/rfqs/{rfq['id']}", headers=auth, json={"bid_bond": 900_000})
    assert_error(bond_up, 422, "change_hurts_bidders")
    notes = client.get("/api/notifications", headers=bearer(supplier["token"])).json()
    assert any(n["kind"] == "rfq_amended" for n in notes)


def test_cancel_needs_reason_and_is_final(client: httpx.Client) -> None:
    """Cancelling records the reason; a cancelled RFQ cannot be published or cancelled again."""
    buyer = register(client, "buyer")
    auth = bearer(buyer["token"])
    rfq = client.post("/api/rfqs", json=rfq_body(), headers=auth).json()
    done = client.post(f"/api/rfqs/{rfq['id']}/cancel", json={"reason": "budget cut"}, headers=auth)
    assert done.json()["status"] == "cancelled"
    assert_error(
        client.post(f"/api/rfqs/{rfq['id']}/publish", headers=auth), 409, "illegal_transition"
    )
    assert_error(
        client.post(f"/api/rfqs/{rfq['id']}/cancel", json={"reason": "x"}, headers=auth),
        409,
        "illegal_transition",
    )


def test_matching_ratio_view(client: httpx.Client, operator: str) -> None:
    """Operators see purchase requests per supply listing against the 3:1 target."""
    report = client.get("/api/admin/matching?days=30", headers=bearer(operator))
    assert report.status_code == 200
    assert report.json()["target"] == 3.0
    assert report.json()["overall"]["category"] == "all"
    assert_error(client.get("/api/admin/matching?days=0", headers=bearer(operator)), 422)


def test_suspension_counts_at_the_next_bid_and_the_supplier_appeals(
    client: httpx.Client, operator: str
) -> None:
    """A bidding supplier suspended by an operator is refused at its very next bid (the
    eligibility it had cached is forgotten) and told why; it appeals once at a time; a
    dismissed appeal keeps it suspended; reinstated, it bids again. The console's lists
    show it and its reserved bond."""
    buyer = register(client, "buyer")
    supplier = certified_supplier(client, operator, ["fasteners"])
    auction_id = live_auction(client, buyer, seconds=120)
    assert place_bid(client, supplier, auction_id, 110, "first").status_code == 201
    cert = client.get("/api/certification", headers=bearer(supplier["token"])).json()
    ops = bearer(operator)
    bonds = client.get("/api/admin/bonds", headers=ops).json()
    assert any(b["company_id"] == supplier["company"]["id"] for b in bonds)
    assert_error(client.get("/api/admin/bonds", headers=bearer(buyer["token"])), 403)

    suspended = client.post(
        f"/api/admin/certifications/{cert['id']}/suspend",
        json={"note": "Forged mill certificates"},
        headers=ops,
    )
    assert suspended.status_code == 200, suspended.text
    assert_error(place_bid(client, supplier, auction_id, 109, "second"), 403, "not_eligible")
    inbox = client.get("/api/notifications", headers=bearer(supplier["token"])).json()
    notice = next(n for n in inbox if n["kind"] == "certification_suspend")
    assert "appeal" in notice["title"] and notice["body"] == "Forged mill certificates"
    listed = client.get("/api/admin/certifications?status=suspended", headers=ops).json()
    assert cert["id"] in {c["id"] for c in listed}

    appeal = {"statement": "The certificates are genuine; the mill confirms."}
    auth = bearer(supplier["token"])
    assert_error(
        client.post("/api/certification/appeal", json=appeal, headers=bearer(buyer["token"])), 403
    )
    sent = client.post("/api/certification/appeal", json=appeal, headers=auth)
    assert sent.status_code == 200, sent.text
    assert sent.json()["appeal"] == appeal["statement"]
    assert_error(
        client.post("/api/certification/appeal", json=appeal, headers=auth), 409, "appeal_pending"
    )
    dismiss = f"/api/admin/certifications/{cert['id']}/dismiss_appeal"
    assert_error(client.post(dismiss, json={}, headers=ops), 422, "reason_required")
    assert (
        client.post(dismiss, json={"note": "The mill denies it"}, headers=ops).json()["appeal"]
        == ""
    )
    assert_error(client.post(dismiss, json={"note": "again"}, headers=ops), 409, "no_appeal")
    assert client.post("/api/certification/appeal", json=appeal, headers=auth).status_code == 200

    back = client.post(f"/api/admin/certifications/{cert['id']}/reinstate", json={}, headers=ops)
    assert back.json()["status"] == "approved" and back.json()["appeal"] == ""
    assert place_bid(client, supplier, auction_id, 108, "third").status_code == 201
    assert_error(
        client.post("/api/certification/appeal", json=appeal, headers=auth), 409, "not_suspended"
    )


def test_declines_past_the_limit_suspend_a_supplier_automatically(
    tmp_path: Path, redis_prefix: str
) -> None:
    """With RFQ_SUSPEND_AFTER_DECLINES=1, a supplier that declines an award is suspended
    by the platform, with a notice naming the rule; its next bid is refused."""
    settings = make_settings(
        tmp_path, f"sqlite:///{tmp_path / 'rfq.sqlite3'}", f"{redis_prefix}auto:",
        suspend_after_declines=1,
    )  # fmt: skip
    with run_server(settings) as live, httpx.Client(base_url=live.url, timeout=30) as client:
        operator = operator_token(live)
        buyer = register(client, "buyer")
        supplier = certified_supplier(client, operator, ["fasteners"])
        auction_id = live_auction(client, buyer, seconds=3)
        bid = place_bid(client, supplier, auction_id, 100, "win")
        assert bid.status_code == 201, bid.text
        wait_state(client, buyer["token"], auction_id, "closed", 15)
        made = client.post(
            f"/api/auctions/{auction_id}/award",
            json={"awards": [{"bid_id": bid.json()["bid_id"]}]},
            headers=bearer(buyer["token"]),
        )
        cid = made.json()["contracts"][0]["id"]
        declined = client.post(
            f"/api/contracts/{cid}/decline", json={}, headers=bearer(supplier["token"])
        )
        assert declined.status_code == 200, declined.text
        cert = client.get("/api/certification", headers=bearer(supplier["token"])).json()
        assert cert["status"] == "suspended"
        assert cert["note"] == "Suspended automatically: 1 awards declined (the limit is 1)."
        inbox = client.get("/api/notifications", headers=bearer(supplier["token"])).json()
        assert any(n["kind"] == "certification_suspend" for n in inbox)
        other = live_auction(client, buyer, seconds=60)
        assert_error(place_bid(client, supplier, other, 100, "next"), 403, "not_eligible")


def test_rfq_documents_reach_the_suppliers_taking_part_and_the_buyer_sees_who_read_them(
    client: httpx.Client, operator: str
) -> None:
    """The buyer attaches a drawing to a lot; a matched supplier lists and downloads it
    (recorded) and attaches its quotation; a supplier of another category, another
    buyer and strangers read 404; the buyer sees who read the drawing and the
    quotation."""
    buyer = register(client, "buyer")
    matched = certified_supplier(client, operator, ["fasteners"])
    elsewhere = certified_supplier(client, operator, ["bearings"])
    other_buyer = register(client, "buyer")
    auction_id = live_auction(client, buyer, seconds=120)
    auth, seller = bearer(buyer["token"]), bearer(matched["token"])
    rfq_id = client.get(f"/api/auctions/{auction_id}", headers=auth).json()["rfq_id"]
    base = f"/api/rfqs/{rfq_id}/documents"
    drawing = {
        "file_id": upload(client, buyer["token"]),
        "title": "Bolt drawing rev B",
        "kind": "drawing",
        "lot_id": auction_id,
    }
    assert_error(
        client.post(base, json={**drawing, "lot_id": 999_999}, headers=auth), 422, "unknown_lot"
    )
    assert_error(
        client.post(
            base, json={**drawing, "file_id": upload(client, matched["token"])}, headers=auth
        ),
        422,
        "unknown_file",
    )
    assert_error(client.post(base, json=drawing, headers=seller), 404)
    added = client.post(base, json=drawing, headers=auth)
    assert added.status_code == 201, added.text
    doc = added.json()
    assert doc["read_by"] == 0 and doc["file"]["content_type"] == "application/pdf"

    [seen] = client.get(base, headers=seller).json()
    assert seen["title"] == "Bolt drawing rev B" and seen["read"] is False and "read_by" not in seen
    got = client.get(f"{base}/{doc['id']}/file", headers=seller)
    assert got.status_code == 200 and got.content.startswith(b"%PDF-")
    assert client.get(base, headers=seller).json()[0]["read"] is True
    for stranger in (elsewhere, other_buyer):
        assert_error(client.get(base, headers=bearer(stranger["token"])), 404)
        assert_error(client.get(f"{base}/{doc['id']}/file", headers=bearer(stranger["token"])), 404)
    assert_error(client.get(f"{base}/{doc['id']}/downloads", headers=seller), 404)
    [read] = client.get(f"{base}/{doc['id']}/downloads", headers=auth).json()
    assert read["company_id"] == matched["company"]["id"] and read["user_email"] == matched["email"]
    assert client.get(base, headers=auth).json()[0]["read_by"] == 1

    quotes = f"/api/rfqs/{rfq_id}/quotations"
    quote = {
        "file_id": upload(client, matched["token"]),
        "title": "Our quotation and mill certificate",
    }
    assert_error(client.post(quotes, json=quote, headers=bearer(elsewhere["token"])), 404)
    assert_error(client.post(quotes, json=quote, headers=auth), 403, "supplier_only")
    sent = client.post(quotes, json=quote, headers=seller)
    assert sent.status_code == 201, sent.text
    [listed] = client.get(quotes, headers=auth).json()
    assert listed["company_id"] == matched["company"]["id"]
    got = client.get(f"{quotes}/{listed['id']}/file", headers=auth)
    assert got.status_code == 200
    assert_error(
        client.get(f"{quotes}/{listed['id']}/file", headers=bearer(other_buyer["token"])), 404
    )
