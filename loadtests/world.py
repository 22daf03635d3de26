"""A load test's world, built through the public HTTP API as real users would build it.

`build` registers the buyers and suppliers, has every supplier certified (document
upload, application, an operator's approval) and funded (a deposit the operator
confirms), has the operator create a festival, and has each buyer publish RFQs into it
whose lots open together a little later. Suppliers are grouped by category: every
supplier of a group is matched to every lot of its group's RFQs, so each lot has
``suppliers_per_lot`` bidders and each supplier bids in ``lots_per_group`` lots.

`cross_check` reads every lot's bids back through ``GET /api/auctions/{id}/bids`` and
returns the acknowledged bids that the database does not hold (there must be none).
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import httpx

from rfq.uscc import check_character

PASSWORD = "load test password 1"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
VISIBILITIES = ("rank_only", "best_price", "full_ladder")
LOTS_PER_RFQ = 5
CEILING = 100_000  # 1,000.00 CNY per unit
DECREMENT = 100

T = TypeVar("T")


@dataclass(frozen=True)
class Plan:
    """The size and timing of a festival."""

    groups: int  # categories; one buyer per group
    suppliers_per_lot: int
    lots_per_group: int  # a multiple of LOTS_PER_RFQ
    lead_s: float  # from publishing to the lots' opening
    lot_s: int  # how long each lot runs before overtime
    window_s: int  # soft close: a bid in the last window_s seconds extends...
    extend_s: int  # ...by extend_s seconds...
    max_extensions: int  # ...at most this many times


@dataclass
class World:
    """What the locust users need; written to ``world.json`` for the locust process."""

    host: str
    festival_id: int
    opens_at_ms: int
    closes_at_ms: int
    latest_close_ms: int  # with every extension used
    window_s: int
    operator: str
    buyers: list[dict[str, Any]] = field(default_factory=list)
    suppliers: list[dict[str, Any]] = field(default_factory=list)
    auctions: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        """A plain dict for ``json.dump``."""
        return asdict(self)


class SetupFailed(RuntimeError):
    """An API call of the setup was refused."""


def build(host: str, operator_email: str, operator_password: str, plan: Plan) -> World:
    """Create the whole world through the API; the lots open ``plan.lead_s`` from now."""
    with httpx.Client(base_url=host, timeout=60) as http:
        operator = _login(http, operator_email, operator_password)
        codes = [c["code"] for c in _ok(http.get("/api/categories"))][: plan.groups]
        if len(codes) < plan.groups:
            raise SetupFailed(f"only {len(codes)} categories exist; asked for {plan.groups}")
        buyers = _parallel(lambda g: _company(http, "buyer", g), range(plan.groups))
        supplier_slots = list(itertools.product(range(plan.groups), range(plan.suppliers_per_lot)))
        suppliers = _parallel(
            lambda slot: _supplier(http, operator, codes[slot[0]], slot[0]), supplier_slots
        )
        now = datetime.now(UTC).replace(microsecond=0)
        opens = now + timedelta(seconds=plan.lead_s)
        closes = opens + timedelta(seconds=plan.lot_s)
        latest = closes + timedelta(seconds=plan.extend_s * plan.max_extensions)
        festival = _ok(
            http.post(
                "/api/festivals",
                json={
                    "name": f"Load test festival {uuid.uuid4().hex[:6]}",
                    "starts_at": (opens - timedelta(minutes=1)).isoformat(),
                    "ends_at": (latest + timedelta(hours=1)).isoformat(),
                    "categories": codes,
                    "organisers": [b["company_id"] for b in buyers],
                },
                headers=_bearer(operator),
            )
        )
        rfqs = [
            (g, n) for g in range(plan.groups) for n in range(plan.lots_per_group // LOTS_PER_RFQ)
        ]
        published = _parallel(
            lambda gn: _publish(http, buyers[gn[0]], codes[gn[0]], festival["id"], gn, opens, plan),
            rfqs,
        )
        world = World(
            host=host,
            festival_id=festival["id"],
            opens_at_ms=int(opens.timestamp() * 1000),
            closes_at_ms=int(closes.timestamp() * 1000),
            latest_close_ms=int(latest.timestamp() * 1000),
            window_s=plan.window_s,
            operator=operator,
        )
        for (g, _), lots in zip(rfqs, published, strict=True):
            for lot in lots:
                world.auctions.append({**lot, "group": g, "buyer": g})
                buyers[g]["auctions"].append(lot["id"])
        for supplier in suppliers:
            group_lots = [a["id"] for a in world.auctions if a["group"] == supplier["group"]]
            supplier["auctions"] = group_lots
        world.buyers, world.suppliers = buyers, suppliers
        return world


def cross_check(host: str, token: str, acked: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The acknowledged bids (``auction``, ``bid_id``, ``price``) missing from the database
    or stored with another price."""
    by_auction: dict[int, list[dict[str, Any]]] = {}
    for ack in acked:
        by_auction.setdefault(int(ack["auction"]), []).append(ack)
    missing: list[dict[str, Any]] = []
    with httpx.Client(base_url=host, timeout=120, headers=_bearer(token)) as http:
        for auction_id, acks in sorted(by_auction.items()):
            rows = _ok(http.get(f"/api/auctions/{auction_id}/bids"))
            stored = {b["bid_id"]: b["price"] for b in rows}
            missing += [a for a in acks if stored.get(a["bid_id"]) != a["price"]]
    return missing


