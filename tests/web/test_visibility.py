"""What each role learns of the other suppliers' bids, through every channel, in every
visibility, format and lot state: the table of docs/security.md ("What each role can
learn"), enforced against a real uvicorn.

One festival holds three RFQs of the same six lots (``rank_only``, ``best_price`` and
``full_ladder`` reverse English lots, sealed lots showing ranks or the best price after
the close, a Japanese clock): one stays ``scheduled``, one runs ``live`` and is
``cancelled``, one runs ``live``, ``closed`` and is ``awarded``. Suppliers ``a`` and
``b`` bid (drawn by hypothesis: how many, in which order, at which prices, so that
some prices never were the best; one or two of each lot's bids the buyer places for
its supplier, a surrogate bid; in each running RFQ ``a`` asks a question the buyer
answers; in the scheduled RFQ they place pre-bids, sealed until the opening),
``c`` takes part without bidding, ``public`` may see
the RFQ but does not take part. Every role watches every lot and the festival over
``/ws`` from before the first bid to the end; in every state each role reads the lot's
state, bid list, CSV, audit log, own bids, the RFQ's clarifications, the festival
report, its notifications, and
(suppliers, live) gets a rejection; each bidder's acks count too. Every byte of it is
scanned for rival prices (as whole numbers, raw and as ranking prices), rival
identities (names anywhere, ids under a company key) and, where bids are secret, bid
counts, for surrogate marks that are not the reader's own and for who asked a question,
against what the table allows. One example a run, as each is some 20 s of
real auctions; the pure layer's hypothesis test (``tests/realtime/test_frames.py``)
tries many sequences a run on the frames alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from hypothesis import Phase, given, settings
from hypothesis import strategies as st
from websockets.asyncio.client import connect

from tests.support import LiveServer, bearer, certified_supplier, register, rfq_body

REVERSE = {"decrement": {"amount": 1}, "decrement_from": "own", "ties": "earlier_wins"}
KINDS: dict[str, dict[str, Any]] = {
    "rank_only": {"format": "reverse_english", "visibility": "rank_only", **REVERSE},
    "best_price": {"format": "reverse_english", "visibility": "best_price", **REVERSE},
    "full_ladder": {"format": "reverse_english", "visibility": "full_ladder", **REVERSE},
    "sealed_rank": {"format": "sealed", "visibility": "rank_only", **REVERSE},
    "sealed_best": {"format": "sealed", "visibility": "best_price", **REVERSE},
    "japanese": {
        "format": "japanese",
        "visibility": "rank_only",
        "clock": {"start_price": 990_000, "step": 10_000, "interval_s": 2, "end_price": 970_000},
    },
}
CEILING = 995_000
LOW, BAND = 850_000, 7_000
"""Each live lot's bids are drawn from a band of prices of its own, below the clock's
levels and the ceiling, so that every price in the test is unique."""
FULL = ("buyer", "operator")
SUPPLIERS = ("a", "b", "c")
ROLES = (*FULL, *SUPPLIERS, "public")
COMPANY_KEYS = {
    "supplier_company_id",
    "company_id",
    "company",
    "supplier",
    "supplier_name",
    "asked_by_company",
}


def allowed(role: str, kind: str, state: str) -> str:
    """The table of docs/security.md: which of the other suppliers' prices ``role`` may
    see of a ``kind`` lot in ``state``: ``all``, ``best`` (those that were the best
    price when they stood; after a sealed close, the best at the close), ``none``; and
    whether it may learn that and how often they bid (``count``: ``none`` -> no)."""
    sealed_now = kind.startswith("sealed") and state in ("scheduled", "live", "cancelled")
    sealed_now = sealed_now or state == "scheduled"  # pre-bids: sealed until the opening
    if role in FULL:
        return "none" if sealed_now else "all"
    if role == "public" or sealed_now:
        return "none"
    visibility = KINDS[kind]["visibility"]
    return {"rank_only": "none", "best_price": "best", "full_ladder": "all"}[visibility]


@dataclass
class Lot:
    rfq: int
    kind: str
    auction: int
    bids: list[tuple[str, int]] = field(default_factory=list)  # as placed and acked
    state: str = "scheduled"
    phoned: set[int] = field(default_factory=set)
    """The prices the buyer placed for their bidder (surrogate bids)."""
    asker: str | None = None
    """The supplier that asked the RFQ's clarification (nobody else may learn who)."""


