"""Festival-day users for locust: suppliers bidding over websockets (and some over REST),
buyers' watchers, buyers browsing, and the load shape of a festival's close.

Run by ``python -m loadtests run`` (see ``loadtests/runner.py``), which builds the world
through the API and passes it in ``RFQ_LOAD_WORLD`` (a ``world.json``). Everything the
users measure goes through locust's request events, so locust's CSV and HTML reports
carry it:

| type | name | what |
| --- | --- | --- |
| ``WS`` | ``bid`` | a supplier's bid frame to its ``ack`` (durable in SQL) |
| ``WS`` | ``bid refused: CODE`` | a bid another supplier's bid made stale, to its ``rejected`` |
| ``POST`` | ``/api/auctions/[id]/bids`` | the same bid over HTTP (every fifth supplier) |
| ``WS`` | ``fan-out to buyer`` / ``to supplier`` | a ``bid`` event's ``at`` to its arrival |
| ``WS`` | ``ping`` | a watcher's ``ping`` to its ``pong`` |
| ``GET`` | ``/api/...`` | buyers' REST reads |

Failures (the run's errors) are: a connection that closes or fails, a bid refused for
any reason but a competitor's bid overtaking it, a gap in an auction's ``seq``, a
slow-client snapshot replacing a backlog, a frame that never came in time.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import time
from collections import Counter
from pathlib import Path
from typing import Any

import gevent
import gevent.event
import requests
import websocket
from locust import HttpUser, LoadTestShape, User, between, events, task

from loadtests import lean_ws

WORLD: dict[str, Any] = json.loads(Path(os.environ["RFQ_LOAD_WORLD"]).read_text())
OUT = Path(os.environ.get("RFQ_LOAD_OUT", "."))
SPAWN_RATE = float(os.environ.get("RFQ_LOAD_SPAWN_RATE", "200"))
WATCHERS = int(os.environ.get("RFQ_LOAD_WATCHERS", "100"))
SURGE_WATCHERS = int(os.environ.get("RFQ_LOAD_SURGE_WATCHERS", "0"))
MAX_S = float(os.environ.get("RFQ_LOAD_MAX_S", "600"))
DRAIN_S = 8.0
ANSWER_TIMEOUT_S = 15.0
_READ_SIZE = 65536
"""Bytes a user asks its socket for at a time: many frames in one read."""
RETRIES = 4
"""A bid answered ``unavailable`` (or not at all) is sent again with the same key this
many times (back-off 0.5 s to 5 s): the server answers a repeated key with its first
outcome, so the client learns the true one and never bids twice."""

STALE = frozenset({"below_decrement", "tie_not_allowed"})
"""Refusals that are the auction working: a competitor's bid got there first."""

AUCTIONS = {a["id"]: a for a in WORLD["auctions"]}
acked: list[dict[str, Any]] = []
tally: Counter[str] = Counter()
extended: set[tuple[int, int]] = set()
_suppliers = itertools.count()
_watchers = itertools.count()
_buyers = itertools.count()


def _fire(kind: str, name: str, started: float, length: int = 0, error: str | None = None) -> None:
    events.request.fire(
        request_type=kind,
        name=name,
        response_time=(time.perf_counter() - started) * 1000,
        response_length=length,
        exception=RuntimeError(error) if error else None,
        context={},
    )


def _fire_ms(name: str, ms: float, length: int) -> None:
    events.request.fire(
        request_type="WS",
        name=name,
        response_time=max(0.0, ms),
        response_length=length,
        exception=None,
        context={},
    )


def _failure(name: str, message: str) -> None:
    tally["errors"] += 1
    events.request.fire(
        request_type="WS",
        name=name,
        response_time=0,
        response_length=0,
        exception=RuntimeError(message),
        context={},
    )


