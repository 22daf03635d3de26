"""The pages over HTTP: who gets which page, languages, and the words they use."""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator
from pathlib import Path

import httpx

from tests.support import (
    PASSWORD,
    LiveServer,
    bearer,
    certified_supplier,
    live_auction,
    place_bid,
    register,
)

WEB = Path(__file__).resolve().parents[2] / "web"


@contextlib.contextmanager
def _browser(live: LiveServer, who: dict[str, object]) -> Iterator[httpx.Client]:
    """A cookie session, as a browser would hold after logging in."""
    with httpx.Client(base_url=live.url, timeout=30) as client:
        answer = client.post("/api/auth/login", json={"email": who["email"], "password": PASSWORD})
        assert answer.status_code == 200, answer.text
        yield client


def test_every_key_the_pages_use_exists_in_both_languages() -> None:
    """Templates and scripts only use keys that en.json and zh.json both define."""
    en = json.loads((WEB / "locales" / "en.json").read_text(encoding="utf-8"))
    zh = json.loads((WEB / "locales" / "zh.json").read_text(encoding="utf-8"))
    assert set(en) == set(zh)
    used: set[str] = set()
    for path in [*(WEB / "templates").glob("*.html"), *(WEB / "static").glob("*.js")]:
        used |= set(re.findall(r"\bt\(\s*[\"']([a-z_]+(?:\.[a-z_0-9]+)+)[\"']", path.read_text()))
    assert used, "no keys found: the pattern no longer matches the code"
    assert used <= set(en), sorted(used - set(en))
    for key in en:  # placeholders match across languages
        assert set(re.findall(r"\{(\w+)\}", en[key])) == set(re.findall(r"\{(\w+)\}", zh[key]))


def test_pages_need_a_login_and_the_right_role(
    client: httpx.Client, live: LiveServer, operator: str
) -> None:
    """Anonymous visitors go to the login page; other roles get the API's error code."""
    answer = client.get("/auctions/1?x=1", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login?next=/auctions/1%3Fx%3D1"
    supplier = register(client, "supplier")
    with _browser(live, supplier) as browser:
        admin = browser.get("/admin")
        assert admin.status_code == 403 and "wrong_role" in admin.text
        assert browser.get("/certification").status_code == 200
        assert browser.get("/practice").status_code == 200
        assert browser.get("/rfqs/new").status_code == 403


def test_auction_page_is_the_room_or_the_monitor_by_viewer(
    client: httpx.Client, live: LiveServer, operator: str
) -> None:
    """The RFQ's buyer and operators get the live monitor, a taking-part supplier the
    bidding room, another buyer a 404 page."""
    buyer = register(client, "buyer")
    supplier = certified_supplier(client, operator, ["fasteners"])
    auction_id = live_auction(client, buyer, seconds=120)
    with _browser(live, buyer) as browser:
        page = browser.get(f"/auctions/{auction_id}")
        assert page.status_code == 200 and 'aria-label="Live bids"' in page.text
    with _browser(live, supplier) as browser:
        page = browser.get(f"/auctions/{auction_id}")
        assert page.status_code == 200
        assert 'for="bid-price"' in page.text and 'aria-label="Live bids"' not in page.text
    with _browser(live, register(client, "buyer")) as browser:
        page = browser.get(f"/auctions/{auction_id}")
        assert page.status_code == 404 and "not_found" in page.text


def test_language_comes_from_the_query_cookie_or_browser(client: httpx.Client) -> None:
    """?lang=zh switches to Chinese and is remembered; Accept-Language picks a default."""
    first = client.get("/login?lang=zh")
    assert '<html lang="zh-CN">' in first.text and "登录" in first.text
    assert client.cookies.get("rfq_lang") == "zh"
    assert '<html lang="zh-CN">' in client.get("/login").text
    client.cookies.clear()
    english = client.get("/login", headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert '<html lang="en">' in english.text
    chinese = client.get("/login", headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    assert '<html lang="zh-CN">' in chinese.text


def test_bid_list_is_for_the_buyer_side(client: httpx.Client, operator: str) -> None:
    """GET /api/auctions/{id}/bids lists every bid with supplier names to the buyer and
    operators, oldest first; suppliers cannot read it."""
    buyer = register(client, "buyer")
    suppliers = [certified_supplier(client, operator, ["fasteners"]) for _ in range(2)]
    auction_id = live_auction(client, buyer, seconds=120)
    for n, (supplier, price) in enumerate(zip(suppliers, (110, 105), strict=True)):
        assert place_bid(client, supplier, auction_id, price, f"k{n}").status_code == 201
    bids = client.get(f"/api/auctions/{auction_id}/bids", headers=bearer(buyer["token"])).json()
    assert [(b["price"], b["supplier"]) for b in bids] == [
        (110, suppliers[0]["company"]["name"]),
        (105, suppliers[1]["company"]["name"]),
    ]
    assert (
        client.get(f"/api/auctions/{auction_id}/bids", headers=bearer(operator)).status_code == 200
    )
    refused = client.get(f"/api/auctions/{auction_id}/bids", headers=bearer(suppliers[0]["token"]))
    assert refused.status_code in (403, 404)
    state = client.get(f"/api/auctions/{auction_id}", headers=bearer(suppliers[0]["token"])).json()
    assert (state["min_acceptable"], state["min_acceptable_reason"]) == (109, "own")