# --- the steps ------------------------------------------------------------------------


def _company(http: httpx.Client, role: str, n: int) -> dict[str, Any]:
    email = f"load-{role}-{n}-{uuid.uuid4().hex[:8]}@example.com"
    data = _ok(
        http.post(
            "/api/auth/register",
            json={
                "email": email,
                "password": PASSWORD,
                "company_name": f"Load {role} {n} {uuid.uuid4().hex[:6]}",
                "role": role,
            },
        )
    )
    return {"token": data["token"], "company_id": data["company"]["id"], "auctions": []}


def _supplier(http: httpx.Client, operator: str, category: str, group: int) -> dict[str, Any]:
    supplier = _company(http, "supplier", group)
    auth = _bearer(supplier["token"])
    upload = _ok(http.post("/api/files", files={"file": ("licence.pdf", PDF)}, headers=auth))
    body = f"91440300{supplier['company_id'] * 7919 % 10**9:09d}"
    applied = _ok(
        http.post(
            "/api/certification",
            json={
                "uscc": body + check_character(body),
                "company_name": f"Load supplier {supplier['company_id']}",
                "categories": [category],
                "documents": [{"kind": "business_licence", "file_id": upload["file_id"]}],
            },
            headers=auth,
        )
    )
    _ok(
        http.post(
            f"/api/admin/certifications/{applied['id']}/approve",
            json={"level": 2},
            headers=_bearer(operator),
        )
    )
    deposit = _ok(http.post("/api/deposits", json={"amount": 100_000_000}, headers=auth))
    _ok(http.post(f"/api/admin/deposits/{deposit['id']}/confirm", headers=_bearer(operator)))
    return {**supplier, "group": group}


def _publish(
    http: httpx.Client,
    buyer: dict[str, Any],
    category: str,
    festival_id: int,
    gn: tuple[int, int],
    opens: datetime,
    plan: Plan,
) -> list[dict[str, Any]]:
    """One RFQ of ``LOTS_PER_RFQ`` lots; returns each lot's auction id and rules."""
    group, n = gn
    lots: list[dict[str, Any]] = []
    for k in range(LOTS_PER_RFQ):
        visibility = VISIBILITIES[(n * LOTS_PER_RFQ + k) % len(VISIBILITIES)]
        lots.append(
            {
                "name": f"Lot {k + 1}",
                "quantity": 1_000,
                "unit": "pcs",
                "ceiling_price": CEILING,
                "rules": {
                    "format": "reverse_english",
                    "visibility": visibility,
                    "decrement": {"amount": DECREMENT},
                    "decrement_from": "own",
                    "ties": "earlier_wins",
                    "soft_close": {
                        "window_s": plan.window_s,
                        "extend_s": plan.extend_s,
                        "trigger": "any",
                        "max_extensions": plan.max_extensions,
                    },
                },
            }
        )
    auth = _bearer(buyer["token"])
    rfq = _ok(
        http.post(
            "/api/rfqs",
            json={
                "title": f"Load RFQ {group}.{n}",
                "category": category,
                "currency": "CNY",
                "festival_id": festival_id,
                "starts_at": opens.isoformat(),
                "ends_at": (opens + timedelta(seconds=plan.lot_s)).isoformat(),
                "lots": lots,
            },
            headers=auth,
        )
    )
    published = _ok(http.post(f"/api/rfqs/{rfq['id']}/publish", headers=auth))
    return [
        {
            "id": lot["auction_id"],
            "ceiling": CEILING,
            "decrement": DECREMENT,
            "visibility": spec["rules"]["visibility"],
        }
        for lot, spec in zip(published["lots"], lots, strict=True)
    ]


# --- helpers --------------------------------------------------------------------------


def _login(http: httpx.Client, email: str, password: str) -> str:
    body = {"email": email, "password": password}
    return str(_ok(http.post("/api/auth/login", json=body))["token"])


def _ok(response: httpx.Response) -> Any:
    if response.status_code >= 300:
        raise SetupFailed(
            f"{response.request.method} {response.request.url.path}: "
            f"{response.status_code} {response.text[:300]}"
        )
    return response.json()


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _parallel(fn: Callable[[Any], T], items: Iterable[Any]) -> list[T]:
    """``fn`` over ``items`` on 8 threads (the server hashes passwords), in order."""
    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(fn, items))