class Socket:
    """One ``/ws`` connection (JSON subprotocol) like the browser's: a reader greenlet,
    a ``ping`` every 20 s (timed as ``WS ping``; the server closes idle connections
    after 60 s), and on an unexpected close an error, then a reconnect that resends the
    subscriptions (the owner hears ``{"type": "reconnected"}`` first)."""

    def __init__(self, host: str, token: str, on_frame: Any) -> None:
        self.url = host.replace("http", "ws", 1) + "/ws"
        self.token = token
        self.on_frame = on_frame
        self.closing = False
        self.subscriptions: list[dict[str, Any]] = []
        self.pings: dict[int, float] = {}
        self.ws = self._connect()
        self.reader = gevent.spawn(self._read)
        self.heart = gevent.spawn(self._heartbeat)

    def subscribe(self, frame: dict[str, Any]) -> None:
        self.subscriptions.append(frame)
        self.send(frame)

    def send(self, frame: dict[str, Any]) -> None:
        self.ws.send(json.dumps(frame))

    def close(self) -> None:
        self.closing = True
        self.heart.kill(block=False)
        try:
            self.ws.close()
        except Exception:  # already gone
            pass
        self.reader.kill(block=False)

    def _connect(self) -> websocket.WebSocket:
        ws = websocket.create_connection(
            self.url,
            header=[f"Authorization: Bearer {self.token}"],
            subprotocols=["rfq.v1.json"],
            timeout=30,
            enable_multithread=True,
        )
        ws.settimeout(None)
        return ws

    def _heartbeat(self) -> None:
        while not self.closing:
            gevent.sleep(random.uniform(15, 20))
            t = int(time.time() * 1000)
            self.pings[t] = time.perf_counter()
            try:
                self.send({"op": "ping", "t": t})
            except Exception:  # the reader reports the closed connection
                pass

    def _read(self) -> None:
        for attempt in range(4):
            if attempt:
                gevent.sleep(1)
                try:
                    self.ws = self._connect()
                except Exception as exc:
                    _failure("connection", f"reconnecting failed: {exc!r}")
                    continue
                self.on_frame({"type": "reconnected"}, 0)
                for frame in self.subscriptions:
                    self.send(frame)
            why = self._frames()
            if self.closing:
                return
            _failure("connection", f"the websocket closed: {why}")

    def _frames(self) -> str:
        """Read frames until the connection ends; why it ended. The socket is read in
        large chunks and parsed in place (``loadtests/lean_ws.py``): websocket-client's
        own reader, two or three reads and a pure-Python UTF-8 check per frame, was most
        of this process's time during a festival's close."""
        sock, buffer = self.ws.sock, bytearray()
        if sock is None:
            return "not connected"
        while True:
            try:
                data = sock.recv(_READ_SIZE)
            except Exception as exc:
                return repr(exc)
            if not data:
                return "the server closed the TCP connection"
            buffer += data
            found, used = lean_ws.parse(buffer)
            if used:
                del buffer[:used]
            for opcode, payload in found:
                if opcode == lean_ws.CLOSE:
                    code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else None
                    return f"close code {code} {payload[2:].decode(errors='replace')}"
                if opcode == lean_ws.PING:
                    self.ws.pong(payload)
                elif opcode in (lean_ws.TEXT, lean_ws.BINARY):
                    self._text(payload)

    def _text(self, data: bytes) -> None:
        try:
            frame = json.loads(data)
            kind = frame.get("type")
            if kind == "error":
                _failure("server error frame", f"{frame.get('code')}: {frame.get('message')}")
            elif kind == "pong":
                started = self.pings.pop(frame["t"], None)
                if started is not None:
                    _fire("WS", "ping", started, len(data))
            else:
                self.on_frame(frame, len(data))
        except Exception as exc:  # a frame this client cannot read is an error
            _failure("unreadable frame", f"{exc!r} in {data[:200]!r}")


