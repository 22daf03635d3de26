"""The hub: slow subscribers, and the shared tick against a frame per connection."""

from __future__ import annotations

import json

from bidding.views import Viewer
from loadtests import bench_ranks as ranks
from realtime import codec
from realtime.hub import QUEUE_LIMIT, Feed, Hub, Subscriber


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
    feed = Feed(
        auction_id=7, buyer_company_id=0, visibility="rank_only", sealed=False, status="live"
    )
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
