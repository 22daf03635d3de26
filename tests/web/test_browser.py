"""The pages in a real Chromium (Debian's, driven by Playwright) against a real uvicorn.

Two suppliers bid against each other in two browser contexts while the buyer watches
the live monitor; the server is then restarted under the open pages, which must show
that they are reconnecting and resume without a reload. Screenshots of the main pages
go to ``test-artifacts/screenshots/``.
"""

from __future__ import annotations

import contextlib
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from rfq.platform.settings import Settings
from tests.conftest import make_settings
from tests.support import (
    PASSWORD,
    PDF,
    bearer,
    certified_supplier,
    clock_auction,
    live_auction,
    operator_token,
    place_bid,
    register,
    rfq_body,
    run_server,
    uscc_for,
    wait_for,
    wait_state,
)

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]
SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is missing: .ci/run installs it with apt-get install -y chromium")
    with sync_playwright() as p:
        found = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield found
        found.close()


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory, redis_prefix: str) -> Settings:
    data_dir = tmp_path_factory.mktemp("browser")
    return make_settings(
        data_dir, f"sqlite:///{data_dir / 'rfq.sqlite3'}", f"{redis_prefix}{uuid.uuid4().hex[:6]}:"
    )


def _logged_in(browser: Browser, url: str, email: str, **options: Any) -> BrowserContext:
    context = browser.new_context(base_url=url, **options)
    answer = context.request.post("/api/auth/login", data={"email": email, "password": PASSWORD})
    assert answer.ok, answer.text()
    return context


def _shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def _bid(page: Page, price: str) -> None:
    page.get_by_label("Bid price").fill(price)
    page.get_by_role("button", name="Place bid").click()


def _rows(page: Page) -> Any:
    return page.get_by_role("table", name="Live bids").locator("tbody tr")


@contextlib.contextmanager
def _world(settings: Settings) -> Iterator[tuple[str, dict[str, Any], list[dict[str, Any]], int]]:
    with run_server(settings) as live, httpx.Client(base_url=live.url, timeout=30) as client:
        operator = operator_token(live)
        buyer = register(client, "buyer")
        suppliers = [certified_supplier(client, operator, ["fasteners"]) for _ in range(2)]
        auction_id = live_auction(client, buyer, seconds=600)
        yield live.url, buyer, suppliers, auction_id


def test_two_suppliers_bid_while_the_buyer_watches_and_pages_survive_a_restart(
    browser: Browser, settings: Settings
) -> None:
    """Bids from two browsers reach each other's rank and the buyer's table and chart
    without a reload; a rejected bid shows its reason; after a server restart every
    page says it is reconnecting, then resumes and keeps updating."""
    with _world(settings) as (url, buyer, suppliers, auction_id):
        port = int(url.rsplit(":", 1)[1])
        watcher = _logged_in(browser, url, buyer["email"])
        first = _logged_in(browser, url, suppliers[0]["email"])
        second = _logged_in(browser, url, suppliers[1]["email"])
        monitor, room1, room2 = watcher.new_page(), first.new_page(), second.new_page()
        errors: list[str] = []
        for page in (monitor, room1, room2):
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(f"/auctions/{auction_id}")
            expect(page.get_by_role("status").filter(has_text="Live")).to_be_visible()

        expect(room1.get_by_text("Bid at most 1.20 CNY: the ceiling price.")).to_be_visible()
        _bid(room1, "1.10")
        expect(room1.locator("#rank")).to_have_text("Rank 1")
        expect(_rows(monitor)).to_have_count(1)
        expect(_rows(monitor).first).to_contain_text("1.10")

        _bid(room2, "1.05")
        expect(room2.locator("#rank")).to_have_text("Rank 1")
        expect(room1.locator("#rank")).to_have_text("Rank 2")
        expect(_rows(monitor)).to_have_count(2)
        expect(_rows(monitor).first).to_contain_text("1.05")
        expect(monitor.locator("#chart circle")).to_have_count(2)
        expect(monitor.locator("#best-price")).to_have_text("1.05 CNY")
        expect(room1.get_by_text("your last bid minus the minimum decrement")).to_be_visible()

        _bid(room1, "1.30")
        expect(room1.locator("#bid-result")).to_contain_text("above the ceiling")
        _bid(room1, "abc")
        expect(room1.locator("#bid-result")).to_contain_text("Enter an amount like 9.50")
        expect(room1.locator("#rank")).to_have_text("Rank 2")
        _shot(room1, "bidding-room")
        _shot(monitor, "live-monitor")

    # The server is gone: every page shows it and keeps trying.
    for page in (monitor, room1, room2):
        expect(page.locator("#conn")).to_have_text("Reconnecting…")

    with run_server(settings, port=port):
        for page in (monitor, room1, room2):
            expect(page.locator("#conn")).to_have_text("Live")
        _bid(room1, "1.00")
        expect(room1.locator("#rank")).to_have_text("Rank 1")
        expect(room2.locator("#rank")).to_have_text("Rank 2")
        expect(_rows(monitor).first).to_contain_text("1.00")
        expect(monitor.locator("#chart circle")).to_have_count(3)
        for context in (watcher, first, second):
            context.close()
    assert errors == []


