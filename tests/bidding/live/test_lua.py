"""The Lua scripts against the pure core: the same operations give the same outcomes.

Differential tests on the real Redis server: random rules, transforms, bids, proxy
floors, pre-bids and clock ticks are applied both to `bidding.auction` and, through
`bidding.live.engine`, to ``bid.lua``/``status.lua``; every decision, rejection code,
``min_acceptable``, rank, extension and the final ladder must agree. Clock auctions
likewise against `bidding.price_clock`: levels, acceptances, refusals and the winner.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redis.asyncio import Redis

from bidding import auction as core
from bidding import price_clock as clock_core
from bidding.decide import Transform
from bidding.errors import BidRejected, IllegalMove, PriceNotCurrent
from bidding.live.engine import Engine, RateLimit, meta_of
from bidding.price_clock import Accepted, LevelStarted
from bidding.rules import parse_rules
from rfq.platform.keys import Keys
from tests.conftest import REDIS_URL

START = 1_800_000_000_000
SUPPLIERS = ["11", "12", "7", "8"]


@st.composite
def rules_and_ceiling(draw: st.DrawFn) -> tuple[dict[str, Any], int]:
    fmt = draw(st.sampled_from(["reverse_english", "reverse_english", "sealed"]))
    ceiling = draw(st.one_of(st.integers(50, 200), st.integers(50, 5000)))
    decrement = draw(
        st.one_of(
            st.builds(lambda a: {"amount": a}, st.integers(1, 20)),
            st.builds(lambda b: {"bps": b}, st.integers(1, 500)),
        )
    )
    rules: dict[str, Any] = {"format": fmt, "visibility": "rank_only", "decrement": decrement}
    if fmt == "reverse_english":
        rules["decrement_from"] = draw(st.sampled_from(["own", "best"]))
        rules["ties"] = draw(st.sampled_from(["earlier_wins", "rejected"]))
        if draw(st.booleans()):
            trigger = draw(st.sampled_from(["any", "leader", "top_n"]))
            soft: dict[str, Any] = {
                "window_s": draw(st.integers(1, 30)),
                "extend_s": draw(st.integers(1, 10)),
                "trigger": trigger,
                "max_extensions": draw(st.one_of(st.none(), st.integers(1, 3))),
            }
            if trigger == "top_n":
                soft["top_n"] = draw(st.integers(1, 3))
            rules["soft_close"] = soft
    if draw(st.booleans()):
        rules["pre_bids"] = True  # the run then starts before the opening
    return rules, ceiling


@st.composite
def operations(draw: st.DrawFn, ceiling: int) -> list[tuple[str, str, int, int]]:
    """Bids and floors mostly just around the ceiling and each other; small time steps."""
    near = st.integers(-3, 60).map(lambda k: ceiling - k)
    price = st.one_of(near, near, st.integers(-5, ceiling + 10))
    step = st.one_of(st.integers(0, 600), st.integers(0, 600), st.integers(0, 20_000))
    one = st.one_of(
        st.tuples(st.just("bid"), st.sampled_from(SUPPLIERS), price, step),
        st.tuples(st.just("bid"), st.sampled_from(SUPPLIERS), price, step),
        st.tuples(st.just("proxy"), st.sampled_from(SUPPLIERS), price, step),
        st.tuples(st.just("tick"), st.just(""), st.just(0), step),
    )
    return draw(st.lists(one, min_size=8, max_size=40))


transforms = st.dictionaries(
    st.sampled_from(SUPPLIERS),
    st.builds(Transform, st.integers(5_000, 20_000), st.integers(-50, 50)),
    max_size=2,
)


def _ladder_core(a: core.Auction) -> list[tuple[str, int, int, str]]:
    return [(e.supplier, e.price, e.transformed, e.bid_id) for e in core.ladder(a)]


async def _ladder_lua(engine: Engine, auction_id: int) -> list[tuple[str, int, int, str]]:
    return [
        (b["company"], b["price"], b["t"], b["bid_id"]) for b in await engine.standings(auction_id)
    ]


async def _run(spec: tuple[dict[str, Any], int], tf: dict[str, Transform], ops: list) -> None:
    rules_json, ceiling = spec
    rules = parse_rules(rules_json, ceiling_price=ceiling)
    sealed = rules.format.value == "sealed"
    if sealed:
        tf = {}
    auction_id = 7
    duration = 4_000 + (ceiling * 7919) % 26_000  # varies with the example, 4 to 30 s
    if rules.pre_bids:  # short enough that a soft-close window often covers the pre-bids
        duration = 1_000 + (ceiling * 7919) % 4_000
    a = core.new_auction(f"{auction_id}.1", rules, ceiling_price=ceiling, starts_at_ms=START,
                         ends_at_ms=START + duration, transforms=tf)  # fmt: skip
    client = Redis.from_url(REDIS_URL)
    engine = Engine(client, Keys(f"rfqtest:lua:{uuid.uuid4().hex[:8]}:"))
    try:
        meta = meta_of(auction_id=auction_id, status="scheduled", rules=rules,
                       ceiling_price=ceiling, reserve_price=None, starts_ms=START,
                       ends_ms=START + duration, extensions=0, seq=0, aseq=0, epoch=1,
                       rate=RateLimit(0, 0))  # fmt: skip
        state = {
            "meta": meta,
            "transforms": {s: f"{t.multiplier_bps}:{t.adder}" for s, t in tf.items()},
        }
        await engine.load(auction_id, state, replace=True)
        now = START - 3_000 if rules.pre_bids else START  # pre-bids, then the opening
        a, _ = core.tick(a, now)
        moved = await engine.move(auction_id, "tick", now_ms=now)
        assert moved.status == a.status.value
        for n, (kind, supplier, value, dt) in enumerate(ops):
            now += dt
            if kind == "tick":
                a, events = core.tick(a, now)
                moved = await engine.move(auction_id, "tick", now_ms=now)
                assert moved.status == a.status.value
                assert [e["type"] for e in moved.events] == [e.type for e in events]
                continue
            if kind == "proxy":
                if sealed:
                    continue
                try:
                    a, events = core.set_proxy(a, supplier, value, now)
                    expected: Any = ("ok", None, None, [e.type for e in events])
                except (BidRejected, IllegalMove) as exc:
                    expected = ("rejected", exc.code, None, [])
                got = await engine.proxy(auction_id, supplier, value, f"p{n}", now_ms=now,
                                         eligible=True)  # fmt: skip
                assert (got.result, got.code, None, [e["type"] for e in got.events]) == expected
                continue
            bid_id = f"{auction_id}.1-{a.seq + 1}"
            try:
                a, accepted = core.place_bid(a, supplier, value, now, bid_id, nonce="n")
                expected = ("ok", None, None, accepted.rank, accepted.ends_at_ms,
                            accepted.extended, [e.type for e in accepted.events])  # fmt: skip
            except BidRejected as exc:
                expected = ("rejected", exc.code, exc.min_acceptable, None, None, False, [])
            got_bid = await engine.bid(auction_id, supplier, value, f"b{n}", now_ms=now)
            got = (
                got_bid.result, got_bid.code, got_bid.min_acceptable, got_bid.rank,
                got_bid.ends_ms if got_bid.result == "ok" else None, got_bid.extended,
                [e["type"] for e in got_bid.events],
            )  # fmt: skip
            assert got == expected, (n, kind, supplier, value)
            if got_bid.result == "ok":
                assert got_bid.bid is not None and got_bid.bid["bid_id"] == bid_id
            assert await _ladder_lua(engine, auction_id) == _ladder_core(a)
        meta_now = await engine.meta(auction_id)
        assert int(meta_now["seq"]) == a.seq
        assert int(meta_now["ext"]) == a.extensions
        assert int(meta_now["ends"]) == a.ends_at_ms
    finally:
        for key in engine.auction_keys(auction_id).all():
            await client.delete(key)
        await client.aclose()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_lua_matches_the_pure_core(data: st.DataObject) -> None:
    """bid.lua and status.lua decide every operation exactly as bidding.auction does."""
    spec = data.draw(rules_and_ceiling(), "rules")
    tf = data.draw(transforms, "transforms")
    ops = data.draw(operations(spec[1]), "ops")
    asyncio.run(_run(spec, tf, ops))


def test_replayed_key_returns_the_first_outcome() -> None:
    """The same key sent again gets the first outcome back and places no second bid."""
    rules = {"format": "reverse_english", "decrement": {"amount": 5}}

    async def run() -> None:
        client = Redis.from_url(REDIS_URL)
        engine = Engine(client, Keys(f"rfqtest:lua:{uuid.uuid4().hex[:8]}:"))
        try:
            parsed = parse_rules(rules, ceiling_price=100)
            meta = meta_of(auction_id=1, status="live", rules=parsed, ceiling_price=100,
                           reserve_price=None, starts_ms=START, ends_ms=START + 10_000,
                           extensions=0, seq=0, aseq=0, epoch=1, rate=RateLimit())  # fmt: skip
            await engine.load(1, {"meta": meta}, replace=True)
            first = await engine.bid(1, "5", 90, "same", now_ms=START + 1)
            again = await engine.bid(1, "5", 80, "same", now_ms=START + 2)
            assert first.result == "ok" and again.replay and again.result == "ok"
            assert again.bid == first.bid
            assert [b["price"] for b in await engine.standings(1)] == [90]
            rejected = await engine.bid(1, "5", 200, "high", now_ms=START + 3)
            again = await engine.bid(1, "5", 10, "high", now_ms=START + 4)
            assert rejected.code == "above_ceiling" and again.replay
            assert again.code == "above_ceiling"
        finally:
            for key in engine.auction_keys(1).all():
                await client.delete(key)
            await client.aclose()

    asyncio.run(run())


def test_rate_limit_refuses_a_burst() -> None:
    """More bids than the burst allows within a moment are refused as limited, unrecorded."""

    async def run() -> None:
        client = Redis.from_url(REDIS_URL)
        engine = Engine(client, Keys(f"rfqtest:lua:{uuid.uuid4().hex[:8]}:"))
        try:
            parsed = parse_rules({"format": "reverse_english", "decrement": {"amount": 1}},
                                 ceiling_price=1000)  # fmt: skip
            meta = meta_of(auction_id=2, status="live", rules=parsed, ceiling_price=1000,
                           reserve_price=None, starts_ms=START, ends_ms=START + 10_000,
                           extensions=0, seq=0, aseq=0, epoch=1,
                           rate=RateLimit(interval_ms=100, burst_ms=500))  # fmt: skip
            await engine.load(2, {"meta": meta}, replace=True)
            results = [
                (await engine.bid(2, "1", 900 - i, f"k{i}", now_ms=START + 1)).result
                for i in range(8)
            ]
            assert results[:5] == ["ok"] * 5 and set(results[5:]) == {"limited"}
            later = await engine.bid(2, "1", 800, "late", now_ms=START + 1000)
            assert later.result == "ok"
            assert int((await engine.meta(2))["aseq"]) == 6
        finally:
            for key in engine.auction_keys(2).all():
                await client.delete(key)
            await client.aclose()

    asyncio.run(run())


@st.composite
def clock_spec(draw: st.DrawFn) -> tuple[dict[str, Any], int]:
    fmt = draw(st.sampled_from(["japanese", "dutch"]))
    start = draw(st.integers(60, 200))
    step = draw(st.integers(1, 15))
    span = draw(st.integers(1, 50))
    end = start - span if fmt == "japanese" else start + span
    ceiling = max(start, end) + draw(st.integers(0, 20))
    clock = {"start_price": start, "step": step, "interval_s": draw(st.integers(1, 3)),
             "end_price": end}  # fmt: skip
    return {"format": fmt, "visibility": "rank_only", "clock": clock}, ceiling


@st.composite
def clock_operations(draw: st.DrawFn) -> list[tuple[str, str, int, int]]:
    """Acceptances (mostly at the current price, sometimes off it) and clock ticks."""
    step = st.one_of(st.integers(0, 900), st.integers(0, 900), st.integers(0, 4_000))
    one = st.one_of(
        st.tuples(st.just("accept"), st.sampled_from(SUPPLIERS), st.just(0), step),
        st.tuples(st.just("accept"), st.sampled_from(SUPPLIERS), st.just(0), step),
        st.tuples(st.just("accept"), st.sampled_from(SUPPLIERS), st.integers(-3, 3), step),
        st.tuples(st.just("tick"), st.just(""), st.just(0), step),
    )
    return draw(st.lists(one, min_size=4, max_size=40))


def _clock_events(events: Any) -> list[tuple[Any, ...]]:
    out = []
    for e in events:
        if isinstance(e, LevelStarted):
            out.append((e.type, e.at_ms, e.level, e.price, e.active))
        elif isinstance(e, Accepted):
            out.append(("bid", e.at_ms, e.level, e.price, None))
        else:
            out.append((e.type, e.at_ms, None, None, None))
    return out


def _lua_events(events: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [(e["type"], e["at"], e.get("level"), e.get("price"), e.get("active")) for e in events]


async def _run_clock(spec: tuple[dict[str, Any], int], ops: list) -> None:
    rules_json, ceiling = spec
    rules = parse_rules(rules_json, ceiling_price=ceiling)
    assert rules.clock is not None
    auction_id = 8
    c = clock_core.new_clock("c", rules, starts_at_ms=START)
    client = Redis.from_url(REDIS_URL)
    engine = Engine(client, Keys(f"rfqtest:lua:{uuid.uuid4().hex[:8]}:"))
    try:
        meta = meta_of(auction_id=auction_id, status="scheduled", rules=rules,
                       ceiling_price=ceiling, reserve_price=None, starts_ms=START,
                       ends_ms=START, extensions=0, seq=0, aseq=0, epoch=1,
                       rate=RateLimit(0, 0))  # fmt: skip
        await engine.load(auction_id, {"meta": meta}, replace=True)
        now = START
        for n, (kind, supplier, offset, dt) in enumerate(ops):
            now += dt
            c, events = clock_core.tick(c, now)
            moved = await engine.move(auction_id, "tick", now_ms=now)
            assert moved.status == c.status.value
            assert _lua_events(moved.events) == _clock_events(events)
            if kind == "tick":
                continue
            price = clock_core.level_price(c.clock, c.level) + offset
            try:
                if offset:
                    current = clock_core.level_price(c.clock, c.level)
                    if c.status.value == "live":
                        raise PriceNotCurrent("moved", min_acceptable=current)
                c, events = clock_core.accept(c, supplier, now)
                expected: Any = ("ok", None, None, _clock_events(events))
            except BidRejected as exc:
                expected = ("rejected", exc.code, exc.min_acceptable, [])
            got = await engine.bid(auction_id, supplier, price, f"a{n}", now_ms=now)
            assert (got.result, got.code, got.min_acceptable, _lua_events(got.events)) == expected
            if got.result == "ok":
                assert got.bid is not None and got.bid["price"] == price
        ladder = await engine.standings(auction_id)
        meta_now = await engine.meta(auction_id)
        assert meta_now["status"] == c.status.value and int(meta_now["seq"]) == c.seq
        if c.status.value == "closed":
            top = (ladder[0]["company"], ladder[0]["price"]) if ladder else (None, None)
            assert top == (c.winner, c.price)
    finally:
        for key in engine.auction_keys(auction_id).all():
            await client.delete(key)
        await client.aclose()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(clock_spec(), clock_operations())
def test_clock_lua_matches_the_pure_core(spec: tuple[dict[str, Any], int], ops: list) -> None:
    """Japanese and dutch clocks: status.lua's tick and bid.lua's acceptances give the
    pure core's events, refusals and winner (the ladder's first bid)."""
    asyncio.run(_run_clock(spec, ops))
