"""The hub's per-audience rendering: what a supplier's frames may carry, for every
visibility, property-tested (no I/O: the renderer is a function of the feed and event)."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from bidding.views import Viewer
from loadtests import bench_ranks as ranks
from realtime import codec
from realtime.hub import QUEUE_LIMIT, Feed, Hub, Subscriber, _apply

SUPPLIERS = ["11", "12", "13", "14"]


@st.composite
def scenario(draw: st.DrawFn) -> tuple[Feed, list[dict[str, Any]]]:
    feed = Feed(
        auction_id=5,
        buyer_company_id=1,
        visibility=draw(st.sampled_from(["rank_only", "best_price", "full_ladder"])),
        sealed=draw(st.booleans()),
        status=draw(st.sampled_from(["live", "closed"])),
    )
    events = []
    for seq in range(1, draw(st.integers(1, 12)) + 1):
        company = draw(st.sampled_from(SUPPLIERS))
        price = draw(st.integers(1_000, 9_999))
        events.append(
            {
                "type": "bid",
                "seq": seq,
                "at": 1_000 + seq,
                "company": company,
                "price": price,
                "t": price * 10_000,
                "bid_id": f"5.1-{seq}",
                "proxy": False,
            }
        )
    return feed, events


@given(scenario())
def test_supplier_frames_never_carry_hidden_prices_or_identities(
    case: tuple[Feed, list[dict[str, Any]]],
) -> None:
    """Supplier ticks carry no company, bid id or raw price of any bid, except the best
    price (best_price, full_ladder) and the ranked prices (full_ladder); sealed lots show
    nothing before the close. Buyer frames carry the bidder and price."""
    feed, events = case
    hub = Hub(desk=None, secret="s" * 40)  # type: ignore[arg-type]
    hidden_sealed = feed.sealed and feed.status == "live"
    for event in events:
        _apply(feed, event)
        tick = hub._render(feed, event, "supplier")
        full = hub._render(feed, event, "full")
        assert not {"bid_id", "supplier_company_id", "price", "ranking_price_e4", "proxy"} & set(
            tick
        )
        if hidden_sealed:
            assert set(tick) == {"type", "auction", "seq", "epoch", "at"}
            assert "price" not in full
            continue
        assert full["price"] == event["price"]
        assert full["supplier_company_id"] == int(event["company"])
        order = tick["order"]
        assert len(order) == len(feed.standings) == tick["bidders"]
        assert not set(order) & set(SUPPLIERS)
        ranked = sorted(feed.standings.values(), key=lambda v: (v[0], v[1]))
        if feed.visibility == "rank_only":
            assert "best_price" not in tick and "prices" not in tick
        else:
            assert tick["best_price"] == ranked[0][2]
        if feed.visibility == "full_ladder":
            assert tick["prices"] == [v[2] for v in ranked]
        else:
            assert "prices" not in tick
        for company in SUPPLIERS:
            if company in feed.standings:
                rank = order.index(hub.token(5, company)) + 1
                expected = (
                    sorted(feed.standings, key=lambda c: feed.standings[c][:2]).index(company) + 1
                )
                assert rank == expected


def test_slow_subscriber_is_coalesced_then_closed() -> None:
    """A full queue drops the auction's backlog for one snapshot; repeated, it closes."""
    sub = Subscriber("rfq.v1.json")
    for n in range(QUEUE_LIMIT):
        sub.offer(5, f"frame {n}")
    sub.offer(5, "one more")
    assert list(sub.pending) == [(5, None)] and not sub.closed
    for _ in range(3):
        for n in range(QUEUE_LIMIT):
            sub.offer(5, f"frame {n}")
    assert sub.closed


def test_the_shared_tick_and_a_frame_per_connection_tell_the_same_ranks() -> None:
    """What `rfq bench ranks` compares carries the same information: each supplier's
    position of its token in the shared tick's `order` is the rank its own frame says."""
    hub = Hub(None, "secret")  # type: ignore[arg-type]
    feed = Feed(auction_id=7, buyer_company_id=0, visibility="rank_only", sealed=False)
    subs = []
    for company, price in ((1, 500), (2, 300), (3, 400)):
        sub = Subscriber(codec.JSON)
        feed.subscribers[(sub, False)] = ("supplier", Viewer(False, company_id=company))
        feed.standings[str(company)] = (price * 10_000, company, price)
        subs.append((sub, company))
    event = {"type": "bid", "seq": 4, "at": 0, "company": 1, "price": 350, "t": 3_500_000}
    event["bid_id"] = "7.0-4"
    hub._dispatch(feed, dict(event))
    shared = {c: json.loads(sub.pending.pop()[1]) for sub, c in subs}
    ranks._dispatch_own(hub, feed, dict(event), subs)
    own = {c: json.loads(sub.pending.pop()[1]) for sub, c in subs}
    for company in (1, 2, 3):
        position = shared[company]["order"].index(hub.token(7, company)) + 1
        assert position == own[company]["rank"]
    assert [own[c]["rank"] for c in (2, 1, 3)] == [1, 2, 3]
