"""``rfq demo``: a live brand procurement festival with known logins.

:func:`seed` creates the accounts (an operator, two buyers, five suppliers). Once the
app answers, a background thread stages the festival through the real HTTP API —
certifies four suppliers and confirms their deposits, leaves the fifth's application
in the operator's queue, creates the festival and publishes five RFQs whose auctions
open five seconds later, each with a specification document (one closes after three
minutes, ready to award: its award
form shows each bidder's badge and score; the certified suppliers hold levels 3, 2 and
1, so the badges differ), a sixth that takes pre-bids and opens ten minutes later with
supplier 2's pre-bid in it, and one question of supplier 2's on the first RFQ that the
buyer has answered — and
suppliers 2 to 4 then bid every few seconds; supplier 1 is left for the person trying
the demo. Everything is idempotent: running the demo again on the same data dir keeps
what is there and adds only what is missing.
"""

from __future__ import annotations

import logging
import random
import secrets
import threading
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from typing import Any

from loadtests import world
from loadtests.world import Api
from rfq import accounts
from rfq.accounts import CompanyKind, RegisterCreate
from rfq.platform import db
from rfq.platform.settings import Settings

log = logging.getLogger("rfq.demo")

PASSWORD = "festival-demo-2026"

OPERATOR = "operator@demo.example.com"
BUYERS = (
    ("buyer@demo.example.com", "Hangzhou Motor Works"),
    ("buyer2@demo.example.com", "Shenzhen Appliance Group"),
)
SUPPLIERS = (
    ("supplier1@demo.example.com", "Ningbo Fastener Co."),
    ("supplier2@demo.example.com", "Wenzhou Bolt Industries"),
    ("supplier3@demo.example.com", "Suzhou Precision Parts"),
    ("supplier4@demo.example.com", "Foshan Steel Components"),
    ("supplier5@demo.example.com", "Dongguan Spring Works"),
)
CERTIFIED = 4
"""Suppliers 1 to 4 are certified with a deposit; 5 waits in the certification queue."""


def seed(settings: Settings) -> list[tuple[str, str]]:
    """Create the demo accounts that do not exist yet; return ``(role, email)`` of all."""
    database = db.Database(settings.database_url)
    password_hash = accounts.hash_password(PASSWORD)
    try:
        with database.session() as session:
            if accounts.find_user(session, OPERATOR) is None:
                accounts.create_operator(session, OPERATOR, PASSWORD)
            for kind, people in ((CompanyKind.buyer, BUYERS), (CompanyKind.supplier, SUPPLIERS)):
                for email, company in people:
                    if accounts.find_user(session, email) is None:
                        body = RegisterCreate(
                            email=email, password=PASSWORD, company_name=company, role=kind
                        )
                        accounts.register(session, body, password_hash)
            session.commit()
    finally:
        database.dispose()
    return [
        ("operator", OPERATOR),
        *(("buyer", email) for email, _ in BUYERS),
        *(("supplier", email) for email, _ in SUPPLIERS),
    ]


# --- the live part: a festival, RFQs and simulated bidders, through the HTTP API ------

FESTIVAL = "Spring brand procurement festival"
_LOTS = (  # name, category, quantity, unit, ceiling, minutes
    ("M8x40 hex bolts, grade 8.8", "fasteners.bolts", 10_000, "pcs", 120, 20),
    ("M8 hex nuts, zinc plated", "fasteners.nuts", 20_000, "pcs", 35, 25),
    ("6204-2RS deep groove ball bearings", "bearings.ball", 2_000, "pcs", 1_850, 30),
    ("M6x20 hex socket screws", "fasteners.bolts", 50_000, "pcs", 60, 3),
    ("6205-ZZ ball bearings (japanese clock)", "bearings.ball", 1_000, "pcs", 2_400, 20),
)
_CLOCK = {"start_price": 2_400, "step": 50, "interval_s": 45, "end_price": 1_900}
"""The last lot's clock: 2,400 falling by 50 every 45 s to 1,900 (11 levels, 8.25 min)."""
PRE_BID_LOT = "M10 flat washers (pre-bids, opens in 10 minutes)"
"""A lot that takes pre-bids: supplier 2 has placed one; it opens ten minutes after the
others and runs twenty."""
QUESTION = "May the bolts ship in two partial deliveries, two weeks apart?"
ANSWER = "Yes: two deliveries of 5,000 pcs, the second within 14 days of the first."


