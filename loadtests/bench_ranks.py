"""``rfq bench ranks``: two ways to tell every supplier its rank after each bid.

The hub's way (kept): one supplier tick per event, rendered and encoded once, whose
``order`` lists the standing bids' pseudonyms best first; each supplier finds its own
(``my_token``) and reads its rank as the position, so every connection gets the same
bytes. The other way: a frame of its own per supplier connection, carrying its rank,
rendered and encoded once per connection.

Both run in this process on the hub's real code path (``Hub._dispatch`` into each
connection's queue) against in-memory feeds with S standing suppliers, each watching on
one connection, and no I/O: the figures are CPU time per event and per delivery, which
is what the choice changes. Printed per S: microseconds per event for each way, and
their ratio.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from bidding.views import Viewer
from realtime import codec
from realtime.hub import Feed, Hub, Subscriber


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The rank benchmark's options."""
    parser.add_argument("--suppliers", default="10,100,1000", help="comma-separated counts")
    parser.add_argument("--events", type=int, default=200, help="bids per measurement")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Measure both ways for each supplier count."""
    rows = []
    for n in (int(x) for x in args.suppliers.split(",")):
        shared = _measure(n, args.events, per_connection=False)
        own = _measure(n, args.events, per_connection=True)
        rows.append(
            {
                "suppliers": n,
                "shared_us_per_event": shared,
                "per_connection_us_per_event": own,
                "ratio": own / shared if shared else 0.0,
            }
        )
    return {"events": args.events, "rows": rows}


def report(figures: dict[str, Any], as_json: bool) -> None:
    """Print the figures as a table, or as one JSON object."""
    if as_json:
        print(json.dumps(figures))
        return
    print("rfq bench ranks (CPU per bid event, every supplier told its rank)")
    print(f"{'suppliers':>9} | {'shared tick µs':>14} | {'own frame µs':>12} | {'ratio':>5}")
    for row in figures["rows"]:
        print(
            f"{row['suppliers']:>9} | {row['shared_us_per_event']:>14.1f} | "
            f"{row['per_connection_us_per_event']:>12.1f} | {row['ratio']:>5.1f}"
        )


class _NoDesk:
    """The hub's desk is not used on the dispatch path."""


def _measure(n: int, events: int, *, per_connection: bool) -> float:
    hub = Hub(_NoDesk(), "bench-secret")  # type: ignore[arg-type]
    feed = Feed(auction_id=1, buyer_company_id=0, visibility="rank_only", sealed=False)
    feed.status = "live"
    subs = []
    for company in range(1, n + 1):
        sub = Subscriber(codec.JSON)
        feed.subscribers[(sub, False)] = ("supplier", Viewer(False, company_id=company))
        feed.standings[str(company)] = (1_000_000 * 10_000, company, 1_000_000)
        subs.append((sub, company))
    started = time.perf_counter()
    for k in range(events):
        company = k % n + 1
        price = 999_999 - k
        event = {
            "type": "bid",
            "seq": k + 1,
            "at": 0,
            "company": company,
            "price": price,
            "t": price * 10_000,
            "bid_id": f"1.1-{k + 1}",
        }
        if per_connection:
            _dispatch_own(hub, feed, event, subs)
        else:
            hub._dispatch(feed, event)
        for sub, _ in subs:
            sub.pending.clear()
    return (time.perf_counter() - started) / events * 1e6


def _dispatch_own(
    hub: Hub, feed: Feed, event: dict[str, Any], subs: list[tuple[Subscriber, int]]
) -> None:
    """The alternative: apply the event, then render and encode a frame per connection
    with that supplier's rank (a lookup in the ranking sorted once per event)."""
    feed.last_seq = event["seq"]
    feed.standings[str(event["company"])] = (event["t"], event["seq"], event["price"])
    ranked = sorted(feed.standings.items(), key=lambda kv: (kv[1][0], kv[1][1]))
    rank_of = {company: rank for rank, (company, _) in enumerate(ranked, start=1)}
    for sub, company in subs:
        frame = {
            "type": "bid",
            "auction": feed.auction_id,
            "seq": event["seq"],
            "epoch": feed.epoch,
            "at": event["at"],
            "bidders": len(ranked),
            "ends_at_ms": feed.ends_ms,
            "rank": rank_of.get(str(company)),
        }
        sub.offer(feed.auction_id, codec.encode(sub.protocol, frame))
