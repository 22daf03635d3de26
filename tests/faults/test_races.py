"""Racing the money path: the same award, payment confirmation (against its withdrawal)
and release sent many times at once. Exactly one award and one contract; escrow never
holds, releases or pays out more or less than the contract's total (SQLite and
PostgreSQL).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from tests.support import (
    LiveServer,
    bearer,
    certified_supplier,
    live_auction,
    operator_token,
    place_bid,
    register,
    wait_state,
)

RACERS = 8


def _race(live: LiveServer, call: Callable[[httpx.Client, int], httpx.Response]) -> Counter[int]:
    """``call`` from RACERS threads at once, each with its own connection."""

    def one(n: int) -> int:
        with httpx.Client(base_url=live.url, timeout=60) as c:
            return call(c, n).status_code

    with ThreadPoolExecutor(RACERS) as pool:
        return Counter(pool.map(one, range(RACERS)))


def test_racing_award_payment_and_release_moves_money_once(
    client: httpx.Client, live: LiveServer
) -> None:
    operator = operator_token(live)
    buyer = register(client, "buyer")
    a = certified_supplier(client, operator, ["fasteners"])
    b = certified_supplier(client, operator, ["fasteners"])
    auction_id = live_auction(client, buyer, seconds=3)
    assert place_bid(client, a, auction_id, 110, "ra").status_code == 201
    won = place_bid(client, b, auction_id, 100, "rb").json()
    auth = bearer(buyer["token"])
    wait_state(client, buyer["token"], auction_id, "closed", 15)

    awards = _race(
        live,
        lambda c, _: c.post(
            f"/api/auctions/{auction_id}/award",
            json={"awards": [{"bid_id": won["bid_id"]}]},
            headers=auth,
        ),
    )
    assert awards == Counter({201: 1, 409: RACERS - 1}), awards
    mine = [
        k
        for k in client.get("/api/contracts", headers=auth).json()
        if k["auction_id"] == auction_id
    ]
    assert len(mine) == 1
    cid, total = mine[0]["id"], mine[0]["total"]

    def move(who: str, name: str, key: str | None = None) -> httpx.Response:
        body = {"key": key} if key else {}
        return client.post(f"/api/contracts/{cid}/{name}", json=body, headers=bearer(who))

    assert move(b["token"], "accept").status_code == 200
    assert move(buyer["token"], "fund").status_code == 200

    def pending(kind: str) -> dict[str, Any]:
        rows = client.get("/api/admin/payments", headers=bearer(operator)).json()
        [payment] = [p for p in rows if p["contract_id"] == cid and p["kind"] == kind]
        return payment

    # the buyer withdrawing its payment while operators confirm it: one of the two wins
    first = pending("funding")

    def confirm_or_withdraw(c: httpx.Client, n: int) -> httpx.Response:
        if n % 2:
            return c.post(f"/api/admin/payments/{first['id']}/confirm", headers=bearer(operator))
        return c.post(f"/api/contracts/{cid}/withdraw", json={}, headers=auth)

    mixed = _race(live, confirm_or_withdraw)
    state = client.get(f"/api/contracts/{cid}", headers=auth).json()
    if [p["status"] for p in state["payments"]] == ["confirmed"]:
        assert mixed == Counter({200: RACERS // 2, 409: RACERS // 2}), mixed
    else:
        assert [p["status"] for p in state["payments"]] == ["withdrawn"], state["payments"]
        assert mixed == Counter({200: 1, 409: RACERS - 1}), mixed
        assert (state["status"], state["escrow"]["funded"]) == ("awaiting_funding", 0)
        assert move(buyer["token"], "fund").status_code == 200
        payment = pending("funding")
        confirms = _race(
            live,
            lambda c, _: c.post(
                f"/api/admin/payments/{payment['id']}/confirm", headers=bearer(operator)
            ),
        )
        assert set(confirms) == {200}, confirms
    funded = client.get(f"/api/contracts/{cid}", headers=auth).json()
    assert funded["status"] == "funded"
    assert (funded["escrow"]["funded"], funded["escrow"]["held"]) == (total, total)

    assert move(b["token"], "ship").status_code == 200
    assert move(buyer["token"], "confirm").status_code == 200
    releases = _race(
        live,
        lambda c, n: c.post(
            f"/api/contracts/{cid}/release", json={"key": f"race-{n}"}, headers=auth
        ),
    )
    assert releases == Counter({200: 1, 409: RACERS - 1}), releases
    payout = pending("payout")
    paid = _race(
        live,
        lambda c, _: c.post(
            f"/api/admin/payments/{payout['id']}/confirm", headers=bearer(operator)
        ),
    )
    assert set(paid) == {200}, paid
    escrow = client.get(f"/api/contracts/{cid}", headers=auth).json()["escrow"]
    assert escrow == {
        "funded": total,
        "held": 0,
        "released": total,
        "refunded": 0,
        "fees": 0,
        "paid_out": total,
        "refunds_paid": 0,
    }


def test_a_racing_release_and_forfeit_settle_a_bond_once(
    client: httpx.Client, live: LiveServer
) -> None:
    """Operators release and forfeit the same reserved bond of a closed lot at once:
    exactly one of them settles it, and the supplier's reserved deposit never goes below
    zero."""
    operator = operator_token(live)
    buyer = register(client, "buyer")
    supplier = certified_supplier(client, operator, ["fasteners"], deposit=2_000_000)
    auction_id = live_auction(client, buyer, seconds=3)
    assert place_bid(client, supplier, auction_id, 110, "bond").status_code == 201
    auth = bearer(buyer["token"])
    wait_state(client, buyer["token"], auction_id, "closed", 15)
    rfq_id = client.get(f"/api/auctions/{auction_id}", headers=auth).json()["rfq_id"]
    mine = bearer(supplier["token"])

    def balance() -> dict[str, Any]:
        [row] = client.get("/api/deposits/balance", headers=mine).json()
        return dict(row)

    bond = balance()["reserved"]
    assert bond > 0
    body = {"company_id": supplier["company"]["id"], "rfq_id": rfq_id, "reason": "race"}
    answers = _race(
        live,
        lambda c, n: c.post(
            f"/api/admin/bonds/{'forfeit' if n % 2 else 'release'}",
            json=body,
            headers=bearer(operator),
        ),
    )
    assert set(answers) <= {200, 409}, answers
    after = balance()
    assert after["reserved"] == 0, after
    assert after["held"] in (2_000_000, 2_000_000 - bond), after