def login(base: str, email: str) -> Api:
    """An API client logged in as a demo account."""
    return world.login(Api(base, timeout_s=10), email, PASSWORD)


def stage(base: str) -> tuple[int, list[int]]:
    """Certify and fund the suppliers, open the festival and publish its RFQs (once);
    return the festival id and the live or scheduled auction ids."""
    operator = login(base, OPERATOR)
    suppliers = [login(base, email) for email, _ in SUPPLIERS]
    for n, (supplier, (_, company)) in enumerate(zip(suppliers, SUPPLIERS, strict=True)):
        status, _ = supplier.call("GET", "/api/certification")
        if status != 404:
            continue
        application: dict[str, Any] = {
            "company_name": company,
            "code": world.uscc(7_000_000 + n),
            "categories": ["fasteners", "bearings"],
            "keywords": ["bolt", "bearing"],
        }
        if n >= CERTIFIED:
            world.apply(supplier, **application)
            continue
        world.certify(operator, supplier, level=3 - n % 3, **application)  # mixed badges
        world.fund(operator, supplier, 2_000_000)
    buyer = login(base, BUYERS[0][0])
    _, festivals = buyer.call("GET", "/api/festivals")
    now = datetime.now(UTC)
    festival = next(
        (f for f in festivals if f["name"] == FESTIVAL and f["ends_at"] > now.isoformat()), None
    )
    if festival is None:
        festival = world.festival(
            operator,
            name=FESTIVAL,
            theme="Fasteners and bearings for the spring production run",
            starts_at=now.isoformat(),
            ends_at=(now + timedelta(days=2)).isoformat(),
            categories=["fasteners", "bearings"],
        )
    _, report = buyer.call("GET", f"/api/festivals/{festival['id']}")
    live = [lot["auction_id"] for lot in report["lots"] if lot["state"] in ("scheduled", "live")]
    if live:
        return festival["id"], live
    start = now + timedelta(seconds=5)
    ids, rfqs = [], []
    for n, (name, category, quantity, unit, ceiling, minutes) in enumerate(_LOTS):
        rules: dict[str, Any] = {
            "format": "reverse_english",
            "visibility": ("rank_only", "best_price", "full_ladder")[n % 3],
            "decrement": {"amount": 1},
            "decrement_from": "own",
            "ties": "earlier_wins",
            "soft_close": {"window_s": 60, "extend_s": 60, "trigger": "any", "max_extensions": 5},
        }
        if "clock" in name:
            rules = {"format": "japanese", "visibility": "rank_only", "clock": _CLOCK}
        published = world.publish(
            buyer,
            {
                "title": name,
                "category": category,
                "currency": "CNY",
                "festival_id": festival["id"],
                "bid_bond": 50_000,
                "starts_at": start.isoformat(),
                "ends_at": (start + timedelta(minutes=minutes)).isoformat(),
                "lots": [
                    {
                        "name": name,
                        "quantity": quantity,
                        "unit": unit,
                        "ceiling_price": ceiling,
                        "reserve_price": ceiling * 85 // 100,
                        "rules": rules,
                    }
                ],
            },
        )
        ids.append(published["lots"][0]["auction_id"])
        rfqs.append(published["id"])
        spec = buyer.upload(f"spec-{n + 1}.pdf", _spec_pdf(name))
        buyer.ok(
            "POST",
            f"/api/rfqs/{published['id']}/documents",
            {"file_id": spec, "title": f"Specification: {name}", "kind": "specification"},
        )
    ids.append(_pre_bid_lot(buyer, suppliers[1], festival["id"], now))
    asked = suppliers[1].ok("POST", f"/api/rfqs/{rfqs[0]}/questions", {"question": QUESTION})
    buyer.ok("POST", f"/api/rfqs/{rfqs[0]}/questions/{asked['id']}/answer", {"answer": ANSWER})
    return festival["id"], ids