class Lot:
    """What one supplier knows of one lot, from its snapshot and events."""

    def __init__(self, spec: dict[str, Any], floor: int) -> None:
        self.spec = spec
        self.floor = floor
        self.status = "scheduled"
        self.token: str | None = None
        self.order: list[str] = []
        self.best: int | None = None
        self.mine: int | None = None
        self.min_ok: int | None = None
        self.ends_ms: int = WORLD["closes_at_ms"]
        self.last_seq = 0

    def past_end(self) -> bool:
        return time.time() * 1000 >= self.ends_ms - 1000

    def leading(self) -> bool:
        return bool(self.order) and self.order[0] == self.token

    def next_price(self) -> int | None:
        step = self.spec["decrement"]
        price = self.spec["ceiling"] - random.randint(0, 5) * step
        if self.mine is not None:
            price = min(price, self.mine - step * random.randint(1, 3))
        if self.best is not None:
            price = min(price, self.best - step)
        if self.min_ok is not None:
            price = min(price, self.min_ok)
        return price if price >= self.floor else None


class Supplier(User):
    """A certified supplier bidding in every lot of its group from one browser tab.

    Strategy: in a lot where it does not lead and has room above its floor (55-80% of
    the ceiling), undercut: its own last price by one to three decrements, the best price
    where the lot shows it, the server's highest acceptable price after a refusal. It
    thinks 1-2 s between bids, 0.3-0.8 s once a lot it is in has entered its soft-close
    window (the closing surge).
    """

    fixed_count = len(WORLD["suppliers"])

    def on_start(self) -> None:
        n = next(_suppliers) % len(WORLD["suppliers"])
        self.me = WORLD["suppliers"][n]
        self.rest = n % 5 == 4  # every fifth supplier bids over HTTP
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {self.me['token']}"
        self.lots = {
            a: Lot(AUCTIONS[a], int(AUCTIONS[a]["ceiling"] * random.uniform(0.55, 0.8)))
            for a in self.me["auctions"]
        }
        self.waiting: dict[str, tuple[float, gevent.event.AsyncResult]] = {}
        self.keys = itertools.count()
        self.socket = Socket(self.host or WORLD["host"], self.me["token"], self._frame)
        for auction_id in self.lots:
            self.socket.subscribe({"op": "subscribe", "auction": auction_id})

    def on_stop(self) -> None:
        self.socket.close()

    def wait_time(self) -> float:
        now = time.time() * 1000
        closing = any(
            lot.status == "live" and lot.ends_ms - now < WORLD["window_s"] * 1000
            for lot in self.lots.values()
        )
        return random.uniform(0.3, 0.8) if closing else random.uniform(1.0, 2.0)

    @task
    def bid(self) -> None:
        choices = [
            (a, lot)
            for a, lot in self.lots.items()
            if lot.status == "live" and not lot.leading() and lot.token is not None
        ]
        random.shuffle(choices)
        for auction_id, lot in choices:
            price = lot.next_price()
            if price is not None:
                self._bid(auction_id, lot, price)
                return

    def _bid(self, auction_id: int, lot: Lot, price: int) -> None:
        key = f"s{self.me['company_id']}-{auction_id}-{next(self.keys)}"
        if self.rest:
            self._bid_rest(auction_id, lot, price, key)
            return
        started = time.perf_counter()
        frame: dict[str, Any] | None = None
        for attempt in range(RETRIES + 1):  # the same key until the outcome is known
            if attempt:
                tally["retried"] += 1
                gevent.sleep(min(5.0, 0.5 * 2 ** (attempt - 1)))
            answer: gevent.event.AsyncResult = gevent.event.AsyncResult()
            self.waiting[key] = (started, answer)
            self.socket.send({"op": "bid", "auction": auction_id, "price": price, "key": key})
            try:
                frame = answer.get(timeout=ANSWER_TIMEOUT_S)
            except gevent.Timeout:
                self.waiting.pop(key, None)
                frame = None
                continue
            if frame.get("code") != "unavailable":
                break
        if frame is None:
            _failure("bid", f"no answer to bid {key} in {RETRIES + 1} tries")
            return
        self._answered(auction_id, lot, price, key, started, frame)

    def _bid_rest(self, auction_id: int, lot: Lot, price: int, key: str) -> None:
        started = time.perf_counter()
        for attempt in range(RETRIES + 1):  # the same key while the outcome is unknown
            if attempt:
                tally["retried"] += 1
                gevent.sleep(min(5.0, 0.5 * 2 ** (attempt - 1)))
            try:
                response = self.http.post(
                    f"{WORLD['host']}/api/auctions/{auction_id}/bids",
                    json={"price": price, "key": key},
                    timeout=ANSWER_TIMEOUT_S,
                )
            except Exception as exc:
                if attempt < RETRIES:
                    continue
                _fire("POST", "/api/auctions/[id]/bids", started, 0, f"{exc!r}")
                tally["errors"] += 1
                return
            if response.status_code != 503 or attempt == RETRIES:
                break
        if response.status_code == 201:
            frame = {"type": "ack", **response.json()}
        else:
            error = response.json().get("error", {})
            frame = {"type": "rejected", "key": key, **error}
        self._answered(auction_id, lot, price, key, started, frame, "POST")

    def _answered(
        self,
        auction_id: int,
        lot: Lot,
        price: int,
        key: str,
        started: float,
        frame: dict[str, Any],
        kind: str = "WS",
    ) -> None:
        name = "bid" if kind == "WS" else "/api/auctions/[id]/bids"
        if frame["type"] == "ack":
            lot.mine = price
            lot.min_ok = None
            acked.append(
                {
                    "auction": auction_id,
                    "bid_id": frame["bid_id"],
                    "price": price,
                    "key": key,
                    "at": time.time(),
                }
            )
            tally["acked"] += 1
            _fire(kind, name, started)
            return
        code = frame.get("code", "?")
        lot.min_ok = frame.get("min_acceptable")
        if code in STALE:
            tally["stale"] += 1
            _fire(kind, f"bid refused: {code}", started)
        elif code == "auction_not_live" or (code == "not_eligible" and lot.past_end()):
            tally["late"] += 1  # it raced the close (the RFQ's own close makes not_eligible)
            lot.status = "closed"
            _fire(kind, f"bid refused: {code} at the close", started)
        else:
            lot.status = "refused"
            tally["errors"] += 1
            _fire(kind, f"bid refused: {code}", started, 0, frame.get("message", code))

    def _frame(self, frame: dict[str, Any], size: int) -> None:
        kind = frame.get("type")
        if kind in ("ack", "rejected"):
            waiting = self.waiting.pop(frame.get("key", ""), None)
            if waiting is not None:
                waiting[1].set(frame)
            return
        lot = self.lots.get(frame.get("auction", -1))
        if lot is None:
            return
        if kind == "snapshot":
            state = frame["state"]
            lot.token = frame.get("my_token")
            lot.order = frame.get("order") or []
            lot.status = state["state"]
            lot.best = state.get("best_price")
            lot.mine = state.get("my_price")
            lot.ends_ms = state["ends_at_ms"]
            lot.last_seq = frame["seq"]
            return
        seq = frame.get("seq", 0)
        if seq <= lot.last_seq:
            return
        if seq != lot.last_seq + 1:
            _failure("fan-out gap", f"auction {frame['auction']}: seq {lot.last_seq} -> {seq}")
        lot.last_seq = seq
        if kind == "bid":
            lot.order = frame.get("order", lot.order)
            lot.best = frame.get("best_price", lot.best)
            lot.ends_ms = frame.get("ends_at_ms", lot.ends_ms)
            _fire_ms("fan-out to supplier", time.time() * 1000 - frame["at"], size)
        elif kind == "opened":
            lot.status = "live"
            tally["opened"] += 1
        elif kind == "extended":
            lot.ends_ms = frame["ends_at_ms"]
            extended.add((frame["auction"], frame["extensions"]))
            tally["extensions"] = len(extended)
        elif kind in ("closed", "cancelled", "awarded", "no_award"):
            lot.status = frame.get("state", kind)