@dataclass
class Seen:
    """Everything one role received about one lot in one state."""

    role: str
    lot: Lot
    state: str
    channel: str
    content: Any


@st.composite
def bid_sequence(draw: st.DrawFn, band: int) -> tuple[list[tuple[str, int]], set[int]]:
    """Up to six bids of ``a`` and ``b`` in any order, each below its bidder's last, and
    the prices of those the buyer places for them (surrogate bids)."""
    who = draw(st.lists(st.sampled_from("ab"), min_size=2, max_size=6))
    low = LOW + band * BAND
    # multiples of 3 from the band's start: a bidder's own price minus the decrement (its
    # min_acceptable) is then never a rival's price, which the scan would take for a leak
    steps = draw(st.lists(st.integers(0, BAND // 3 - 1), min_size=len(who),
                          max_size=len(who), unique=True))  # fmt: skip
    prices = [low + 3 * k for k in steps]
    mine = {w: sorted((p for v, p in zip(who, prices, strict=True) if v == w), reverse=True)
            for w in "ab"}  # fmt: skip
    phoned = draw(st.sets(st.sampled_from(prices), min_size=1, max_size=2))
    return [(w, mine[w].pop(0)) for w in who], phoned


LIVE_LOTS = 2 * (len(KINDS) - 1)  # the reverse and sealed lots of the two RFQs that run
PRE_LOTS = len(KINDS) - 1  # the scheduled RFQ's reverse and sealed lots take pre-bids


@settings(  # no shrinking: each example is 20 s of real auctions, a failure is reported as drawn
    max_examples=1, deadline=None, database=None, phases=[Phase.explicit, Phase.generate]
)
@given(st.tuples(*(bid_sequence(band) for band in range(LIVE_LOTS + PRE_LOTS))))
def test_no_role_learns_more_than_the_table_allows(
    live: LiveServer, operator: str, sequences: tuple[tuple[list[tuple[str, int]], set[int]], ...]
) -> None:
    """One drawn example a run (each takes some 20 s of real auctions): the bids of every
    live lot, interleaved and priced at random."""
    asyncio.run(_run(live, operator, list(sequences)))


async def _run(
    live: LiveServer, operator: str, sequences: list[tuple[list[tuple[str, int]], set[int]]]
) -> None:
    async with httpx.AsyncClient(base_url=live.url, timeout=30) as http:
        with httpx.Client(base_url=live.url, timeout=30) as sync:
            buyer = register(sync, "buyer")
            people = {
                "buyer": buyer,
                "operator": {"token": operator, "company": {"id": None, "name": "-"}},
                "a": certified_supplier(sync, operator, ["fasteners"]),
                "b": certified_supplier(sync, operator, ["fasteners"]),
                "c": certified_supplier(sync, operator, ["fasteners"]),
                "public": certified_supplier(sync, operator, ["bearings"]),
            }
            festival, lots = _world(sync, operator, buyer, sequences)
        seen: list[Seen] = []
        phase = {"state": "live"}
        ready = {role: asyncio.Event() for role in ROLES}
        arrived = asyncio.Event()
        watchers = [
            asyncio.create_task(
                _watch(live, people[role], role, lots, festival, seen, phase, ready[role], arrived)
            )
            for role in ROLES
        ]
        try:
            # every watcher subscribed (its snapshots and festival ticks in) before a bid
            waiting = asyncio.gather(*(event.wait() for event in ready.values()))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(waiting, 15)
            live_lots = [lot for lot in lots if lot.rfq != 0]
            await _wait_states(http, buyer, live_lots, {"live"})
            for lot in live_lots:
                await _bid_all(http, people, lot, seen)
            for lot in lots:
                if lot.rfq == 0 and lot.kind != "japanese":  # pre-bids, before the opening
                    await _bid_all(http, people, lot, seen)
            await _clarify(http, people, live_lots)
            await _read_all(http, people, lots, festival, seen, probe=True)
            cancelled = next(lot for lot in lots if lot.rfq == 1)
            answer = await http.post(
                f"/api/rfqs/{await _rfq_id(http, buyer, cancelled)}/cancel",
                json={"reason": "visibility test"},
                headers=bearer(buyer["token"]),
            )
            assert answer.status_code == 200, answer.text
            closing = [lot for lot in live_lots if lot.rfq == 2]
            await _wait_states(
                http, buyer, [lot for lot in live_lots if lot.rfq == 1], {"cancelled"}
            )
            await _wait_states(http, buyer, closing, {"closed", "no_award"}, timeout_s=30)
            phase["state"] = "closed"
            await _read_all(http, people, lots, festival, seen, probe=False)
            for lot in closing:
                await _award(http, buyer, lot)
            await _wait_states(http, buyer, closing, {"awarded", "no_award"})
            await _read_all(http, people, lots, festival, seen, probe=False)
            await _frames_told(seen, arrived, closing, {"awarded", "no_award"})  # the last frames
        finally:
            for task in watchers:
                task.cancel()
            await asyncio.gather(*watchers, return_exceptions=True)
    states = {(s.lot.kind, s.state) for s in seen if s.channel == "state"}
    for kind in KINDS:  # the grid was covered
        for state in ("scheduled", "live", "cancelled", "closed"):
            assert (kind, state) in states, (kind, state)
        assert (kind, "awarded") in states or (kind, "no_award") in states, kind
    problems = [p for s in seen for p in _check(s, people)]
    assert not problems, "\n".join(problems[:20])


def _world(
    client: httpx.Client,
    operator: str,
    buyer: dict[str, Any],
    sequences: list[tuple[list[tuple[str, int]], set[int]]],
) -> tuple[int, list[Lot]]:
    now = datetime.now(UTC)
    festival = client.post(
        "/api/festivals",
        headers=bearer(operator),
        json={
            "name": f"Visibility {uuid.uuid4().hex[:6]}",
            "starts_at": now.isoformat(),
            "ends_at": (now + timedelta(hours=3)).isoformat(),
        },
    ).json()
    lots: list[Lot] = []
    auth = bearer(buyer["token"])
    for rfq in range(3):  # 0: scheduled, 1: live then cancelled, 2: live, closed, awarded
        start = now + (timedelta(hours=1) if rfq == 0 else timedelta(seconds=4))
        body = rfq_body(festival_id=festival["id"], bid_bond=100_000)
        body["starts_at"] = start.isoformat()
        # the RFQ that is cancelled runs long (its clock slowly), so that however long
        # the bidding takes on the machine, it is still live when it is cancelled
        body["ends_at"] = (start + timedelta(seconds=120 if rfq == 1 else 14)).isoformat()
        template = body["lots"][0]
        body["lots"] = [
            {**template, "name": f"{kind} lot", "ceiling_price": CEILING, "reserve_price": None,
             "rules": _slow(rules) if rfq == 1 else _pre(rules) if rfq == 0 else rules}
            for kind, rules in KINDS.items()
        ]  # fmt: skip
        made = client.post("/api/rfqs", json=body, headers=auth)
        assert made.status_code == 201, made.text
        published = client.post(f"/api/rfqs/{made.json()['id']}/publish", headers=auth)
        assert published.status_code == 200, published.text
        for kind, lot in zip(KINDS, published.json()["lots"], strict=True):
            bids, phoned = ([], set()) if kind == "japanese" else sequences.pop()
            lots.append(Lot(rfq, kind, int(lot["auction_id"]), bids, phoned=phoned))
    return int(festival["id"]), lots


def _pre(rules: dict[str, Any]) -> dict[str, Any]:
    """A priced lot's rules taking pre-bids (a clock's as they are)."""
    return rules if "clock" in rules else {**rules, "pre_bids": True}


def _slow(rules: dict[str, Any]) -> dict[str, Any]:
    """A clock's rules with levels of 30 s (other rules as they are)."""
    if "clock" not in rules:
        return rules
    return {**rules, "clock": {**rules["clock"], "interval_s": 30}}


async def _rfq_id(http: httpx.AsyncClient, buyer: dict[str, Any], lot: Lot) -> int:
    answer = await http.get(f"/api/auctions/{lot.auction}", headers=bearer(buyer["token"]))
    return int(answer.json()["rfq_id"])


async def _wait_states(
    http: httpx.AsyncClient,
    buyer: dict[str, Any],
    lots: list[Lot],
    states: set[str],
    timeout_s: float = 15.0,
) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    for lot in lots:
        while True:
            answer = await http.get(f"/api/auctions/{lot.auction}", headers=bearer(buyer["token"]))
            lot.state = answer.json()["state"]
            if lot.state in states or (lot.kind == "japanese" and lot.state != "scheduled"):
                break  # a clock lot moves on by itself
            assert asyncio.get_running_loop().time() < deadline, (lot, states)
            await asyncio.sleep(0.1)


async def _bid_all(
    http: httpx.AsyncClient, people: dict[str, Any], lot: Lot, seen: list[Seen]
) -> None:
    """Place the lot's bids; each ack is a channel of its bidder's too."""
    if lot.kind == "japanese":  # both accept the opening level
        placed = []
        for who in ("a", "b"):
            answer = await _bid(http, people[who], lot, 990_000, f"{who}-clock")
            if answer.status_code == 201:
                placed.append((who, 990_000))
                seen.append(Seen(who, lot, lot.state, "ack", answer.json()))
        lot.bids = placed
        return
    for n, (who, price) in enumerate(lot.bids):
        if price in lot.phoned:  # the buyer places it for the supplier
            answer = await http.post(
                f"/api/auctions/{lot.auction}/surrogate-bids",
                json={"supplier_company_id": people[who]["company"]["id"], "price": price,
                      "key": f"{who}-{n}", "reason": "by phone"},
                headers=bearer(people["buyer"]["token"]),
            )  # fmt: skip
            assert answer.status_code == 201, (lot, answer.text)
            continue  # its ack tells the buyer the price it typed: not a channel
        answer = await _bid(http, people[who], lot, price, f"{who}-{n}")
        assert answer.status_code == 201, (lot, answer.text)
        seen.append(Seen(who, lot, lot.state, "ack", answer.json()))


async def _bid(
    http: httpx.AsyncClient, who: dict[str, Any], lot: Lot, price: int, key: str
) -> httpx.Response:
    return await http.post(
        f"/api/auctions/{lot.auction}/bids",
        json={"price": price, "key": key},
        headers=bearer(who["token"]),
    )


async def _clarify(http: httpx.AsyncClient, people: dict[str, Any], lots: list[Lot]) -> None:
    """In each running RFQ ``a`` asks a question and the buyer answers it for everyone."""
    for rfq in sorted({lot.rfq for lot in lots}):
        first = next(lot for lot in lots if lot.rfq == rfq)
        rfq_id = await _rfq_id(http, people["buyer"], first)
        asked = await http.post(
            f"/api/rfqs/{rfq_id}/questions",
            json={"question": "May the bolts ship in two batches?"},
            headers=bearer(people["a"]["token"]),
        )
        assert asked.status_code == 201, asked.text
        answered = await http.post(
            f"/api/rfqs/{rfq_id}/questions/{asked.json()['id']}/answer",
            json={"answer": "Yes, within the lead time."},
            headers=bearer(people["buyer"]["token"]),
        )
        assert answered.status_code == 200, answered.text
        for lot in lots:
            if lot.rfq == rfq:
                lot.asker = "a"


async def _award(http: httpx.AsyncClient, buyer: dict[str, Any], lot: Lot) -> None:
    auth = bearer(buyer["token"])
    state = (await http.get(f"/api/auctions/{lot.auction}", headers=auth)).json()
    if state["state"] != "closed":
        return
    body: dict[str, Any] = (
        {"awards": [{"bid_id": state["ladder"][0]["bid_id"]}], "reason": "best"}
        if state.get("ladder")
        else {"no_award": True, "reason": "no bids"}
    )
    answer = await http.post(f"/api/auctions/{lot.auction}/award", json=body, headers=auth)
    assert answer.status_code == 201, answer.text


async def _read_all(
    http: httpx.AsyncClient,
    people: dict[str, Any],
    lots: list[Lot],
    festival: int,
    seen: list[Seen],
    *,
    probe: bool,
) -> None:
    """Every REST channel, for every role and lot, in the lots' current states."""
    states = {}
    for lot in lots:
        answer = await http.get(
            f"/api/auctions/{lot.auction}", headers=bearer(people["buyer"]["token"])
        )
        states[lot.auction] = lot.state = answer.json()["state"]
    for role in ROLES:
        auth = bearer(people[role]["token"])
        report = (await http.get(f"/api/festivals/{festival}", headers=auth)).json()
        notes = (await http.get("/api/notifications", headers=auth)).json()
        for lot in lots:
            state = states[lot.auction]

            def note(
                channel: str, content: Any, lot: Lot = lot, state: str = state, role: str = role
            ) -> None:
                seen.append(Seen(role, lot, state, channel, content))

            base = f"/api/auctions/{lot.auction}"
            view = await http.get(base, headers=auth)
            note("state", (view.status_code, view.json()))
            for channel in ("bids", "bids.csv", "audit", "my-bids"):
                answer = await http.get(f"{base}/{channel}", headers=auth)
                body = answer.text if channel.endswith("csv") else answer.json()
                note(channel, (answer.status_code, body))
            rfq_id = await _rfq_id(http, people["buyer"], lot)
            asked = await http.get(f"/api/rfqs/{rfq_id}/questions", headers=auth)
            note("questions", (asked.status_code, asked.json()))
            note("festival", [x for x in report.get("lots", []) if x["auction_id"] == lot.auction])
            mine = [n for n in notes if (n.get("data") or {}).get("auction_id") == lot.auction]
            note("notifications", mine)
            if probe and role in SUPPLIERS and state == "live" and lot.kind != "japanese":
                own = [price for who, price in lot.bids if who == role]
                price = own[-1] if own else CEILING + 1  # below_decrement or above_ceiling
                answer = await _bid(http, people[role], lot, price, f"probe-{uuid.uuid4().hex}")
                note("rejection", (answer.status_code, answer.json()))


async def _watch(
    live: LiveServer,
    person: dict[str, Any],
    role: str,
    lots: list[Lot],
    festival: int,
    seen: list[Seen],
    phase: dict[str, str],
    ready: asyncio.Event,
    arrived: asyncio.Event,
) -> None:
    """Every ``/ws`` frame ``role`` receives about the lots (their own, and festival
    ticks), from before the first bid to the end; ``ready`` is set once every lot has
    answered both subscriptions, ``arrived`` at every frame kept."""
    by_id = {lot.auction: lot for lot in lots}
    answered: dict[str, set[int]] = {"auction": set(), "festival": set()}
    url = live.url.replace("http://", "ws://") + "/ws"
    async with connect(url, additional_headers=bearer(person["token"])) as ws:
        await ws.recv()
        for lot in lots:
            await ws.send(json.dumps({"op": "subscribe", "auction": lot.auction}))
        await ws.send(json.dumps({"op": "subscribe", "festival": festival}))
        while True:
            frame = json.loads(await ws.recv())
            lot = by_id.get(frame.get("auction", 0))
            if lot is not None:
                seen.append(Seen(role, lot, _frame_state(frame, lot), f"ws:{frame['type']}", frame))
                arrived.set()
                topic = "festival" if frame["type"] == "lot" else "auction"
                answered[topic].add(lot.auction)
                if all(len(ids) == len(lots) for ids in answered.values()):
                    ready.set()


async def _frames_told(
    seen: list[Seen], arrived: asyncio.Event, lots: list[Lot], states: set[str]
) -> None:
    """Wait, frame by frame (``arrived`` is set at each), until the buyer's socket has
    told each lot's move to one of ``states`` (the other roles' frames of the same
    events are dispatched with it); fail after 15 s."""
    async with asyncio.timeout(15):
        while not all(
            any(
                s.role == "buyer" and s.lot is lot and s.channel.startswith("ws:")
                and s.state in states
                for s in seen
            )
            for lot in lots
        ):  # fmt: skip
            arrived.clear()
            await arrived.wait()


def _frame_state(frame: dict[str, Any], lot: Lot) -> str:
    """The lot's state a frame tells of: its own if it carries one, else the last seen."""
    state = frame.get("state")
    if isinstance(state, dict):
        state = state.get("state")
    if frame.get("type") in ("closed", "cancelled", "awarded", "no_award", "opened"):
        state = frame.get("status", state)
    return state if isinstance(state, str) else lot.state


def _check(s: Seen, people: dict[str, Any]) -> list[str]:
    """What in ``s`` its role may not know (per :func:`allowed`)."""
    lot, role = s.lot, s.role
    rule = allowed(role, lot.kind, s.state)
    where = f"{role} / {lot.kind} / {s.state} / {s.channel}"
    problems = []
    others = [(who, price) for who, price in lot.bids if who != role]
    if lot.kind == "japanese":
        hidden_prices: set[int] = set()  # the clock's levels are public to participants
    elif rule == "all":
        hidden_prices = set()
    elif rule == "best":
        shown = _best_prices(lot, s.state)
        hidden_prices = {price for _, price in others} - shown
    else:
        hidden_prices = {price for _, price in others}
    text = s.content if isinstance(s.content, str) else json.dumps(s.content)
    numbers = {int(n) for n in re.findall(r"\d+", text)}
    for price in hidden_prices:
        if price in numbers or price * 10_000 in numbers:
            problems.append(f"{where}: shows a hidden price {price}: {text[:300]}")
    if role not in FULL:
        rivals = {who for who, _ in lot.bids if who != role}
        if lot.asker is not None and lot.asker != role:
            rivals.add(lot.asker)  # who asked is nobody's to learn
        for who in rivals:
            name, company = people[who]["company"]["name"], people[who]["company"]["id"]
            if name in text:
                problems.append(f"{where}: names {who}: {text[:300]}")
            if company in _company_values(s.content):
                problems.append(f"{where}: gives {who}'s company id: {text[:300]}")
        for status, body in [s.content] if s.channel in ("bids", "bids.csv", "audit") else []:
            if status != 404:
                problems.append(f"{where}: answered {status}, not 404: {str(body)[:200]}")
        # a surrogate mark is the buyer side's and its own supplier's only
        phoned_mine = any(who == role and price in lot.phoned for who, price in lot.bids)
        marked = re.search(r'"(my_bid_)?surrogate": true|"surrogate_bid"', text)
        if marked and not phoned_mine:
            problems.append(f"{where}: shows a surrogate mark not its own: {text[:300]}")
    sealed_bids = lot.kind.startswith("sealed") and s.state in ("live", "cancelled")
    pre_bids = lot.rfq == 0 and lot.kind != "japanese"  # the scheduled RFQ's pre-bid lots
    count_hidden = role == "public" or (role in SUPPLIERS and (sealed_bids or pre_bids))
    if count_hidden:
        problems += [f"{where}: {m}" for m in _counts(s)]
    if role == "public":  # clarifications are for the suppliers taking part
        if s.channel == "ws:clarification" or "Yes, within the lead time" in text:
            problems.append(f"{where}: a clarification: {text[:300]}")
        if s.channel == "questions" and s.content[0] != 404:
            problems.append(f"{where}: questions answered {s.content[0]}, not 404")
    return problems


def _best_prices(lot: Lot, state: str) -> set[int]:
    """The prices that were the best one while they stood (a sealed lot: the best at the
    close, shown only after it)."""
    if lot.kind.startswith("sealed"):
        return {min(price for _, price in lot.bids)} if lot.bids else set()
    best, shown = None, set()
    for _, price in lot.bids:
        if best is None or price < best:
            best = price
            shown.add(price)
    return shown


def _company_values(content: Any) -> set[Any]:
    found: set[Any] = set()
    if isinstance(content, dict):
        for key, value in content.items():
            if key in COMPANY_KEYS and not isinstance(value, (dict, list)):
                found.add(value)
            found |= _company_values(value)
    elif isinstance(content, (list, tuple)):
        for item in content:
            found |= _company_values(item)
    return found


def _counts(s: Seen) -> list[str]:
    """Where ``s`` tells how many bids the lot has, or when they came."""
    problems = []
    frames = [s.content] if s.channel.startswith("ws:") or s.channel == "ack" else []
    if s.channel == "ack" and re.search(r"\.\d+-\d+$", s.content["bid_id"]):
        problems.append(f"the bid id numbers the bids: {s.content['bid_id']}")
    if s.channel == "state":
        frames = [s.content[1]]
    for frame in frames:
        if not isinstance(frame, dict):
            continue
        if frame.get("type") == "bid":
            problems.append(f"a bid frame: {frame}")
        for key in ("seq", "order", "prices", "best_price", "sealed_bids"):
            if frame.get(key) is not None:
                problems.append(f"{key} = {frame[key]!r}")
        if frame.get("bidders") not in (None, 0):
            problems.append(f"bidders = {frame['bidders']!r}")
    if s.channel == "notifications":  # being outbid would tell that a rival bid
        problems += [f"a notice: {n}" for n in s.content if n["kind"] == "outbid"]
    if s.channel == "festival":
        for entry in s.content:
            if entry.get("bidders") not in (None, 0) or entry.get("best_price") is not None:
                problems.append(f"festival report: {entry}")
    return problems
