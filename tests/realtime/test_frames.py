"""realtime/frames.py: what a supplier's frames may carry, for every visibility,
property-tested (no I/O: a frame is a function of the feed and the event)."""

from __future__ import annotations

from functools import partial
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from realtime import frames
from realtime.hub import Feed, Hub, _apply

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
    suppliers nothing before the close, not even that a bid came (no frame). Buyer
    frames carry the bidder and price."""
    feed, events = case
    hub = Hub(desk=None, secret="s" * 40)  # type: ignore[arg-type]
    hidden_sealed = feed.sealed and feed.status == "live"
    for event in events:
        _apply(feed, event)
        tick = frames.event(feed, event, "supplier", partial(hub._token, feed))
        full = frames.event(feed, event, "full", partial(hub._token, feed))
        assert full is not None
        if hidden_sealed:
            assert tick is None
            assert "price" not in full
            continue
        assert tick is not None
        assert not {"bid_id", "supplier_company_id", "price", "ranking_price_e4", "proxy"} & set(
            tick
        )
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