def test_pages_for_each_role_in_both_languages_at_phone_width(
    browser: Browser, settings: Settings
) -> None:
    """The dashboard, festival control room, RFQ builder and bidding room render for
    their roles, switch to Chinese, and fit a phone-width screen."""
    with _world(settings) as (url, buyer, suppliers, auction_id):
        with httpx.Client(base_url=url) as client:
            rfq_id = client.get(
                f"/api/auctions/{auction_id}", headers=bearer(buyer["token"])
            ).json()["rfq_id"]
        phone = {"viewport": {"width": 390, "height": 844}}
        supplier = _logged_in(browser, url, suppliers[0]["email"], **phone)
        page = supplier.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(f"/auctions/{auction_id}?lang=zh")
        expect(page.get_by_label("报价", exact=False).first).to_be_visible()
        expect(page.locator("#conn")).to_have_text("实时")
        page.get_by_role("textbox", name=re.compile("报价")).first.fill("1.15")
        page.get_by_role("button", name="提交报价").click()
        expect(page.locator("#rank")).to_have_text("第 1 名")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"the room is {width} px wide on a 390 px screen"
        _shot(page, "bidding-room-phone-zh")
        page.goto("/?lang=en")
        expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
        expect(
            page.get_by_role("link", name="Spring fastener festival: M8 bolts").first
        ).to_be_visible()

        buyer_context = _logged_in(browser, url, buyer["email"])
        builder = buyer_context.new_page()
        builder.on("pageerror", lambda exc: errors.append(str(exc)))
        builder.goto("/rfqs/new")
        builder.get_by_label("Title").fill("Hex nuts")
        builder.get_by_label("Quantity").fill("20000")
        builder.get_by_label("Lot name").fill("M8 hex nuts")
        builder.get_by_label("Ceiling unit price").fill("0.355")
        builder.get_by_role("button", name="Save draft").click()
        expect(builder.locator(".field-error")).to_contain_text("at most 2 decimals")
        builder.get_by_label("Ceiling unit price").fill("0.35")
        starts = builder.get_by_label("Starts")
        later = starts.input_value()
        starts.fill("2020-01-01T08:00")
        builder.get_by_role("button", name="Save draft").click()
        expect(builder.locator("#starts_at-error")).to_have_text(
            "The RFQ must start in the future."
        )
        _shot(builder, "rfq-builder")
        starts.fill(later)
        builder.get_by_role("button", name="Save draft").click()
        expect(builder.get_by_role("heading", name="Hex nuts")).to_be_visible()
        expect(builder.get_by_role("button", name="Publish")).to_be_visible()

        builder.goto(f"/rfqs/{rfq_id}")
        expect(builder.get_by_role("link", name="Live monitor")).to_be_visible()
        for context in (supplier, buyer_context):
            context.close()
    assert errors == []


def test_festival_control_room_then_award_and_escrow_in_the_browser(
    browser: Browser, settings: Settings
) -> None:
    """The control room follows a festival lot live; after the close the buyer awards it
    from the monitor, the supplier accepts the contract, the buyer funds the escrow and
    the operator confirms the payment from the console."""
    from datetime import UTC, datetime, timedelta

    from tests.support import rfq_body

    with run_server(settings) as live, httpx.Client(base_url=live.url, timeout=30) as client:
        operator = operator_token(live)
        buyer = register(client, "buyer")
        supplier = certified_supplier(client, operator, ["fasteners"])
        now = datetime.now(UTC)
        festival = client.post(
            "/api/festivals",
            json={
                "name": "Autumn fastener festival",
                "theme": "Bolts",
                "starts_at": now.isoformat(),
                "ends_at": (now + timedelta(days=1)).isoformat(),
                "categories": ["fasteners"],
                "organisers": [buyer["company"]["id"]],
            },
            headers=bearer(operator),
        ).json()
        start = now + timedelta(seconds=2)
        body = rfq_body(festival_id=festival["id"])
        body["starts_at"] = start.isoformat()
        body["ends_at"] = (start + timedelta(seconds=8)).isoformat()
        body["lots"][0]["rules"].pop("soft_close")
        auth = bearer(buyer["token"])
        rfq = client.post("/api/rfqs", json=body, headers=auth).json()
        published = client.post(f"/api/rfqs/{rfq['id']}/publish", headers=auth).json()
        auction_id = published["lots"][0]["auction_id"]

        watcher = _logged_in(browser, live.url, buyer["email"])
        room = watcher.new_page()
        room.goto(f"/festivals/{festival['id']}")
        lot = room.locator(f"tr[data-auction='{auction_id}']")
        expect(lot).to_contain_text("Live", timeout=10_000)
        wait_for(
            lambda: (
                client.post(
                    f"/api/auctions/{auction_id}/bids",
                    json={"price": 100, "key": "b1"},
                    headers=bearer(supplier["token"]),
                ).status_code
                == 201
            ),
            10,
            "the bid",
        )
        expect(lot).to_contain_text("1.00 CNY")
        expect(lot).to_contain_text("2,000.00 CNY")  # (1.20 - 1.00) x 10000
        _shot(room, "festival-control-room")

        monitor = watcher.new_page()
        monitor.goto(f"/auctions/{auction_id}")
        award = monitor.get_by_role("button", name="Award", exact=True)
        expect(award).to_be_visible(timeout=20_000)
        _shot(monitor, "award")
        award.click()
        contract_link = monitor.get_by_role("link", name=re.compile(r"Contract \d+"))
        expect(contract_link).to_be_visible()
        contract_path = contract_link.get_attribute("href")
        assert contract_path is not None

        seller = _logged_in(browser, live.url, supplier["email"]).new_page()
        seller.goto(contract_path)
        seller.get_by_role("button", name="Accept contract").click()
        expect(seller.locator("#c-status")).to_have_text("Awaiting funding")

        monitor.goto(contract_path)
        monitor.get_by_role("button", name="Fund escrow").click()
        expect(monitor.locator("#c-result")).to_contain_text("Funding payment created")

        me = client.get("/api/me", headers=bearer(operator)).json()
        console = _logged_in(browser, live.url, me["user"]["email"]).new_page()
        console.goto("/admin")
        console.get_by_role("button", name="Confirm payment").click()
        expect(console.locator("#admin-result")).to_have_text("Confirmed.")
        monitor.reload()
        expect(monitor.locator("#c-status")).to_have_text("Funded")
        expect(monitor.locator("#c-held")).to_have_text("10,000.00 CNY")
        _shot(monitor, "contract")


