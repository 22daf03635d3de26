"""The engine's Redis adapter: the Lua scripts, registered once and called by EVALSHA.

``bid.lua`` decides and records bids and proxy floors, ``status.lua`` moves auctions
through their lifecycle (and voids bids), ``load.lua`` puts a whole auction into Redis,
``publish.lua`` releases to the fan-out stream what SQL holds.
This module turns their msgpack answers into typed outcomes and nothing more; what
the outcomes mean for durability and for people is ``bidding/live/desk.py``'s business.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgpack

from bidding.auction import OPEN
from bidding.live.batching import ScriptBatcher
from bidding.live.store import Mark
from bidding.price_clock import clock_end_ms
from bidding.rules import (
    Clock,
    Decrement,
    DecrementFrom,
    Format,
    LotRules,
    SoftClose,
    Ties,
    Trigger,
    Visibility,
)
from bidding.views import Live
from rfq.platform.keys import AuctionKeys, Keys

MAXLEN = 10_000
"""Approximate cap of each auction's event and audit streams in Redis (SQL keeps all)."""

_HERE = Path(__file__).parent


def _script(name: str) -> str:
    return (_HERE / name).read_text()


@dataclass(frozen=True, slots=True)
class RateLimit:
    """At most one bid per ``interval_ms`` per supplier and auction, bursts up to
    ``burst_ms / interval_ms`` bids."""

    interval_ms: int = 250
    burst_ms: int = 2_000


@dataclass(frozen=True, slots=True)
class Outcome:
    """What ``bid.lua`` answered.

    ``result`` is ``ok``, ``rejected``, ``limited``, ``missing`` or ``tick`` (a clock
    auction must be ticked first); ``replay`` is True
    when the key was seen before and this is the first outcome again.
    """

    result: str
    replay: bool = False
    code: str | None = None
    min_acceptable: int | None = None
    bid: dict[str, Any] | None = None
    rank: int | None = None
    ends_ms: int | None = None
    extensions: int | None = None
    extended: bool = False
    epoch: int = 0
    retry_ms: int = 0
    outbid: str | None = None
    events: list[dict[str, Any]] = field(default_factory=list)
    audit: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class StatusOutcome:
    """What ``status.lua`` answered: ``ok``, ``illegal`` or ``missing``; ``due_ms`` is
    when the scheduler must tick the auction next (None: never)."""

    result: str
    status: str | None = None
    starts_ms: int | None = None
    ends_ms: int | None = None
    due_ms: int | None = None
    epoch: int = 0
    events: list[dict[str, Any]] = field(default_factory=list)
    audit: list[dict[str, Any]] = field(default_factory=list)


def meta_of(
    *,
    auction_id: int,
    status: str,
    rules: LotRules,
    ceiling_price: int,
    reserve_price: int | None,
    starts_ms: int,
    ends_ms: int,
    extensions: int,
    seq: int,
    aseq: int,
    epoch: int,
    rate: RateLimit,
    level: int = 0,
) -> dict[str, Any]:
    """The ``{a:<id>}:m`` hash for an auction (see ``bid.lua``'s header).

    A clock auction that has not closed ends when its clock can run out at the latest
    (``ends_ms`` is then ignored); ``level`` is its current price level.
    """
    d, sc, c = rules.decrement, rules.soft_close, rules.clock
    if c is not None and status in OPEN:
        ends_ms = clock_end_ms(c, starts_ms)
    return {
        "id": str(auction_id),
        "status": status,
        "fmt": rules.format.value,
        "vis": rules.visibility.value,
        "starts": starts_ms,
        "ends": ends_ms,
        "ext": extensions,
        "seq": seq,
        "aseq": aseq,
        "dseq": seq,
        "daseq": aseq,
        "epoch": epoch,
        "ceiling": ceiling_price,
        "reserve": "" if reserve_price is None else reserve_price,
        "dec_amt": "" if d is None or d.amount is None else d.amount,
        "dec_bps": "" if d is None or d.bps is None else d.bps,
        "dec_from": rules.decrement_from.value,
        "ties": rules.ties.value,
        "sc_win": "" if sc is None else sc.window_s,
        "sc_ext": "" if sc is None else sc.extend_s,
        "sc_trig": "" if sc is None else sc.trigger.value,
        "sc_topn": "" if sc is None or sc.top_n is None else sc.top_n,
        "sc_max": "" if sc is None or sc.max_extensions is None else sc.max_extensions,
        "rl_int": rate.interval_ms,
        "rl_burst": rate.burst_ms,
        "ck_start": "" if c is None else c.start_price,
        "ck_step": "" if c is None else c.step,
        "ck_int": "" if c is None else c.interval_s,
        "ck_end": "" if c is None else c.end_price,
        "lvl": level,
        "pre": "1" if rules.pre_bids else "",
    }


