"""The authorization matrix of the procurement endpoints, against one expected table.

Roles (columns): anonymous, the owning buyer, another buyer, a supplier whose
certification is pending, an approved supplier without deposit, an approved supplier
with a held deposit, and an operator. Objects of another company are 404 (never a
leak), a role that may never do a thing is 403. Rows that would change state for one
role are chosen so that the call is refused or idempotent, so the table's order does
not matter.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support import (
    LiveServer,
    bearer,
    rfq_body,
    uscc_for,
)
from tests.web import authz
from tests.web.authz import World


@pytest.fixture(scope="module")
def world(live: LiveServer) -> World:
    with httpx.Client(base_url=live.url, timeout=30) as c:
        world = authz.people(c, live, "tools")
        operator = world.tokens["operator"]
        buyer, pending = world.people["buyer"], world.people["sup_pending"]
        approved, with_deposit = world.people["sup_approved"], world.people["sup_deposit"]
        auth = bearer(buyer["token"])
        draft = c.post("/api/rfqs", json=rfq_body(), headers=auth).json()
        published = c.post("/api/rfqs", json=rfq_body(), headers=auth).json()
        c.post(f"/api/rfqs/{published['id']}/publish", headers=auth).raise_for_status()
        cancelled = c.post("/api/rfqs", json=rfq_body(), headers=auth).json()
        c.post(
            f"/api/rfqs/{cancelled['id']}/cancel", json={"reason": "x"}, headers=auth
        ).raise_for_status()
        pending_cert = c.get("/api/certification", headers=bearer(pending["token"])).json()
        held = c.get("/api/deposits", headers=bearer(with_deposit["token"])).json()[0]
        waiting = c.post(
            "/api/deposits", json={"amount": 100}, headers=bearer(approved["token"])
        ).json()
        festival = c.get("/api/festivals", headers=auth).json()
        ids = {
            "draft": draft["id"],
            "published": published["id"],
            "cancelled": cancelled["id"],
            "pending_cert": pending_cert["id"],
            "held_deposit": held["id"],
            "pending_deposit": waiting["id"],
            "file": pending_cert["documents"][0]["file_id"],
            "approved_company": approved["company"]["id"],
            "festival": festival[0]["id"] if festival else None,
            "deposit_company": with_deposit["company"]["id"],
        }
        if ids["festival"] is None:
            made = c.post(
                "/api/festivals",
                headers=bearer(operator),
                json={
                    "name": "F",
                    "starts_at": draft["starts_at"],
                    "ends_at": draft["ends_at"],
                },
            )
            ids["festival"] = made.json()["id"]
        world.ids.update(ids)
        return world


FESTIVAL = {
    "name": "Matrix fest",
    "starts_at": "2030-01-01T00:00:00Z",
    "ends_at": "2030-01-02T00:00:00Z",
}

#  row: (method, path, body) -> statuses for ROLES
#        anon buyer other sup_p sup_a sup_d  oper
MATRIX: dict[str, tuple[str, str, Any, tuple[int, ...]]] = {
    "categories": ("GET", "/api/categories", None, (200, 200, 200, 200, 200, 200, 200)),
    "file read": ("GET", "/api/files/{file}", None, (401, 404, 404, 200, 404, 404, 200)),
    "cert apply": ("POST", "/api/certification", "CERT", (401, 403, 403, 409, 409, 409, 403)),
    "cert mine": ("GET", "/api/certification", None, (401, 403, 403, 200, 200, 200, 403)),
    "cert queue": ("GET", "/api/admin/certifications", None, (401, 403, 403, 403, 403, 403, 200)),
    "cert one": (
        "GET",
        "/api/admin/certifications/{pending_cert}",
        None,
        (401, 404, 404, 200, 404, 404, 200),
    ),
    "cert reject": (
        "POST",
        "/api/admin/certifications/{pending_cert}/reinstate",
        {},
        (401, 403, 403, 403, 403, 403, 409),
    ),
    "deposit post": ("POST", "/api/deposits", {"amount": 1}, (401, 403, 403, 201, 201, 201, 403)),
    "deposit list": ("GET", "/api/deposits", None, (401, 403, 403, 200, 200, 200, 200)),
    "balance": ("GET", "/api/deposits/balance", None, (401, 403, 403, 200, 200, 200, 403)),
    "requirement": (
        "GET",
        "/api/deposits/requirement",
        None,
        (401, 200, 200, 200, 200, 200, 200),
    ),
    "deposit cancel": (
        "POST",
        "/api/deposits/{held_deposit}/cancel",
        None,
        (401, 404, 404, 404, 404, 409, 409),
    ),
    "deposits admin": ("GET", "/api/admin/deposits", None, (401, 403, 403, 403, 403, 403, 200)),
    "deposit confirm": (
        "POST",
        "/api/admin/deposits/{held_deposit}/confirm",
        None,
        (401, 403, 403, 403, 403, 403, 200),
    ),
    "deposit refund": (
        "POST",
        "/api/admin/deposits/{pending_deposit}/refund",
        {},
        (401, 403, 403, 403, 403, 403, 409),
    ),
    "forfeit": ("POST", "/api/admin/bonds/forfeit", "FORFEIT", (401, 403, 403, 403, 403, 403, 409)),
    "festival create": ("POST", "/api/festivals", FESTIVAL, (401, 403, 403, 403, 403, 403, 201)),
    "festival list": ("GET", "/api/festivals", None, (401, 200, 200, 200, 200, 200, 200)),
    "festival one": ("GET", "/api/festivals/{festival}", None, (401, 200, 200, 200, 200, 200, 200)),
    "rfq create": ("POST", "/api/rfqs", "RFQ", (401, 201, 201, 403, 403, 403, 403)),
    "rfq list": ("GET", "/api/rfqs", None, (401, 200, 200, 200, 200, 200, 200)),
    "rfq draft": ("GET", "/api/rfqs/{draft}", None, (401, 200, 404, 404, 404, 404, 200)),
    "rfq public": ("GET", "/api/rfqs/{published}", None, (401, 200, 404, 200, 200, 200, 200)),
    "rfq patch": (
        "PATCH",
        "/api/rfqs/{draft}",
        {"description": "more"},
        (401, 200, 404, 404, 404, 404, 403),
    ),
    "rfq publish": (
        "POST",
        "/api/rfqs/{published}/publish",
        None,
        (401, 409, 404, 404, 404, 404, 403),
    ),
    "rfq cancel": (
        "POST",
        "/api/rfqs/{cancelled}/cancel",
        {"reason": "again"},
        (401, 409, 404, 404, 404, 404, 409),
    ),
    "rfq history": ("GET", "/api/rfqs/{draft}/history", None, (401, 200, 404, 404, 404, 404, 200)),
    "invite": (
        "POST",
        "/api/rfqs/{draft}/invitations",
        "INVITE",
        (401, 201, 404, 404, 404, 404, 201),
    ),
    "invitations": (
        "GET",
        "/api/rfqs/{draft}/invitations",
        None,
        (401, 200, 404, 404, 404, 404, 200),
    ),
    "join": ("POST", "/api/rfqs/{published}/join", None, (401, 403, 404, 409, 201, 201, 403)),
    "notifications": ("GET", "/api/notifications", None, (401, 200, 200, 200, 200, 200, 200)),
    "matching": ("GET", "/api/admin/matching", None, (401, 403, 403, 403, 403, 403, 200)),
}


def _body(spec: Any, world: World) -> Any:
    if spec == "CERT":
        return {
            "uscc": uscc_for(777),
            "company_name": "X",
            "categories": ["tools"],
            "documents": [{"kind": "business_licence", "file_id": world.ids["file"]}],
        }
    if spec == "RFQ":
        return rfq_body()
    if spec == "INVITE":
        return {"supplier_company_id": world.ids["approved_company"]}
    if spec == "FORFEIT":
        return {
            "company_id": world.ids["deposit_company"],
            "rfq_id": world.ids["draft"],
            "reason": "test",
        }
    return spec


@pytest.mark.parametrize("row", list(MATRIX))
def test_authorization_matrix(row: str, world: World, live: LiveServer) -> None:
    """Each role gets exactly the status the expected table says for this endpoint."""
    authz.check(live.url, MATRIX[row], world, _body)