def test_japanese_clock_accepted_in_the_browser(browser: Browser, settings: Settings) -> None:
    """Two suppliers accept the clock's price with the Accept button while the buyer
    watches the level and the acceptances; the one that accepts the next level wins."""
    interval = 5
    clock = {"start_price": 110, "step": 5, "interval_s": interval, "end_price": 90}
    with run_server(settings) as live, httpx.Client(base_url=live.url, timeout=30) as client:
        operator = operator_token(live)
        buyer = register(client, "buyer")
        suppliers = [certified_supplier(client, operator, ["fasteners"]) for _ in range(2)]
        watcher = _logged_in(browser, live.url, buyer["email"])
        first = _logged_in(browser, live.url, suppliers[0]["email"])
        second = _logged_in(browser, live.url, suppliers[1]["email"])
        monitor, room1, room2 = watcher.new_page(), first.new_page(), second.new_page()
        errors: list[str] = []
        for page in (monitor, room1, room2):
            page.on("pageerror", lambda exc: errors.append(str(exc)))
        auction_id = clock_auction(client, buyer, "japanese", clock)
        for page in (monitor, room1, room2):
            page.goto(f"/auctions/{auction_id}")
            expect(page.get_by_role("status").filter(has_text="Live")).to_be_visible()
        expect(room1.locator("#clock-level")).to_have_text("1 of 5")

        for room in (room1, room2):
            room.get_by_role("button", name="Accept 1.10 CNY").click()
            expect(room.locator("#clock-me")).to_have_text("You accepted 1.10 CNY at this level.")
        expect(monitor.locator("#clock-accepted")).to_have_text("2")
        expect(_rows(monitor)).to_have_count(2)

        level_two = {"timeout": interval * 2_000}
        expect(room1.locator("#clock-price")).to_have_text("1.05 CNY", **level_two)
        expect(room1.locator("#clock-active")).to_have_text("2")
        room1.get_by_role("button", name="Accept 1.05 CNY").click()
        expect(room1.locator("#rank")).to_have_text("Rank 1")
        _shot(room1, "clock-room")
        expect(monitor.locator("#state")).to_have_text("Closed", **level_two)
        expect(_rows(monitor).first).to_contain_text("1.05")
        expect(room2.locator("#rank")).to_have_text("Rank 2")
        expect(room2.get_by_role("button", name=re.compile("Accept"))).to_be_disabled()
        _shot(monitor, "clock-monitor")
        assert errors == []
        for context in (watcher, first, second):
            context.close()


def test_supplier_onboarding_and_a_dispute_in_the_browser(
    browser: Browser, settings: Settings
) -> None:
    """A supplier registers, applies for certification with a document and posts a
    deposit in the browser; the operator approves and confirms both in the console.
    Then, on a shipped contract, the buyer opens a dispute with evidence on the
    contract page and the operator rules it a refund in the console."""
    with run_server(settings) as live, httpx.Client(base_url=live.url, timeout=30) as client:
        operator = operator_token(live)
        me = client.get("/api/me", headers=bearer(operator)).json()
        staff = _logged_in(browser, live.url, me["user"]["email"])
        console = staff.new_page()
        console.on("dialog", lambda dialog: dialog.accept("Goods not as ordered"))
        guest = browser.new_context(base_url=live.url)
        page = guest.new_page()
        errors: list[str] = []
        for p in (console, page):
            p.on("pageerror", lambda exc: errors.append(str(exc)))

        email = f"new-{uuid.uuid4().hex[:8]}@example.com"
        page.goto("/register")
        page.get_by_label("Supplier").check()
        page.get_by_label("Company name").fill("Ningbo Bolt Works")
        page.get_by_label("Email").fill(email)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Register").click()
        expect(page.locator(".who")).to_have_text(email)

        page.goto("/certification")
        page.get_by_label("Company name").fill("Ningbo Bolt Works")
        page.get_by_label("Unified social credit code").fill(uscc_for(424242))
        page.get_by_label("Categories").select_option(["fasteners"])
        page.get_by_label("Business licence").set_input_files(
            {"name": "licence.pdf", "mimeType": "application/pdf", "buffer": PDF}
        )
        page.get_by_label("Brand authorisation letter").set_input_files(
            {"name": "letter.pdf", "mimeType": "application/pdf", "buffer": PDF}
        )
        page.get_by_label("Brands").fill("Würth")
        page.get_by_role("button", name="Submit application").click()
        expect(page.locator("#cert-status")).to_contain_text("Waiting for review")

        console.goto("/admin")
        row = console.locator("#certifications tr").filter(has_text="Ningbo Bolt Works")
        expect(row.get_by_role("link", name=re.compile("licence"))).to_be_visible()
        expect(row.get_by_role("link", name="Brand authorisation")).to_be_visible()
        row.get_by_label("Level").select_option("2")  # the operator sets the level
        row.get_by_role("button", name="Approve").click()
        expect(console.locator("#admin-result")).to_have_text("Approved.")
        page.reload()
        expect(page.locator("#cert-status")).to_contain_text("Certified")
        expect(page.locator("#cert-status")).to_contain_text("Gold supplier")

        page.goto("/deposits")
        expect(page.locator("#requirement")).to_contain_text("20,000.00")  # before a first RFQ
        page.get_by_label("Amount").fill("5000.00")
        page.get_by_role("button", name="Post a deposit").click()
        expect(page.locator("#instructions")).to_be_visible()
        console.reload()
        deposit = console.locator("#deposits tr").filter(has_text="5,000.00")
        deposit.get_by_role("button", name="Confirm received").click()
        expect(console.locator("#admin-result")).to_have_text("Confirmed.")
        page.reload()
        expect(page.locator("#balance")).to_contain_text("5,000.00")
        _shot(page, "deposits")

        buyer, contract_id = _shipped_contract(client, operator)
        office = _logged_in(browser, live.url, buyer["email"])
        contract = office.new_page()
        contract.on("pageerror", lambda exc: errors.append(str(exc)))
        contract.goto(f"/contracts/{contract_id}")
        expect(contract.locator("#c-status")).to_have_text("Shipped")
        contract.get_by_role("button", name="Open a dispute").click()
        contract.get_by_label("What went wrong?").fill("Half the bolts are grade 4.8")
        contract.get_by_label("Evidence").set_input_files(
            {"name": "photo.pdf", "mimeType": "application/pdf", "buffer": PDF}
        )
        contract.locator("#move-submit").click()
        expect(contract.locator("#c-status")).to_have_text("Disputed")

        console.reload()
        dispute = console.locator("#disputes tr").filter(has_text="Half the bolts")
        expect(dispute.locator("a[href^='/api/files/']")).to_have_count(1)  # the evidence
        _shot(console, "operator-console")
        dispute.get_by_role("button", name="Refund buyer").click()
        expect(console.locator("#admin-result")).to_have_text("Ruling recorded.")
        contract.reload()
        expect(contract.locator("#c-status")).to_have_text("Refunded")
        expect(contract.locator("#c-refunded")).to_contain_text("10,500.00")
        assert errors == []
        for context in (staff, guest, office):
            context.close()