def live_of(meta: Mapping[str, str]) -> Live:
    """The auction's live state from its ``{a:<id>}:m`` hash (the reverse of
    :func:`meta_of`; the hash's field names stay in this adapter)."""

    def number(name: str) -> int | None:
        value = meta.get(name, "")
        return int(value) if value != "" else None

    clock = None
    if number("ck_int") is not None:
        clock = Clock(
            int(meta["ck_start"]), int(meta["ck_step"]), int(meta["ck_int"]), int(meta["ck_end"])
        )
    soft_close = None
    window, extend = number("sc_win"), number("sc_ext")
    if window is not None and extend is not None:
        soft_close = SoftClose(
            window, extend, Trigger(meta["sc_trig"]), number("sc_topn"), number("sc_max")
        )
    decrement = None
    if clock is None:
        decrement = Decrement(amount=number("dec_amt"), bps=number("dec_bps"))
    rules = LotRules(
        format=Format(meta["fmt"]),
        visibility=Visibility(meta.get("vis") or "rank_only"),
        decrement=decrement,
        decrement_from=DecrementFrom(meta.get("dec_from") or "own"),
        ties=Ties(meta.get("ties") or "earlier_wins"),
        soft_close=soft_close,
        clock=clock,
        pre_bids=meta.get("pre") == "1",
    )
    return Live(
        id=int(meta["id"]),
        status=meta["status"],
        rules=rules,
        ceiling_price=int(meta["ceiling"]),
        reserve_price=number("reserve"),
        starts_ms=int(meta["starts"]),
        ends_ms=int(meta["ends"]),
        extensions=int(meta["ext"]),
        seq=int(meta["seq"]),
        epoch=int(meta["epoch"]),
        level=number("lvl") or 0,
    )


