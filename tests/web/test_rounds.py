"""Multi-round events: a closed sealed lot qualifies its best suppliers into a live
round, their sealed prices carried over as pre-bids, the chains linked both ways."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import text

from rfq import rounds
from rfq.platform.db import Database
from tests.support import (
    LiveServer,
    assert_error,
    bearer,
    certified_supplier,
    live_auction,
    place_bid,
    register,
    rfq_cli,
    wait_for,
    wait_state,
)

LIVE_RULES = {"format": "reverse_english", "visibility": "rank_only", "decrement": {"amount": 1}}


def _get(client: httpx.Client, token: str, path: str) -> Any:
    return client.get(path, headers=bearer(token))


def test_a_sealed_round_qualifies_its_best_into_a_live_round(
    client: httpx.Client, operator: str, live: LiveServer
) -> None:
    """The buyer qualifies the best two of a sealed round in one call: a live round only
    they take part in, their sealed prices standing as their first bids (marked carried,
    the suppliers told), the sealed lot closed without award; calling again answers the
    same round; `rfq audit verify` follows the link both ways and fails when it breaks."""
    buyer = register(client, "buyer")
    a, b, c = (certified_supplier(client, operator, ["fasteners"]) for _ in range(3))
    sealed = live_auction(client, buyer, seconds=4, format="sealed")
    for supplier, price, key in ((a, 110, "a1"), (b, 100, "b1"), (c, 105, "c1")):
        assert place_bid(client, supplier, sealed, price, key).status_code == 201
    start = datetime.now(UTC) + timedelta(seconds=8)
    ends = start + timedelta(seconds=60)
    body = {"qualify": 2, "starts_at": start.isoformat(), "ends_at": ends.isoformat(),
            "rules": LIVE_RULES}  # fmt: skip
    url = f"/api/auctions/{sealed}/next-round"
    assert_error(client.post(url, json=body, headers=bearer(buyer["token"])), 409,
                 "auction_not_closed")  # fmt: skip
    wait_state(client, buyer["token"], sealed, "closed", 15)
    for token in (a["token"], register(client, "buyer")["token"]):
        assert_error(client.post(url, json=body, headers=bearer(token)), 404)
    assert_error(client.post(url, json=body, headers=bearer(operator)), 403, "buyer_only")
    soon = {**body, "starts_at": datetime.now(UTC).isoformat()}
    assert_error(client.post(url, json=soon, headers=bearer(buyer["token"])), 422, "invalid_times")
    clock = {**body, "rules": {"format": "japanese", "visibility": "rank_only",
                               "clock": {"start_price": 120, "step": 5, "interval_s": 5,
                                         "end_price": 90}}}  # fmt: skip
    assert_error(client.post(url, json=clock, headers=bearer(buyer["token"])), 422, "invalid_rules")

    start = datetime.now(UTC) + timedelta(seconds=12)
    body.update(starts_at=start.isoformat(), ends_at=(start + timedelta(seconds=60)).isoformat())
    made = client.post(url, json=body, headers=bearer(buyer["token"]))
    assert made.status_code == 201, made.text
    out = made.json()
    new = out["auction_id"]
    assert [(q["supplier_company_id"], q["price"], q["carried"]) for q in out["qualified"]] == [
        (b["company"]["id"], 100, True),
        (c["company"]["id"], 105, True),
    ]
    again = client.post(url, json=body, headers=bearer(buyer["token"])).json()
    assert (again["auction_id"], again["created"]) == (new, False)
    assert [q["carried"] for q in again["qualified"]] == [True, True]  # replays, not twice
    assert _get(client, buyer["token"], f"/api/auctions/{sealed}").json()["state"] == "no_award"
    award = {"awards": [{"bid_id": out["qualified"][0]["bid_id"]}], "reason": "best"}
    assert_error(client.post(f"/api/auctions/{sealed}/award", json=award,
                             headers=bearer(buyer["token"])), 409, "next_round_made")  # fmt: skip

    rfq = _get(client, buyer["token"], f"/api/rfqs/{out['rfq_id']}").json()
    assert rfq["audience"] == "invited" and rfq["lots"][0]["rules"]["pre_bids"] is True
    assert_error(_get(client, a["token"], f"/api/auctions/{new}"), 404)  # not qualified
    assert_error(place_bid(client, a, new, 90, "a2"), 403, "not_eligible")
    mine = _get(client, b["token"], f"/api/auctions/{new}").json()
    assert (mine["state"], mine["my_price"], mine["my_bid_surrogate"]) == ("scheduled", 100, True)
    notes = _get(client, b["token"], "/api/notifications").json()
    told = [n for n in notes if n["kind"] == "surrogate_bid"]
    assert len(told) == 1 and told[0]["data"]["reason"].startswith("Carried over")

    wait_state(client, buyer["token"], new, "live", 20)
    ladder = _get(client, buyer["token"], f"/api/auctions/{new}").json()["ladder"]
    assert [(e["supplier_company_id"], e["price"]) for e in ladder] == [
        (b["company"]["id"], 100),
        (c["company"]["id"], 105),
    ]
    assert place_bid(client, c, new, 99, "c2").json()["rank"] == 1

    def linked() -> bool:
        logs = [
            _get(client, buyer["token"], f"/api/auctions/{x}/audit").json() for x in (sealed, new)
        ]
        return rounds.check_link(sealed, logs[0], new, logs[1]) is None

    wait_for(linked, 15, "both chains linked")
    env = {"RFQ_DATABASE_URL": live.settings.database_url,
           "RFQ_DATA_DIR": str(live.settings.data_dir)}  # fmt: skip
    verified = rfq_cli(["audit", "verify", str(sealed)], env)
    assert verified.returncode == 0, verified.stderr
    assert f"auction {new}:" in verified.stdout and "linked both ways" in verified.stdout
    database = Database(live.settings.database_url)
    try:
        with database.engine.begin() as conn:
            conn.execute(
                text("DELETE FROM audit_entry WHERE auction_id = :a AND kind = 'previous_round'"),
                {"a": new},
            )  # the later chain then breaks, and no longer names the earlier
    finally:
        database.dispose()
    broken = rfq_cli(["audit", "verify", str(sealed)], env)
    assert broken.returncode == 1 and "BROKEN" in broken.stderr