def test_console_standing_and_after_sale_in_the_browser(
    browser: Browser, settings: Settings
) -> None:
    """After the close the buyer sees each bidder's badge and score on the monitor and
    the award form, and awards with after-sale terms; the supplier asks for more time on
    the contract page and the buyer grants it; a partial delivery, partly accepted, is
    paid less a retention, and a warranty claim is opened on it. The supplier's profile
    shows its record (also in Chinese). In the console the operator forfeits one bond
    (the award form then shows the lower score) and releases another, refunds a
    deposit, reads the matching report, suspends a supplier, dismisses its appeal, sees
    its second appeal and reinstates it."""
    with run_server(settings) as live, httpx.Client(base_url=live.url, timeout=30) as client:
        operator = operator_token(live)
        buyer = register(client, "buyer")
        winner, loser = (certified_supplier(client, operator, ["fasteners"]) for _ in range(2))
        auction_id = live_auction(client, buyer, seconds=3)
        for who, price, key in ((loser, 110, "l"), (winner, 100, "w")):
            assert place_bid(client, who, auction_id, price, key).status_code == 201
        wait_state(client, buyer["token"], auction_id, "closed", 15)
        errors: list[str] = []
        staff = _logged_in(
            browser,
            live.url,
            client.get("/api/me", headers=bearer(operator)).json()["user"]["email"],
        )
        console = staff.new_page()
        console.on("pageerror", lambda exc: errors.append(str(exc)))
        console.on("dialog", lambda dialog: dialog.accept("Decided in the console"))
        console.goto("/admin")  # the lot closed: its bonds may be settled
        bond = console.locator("#bonds tr").filter(has_text=loser["company"]["name"])
        bond.get_by_role("button", name="Forfeit bond").click()
        expect(console.locator("#admin-result")).to_have_text("Bond forfeited.")

        office = _logged_in(browser, live.url, buyer["email"])
        monitor = office.new_page()
        monitor.on("pageerror", lambda exc: errors.append(str(exc)))
        monitor.goto(f"/auctions/{auction_id}")
        lines = monitor.get_by_role("table", name="Award lines")
        expect(lines.locator("tbody tr")).to_have_count(2, timeout=10_000)
        expect(lines.locator("tbody tr").first).to_contain_text("Gold supplier")
        expect(lines.locator("tbody tr").first).to_contain_text("Score 61")
        expect(lines.locator("tbody tr").nth(1)).to_contain_text("Score 41")  # the forfeit
        expect(_rows(monitor).first).to_contain_text("Gold supplier")
        monitor.get_by_label("Warranty (days)").fill("30")
        monitor.get_by_label("Return window (days)").fill("7")
        monitor.get_by_label("Retention %", exact=False).fill("5")
        _shot(monitor, "award-standing")
        monitor.get_by_role("button", name="Award", exact=True).click()
        link = monitor.get_by_role("link", name=re.compile(r"Contract \d+"))
        expect(link).to_be_visible()
        contract_path = link.get_attribute("href")
        assert contract_path is not None
        cid = int(contract_path.rsplit("/", 1)[1])

        console.reload()
        bond = console.locator("#bonds tr").filter(has_text=winner["company"]["name"])
        bond.get_by_role("button", name="Release bond").click()
        expect(console.locator("#admin-result")).to_have_text("Bond released.")
        expect(
            console.locator("#bonds tr").filter(has_text=winner["company"]["name"])
        ).to_have_count(0)
        held = console.locator("#held tr").filter(has_text=f"#{winner['company']['id']}")
        held.get_by_role("button", name="Refund deposit").click()
        expect(console.locator("#admin-result")).to_have_text("Refund recorded.")
        matching = console.locator("#matching")
        expect(matching).to_contain_text("Target: 3.00 : 1")
        expect(matching.get_by_role("table", name="Over time").locator("tbody tr")).to_have_count(6)
        console.get_by_label("Period (days)").select_option("7")
        expect(matching.get_by_role("table", name="Matching report")).to_contain_text(
            "All categories"
        )
        row = console.locator("#suppliers tr").filter(has_text=loser["company"]["name"])
        row.get_by_role("button", name="Suspend").click()
        expect(console.locator("#admin-result")).to_have_text("Suspended.")
        seller = _logged_in(browser, live.url, loser["email"]).new_page()
        seller.on("pageerror", lambda exc: errors.append(str(exc)))
        seller.goto("/certification")
        expect(seller.locator("#cert-status")).to_contain_text("Suspended")
        seller.get_by_label("Why should the suspension be lifted?").fill("Our licence was renewed")
        seller.get_by_role("button", name="Send appeal").click()
        expect(seller.locator("#cert-status")).to_contain_text("Our licence was renewed")
        console.reload()
        row = console.locator("#suppliers tr").filter(has_text=loser["company"]["name"])
        expect(row).to_contain_text("Our licence was renewed")
        row.get_by_role("button", name="Dismiss appeal").click()
        expect(console.locator("#admin-result")).to_have_text("Appeal dismissed.")
        seller.reload()
        seller.get_by_label("Why should the suspension be lifted?").fill(
            "The new licence, attached"
        )
        seller.get_by_role("button", name="Send appeal").click()
        expect(seller.locator("#cert-status")).to_contain_text("The new licence, attached")
        console.reload()
        row = console.locator("#suppliers tr").filter(has_text=loser["company"]["name"])
        expect(row).to_contain_text("The new licence, attached")
        row.get_by_role("button", name="Reinstate").click()
        expect(console.locator("#admin-result")).to_have_text("Reinstated.")
        _shot(console, "console-controls")

        maker = _logged_in(browser, live.url, winner["email"]).new_page()
        maker.on("pageerror", lambda exc: errors.append(str(exc)))
        maker.goto(contract_path)
        expect(maker.locator("#c-aftersale")).to_contain_text(
            "Warranty 30 days, returns within 7 days, 5.00 % retained"
        )
        expect(maker.locator("#c-standing")).to_contain_text("Gold supplier")
        maker.get_by_role("button", name="Accept contract").click()
        expect(maker.locator("#c-status")).to_have_text("Awaiting funding")
        maker.get_by_role("button", name="Ask for more time").click()
        maker.get_by_label("Why do you need more time?").fill("Port strike")
        maker.get_by_label("Days more").fill("5")
        maker.locator("#move-submit").click()
        expect(maker.locator("#c-result")).to_have_text("Extension asked; the buyer answers.")
        contract = office.new_page()
        contract.on("pageerror", lambda exc: errors.append(str(exc)))
        contract.goto(contract_path)
        contract.get_by_role("button", name="Accept extension").click()
        expect(contract.locator("#c-extension")).to_have_text("5 more days granted: Port strike")
        contract.get_by_role("button", name="Fund escrow").click()
        expect(contract.locator("#c-result")).to_contain_text("Funding payment created")
        [payment] = [
            p
            for p in client.get("/api/admin/payments", headers=bearer(operator)).json()
            if p["contract_id"] == cid
        ]
        client.post(
            f"/api/admin/payments/{payment['id']}/confirm", headers=bearer(operator)
        ).raise_for_status()

        maker.reload()
        maker.get_by_role("button", name="Mark shipped").click()
        maker.get_by_label("Tracking number").fill("SF 77")
        maker.get_by_label("Quantity shipped").fill("8000")
        maker.locator("#move-submit").click()
        expect(maker.locator("#c-status")).to_have_text("Shipped")
        contract.reload()
        expect(contract.locator("#c-quantities")).to_contain_text("shipped 8000")
        contract.get_by_role("button", name="Confirm delivery").click()
        contract.get_by_label("Quantity accepted").fill("6000")
        contract.locator("#move-submit").click()
        expect(contract.locator("#c-status")).to_have_text("Delivered, in inspection")
        contract.get_by_role("button", name="Accept goods and release payment").click()
        expect(contract.locator("#c-status")).to_have_text("Accepted, in after-sale")
        expect(contract.locator("#c-held")).to_have_text("300.00 CNY")  # 5 % of 6000 x 1.00
        expect(contract.locator("#c-refunded")).to_have_text("4,000.00 CNY")  # 4000 not accepted
        contract.get_by_role("button", name="Open a dispute").click()
        contract.get_by_label("Kind of claim").select_option("warranty")
        contract.get_by_label("What went wrong?").fill("Zinc coating flakes")
        contract.locator("#move-submit").click()
        expect(contract.locator("#c-status")).to_have_text("Disputed")
        _shot(contract, "contract-after-sale")

        contract.get_by_role("link", name=re.compile(winner["company"]["name"])).click()
        expect(contract.locator("#s-badge")).to_have_text("Gold supplier (level 2)")
        expect(contract.locator("#s-counts")).to_contain_text("Shipments late")
        contract.goto(f"/suppliers/{winner['company']['id']}?lang=zh")
        expect(contract.get_by_role("heading", name=winner["company"]["name"])).to_be_visible()
        expect(contract.locator("#s-counts")).to_contain_text("延迟发货")
        _shot(contract, "supplier-profile-zh")
        assert errors == []
        for context in (office, staff):
            context.close()