class Engine:
    """Calls the scripts for one Redis (or Redis Cluster) client."""

    def __init__(self, redis: Any, keys: Keys, *, maxlen: int = MAXLEN) -> None:
        self.redis = redis
        self.keys = keys
        self.maxlen = maxlen
        self._keys_cache: dict[int, AuctionKeys] = {}
        self._bid = ScriptBatcher(redis, redis.register_script(_script("bid.lua")))
        self._status = redis.register_script(_script("status.lua"))
        self._load = redis.register_script(_script("load.lua"))
        self._publish = ScriptBatcher(redis, redis.register_script(_script("publish.lua")))
        self._state = redis.register_script(_script("state.lua"))
        self._unlock = redis.register_script(_script("unlock.lua"))

    def auction_keys(self, auction_id: int) -> AuctionKeys:
        """The keys of one auction (built once: each bid and each read of the hub's
        needs them)."""
        keys = self._keys_cache.get(auction_id)
        if keys is None:
            if len(self._keys_cache) >= 4096:
                self._keys_cache.clear()
            keys = self._keys_cache[auction_id] = self.keys.auction(auction_id)
        return keys

    async def bid(
        self,
        auction_id: int,
        company: str,
        price: int,
        key: str,
        *,
        now_ms: int | None = None,
        eligible: bool = True,
        commitment: str = "",
        nonce: str = "",
        surrogate: tuple[int, str] | None = None,
    ) -> Outcome:
        """Decide and record one bid (``bid.lua``); ``surrogate`` is ``(user id,
        reason)`` of a buyer or operator placing it on the supplier's behalf."""
        return await self._call_bid(
            auction_id,
            company,
            str(price),
            key,
            now_ms,
            eligible,
            commitment,
            nonce,
            "bid",
            surrogate,
        )

    async def proxy(
        self,
        auction_id: int,
        company: str,
        floor: int | None,
        key: str,
        *,
        now_ms: int | None = None,
        eligible: bool,
    ) -> Outcome:
        """Set a supplier's proxy floor, or clear it (``floor`` None)."""
        op = "unproxy" if floor is None else "proxy"
        return await self._call_bid(
            auction_id, company, str(floor or 0), key, now_ms, eligible, "", "", op
        )

    async def move(
        self,
        auction_id: int,
        move: str,
        *,
        now_ms: int | None = None,
        void: tuple[str, str, str, bytes] | None = None,
        decision: dict[str, Any] | None = None,
    ) -> StatusOutcome:
        """``tick``, ``cancel``, ``award``, ``no_award`` (with the buyer's ``decision``,
        kept in the audit entry) or ``void`` (``status.lua``)."""
        bid_id, company, reason, restore = void or ("", "", "", b"")
        first: str | bytes = bid_id
        if decision is not None:
            first = msgpack.packb(decision, use_bin_type=False)
        raw = await self._status(
            keys=self.auction_keys(auction_id).all(),
            args=[_when(now_ms), move, self.maxlen, first, company, reason, restore],
        )
        out = _unpack(raw)
        return StatusOutcome(
            result=out["r"],
            status=out.get("status"),
            starts_ms=out.get("starts"),
            ends_ms=out.get("ends"),
            due_ms=out.get("due"),
            epoch=out.get("epoch", 0),
            events=[_unpack(e) for e in out.get("events", [])],
            audit=[_unpack(e) for e in out.get("audit", [])],
        )

    async def load(self, auction_id: int, state: dict[str, Any], *, replace: bool) -> bool:
        """Put a whole auction into Redis (``load.lua``); True if it loaded."""
        packed = msgpack.packb(state, use_bin_type=False)
        loaded = await self._load(
            keys=self.auction_keys(auction_id).all(),
            args=[packed, "replace" if replace else "missing"],
        )
        return bool(loaded)

    async def amend(
        self, auction_id: int, *, ceiling_price: int | None, ends_ms: int | None
    ) -> None:
        """Apply a buyer's amendment to a loaded auction: a higher ceiling (any time),
        a later end (before the start only; the caller checked). One HSET, atomic with
        the scripts. An auction not in Redis picks the change up from SQL when loaded.
        A clock auction keeps its end: its clock sets it."""
        key = self.auction_keys(auction_id).meta
        fields: dict[str, int] = {}
        if ceiling_price is not None:
            fields["ceiling"] = ceiling_price
        if ends_ms is not None and not await self.redis.hget(key, "ck_int"):
            fields["ends"] = ends_ms  # a clock's end is its last level's, not the lot's
        if fields and await self.redis.exists(key):
            await self.redis.hset(key, mapping=fields)

    async def publish(self, marks: Mapping[int, Mark]) -> None:
        """Release what SQL holds of each auction to its fan-out stream
        (``publish.lua``; one round trip for all of them)."""
        calls = []
        for auction_id, mark in marks.items():
            keys = self.auction_keys(auction_id)
            calls.append(
                self._publish(
                    [keys.meta, keys.events, keys.fanout],
                    [mark.epoch, mark.seq, mark.aseq, self.maxlen],
                )
            )
        await asyncio.gather(*calls)  # one pipeline (the batcher's)

    async def unlock(self, key: str, token: str) -> bool:
        """Release a lock if ``token`` still holds it (``unlock.lua``)."""
        return bool(await self._unlock(keys=[key], args=[token]))

    async def meta(self, auction_id: int) -> dict[str, str]:
        """The auction's meta hash (empty if the auction is not in Redis)."""
        raw = await self.redis.hgetall(self.auction_keys(auction_id).meta)
        return {_text(k): _text(v) for k, v in raw.items()}

    async def transform(self, auction_id: int, company: str) -> tuple[int, int]:
        """A supplier's ``(multiplier_bps, adder)`` in the auction (``(10000, 0)`` if none)."""
        raw = await self.redis.hget(self.auction_keys(auction_id).transforms, company)
        if raw is None:
            return 10_000, 0
        multiplier, adder = _text(raw).split(":")
        return int(multiplier), int(adder)

    async def state(self, auction_id: int) -> tuple[dict[str, str], list[dict[str, Any]]]:
        """The auction's meta hash (empty if it is not in Redis) and its standing bids
        best first, each with ``company`` and ``rank``, read atomically (``state.lua``)."""
        keys = self.auction_keys(auction_id)
        raw_meta, members, packed = await self._state(keys=[keys.meta, keys.ladder, keys.standing])
        meta = {_text(k): _text(v) for k, v in zip(raw_meta[::2], raw_meta[1::2], strict=True)}
        out = []
        for rank, (member, raw) in enumerate(zip(members, packed, strict=True), start=1):
            if not raw:
                continue
            bid = _unpack(raw)
            bid.update(company=_text(member)[13:], rank=rank)
            out.append(bid)
        return meta, out

    async def standings(self, auction_id: int) -> list[dict[str, Any]]:
        """Standing bids best first, each with ``company`` and ``rank``."""
        return (await self.state(auction_id))[1]

    async def stream(self, key: str, after: int) -> list[dict[str, Any]]:
        """The entries of an auction stream after sequence ``after``, decoded."""
        rows = await self.redis.xrange(key, min=f"({after}-0", max="+")
        return [_unpack(fields[b"d"]) for _, fields in rows]

    async def _call_bid(
        self,
        auction_id: int,
        company: str,
        value: str,
        key: str,
        now_ms: int | None,
        eligible: bool,
        commitment: str,
        nonce: str,
        op: str,
        surrogate: tuple[int, str] | None = None,
    ) -> Outcome:
        by, reason = surrogate or ("", "")
        raw = await self._bid(
            self.auction_keys(auction_id).all(),
            [
                _when(now_ms),
                company,
                value,
                key,
                "1" if eligible else "0",
                commitment,
                nonce,
                self.maxlen,
                op,
                by,
                reason,
            ],
        )
        out = _unpack(raw)
        replay = out["r"] == "replay"
        if replay:
            out = out["o"]
        bid = out.get("bid")
        return Outcome(
            result=out["r"],
            replay=replay,
            code=out.get("code"),
            min_acceptable=out.get("min"),
            bid=dict(bid) if bid else None,
            rank=out.get("rank"),
            ends_ms=out.get("ends"),
            extensions=out.get("ext"),
            extended=bool(out.get("extended")),
            epoch=out.get("epoch", 0),
            retry_ms=out.get("retry_ms", 0),
            outbid=out.get("outbid"),
            events=[_unpack(e) for e in out.get("events", [])],
            audit=[_unpack(e) for e in out.get("audit", [])],
        )


def _when(now_ms: int | None) -> int | str:
    """The scripts' time argument: ``""`` lets them read Redis's clock (production)."""
    return "" if now_ms is None else now_ms


def _unpack(raw: bytes | dict[str, Any]) -> dict[str, Any]:
    if isinstance(raw, dict):
        return raw
    value: dict[str, Any] = msgpack.unpackb(raw, raw=False, strict_map_key=False)
    return value


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
