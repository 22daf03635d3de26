"""The authorization matrix of every other endpoint (auctions, awards, contracts and
escrow, credit, accounts, notifications, operations), against one expected table; and
a check that every endpoint of the app is in this table, in the procurement table
(``test_procurement_authz.py``) or exempt with a reason.

Roles are the procurement table's: anonymous, the owning buyer, another buyer, a
supplier with a pending certification, an approved supplier without deposit, an
approved supplier with a deposit (the one bidding and holding the contract), and an
operator. Another company's object is 404 (never a leak); a role that may never do a
thing is 403; a thing the object's state does not allow is 409. Calls that would change
state are aimed at objects where they are refused or idempotent (a declined contract,
a replayed bid key), so the table's order does not matter.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.support import (
    PASSWORD,
    LiveServer,
    bearer,
    certified_supplier,
    live_auction,
    place_bid,
    upload,
    wait_state,
)
from tests.web import authz
from tests.web.authz import World
from tests.web.test_procurement_authz import MATRIX as PROCUREMENT
from web import app as _app  # noqa: F401  (importing it declares every route)
from web.routing import _SPECS


@pytest.fixture(scope="module")
def world(live: LiveServer) -> World:
    with httpx.Client(base_url=live.url, timeout=30) as c:
        world = authz.people(c, live, "fasteners")
        operator = world.tokens["operator"]
        assert operator is not None
        buyer, other_buyer = world.people["buyer"], world.people["other_buyer"]
        approved, bidder = world.people["sup_approved"], world.people["sup_deposit"]
        suspended = certified_supplier(c, operator, ["fasteners"], deposit=None)
        cert = c.get("/api/certification", headers=bearer(suspended["token"])).json()
        c.post(
            f"/api/admin/certifications/{cert['id']}/suspend",
            json={"note": "matrix"},
            headers=bearer(operator),
        ).raise_for_status()
        approved_cert = c.get("/api/certification", headers=bearer(approved["token"])).json()

        live_id = live_auction(c, buyer, seconds=600)
        bid = place_bid(c, bidder, live_id, 110, "matrix-live")
        bid.raise_for_status()
        closing = live_auction(c, buyer, seconds=3)
        won = place_bid(c, bidder, closing, 100, "matrix-win").json()
        auth = bearer(buyer["token"])
        wait_state(c, buyer["token"], closing, "closed", 20)
        award = c.post(
            f"/api/auctions/{closing}/award",
            json={"awards": [{"bid_id": won["bid_id"]}]},
            headers=auth,
        )
        award.raise_for_status()
        contract = c.get("/api/contracts", headers=auth).json()[0]
        c.post(
            f"/api/contracts/{contract['id']}/decline",
            json={},
            headers=bearer(bidder["token"]),
        ).raise_for_status()
        other_token = c.post(
            "/api/auth/tokens", json={"name": "matrix"}, headers=bearer(other_buyer["token"])
        ).json()["info"]["id"]
        notification = c.get("/api/notifications", headers=bearer(bidder["token"])).json()[0]
        ids = {
            "live": live_id,
            "closed": closing,
            "bid": bid.json()["bid_id"],
            "contract": contract["id"],
            "bidder_company": bidder["company"]["id"],
            "approved_company": approved["company"]["id"],
            "approved_cert": approved_cert["id"],
            "suspended_cert": cert["id"],
            "other_token": other_token,
            "notification": notification["id"],
            "file": upload(c, bidder["token"]),
            "buyer_email": buyer["email"],
            "rfq": c.get(f"/api/auctions/{live_id}", headers=auth).json()["rfq_id"],
        }
        asked = c.post(
            f"/api/rfqs/{ids['rfq']}/questions",
            json={"question": "matrix"},
            headers=bearer(bidder["token"]),
        )
        asked.raise_for_status()
        ids["question"] = asked.json()["id"]
        world.ids.update(ids)
        return world


#  row: (method, path, body) -> statuses for ROLES
#        anon buyer other sup_p sup_a sup_d  oper
MATRIX: dict[str, tuple[str, str, Any, tuple[int, ...]]] = {
    # public
    "health": ("GET", "/healthz", None, (200, 200, 200, 200, 200, 200, 200)),
    "ready": ("GET", "/readyz", None, (200, 200, 200, 200, 200, 200, 200)),
    "login wrong": ("POST", "/api/auth/login", "BAD_LOGIN", (401, 401, 401, 401, 401, 401, 401)),
    "register taken": ("POST", "/api/auth/register", "TAKEN", (409, 409, 409, 409, 409, 409, 409)),
    # accounts
    "me": ("GET", "/api/me", None, (401, 200, 200, 200, 200, 200, 200)),
    "tokens": ("GET", "/api/auth/tokens", None, (401, 200, 200, 200, 200, 200, 200)),
    "token new": ("POST", "/api/auth/tokens", {"name": "m"}, (401, 201, 201, 201, 201, 201, 201)),
    "token revoke other's": (
        "DELETE",
        "/api/auth/tokens/{other_token}",
        None,
        (401, 404, 200, 404, 404, 404, 404),
    ),
    "notification read": (
        "POST",
        "/api/notifications/{notification}/read",
        None,
        (401, 404, 404, 404, 404, 200, 404),
    ),
    "file upload (JSON)": ("POST", "/api/files", {}, (401, 415, 415, 415, 415, 415, 415)),
    "file other's": ("GET", "/api/files/{file}", None, (401, 404, 404, 404, 404, 200, 200)),
    # auctions
    "auction": ("GET", "/api/auctions/{live}", None, (401, 200, 404, 200, 200, 200, 200)),
    "audit": ("GET", "/api/auctions/{live}/audit", None, (401, 200, 404, 404, 404, 404, 200)),
    "bids": ("GET", "/api/auctions/{live}/bids", None, (401, 200, 404, 404, 404, 404, 200)),
    "bids csv": ("GET", "/api/auctions/{live}/bids.csv", None, (401, 200, 404, 404, 404, 404, 200)),
    "bid": (
        "POST",
        "/api/auctions/{live}/bids",
        {"price": 110, "key": "matrix-live"},
        (401, 403, 403, 403, 403, 201, 403),
    ),
    "surrogate bid": (
        "POST",
        "/api/auctions/{live}/surrogate-bids",
        "SURROGATE",
        (401, 201, 404, 404, 404, 404, 201),
    ),
    "my bids": ("GET", "/api/auctions/{live}/my-bids", None, (401, 404, 404, 404, 200, 200, 404)),
    # practice rooms (each supplier opens one: the rivals run off the record)
    "practice": (
        "POST",
        "/api/practice",
        {"format": "sealed"},
        (401, 403, 403, 201, 201, 201, 403),
    ),
    "practice rooms": ("GET", "/api/practice", None, (401, 403, 403, 200, 200, 200, 403)),
    "next round": (
        "POST",
        "/api/auctions/{live}/next-round",
        "NEXT_ROUND",  # a live reverse lot: its buyer is refused wrong_format
        (401, 409, 404, 404, 404, 404, 403),
    ),
    "proxy": (
        "POST",
        "/api/auctions/{live}/proxy",
        {"floor": None, "key": "matrix-proxy"},
        (401, 403, 403, 403, 403, 200, 403),
    ),
    "void": (
        "POST",
        "/api/auctions/{live}/bids/{bid}/void",
        {"reason": "matrix"},
        (401, 403, 403, 403, 403, 403, 200),
    ),
    "transform": (
        "POST",
        "/api/auctions/{live}/transforms",
        "TRANSFORM",
        (401, 409, 404, 404, 404, 404, 409),
    ),
    "award live": (
        "POST",
        "/api/auctions/{live}/award",
        "NO_AWARD",
        (401, 409, 404, 404, 404, 404, 403),
    ),
    "award read": (
        "GET",
        "/api/auctions/{closed}/award",
        None,
        (401, 200, 404, 404, 404, 404, 200),
    ),
    # clarifications (the buyer's first answer is the only one)
    "questions": ("GET", "/api/rfqs/{rfq}/questions", None, (401, 200, 404, 404, 200, 200, 200)),
    "question ask": (
        "POST",
        "/api/rfqs/{rfq}/questions",
        {"question": "matrix"},
        (401, 403, 404, 404, 201, 201, 403),
    ),
    "question answer": (
        "POST",
        "/api/rfqs/{rfq}/questions/{question}/answer",
        {"answer": "matrix"},
        (401, 200, 404, 404, 404, 404, 409),
    ),
    # contracts and escrow (the contract was declined: every move is refused)
    "contracts": ("GET", "/api/contracts", None, (401, 200, 200, 200, 200, 200, 200)),
    "contract": ("GET", "/api/contracts/{contract}", None, (401, 200, 404, 404, 404, 200, 200)),
    "document": (
        "GET",
        "/api/contracts/{contract}/document",
        None,
        (401, 200, 404, 404, 404, 200, 200),
    ),
    "accept": ("POST", "/api/contracts/{contract}/accept", {}, (401, 403, 404, 404, 404, 409, 403)),
    "decline": (
        "POST",
        "/api/contracts/{contract}/decline",
        {},
        (401, 403, 404, 404, 404, 200, 403),
    ),
    "cancel": ("POST", "/api/contracts/{contract}/cancel", {}, (401, 409, 404, 404, 404, 403, 403)),
    "fund": ("POST", "/api/contracts/{contract}/fund", {}, (401, 409, 404, 404, 404, 403, 403)),
    "withdraw": (
        "POST",
        "/api/contracts/{contract}/withdraw",
        {},
        (401, 409, 404, 404, 404, 403, 403),
    ),
    "ship": ("POST", "/api/contracts/{contract}/ship", {}, (401, 403, 404, 404, 404, 409, 403)),
    "confirm": (
        "POST",
        "/api/contracts/{contract}/confirm",
        {},
        (401, 409, 404, 404, 404, 403, 403),
    ),
    "release": (
        "POST",
        "/api/contracts/{contract}/release",
        {},
        (401, 409, 404, 404, 404, 403, 403),
    ),
    "dispute": (
        "POST",
        "/api/contracts/{contract}/dispute",
        {"reason": "matrix"},
        (401, 409, 404, 404, 404, 409, 403),
    ),
    "evidence": (
        "POST",
        "/api/contracts/{contract}/evidence",
        "EVIDENCE",
        (401, 409, 404, 404, 404, 409, 409),
    ),
    "purchase order": (
        "GET",
        "/api/contracts/{contract}/purchase-order",
        None,
        (401, 409, 404, 404, 404, 409, 409),  # a declined contract is no order
    ),
    "purchase order csv": (
        "GET",
        "/api/contracts/{contract}/purchase-order.csv",
        None,
        (401, 409, 404, 404, 404, 409, 409),
    ),
    "terminate": (
        "POST",
        "/api/contracts/{contract}/terminate",
        {},
        (401, 409, 404, 404, 404, 403, 403),
    ),
    "extension": (
        "POST",
        "/api/contracts/{contract}/extension",
        {"days": 3, "reason": "matrix"},
        (401, 403, 404, 404, 404, 409, 403),
    ),
    "extension answer": (
        "POST",
        "/api/contracts/{contract}/extension/answer",
        {"accept": True},
        (401, 409, 404, 404, 404, 403, 403),
    ),
    "payments": ("GET", "/api/admin/payments", None, (401, 403, 403, 403, 403, 403, 200)),
    "payment confirm": (
        "POST",
        "/api/admin/payments/999999/confirm",
        None,
        (401, 403, 403, 403, 403, 403, 404),
    ),
    "disputes": ("GET", "/api/admin/disputes", None, (401, 403, 403, 403, 403, 403, 200)),
    "dispute resolve": (
        "POST",
        "/api/admin/disputes/999999/resolve",
        {"outcome": "refund", "note": "matrix"},
        (401, 403, 403, 403, 403, 403, 404),
    ),
    # credit
    "credit": (
        "GET",
        "/api/companies/{bidder_company}/credit",
        None,
        (401, 200, 200, 404, 404, 200, 200),
    ),
    "credit csv": (
        "GET",
        "/api/companies/{bidder_company}/credit.csv",
        None,
        (401, 200, 200, 404, 404, 200, 200),
    ),
    "supplier profile": (
        "GET",
        "/api/suppliers/{bidder_company}",
        None,
        (401, 200, 200, 404, 404, 200, 200),
    ),
    "standing live": (
        "GET",
        "/api/auctions/{live}/standing",
        None,
        (401, 409, 404, 404, 404, 404, 409),  # identities may be hidden until the close
    ),
    "standing closed": (
        "GET",
        "/api/auctions/{closed}/standing",
        None,
        (401, 200, 404, 404, 404, 404, 200),
    ),
    # certification and bonds (refused by state; the approving paths are in the
    # procurement table and tests/web/test_procurement.py)
    "cert approve again": (
        "POST",
        "/api/admin/certifications/{approved_cert}/approve",
        {"level": 2},
        (401, 403, 403, 403, 403, 403, 409),
    ),
    "cert reject approved": (
        "POST",
        "/api/admin/certifications/{approved_cert}/reject",
        {"note": "matrix"},
        (401, 403, 403, 403, 403, 403, 409),
    ),
    "cert suspend again": (
        "POST",
        "/api/admin/certifications/{suspended_cert}/suspend",
        {"note": "matrix"},
        (401, 403, 403, 403, 403, 403, 409),
    ),
    "appeal": (
        "POST",
        "/api/certification/appeal",
        {"statement": "matrix"},
        (401, 403, 403, 409, 409, 409, 403),  # none of them is suspended
    ),
    "dismiss appeal": (
        "POST",
        "/api/admin/certifications/{suspended_cert}/dismiss_appeal",
        {"note": "matrix"},
        (401, 403, 403, 403, 403, 403, 409),  # no appeal is pending
    ),
    "bonds": ("GET", "/api/admin/bonds", None, (401, 403, 403, 403, 403, 403, 200)),
    "bond release": (
        "POST",
        "/api/admin/bonds/release",
        "BOND",
        (401, 403, 403, 403, 403, 403, 409),  # its lot is live: bonds settle after it
    ),
    # RFQ documents (the reading paths with a real document: tests/web/test_procurement.py)
    "documents": ("GET", "/api/rfqs/{rfq}/documents", None, (401, 200, 404, 404, 200, 200, 200)),
    "document add": (
        "POST",
        "/api/rfqs/{rfq}/documents",
        {"file_id": "f" * 32, "title": "matrix"},
        (401, 422, 404, 404, 404, 404, 422),  # not one of the buyer's uploads
    ),
    "document file": (
        "GET",
        "/api/rfqs/{rfq}/documents/999999/file",
        None,
        (401, 404, 404, 404, 404, 404, 404),
    ),
    "document readers": (
        "GET",
        "/api/rfqs/{rfq}/documents/999999/downloads",
        None,
        (401, 404, 404, 404, 404, 404, 404),
    ),
    "quotation file": (
        "GET",
        "/api/rfqs/{rfq}/quotations/999999/file",
        None,
        (401, 404, 404, 404, 404, 404, 404),
    ),
    "scenarios": (
        "GET",
        "/api/rfqs/{rfq}/scenarios",
        None,
        (401, 409, 404, 404, 404, 404, 409),  # its lot is live: nothing to award yet
    ),
    "scenario award": (
        "POST",
        "/api/rfqs/{rfq}/scenarios/award",
        {"scenario": "best_per_lot"},
        (401, 409, 404, 404, 404, 404, 409),
    ),
    "quotations": ("GET", "/api/rfqs/{rfq}/quotations", None, (401, 200, 404, 404, 200, 200, 200)),
    "quotation add": (
        "POST",
        "/api/rfqs/{rfq}/quotations",
        {"file_id": "f" * 32, "title": "matrix"},
        (401, 403, 404, 404, 422, 422, 403),
    ),
    # webhooks (the owner's paths are in tests/web/test_webhooks.py)
    "webhooks": ("GET", "/api/webhooks", None, (401, 200, 200, 200, 200, 200, 200)),
    "webhook new": (
        "POST",
        "/api/webhooks",
        {"url": "http://127.0.0.1:9/hook"},
        (401, 422, 422, 422, 422, 422, 403),  # loopback refused; operators have no company
    ),
    "webhook remove": ("DELETE", "/api/webhooks/999999", None, (401, 404, 404, 404, 404, 404, 404)),
    "webhook log": (
        "GET",
        "/api/webhooks/999999/deliveries",
        None,
        (401, 404, 404, 404, 404, 404, 404),
    ),
    # operations
    "metrics": ("GET", "/metrics", None, (401, 403, 403, 403, 403, 403, 200)),
}

EXEMPT = {
    ("POST", "/api/auth/logout"): "revokes the caller's credential; tests/web/test_accounts.py",
}


def _body(spec: Any, world: World) -> Any:
    ids = world.ids
    if spec == "BAD_LOGIN":
        return {"email": ids["buyer_email"], "password": "not the password"}
    if spec == "TAKEN":
        return {
            "email": ids["buyer_email"],
            "password": PASSWORD,
            "company_name": "Again",
            "role": "buyer",
        }
    if spec == "TRANSFORM":
        return {"supplier_company_id": ids["approved_company"], "multiplier_bps": 10_500}
    if spec == "SURROGATE":  # the operator's call replays the buyer's (the same key)
        return {"supplier_company_id": ids["bidder_company"], "price": 109,
                "key": "matrix-surrogate", "reason": "matrix"}  # fmt: skip
    if spec == "NEXT_ROUND":
        start = datetime.now(UTC) + timedelta(hours=1)
        return {"qualify": 2, "starts_at": start.isoformat(),
                "ends_at": (start + timedelta(hours=1)).isoformat(),
                "rules": {"format": "reverse_english", "decrement": {"amount": 1}}}  # fmt: skip
    if spec == "NO_AWARD":
        return {"no_award": True, "reason": "matrix"}
    if spec == "EVIDENCE":
        return {"file_id": ids["file"]}
    if spec == "BOND":
        return {"company_id": ids["bidder_company"], "rfq_id": ids["rfq"], "reason": "matrix"}
    return spec


@pytest.mark.parametrize("live", ["sqlite"], indirect=True)
@pytest.mark.parametrize("row", list(MATRIX))
def test_authorization_matrix(row: str, world: World, live: LiveServer) -> None:
    """Each role gets exactly the status the expected table says for this endpoint."""
    authz.check(live.url, MATRIX[row], world, _body)


def test_every_endpoint_is_in_a_table() -> None:
    """Every declared endpoint has a row in a matrix, or is exempt with a reason."""
    assert not authz.uncovered(_SPECS, [MATRIX, PROCUREMENT], EXEMPT)