def test_rfq_documents_in_the_browser(browser: Browser, settings: Settings) -> None:
    """The buyer attaches a drawing on the RFQ page; a supplier taking part downloads it
    and attaches its quotation (the page in Chinese); the buyer sees who read the
    drawing and the quotation."""
    with _world(settings) as (url, buyer, suppliers, auction_id):
        with httpx.Client(base_url=url) as client:
            rfq_id = client.get(
                f"/api/auctions/{auction_id}", headers=bearer(buyer["token"])
            ).json()["rfq_id"]
        errors: list[str] = []
        office = _logged_in(browser, url, buyer["email"])
        page = office.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(f"/rfqs/{rfq_id}")
        page.get_by_label("File (PDF, PNG or JPEG)", exact=True).set_input_files(
            {"name": "drawing.pdf", "mimeType": "application/pdf", "buffer": PDF}
        )
        page.locator("#doc-title").fill("Bolt drawing rev B")
        page.get_by_label("Kind", exact=True).select_option("drawing")
        page.get_by_label("For", exact=True).select_option(label="M8x40 bolts, grade 8.8")
        page.get_by_role("button", name="Attach document").click()
        docs = page.get_by_role("table", name="Documents", exact=True)
        expect(docs).to_contain_text("Bolt drawing rev B")
        expect(docs).to_contain_text("0 suppliers")

        seller = _logged_in(browser, url, suppliers[0]["email"]).new_page()
        seller.on("pageerror", lambda exc: errors.append(str(exc)))
        seller.goto(f"/rfqs/{rfq_id}?lang=zh")
        listed = seller.get_by_role("table", name="文件", exact=True)
        with seller.expect_download() as fetched:
            listed.get_by_role("link", name="Bolt drawing rev B").click()
        assert fetched.value.suggested_filename == "drawing.pdf"
        seller.get_by_label(re.compile("^报价文件.PDF")).set_input_files(
            {"name": "quote.pdf", "mimeType": "application/pdf", "buffer": PDF}
        )
        seller.locator("#quote-title").fill("Quotation with mill certificate")
        seller.get_by_role("button", name="添加报价文件").click()
        expect(seller.get_by_role("table", name="报价文件", exact=True)).to_contain_text(
            "Quotation with mill certificate"
        )
        seller.reload()
        expect(seller.get_by_role("table", name="文件", exact=True)).to_contain_text("已下载")
        _shot(seller, "rfq-documents-supplier-zh")

        page.reload()
        docs.get_by_role("button", name="1 suppliers").click()
        readers = page.get_by_role("table", name="Readers", exact=True)
        expect(readers).to_contain_text(suppliers[0]["email"])
        expect(page.get_by_role("table", name="Quotation documents", exact=True)).to_contain_text(
            "Quotation with mill certificate"
        )
        _shot(page, "rfq-documents-buyer")
        assert errors == []
        office.close()


