"""Worlds built through the public HTTP API as real users would build them: the one
builder of the demo festival (``rfq/demo.py``), the tests' suppliers (``tests/support.py``)
and the load test.

The steps (:func:`register`, :func:`certify`, :func:`fund`, :func:`festival`,
:func:`publish`) speak the API over the standard library's HTTP client (:class:`Api`),
so the demo needs nothing beyond the base install.

`build` makes a load test's festival: it registers the buyers and suppliers, has every
supplier certified (document upload, application, an operator's approval) and funded
(a deposit the operator confirms), has the operator create a festival, and has each
buyer publish RFQs into it whose lots open together a little later. Suppliers are
grouped by category: every supplier of a group is matched to every lot of its group's
RFQs, so each lot has ``suppliers_per_lot`` bidders and each supplier bids in
``lots_per_group`` lots.

`cross_check` reads every lot's bids back through ``GET /api/auctions/{id}/bids`` and
returns the acknowledged bids that the database does not hold (there must be none).
"""

from __future__ import annotations

import itertools
import json
import secrets
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

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


class Api:
    """A JSON client of the API as one caller (standard library only)."""

    def __init__(self, base: str, token: str | None = None, timeout_s: float = 60) -> None:
        self.base, self.token, self.timeout_s = base.rstrip("/"), token, timeout_s

    def as_caller(self, token: str) -> Api:
        """The same server, as the holder of ``token``."""
        return Api(self.base, token, self.timeout_s)

    def call(self, method: str, path: str, body: object | None = None) -> tuple[int, Any]:
        """The status and JSON answer of one request."""
        data = json.dumps(body).encode() if body is not None else None
        return self._send(method, path, data, "application/json")

    def ok(self, method: str, path: str, body: object | None = None) -> Any:
        """The JSON answer of a request that must succeed (else `SetupFailed`)."""
        status, answer = self.call(method, path, body)
        if status >= 300:
            raise SetupFailed(f"{method} {path}: {status} {str(answer)[:300]}")
        return answer

    def upload(self, name: str, content: bytes, kind: str = "application/pdf") -> str:
        """Upload a file; its id."""
        boundary = secrets.token_hex(8)
        data = (
            (
                f"--{boundary}\r\n"
                f'Content-Disposition: form-data; name="file"; filename="{name}"\r\n'
                f"Content-Type: {kind}\r\n\r\n"
            ).encode()
            + content
            + f"\r\n--{boundary}--\r\n".encode()
        )
        status, answer = self._send(
            "POST", "/api/files", data, f"multipart/form-data; boundary={boundary}"
        )
        if status != 201:
            raise SetupFailed(f"POST /api/files: {status} {str(answer)[:300]}")
        return str(answer["file_id"])

    def _send(self, method: str, path: str, data: bytes | None, kind: str) -> tuple[int, Any]:
        request = urllib.request.Request(self.base + path, data=data, method=method)
        request.add_header("Content-Type", kind)
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        try:
            # the URL is the caller's own server (the demo's, a test's, the load test's)
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:  # nosec B310
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"null")


# --- the steps ------------------------------------------------------------------------


def login(api: Api, email: str, password: str) -> Api:
    """``api``'s server as the user with these credentials."""
    answer = api.ok("POST", "/api/auth/login", {"email": email, "password": password})
    return api.as_caller(str(answer["token"]))


def register(api: Api, role: str, email: str, company_name: str, password: str) -> dict[str, Any]:
    """A new company and its first user; the registration's answer (token, company...)."""
    body = {"email": email, "password": password, "company_name": company_name, "role": role}
    answer: dict[str, Any] = api.ok("POST", "/api/auth/register", body)
    return {**answer, "email": email}


def uscc(n: int) -> str:
    """A valid unified social credit code, different for each ``n`` below 10**9."""
    body = f"91440300{n % 10**9:09d}"
    return body + check_character(body)