def _pre_bid_lot(buyer: Api, supplier: Api, festival: int, now: datetime) -> int:
    """Publish the lot that takes pre-bids and place one supplier's pre-bid in it."""
    start = now + timedelta(minutes=10)
    rules = {"format": "reverse_english", "visibility": "best_price", "decrement": {"amount": 1},
             "pre_bids": True}  # fmt: skip
    lot = {"name": PRE_BID_LOT, "quantity": 30_000, "unit": "pcs", "ceiling_price": 25,
           "reserve_price": 21, "rules": rules}  # fmt: skip
    published = world.publish(
        buyer,
        {"title": PRE_BID_LOT, "category": "fasteners.nuts", "currency": "CNY",
         "festival_id": festival, "bid_bond": 50_000, "starts_at": start.isoformat(),
         "ends_at": (start + timedelta(minutes=20)).isoformat(), "lots": [lot]},
    )  # fmt: skip
    auction = int(published["lots"][0]["auction_id"])
    supplier.ok("POST", f"/api/auctions/{auction}/bids", {"price": 23, "key": "demo-pre-bid"})
    return auction


def _spec_pdf(title: str) -> bytes:
    """A one-page PDF naming the lot: the demo's specification documents."""
    text = title.replace("\\", "").replace("(", "").replace(")", "")
    stream = f"BT /F1 14 Tf 72 760 Td (Specification: {text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for i, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def simulate(base: str, stop: threading.Event, pause_s: float = 3.0) -> None:
    """Simulated suppliers bid in the demo's auctions until ``stop`` is set: each, now and
    then, undercuts its own last bid by a few steps, down to a floor of its own; in a
    clock auction each accepts every level down to its floor."""
    rng = random.Random()
    try:
        festival, auctions = stage(base)
    except (OSError, RuntimeError) as exc:
        log.warning("demo: could not stage the festival: %s", exc)
        return
    print(f"\nFestival control room: {base}/festivals/{festival}", flush=True)
    for auction in auctions:
        print(f"  auction {auction}: {base}/auctions/{auction}", flush=True)
    bidders = [login(base, email) for email, _ in SUPPLIERS[1:CERTIFIED]]
    floors = {(a, n): rng.randint(70, 85) for a in auctions for n in range(len(bidders))}
    clocks = {a for a in auctions if "clock" in bidders[0].call("GET", f"/api/auctions/{a}")[1]}
    priced = [a for a in auctions if a not in clocks] or auctions
    while not stop.wait(pause_s * rng.uniform(0.5, 1.5)):
        try:
            for auction in clocks:
                _accept_levels(bidders, auction, floors, rng)
            _undercut(bidders, rng.choice(priced), floors, rng)
        except OSError as exc:  # the app restarting or busy: try again next round
            log.warning("demo: a simulated call failed: %s", exc)


def _undercut(
    bidders: list[Api], auction: int, floors: dict[tuple[int, int], int], rng: random.Random
) -> None:
    """One simulated supplier, unless it leads, undercuts its own last bid a little."""
    n = rng.randrange(len(bidders))
    bidder = bidders[n]
    status, state = bidder.call("GET", f"/api/auctions/{auction}")
    if status != 200 or state["state"] != "live" or state.get("my_rank") == 1:
        return
    ceiling = state["ceiling_price"]
    mine = state.get("my_price") or ceiling + 1
    price = mine - rng.randint(1, max(1, ceiling // 40))
    if price < ceiling * floors[(auction, n)] // 100:
        return
    bidder.call(
        "POST", f"/api/auctions/{auction}/bids", {"price": price, "key": secrets.token_hex(8)}
    )


def _accept_levels(
    bidders: list[Api], auction: int, floors: dict[tuple[int, int], int], rng: random.Random
) -> None:
    """Every simulated supplier still in a clock accepts its level unless the price fell
    below its floor (a share of the clock's start price)."""
    for n, bidder in enumerate(bidders):
        status, state = bidder.call("GET", f"/api/auctions/{auction}")
        clock = state.get("clock") if status == 200 else None
        if not clock or not clock["may_accept"] or rng.random() < 0.2:
            continue  # out, done, or accepts on a later look (20%)
        if clock["price"] * 100 >= clock["start_price"] * floors[(auction, n)]:
            key = secrets.token_hex(8)
            body = {"price": clock["price"], "key": key}
            bidder.call("POST", f"/api/auctions/{auction}/bids", body)


def start_simulation(base: str) -> threading.Event:
    """Run :func:`simulate` in a daemon thread once the app answers; set the event to stop."""
    stop = threading.Event()

    def run() -> None:
        for _ in range(600):
            if stop.is_set():
                return
            try:
                with urllib.request.urlopen(base + "/readyz", timeout=2):  # nosec B310
                    break
            except OSError:
                stop.wait(0.1)
        simulate(base, stop)

    threading.Thread(target=run, name="demo-bidders", daemon=True).start()
    return stop