def test_a_phone_bid_in_the_browser(browser: Browser, settings: Settings) -> None:
    """The buyer enters a bid a supplier phoned in, with a reason, on the monitor; the
    monitor marks it; the supplier's room (in Chinese) shows it as placed on its behalf,
    with the reason, and ranks it."""
    with _world(settings) as (url, buyer, suppliers, auction_id):
        errors: list[str] = []
        office = _logged_in(browser, url, buyer["email"])
        monitor = office.new_page()
        seller = _logged_in(browser, url, suppliers[0]["email"])
        room = seller.new_page()
        for page in (monitor, room):
            page.on("pageerror", lambda exc: errors.append(str(exc)))
        room.goto(f"/auctions/{auction_id}?lang=zh")
        monitor.goto(f"/auctions/{auction_id}")
        expect(monitor.locator("#conn")).to_have_text("Live")
        expect(room.locator("#conn")).to_have_text("实时")
        form = monitor.locator("#phone-form")
        expect(form).to_be_visible()
        company = str(suppliers[0]["company"]["id"])
        expect(form.locator(f'#phone-supplier option[value="{company}"]')).to_have_count(1)
        form.get_by_label("Supplier", exact=True).select_option(company)
        form.get_by_label(re.compile("^Bid price")).fill("1.08")
        form.get_by_role("button", name="Place the phone bid").click()
        expect(form.locator(".field-error")).to_contain_text("Say why")
        form.get_by_label(re.compile("^Reason")).fill("Supplier's line is down; confirmed by phone")
        form.get_by_role("button", name="Place the phone bid").click()
        expect(monitor.locator("#phone-result")).to_have_text(
            "Phone bid of 1.08 CNY placed: rank 1."
        )
        expect(_rows(monitor).first).to_contain_text("phone bid")
        expect(_rows(monitor).first).to_contain_text("1.08")

        expect(room.locator("#rank")).to_have_text("第 1 名")
        expect(room.locator("#surrogate")).to_contain_text("1.08 CNY")
        expect(room.locator("#surrogate")).to_contain_text("代为录入")
        mine = room.get_by_role("table", name="我的报价", exact=True)
        expect(mine).to_contain_text("Supplier's line is down; confirmed by phone")
        expect(mine).to_contain_text("1.08")
        _shot(monitor, "phone-bid-monitor")
        _shot(room, "phone-bid-room-zh")
        assert errors == []
        office.close()
        seller.close()


