"""Webhooks and the purchase order, against a real uvicorn and a real HTTP receiver.

The receiver is a plain ``http.server`` on 127.0.0.1 in a thread; the app's delivery
loop POSTs to it. One of its paths fails the first time, so a retry is seen.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest

from tests.conftest import make_settings
from tests.support import (
    LiveServer,
    assert_error,
    bearer,
    certified_supplier,
    live_auction,
    operator_token,
    place_bid,
    register,
    run_server,
    wait_for,
    wait_state,
)


class _Receiver(BaseHTTPRequestHandler):
    seen: ClassVar[list[dict[str, Any]]] = []
    failed: ClassVar[set[str]] = set()

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        flaky = self.path == "/flaky" and self.path not in self.failed
        if flaky:
            self.failed.add(self.path)
        else:
            self.seen.append({"path": self.path, "headers": dict(self.headers), "body": body})
        self.send_response(500 if flaky else 204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[str]:
    _Receiver.seen, _Receiver.failed = [], set()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _verify(secret: str, delivery: dict[str, Any]) -> dict[str, Any]:
    """Check a delivery's signature as a receiver would; its payload."""
    header = delivery["headers"]["X-RFQ-Signature"]
    stamp, mac = (part.split("=", 1)[1] for part in header.split(","))
    expected = hmac.new(secret.encode(), f"{stamp}.".encode() + delivery["body"], hashlib.sha256)
    assert hmac.compare_digest(mac, expected.hexdigest()), "the signature does not verify"
    payload: dict[str, Any] = json.loads(delivery["body"])
    assert delivery["headers"]["X-RFQ-Event"] == payload["event"]
    assert delivery["headers"]["X-RFQ-Delivery"] == str(payload["id"])
    return payload


def test_registration_refuses_private_hosts_and_other_schemes(
    client: httpx.Client, live: LiveServer
) -> None:
    """By default a webhook may not point at the platform's own networks; operators
    have no company to register one for."""
    buyer = register(client, "buyer")
    auth = bearer(buyer["token"])
    for url in ("http://127.0.0.1:9/hook", "http://10.1.2.3/hook", "http://localhost/x"):
        refused = client.post("/api/webhooks", json={"url": url}, headers=auth)
        assert_error(refused, 422, "webhook_url_refused")
    assert_error(
        client.post("/api/webhooks", json={"url": "ftp://example.com/x"}, headers=auth), 422
    )
    assert_error(
        client.post(
            "/api/webhooks", json={"url": "https://example.com", "events": ["bids"]}, headers=auth
        ),
        422,
    )
    assert_error(
        client.post(
            "/api/webhooks",
            json={"url": "https://example.com"},
            headers=bearer(operator_token(live)),
        ),
        403,
        "wrong_role",
    )
    assert client.get("/api/webhooks", headers=auth).json() == []


def test_events_are_signed_retried_and_logged_and_the_order_exports(
    tmp_path: Path, redis_prefix: str, receiver: str
) -> None:
    """The buyer hears of the award and the escrow money, the supplier of the contract's
    moves (its endpoint fails once: the delivery is retried and both attempts are
    logged). Every delivery verifies with the secret. The accepted contract exports as a
    purchase order, JSON and CSV."""
    settings = make_settings(
        tmp_path, f"sqlite:///{tmp_path / 'rfq.sqlite3'}", f"{redis_prefix}hooks:",
        webhook_private_hosts=True, webhook_retry_s=1,
    )  # fmt: skip
    with run_server(settings) as live, httpx.Client(base_url=live.url, timeout=30) as client:
        operator = operator_token(live)
        buyer = register(client, "buyer")
        supplier = certified_supplier(client, operator, ["fasteners"])
        outsider = register(client, "buyer")
        auth, seller = bearer(buyer["token"]), bearer(supplier["token"])
        mine = client.post(
            "/api/webhooks", json={"url": f"{receiver}/buyer", "events": ["award", "escrow"]},
            headers=auth,
        )  # fmt: skip
        assert mine.status_code == 201, mine.text
        theirs = client.post(
            "/api/webhooks", json={"url": f"{receiver}/flaky", "events": ["contract"]},
            headers=seller,
        ).json()  # fmt: skip
        assert "secret" not in client.get("/api/webhooks", headers=auth).json()[0]

        auction_id = live_auction(client, buyer, seconds=3)
        bid = place_bid(client, supplier, auction_id, 100, "win")
        wait_state(client, buyer["token"], auction_id, "closed", 15)
        made = client.post(
            f"/api/auctions/{auction_id}/award",
            json={"awards": [{"bid_id": bid.json()["bid_id"]}]},
            headers=auth,
        )
        cid = made.json()["contracts"][0]["id"]
        po = f"/api/contracts/{cid}/purchase-order"
        assert_error(client.get(po, headers=auth), 409, "not_an_order")
        client.post(f"/api/contracts/{cid}/accept", json={}, headers=seller).raise_for_status()
        client.post(f"/api/contracts/{cid}/fund", json={}, headers=auth).raise_for_status()
        [payment] = client.get("/api/admin/payments", headers=bearer(operator)).json()
        client.post(
            f"/api/admin/payments/{payment['id']}/confirm", headers=bearer(operator)
        ).raise_for_status()

        def arrived() -> bool:
            paths = [d["path"] for d in _Receiver.seen]
            return paths.count("/buyer") >= 2 and paths.count("/flaky") >= 1

        wait_for(arrived, 20, "the webhook deliveries")
        to_buyer = [
            _verify(mine.json()["secret"], d) for d in _Receiver.seen if d["path"] == "/buyer"
        ]
        assert [p["event"] for p in to_buyer] == ["contract.offered", "contract.fund"]
        assert to_buyer[0]["data"]["contract"]["id"] == cid
        funded = next(p for p in to_buyer if p["event"] == "contract.fund")
        assert funded["data"]["escrow"]["held"] == 1_000_000
        [accepted] = [_verify(theirs["secret"], d) for d in _Receiver.seen if d["path"] == "/flaky"]
        assert accepted["event"] == "contract.accept"
        log = client.get(f"/api/webhooks/{theirs['id']}/deliveries", headers=seller).json()
        [delivery] = [d for d in log if d["event"] == "contract.accept"]
        assert delivery["status"] == "delivered" and delivery["attempts"] == 2
        assert [a["status_code"] for a in delivery["log"]] == [500, 204]
        assert_error(client.get(f"/api/webhooks/{theirs['id']}/deliveries", headers=auth), 404)

        order = client.get(po, headers=auth).json()
        assert order["po_number"] == f"RFQA-PO-{cid:06d}"
        assert order["supplier"]["id"] == supplier["company"]["id"] and order["supplier"]["uscc"]
        assert order["lines"][0]["quantity"] == 10_000
        assert (order["total_minor"], order["total_major"]) == (1_000_000, "10000.00")
        assert client.get(po, headers=seller).status_code == 200
        assert_error(client.get(po, headers=bearer(outsider["token"])), 404)
        table = list(csv.reader(io.StringIO(client.get(po + ".csv", headers=auth).text)))
        assert table[0][:2] == ["po_number", "po_date"] and len(table) == 2
        row = dict(zip(table[0], table[1], strict=True))
        assert row["line_total_major"] == "10000.00" and row["uom"] == "pcs"

        gone = client.delete(f"/api/webhooks/{theirs['id']}", headers=seller)
        assert gone.status_code == 204
        assert client.get("/api/webhooks", headers=seller).json() == []