def apply(
    supplier: Api,
    *,
    company_name: str,
    code: str,
    categories: list[str],
    keywords: list[str] | None = None,
) -> dict[str, Any]:
    """The supplier applies for certification with an uploaded business licence."""
    file_id = supplier.upload("business-licence.pdf", PDF)
    body = {
        "uscc": code,
        "company_name": company_name,
        "categories": categories,
        "keywords": keywords or [],
        "documents": [{"kind": "business_licence", "file_id": file_id}],
    }
    answer: dict[str, Any] = supplier.ok("POST", "/api/certification", body)
    return answer


def certify(operator: Api, supplier: Api, level: int = 2, **application: Any) -> dict[str, Any]:
    """:func:`apply`, then the operator approves at ``level``; the certification."""
    applied = apply(supplier, **application)
    approved: dict[str, Any] = operator.ok(
        "POST", f"/api/admin/certifications/{applied['id']}/approve", {"level": level}
    )
    return approved


def fund(operator: Api, supplier: Api, amount: int) -> dict[str, Any]:
    """The supplier posts a deposit of ``amount`` and the operator confirms it."""
    deposit = supplier.ok("POST", "/api/deposits", {"amount": amount})
    confirmed: dict[str, Any] = operator.ok("POST", f"/api/admin/deposits/{deposit['id']}/confirm")
    return confirmed


def festival(operator: Api, **body: Any) -> dict[str, Any]:
    """The operator creates a festival (``name``, ``starts_at``, ``ends_at``...)."""
    made: dict[str, Any] = operator.ok("POST", "/api/festivals", body)
    return made


def publish(buyer: Api, body: dict[str, Any]) -> dict[str, Any]:
    """The buyer drafts an RFQ and publishes it; the published RFQ with its lots."""
    rfq = buyer.ok("POST", "/api/rfqs", body)
    published: dict[str, Any] = buyer.ok("POST", f"/api/rfqs/{rfq['id']}/publish")
    return published


# --- a load test's festival -----------------------------------------------------------