def test_a_clarification_in_the_browser(browser: Browser, settings: Settings) -> None:
    """A supplier asks on the RFQ page (in Chinese); the buyer answers it there; the
    other supplier's open bidding room shows the answer at once, and both suppliers
    read it on the RFQ page, neither told who asked."""
    with _world(settings) as (url, buyer, suppliers, auction_id):
        with httpx.Client(base_url=url) as client:
            rfq_id = client.get(
                f"/api/auctions/{auction_id}", headers=bearer(buyer["token"])
            ).json()["rfq_id"]
        errors: list[str] = []
        asker = _logged_in(browser, url, suppliers[0]["email"]).new_page()
        office = _logged_in(browser, url, buyer["email"])
        desk = office.new_page()
        other = _logged_in(browser, url, suppliers[1]["email"]).new_page()
        for page in (asker, desk, other):
            page.on("pageerror", lambda exc: errors.append(str(exc)))
        other.goto(f"/auctions/{auction_id}")
        expect(other.locator("#conn")).to_have_text("Live")

        asker.goto(f"/rfqs/{rfq_id}?lang=zh")
        asker.get_by_role("button", name="向采购方提问").click()
        expect(asker.locator("#qa-form .field-error")).to_contain_text("请填写问题")
        question = "Is zinc flake coating acceptable?"
        asker.get_by_label("问题", exact=True).fill(question)
        asker.get_by_role("button", name="向采购方提问").click()
        listed = asker.get_by_role("table", name="澄清答疑", exact=True)
        expect(listed).to_contain_text(question)
        expect(listed).to_contain_text("等待采购方答复")

        desk.goto(f"/rfqs/{rfq_id}")
        board = desk.get_by_role("table", name="Clarifications", exact=True)
        expect(board).to_contain_text(question)
        expect(board).not_to_contain_text(suppliers[0]["company"]["name"])
        answer = "Yes: zinc flake to ISO 10683."
        board.get_by_label("Answer for every supplier").fill(answer)
        board.get_by_role("button", name="Answer", exact=True).click()
        expect(board).to_contain_text(answer)

        notice = other.get_by_role("status", name="New clarification:")
        expect(notice).to_contain_text(question)
        expect(notice).to_contain_text(answer)
        asker.reload()
        expect(listed).to_contain_text(answer)
        other.goto(f"/rfqs/{rfq_id}")
        expect(other.get_by_role("table", name="Clarifications", exact=True)).to_contain_text(
            answer
        )
        _shot(asker, "clarifications-supplier-zh")
        _shot(desk, "clarifications-buyer")
        assert errors == []
        office.close()


def test_pre_bids_in_the_browser(browser: Browser, settings: Settings) -> None:
    """The buyer drafts a lot taking pre-bids in the builder; on a lot about to open, a
    supplier's room (in Chinese) takes a pre-bid before the opening without a rank, and
    ranks it against a rival's pre-bid once the lot opens."""
    from datetime import UTC, datetime, timedelta

    from loadtests import world

    with run_server(settings) as live, httpx.Client(base_url=live.url, timeout=30) as client:
        operator = operator_token(live)
        buyer = register(client, "buyer")
        suppliers = [certified_supplier(client, operator, ["fasteners"]) for _ in range(2)]
        errors: list[str] = []
        office = _logged_in(browser, live.url, buyer["email"])
        builder = office.new_page()
        builder.on("pageerror", lambda exc: errors.append(str(exc)))
        builder.goto("/rfqs/new")
        builder.get_by_label("Title").fill("Washers with pre-bids")
        builder.get_by_label("Quantity").fill("5000")
        builder.get_by_label("Lot name").fill("M8 washers")
        builder.get_by_label("Ceiling unit price").fill("0.20")
        builder.get_by_label("Pre-bids", exact=True).select_option(label="Before the opening")
        builder.get_by_role("button", name="Save draft").click()
        expect(builder.get_by_role("heading", name="Washers with pre-bids")).to_be_visible()
        draft = client.get(f"/api/rfqs/{builder.url.rsplit('/', 1)[1]}",
                           headers=bearer(buyer["token"])).json()  # fmt: skip
        assert draft["lots"][0]["rules"]["pre_bids"] is True

        body = rfq_body()
        body["lots"][0]["rules"]["pre_bids"] = True
        start = datetime.now(UTC) + timedelta(seconds=15)
        body["starts_at"] = start.isoformat()
        body["ends_at"] = (start + timedelta(seconds=600)).isoformat()
        api = world.Api(live.url, buyer["token"])
        auction_id = int(world.publish(api, body)["lots"][0]["auction_id"])
        room = _logged_in(browser, live.url, suppliers[0]["email"]).new_page()
        room.on("pageerror", lambda exc: errors.append(str(exc)))
        room.goto(f"/auctions/{auction_id}?lang=zh")
        expect(room.locator("#conn")).to_have_text("实时")
        expect(room.locator("#pre-bids")).to_be_visible()
        expect(room.locator("#rank")).to_have_text("开场时排名")
        room.get_by_label(re.compile("^报价")).fill("1.10")
        room.get_by_role("button", name="提交报价").click()
        expect(room.locator("#bid-result")).to_contain_text("预报价 1.10 已接受")
        expect(room.locator("#rank")).to_have_text("开场时排名")
        _shot(room, "pre-bid-room-zh")
        assert place_bid(client, suppliers[1], auction_id, 105, "rival").status_code == 201
        monitor = office.new_page()
        monitor.on("pageerror", lambda exc: errors.append(str(exc)))
        monitor.goto(f"/auctions/{auction_id}")
        expect(monitor.locator("#live-bids")).to_contain_text("Pre-bids: 2 received")
        wait_state(client, buyer["token"], auction_id, "live", 20)
        expect(room.locator("#rank")).to_have_text("第 2 名")
        expect(_rows(monitor)).to_have_count(2)
        expect(room.locator("#pre-bids")).to_be_hidden()
        assert errors == []
        office.close()
        room.context.close()