class Watcher(User):
    """A buyer's purchasing manager watching one lot's live bids (the monitor)."""

    fixed_count = WATCHERS
    wait_time = between(15, 25)

    def on_start(self) -> None:
        n = next(_watchers)
        auction = WORLD["auctions"][n % len(WORLD["auctions"])]
        buyer = WORLD["buyers"][auction["buyer"]]
        self.auction_id = auction["id"]
        self.last_seq: int | None = None
        self.socket = Socket(self.host or WORLD["host"], buyer["token"], self._frame)
        self.socket.subscribe({"op": "subscribe", "auction": self.auction_id})

    def on_stop(self) -> None:
        self.socket.close()

    @task
    def watch(self) -> None:
        """The monitor only listens (its socket pings); nothing to do between waits."""

    def _frame(self, frame: dict[str, Any], size: int) -> None:
        kind = frame.get("type")
        if kind == "reconnected":
            self.last_seq = None
            return
        if kind == "snapshot":
            if self.last_seq is not None:
                _failure("fan-out resync", f"auction {self.auction_id}: snapshot replaced backlog")
            self.last_seq = frame["seq"]
            return
        seq = frame.get("seq")
        if seq is None or self.last_seq is None or seq <= self.last_seq:
            return
        if seq != self.last_seq + 1:
            _failure("fan-out gap", f"auction {self.auction_id}: seq {self.last_seq} -> {seq}")
        self.last_seq = seq
        if kind == "bid":
            tally["deliveries"] += 1
            _fire_ms("fan-out to buyer", time.time() * 1000 - frame["at"], size)