def build(host: str, operator_email: str, operator_password: str, plan: Plan) -> World:
    """Create the whole world through the API; the lots open ``plan.lead_s`` from now."""
    operator = login(Api(host), operator_email, operator_password)
    codes = [c["code"] for c in operator.ok("GET", "/api/categories")][: plan.groups]
    if len(codes) < plan.groups:
        raise SetupFailed(f"only {len(codes)} categories exist; asked for {plan.groups}")
    buyers = _parallel(lambda g: _company(operator, "buyer", g), range(plan.groups))
    supplier_slots = list(itertools.product(range(plan.groups), range(plan.suppliers_per_lot)))
    suppliers = _parallel(lambda slot: _supplier(operator, codes[slot[0]], slot[0]), supplier_slots)
    now = datetime.now(UTC).replace(microsecond=0)
    opens = now + timedelta(seconds=plan.lead_s)
    closes = opens + timedelta(seconds=plan.lot_s)
    latest = closes + timedelta(seconds=plan.extend_s * plan.max_extensions)
    made = festival(
        operator,
        name=f"Load test festival {uuid.uuid4().hex[:6]}",
        starts_at=(opens - timedelta(minutes=1)).isoformat(),
        ends_at=(latest + timedelta(hours=1)).isoformat(),
        categories=codes,
        organisers=[b["company_id"] for b in buyers],
    )
    rfqs = [(g, n) for g in range(plan.groups) for n in range(plan.lots_per_group // LOTS_PER_RFQ)]
    published = _parallel(
        lambda gn: _rfq(operator, buyers[gn[0]], codes[gn[0]], made["id"], gn, opens, plan),
        rfqs,
    )
    world = World(
        host=host,
        festival_id=made["id"],
        opens_at_ms=int(opens.timestamp() * 1000),
        closes_at_ms=int(closes.timestamp() * 1000),
        latest_close_ms=int(latest.timestamp() * 1000),
        window_s=plan.window_s,
        operator=operator.token or "",
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


@dataclass
class Market:
    """A benchmark's world: a buyer, funded certified suppliers, and one RFQ's lots."""

    buyer: dict[str, Any]
    suppliers: list[dict[str, Any]]
    auctions: list[int]
    opens_at: datetime


def market(
    host: str, operator_email: str, operator_password: str, *, suppliers: int, lots: int,
    lead_s: float,
) -> Market:  # fmt: skip
    """A buyer, ``suppliers`` certified and funded suppliers, and one public RFQ of ``lots``
    reverse English lots (rank only, decrement 1, ceiling 100,000.00) that every supplier
    is matched to, opening ``lead_s`` seconds after it is published and running an hour."""
    operator = login(Api(host), operator_email, operator_password)
    buyer = _company(operator, "buyer", 0)
    made = _parallel(lambda n: _supplier(operator, "fasteners", n), range(suppliers))
    opens = datetime.now(UTC) + timedelta(seconds=lead_s)
    lot = {
        "quantity": 1_000,
        "unit": "pcs",
        "ceiling_price": 10_000_000,
        "rules": {
            "format": "reverse_english",
            "visibility": "rank_only",
            "decrement": {"amount": 1},
            "decrement_from": "own",
            "ties": "earlier_wins",
        },
    }
    published = publish(
        operator.as_caller(buyer["token"]),
        {
            "title": "Benchmark RFQ",
            "category": "fasteners.bolts",
            "currency": "CNY",
            "starts_at": opens.isoformat(),
            "ends_at": (opens + timedelta(hours=1)).isoformat(),
            "lots": [{**lot, "name": f"Lot {n + 1}"} for n in range(lots)],
        },
    )
    auctions = [int(x["auction_id"]) for x in published["lots"]]
    return Market(buyer, made, auctions, opens)


def cross_check(host: str, token: str, acked: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The acknowledged bids (``auction``, ``bid_id``, ``price``) missing from the database
    or stored with another price."""
    by_auction: dict[int, list[dict[str, Any]]] = {}
    for ack in acked:
        by_auction.setdefault(int(ack["auction"]), []).append(ack)
    missing: list[dict[str, Any]] = []
    api = Api(host, token, timeout_s=120)
    for auction_id, acks in sorted(by_auction.items()):
        rows = api.ok("GET", f"/api/auctions/{auction_id}/bids")
        stored = {b["bid_id"]: b["price"] for b in rows}
        missing += [a for a in acks if stored.get(a["bid_id"]) != a["price"]]
    return missing


def _company(api: Api, role: str, n: int) -> dict[str, Any]:
    tag = uuid.uuid4().hex[:8]
    email = f"load-{role}-{n}-{tag}@example.com"
    data = register(api, role, email, f"Load {role} {n} {tag}", PASSWORD)
    return {
        "token": data["token"],
        "company_id": data["company"]["id"],
        "user_id": data["user"]["id"],
        "email": email,
        "auctions": [],
    }


def _supplier(operator: Api, category: str, group: int) -> dict[str, Any]:
    supplier = _company(operator, "supplier", group)
    caller = operator.as_caller(supplier["token"])
    company_id = supplier["company_id"]
    certify(
        operator,
        caller,
        company_name=f"Load supplier {company_id}",
        code=uscc(company_id * 7919),
        categories=[category],
    )
    fund(operator, caller, 100_000_000)
    return {**supplier, "group": group}


def _rfq(
    api: Api,
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
    published = publish(
        api.as_caller(buyer["token"]),
        {
            "title": f"Load RFQ {group}.{n}",
            "category": category,
            "currency": "CNY",
            "festival_id": festival_id,
            "starts_at": opens.isoformat(),
            "ends_at": (opens + timedelta(seconds=plan.lot_s)).isoformat(),
            "lots": lots,
        },
    )
    return [
        {
            "id": lot["auction_id"],
            "ceiling": CEILING,
            "decrement": DECREMENT,
            "visibility": spec["rules"]["visibility"],
        }
        for lot, spec in zip(published["lots"], lots, strict=True)
    ]


def _parallel(fn: Callable[[Any], T], items: Iterable[Any]) -> list[T]:
    """``fn`` over ``items`` on 8 threads (the server hashes passwords), in order."""
    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(fn, items))