def test_a_next_round_in_the_browser(browser: Browser, settings: Settings) -> None:
    """After a sealed round closes, the buyer qualifies its bidders into a live round
    from the monitor; a qualified supplier's room (in Chinese) holds its sealed price as
    its first bid, placed for it, ranked at the opening."""
    with run_server(settings) as live, httpx.Client(base_url=live.url, timeout=30) as client:
        operator = operator_token(live)
        buyer = register(client, "buyer")
        suppliers = [certified_supplier(client, operator, ["fasteners"]) for _ in range(2)]
        sealed = live_auction(client, buyer, seconds=4, format="sealed")
        for supplier, price in zip(suppliers, (104, 101), strict=True):
            assert place_bid(client, supplier, sealed, price, "s1").status_code == 201
        errors: list[str] = []
        office = _logged_in(browser, live.url, buyer["email"])
        monitor = office.new_page()
        monitor.on("pageerror", lambda exc: errors.append(str(exc)))
        monitor.goto(f"/auctions/{sealed}")
        form = monitor.locator("#round-form")
        expect(form).to_be_visible(timeout=15_000)
        form.get_by_label("Suppliers to qualify").fill("two")
        form.get_by_role("button", name="Qualify into a live round").click()
        expect(form.locator(".field-error")).to_contain_text("whole number")
        form.get_by_label("Suppliers to qualify").fill("2")
        form.get_by_role("button", name="Qualify into a live round").click()
        expect(monitor.locator("#round-result")).to_contain_text("2 suppliers qualified")
        _shot(monitor, "next-round-monitor")
        monitor.get_by_role("link", name="Live round monitor").click()
        expect(monitor.locator("#conn")).to_have_text("Live")
        new = int(monitor.url.rsplit("/", 1)[1])
        assert new != sealed

        room = _logged_in(browser, live.url, suppliers[1]["email"]).new_page()
        room.on("pageerror", lambda exc: errors.append(str(exc)))
        room.goto(f"/auctions/{new}?lang=zh")
        expect(room.locator("#rank")).to_have_text("开场时排名")
        expect(room.locator("#my-price")).to_contain_text("1.01")
        expect(room.locator("#surrogate")).to_contain_text("1.01 CNY")
        mine = room.get_by_role("table", name="我的报价", exact=True)
        expect(mine).to_contain_text(f"Carried over from the sealed round (auction {sealed})")
        _shot(room, "next-round-room-zh")
        assert errors == []
        office.close()
        room.context.close()


def test_practice_in_the_browser(browser: Browser, settings: Settings) -> None:
    """A supplier (the page in Chinese) opens a practice room from its menu: the bidding
    room, marked as practice, opens in seconds; it bids, and the simulated rivals bid
    against it."""
    with run_server(settings) as live, httpx.Client(base_url=live.url, timeout=30) as client:
        learner = register(client, "supplier")
        errors: list[str] = []
        page = _logged_in(browser, live.url, learner["email"]).new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto("/?lang=zh")
        page.get_by_role("link", name="模拟练习").click()
        page.get_by_label("竞价方式").select_option("reverse_english")
        page.get_by_role("button", name="开始练习").click()
        expect(page.locator("#practice")).to_contain_text("模拟")
        expect(page.locator("#conn")).to_have_text("实时")
        expect(page.locator("#state")).to_have_text("竞价中", timeout=15_000)
        page.get_by_label(re.compile("^报价")).fill("118.00")
        page.get_by_role("button", name="提交报价").click()
        expect(page.locator("#bid-result")).to_contain_text("118.00")
        expect(page.locator("#bidders")).not_to_have_text(re.compile("^[01]$"), timeout=20_000)
        _shot(page, "practice-room-zh")
        assert errors == []
        page.context.close()


def _shipped_contract(client: httpx.Client, operator: str) -> tuple[dict[str, Any], int]:
    """Through the API: a 3 s auction won at 1.05 for 10,000 pcs, awarded, accepted,
    funded (10,500.00 CNY, confirmed by the operator) and shipped."""
    buyer = register(client, "buyer")
    supplier = certified_supplier(client, operator, ["fasteners"])
    auction_id = live_auction(client, buyer, seconds=3)
    bid = place_bid(client, supplier, auction_id, 105, "win")
    assert bid.status_code == 201, bid.text
    auth = bearer(buyer["token"])
    wait_state(client, buyer["token"], auction_id, "closed", 15)
    award = {"awards": [{"bid_id": bid.json()["bid_id"]}]}
    made = client.post(f"/api/auctions/{auction_id}/award", json=award, headers=auth)
    assert made.status_code == 201, made.text
    [contract] = made.json()["contracts"]
    cid = contract["id"]

    def move(token: str, name: str, **body: Any) -> None:
        done = client.post(f"/api/contracts/{cid}/{name}", json=body, headers=bearer(token))
        assert done.status_code == 200, done.text

    move(supplier["token"], "accept")
    move(buyer["token"], "fund")
    pending = client.get("/api/admin/payments", headers=bearer(operator)).json()
    [payment] = [p for p in pending if p["contract_id"] == cid]
    confirmed = client.post(
        f"/api/admin/payments/{payment['id']}/confirm", headers=bearer(operator)
    )
    assert confirmed.status_code == 200, confirmed.text
    move(supplier["token"], "ship", tracking="SF 1024")
    return buyer, cid