class SurgeWatcher(Watcher):
    """More of the buyers' people open monitors as the festival closes (the surge)."""

    fixed_count = 0
    weight = 1


class Buyer(HttpUser):
    """A buyer reading the festival report, its lots and their bids over REST."""

    fixed_count = len(WORLD["buyers"])
    wait_time = between(2, 4)

    def on_start(self) -> None:
        self.me = WORLD["buyers"][next(_buyers) % len(WORLD["buyers"])]
        self.client.headers["Authorization"] = f"Bearer {self.me['token']}"

    @task(2)
    def festival(self) -> None:
        self.client.get(f"/api/festivals/{WORLD['festival_id']}", name="/api/festivals/[id]")

    @task(3)
    def auction(self) -> None:
        auction_id = random.choice(self.me["auctions"])
        self.client.get(f"/api/auctions/{auction_id}", name="/api/auctions/[id]")

    @task(1)
    def bids(self) -> None:
        auction_id = random.choice(self.me["auctions"])
        self.client.get(f"/api/auctions/{auction_id}/bids", name="/api/auctions/[id]/bids")


class FestivalDay(LoadTestShape):
    """Everyone arrives before the lots open; watchers pile in for the close; the run
    ends once every lot has closed (overtime included) and late frames have arrived."""

    def tick(self) -> tuple[int, float] | None:
        now = time.time() * 1000
        base = len(WORLD["suppliers"]) + WATCHERS + len(WORLD["buyers"])
        if self.get_run_time() > MAX_S or now > WORLD["latest_close_ms"] + DRAIN_S * 1000:
            return None
        closing = now > WORLD["closes_at_ms"] - 2 * WORLD["window_s"] * 1000
        return (base + (SURGE_WATCHERS if closing else 0), SPAWN_RATE)


@events.init.add_listener
def _progress(environment: Any, **_: Any) -> None:
    def report() -> None:
        started = time.time()
        last = dict(tally)
        while True:
            gevent.sleep(10)
            now = dict(tally)
            runner = environment.runner
            users = runner.user_count if runner else 0
            bids = (now.get("acked", 0) - last.get("acked", 0)) / 10
            frames = (now.get("deliveries", 0) - last.get("deliveries", 0)) / 10
            print(
                f"[{time.time() - started:5.0f} s] users {users:5d}  acked {now.get('acked', 0):6d}"
                f" ({bids:5.1f}/s)  buyer frames {frames:7.0f}/s  refused-stale"
                f" {now.get('stale', 0):5d}  extensions {now.get('extensions', 0):4d}"
                f"  errors {now.get('errors', 0)}",
                flush=True,
            )
            last = now

    gevent.spawn(report)


@events.quitting.add_listener
def _write_acks(environment: Any, **_: Any) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with (OUT / "acked.jsonl").open("w") as out:
        for ack in acked:
            out.write(json.dumps(ack) + "\n")
    (OUT / "tally.json").write_text(json.dumps(dict(tally)))
