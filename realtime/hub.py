"""The per-process hub: one reader of the watched auctions' streams, fan-out to sockets.

Each process runs one :class:`Hub`. It reads every watched auction's fan-out stream (the
events SQL holds: ``bidding/live/publish.lua`` copies them there after each commit, so
nobody is shown an event that is not in the record) from Redis once (one ``XREAD`` over
all of them, however many local subscribers each has), keeps each auction's standings in
memory, renders every event once per *audience* and encodes it once per subprotocol,
then hands the same bytes to every local subscriber of that audience. A bid made through
any worker reaches the watchers on every worker, because every worker reads the same
stream.

Audiences of an auction:

- ``full``: its buyer and operators: every event with supplier, prices, proxy flag;
- ``public``: a supplier that may see the RFQ but does not take part: status moves only
  (``festival-status`` in a festival room: state and end, no bidders or prices);
- ``supplier``: every supplier of the auction, by the lot's visibility. A bid becomes a
  tick with the number of bidders, the end, and ``order``: the standing bids best first
  as pseudonymous tokens (one per supplier and auction, ``HMAC(secret, auction:company)``);
  each supplier learns its own token in its snapshot and reads its rank as its position,
  so its rank reaches it without per-connection work. ``best_price`` is added for
  ``best_price`` and ``full_ladder`` lots and ``prices`` (by rank) for ``full_ladder``;
  sealed lots show nothing of others before the close.

Writes: the hub writes the frames of the events one read brought (up to
:data:`FLUSH_EVENTS` at a time) to the socket of every connection that has nothing queued
and whose socket takes them, in one write per connection (``realtime/transport.py``: no
task wake-up, no timer, the same encoded frame for every connection of an audience);
only the others get them queued for their writer task.

Slow clients: each connection has a bounded queue (:data:`QUEUE_LIMIT` frames). When
it is full, the auction's queued frames are dropped and replaced by one fresh
snapshot; a connection that needs this more than :data:`COALESCE_LIMIT` times in
:data:`COALESCE_WINDOW_S` seconds, or whose sends stall for :data:`SEND_TIMEOUT_S`, is
closed with code 4008. A slow client never delays the others: offers never wait.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import time
from collections import deque
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import msgpack
from redis.asyncio.cluster import RedisCluster

from bidding.live.desk import Desk
from bidding.views import Viewer, hidden
from realtime import codec, frames
from realtime.transport import Direct, wire
from rfq.platform import clock, metrics

log = logging.getLogger("rfq.realtime")

QUEUE_LIMIT = 256
COALESCE_LIMIT = 3
COALESCE_WINDOW_S = 10.0
SEND_TIMEOUT_S = 5.0
BLOCK_MS = 250
CLUSTER_POLL_S = 0.01
FLUSH_EVENTS = 32
"""At most this many events of one read go to a connection in one socket write."""
_READ_ONE = (Path(__file__).parent / "xread.lua").read_text()


@dataclass(frozen=True, slots=True)
class LotTick:
    """The topic of a festival's ``lot`` ticks of one auction (an auction's own topic is
    its id): a connection may watch a lot both ways, and each has its own queue
    entries and snapshots."""

    auction: int


Topic = int | LotTick


@dataclass(eq=False)
class Subscriber:
    """One websocket connection, as the hub sees it."""

    protocol: str
    direct: Direct | None = None
    """Its synchronous frame writer, when its server offers one (``realtime/transport.py``)."""
    pending: deque[tuple[Topic, str | bytes | None]] = field(default_factory=deque)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    coalesced: deque[float] = field(default_factory=deque)
    closed: bool = False
    draining: bool = False
    """The connection's writer task holds frames taken from ``pending`` and not sent yet."""

    def offer(
        self,
        topic: Topic,
        payload: str | bytes | None,
        frame: bytes | None = None,
        *,
        queue: bool = False,
    ) -> bool:
        """Deliver a frame (None: a fresh snapshot of the topic) without ever waiting:
        written at once when nothing is queued before it and the socket takes it (True;
        ``frame`` is ``payload`` as :func:`realtime.transport.wire` encodes it, if the
        caller has it), queued for the connection's writer otherwise (False), and always
        with ``queue``."""
        if self.closed:
            return False
        if (
            not queue
            and payload is not None
            and self.direct is not None
            and not self.pending
            and not self.draining
            and self.direct.write(frame if frame is not None else wire(payload))
        ):
            return True
        if len(self.pending) >= QUEUE_LIMIT:
            self._coalesce(topic)
            if self.closed:
                return False
            if len(self.pending) >= QUEUE_LIMIT:
                self.closed = True
                self.wake.set()
                return False
            payload = None
        self.pending.append((topic, payload))
        self.wake.set()
        return False

    def writable(self) -> bool:
        """Whether a frame offered now could be written at once (see :meth:`offer`)."""
        return (
            self.direct is not None and not self.pending and not self.draining and not self.closed
        )

    def requeue(self, frames: list[tuple[Topic, str | bytes]]) -> None:
        """Queue ``frames`` ahead of what is queued already (they were offered first)."""
        rest, self.pending = self.pending, deque()
        for topic, payload in [*frames, *rest]:
            self.offer(topic, payload, queue=True)

    def _coalesce(self, topic: Topic) -> None:
        now = time.monotonic()
        while self.coalesced and now - self.coalesced[0] > COALESCE_WINDOW_S:
            self.coalesced.popleft()
        self.coalesced.append(now)
        if len(self.coalesced) > COALESCE_LIMIT:
            self.closed = True
            self.wake.set()
            return
        metrics.COALESCED.inc()
        kept = deque(item for item in self.pending if item[0] != topic)
        self.pending = kept


@dataclass(eq=False)
class Feed:
    """One watched auction in this process."""

    auction_id: int
    buyer_company_id: int
    visibility: str
    sealed: bool
    pre_bids: bool = False
    epoch: int = 0
    last_seq: int = 0
    status: str = "scheduled"
    ends_ms: int = 0
    extensions: int = 0
    standings: dict[str, tuple[int, int, int]] = field(default_factory=dict)
    festival: int | None = None
    tokens: dict[str, str] = field(default_factory=dict)
    subscribers: dict[tuple[Subscriber, bool], tuple[str, Viewer]] = field(default_factory=dict)
    """``(connection, festival tick?)`` -> ``(audience, viewer)``."""


class Hub:
    """Fan-out of auction events to this process's websocket subscribers."""

    def __init__(self, desk: Desk, secret: str) -> None:
        self.desk = desk
        self._secret = secret.encode()
        self.feeds: dict[int, Feed] = {}
        self._changed = asyncio.Event()
        self._epochs_checked = 0.0
        self._held: dict[Subscriber, list[tuple[Topic, str | bytes, bytes]]] = {}
        """Frames of the events being dispatched, per connection, for one write each."""

    def token(self, auction_id: int, company: int | str) -> str:
        """A supplier's pseudonym in one auction."""
        mac = hmac.new(self._secret, f"{auction_id}:{company}".encode(), hashlib.sha256)
        return mac.hexdigest()[:10]

    def _token(self, feed: Feed, company: str) -> str:
        """``token`` of a supplier in a watched auction, computed once per feed."""
        token = feed.tokens.get(company)
        if token is None:
            token = feed.tokens[company] = self.token(feed.auction_id, company)
        return token

    async def subscribe(
        self,
        sub: Subscriber,
        auction_id: int,
        since: int | None,
        viewer: Viewer,
        festival: int | None = None,
    ) -> None:
        """Start streaming an auction to ``sub`` as ``viewer`` sees it: a replay after
        ``since`` if the stream still has it (buyer side), else a snapshot; then live
        events. With ``festival``, compact ``lot`` ticks for a festival control room."""
        feed = self.feeds.get(auction_id)
        if feed is None:
            loaded = await self._load(auction_id)
            feed = self.feeds.setdefault(auction_id, loaded)  # another may have won the race
            self._changed.set()
        audience = _audience(viewer, festival is not None)
        feed.festival = festival if festival is not None else feed.festival
        if since is not None and audience == "full" and since <= feed.last_seq:
            keys = self.desk.engine.auction_keys(auction_id)
            events = await self.desk.engine.stream(keys.fanout, since)
            feed = self.feeds.get(auction_id, feed)
            events = [e for e in events if e["seq"] <= feed.last_seq]
            if (not events and since == feed.last_seq) or (
                events and events[0]["seq"] == since + 1 and events[-1]["seq"] == feed.last_seq
            ):
                # No await from here on: nothing is dispatched between the replay and
                # the registration, so the live events follow the replay exactly.
                for event in events:
                    frame = frames.event(feed, event, audience, partial(self._token, feed))
                    if frame is not None and sub.offer(
                        auction_id, codec.encode(sub.protocol, frame)
                    ):
                        metrics.DELIVERIES.inc()
                feed.subscribers[(sub, False)] = (audience, viewer)
                return
        tick = festival is not None
        feed.subscribers[(sub, tick)] = (audience, viewer)
        sub.offer(LotTick(auction_id) if tick else auction_id, None)

    def unsubscribe(
        self, sub: Subscriber, auction_id: int | None = None, *, festival: bool = False
    ) -> None:
        """Stop streaming one auction to ``sub``: its own events, or with ``festival``
        its festival ticks. Without ``auction_id``: everything ``sub`` watches."""
        for aid in [auction_id] if auction_id is not None else list(self.feeds):
            feed = self.feeds.get(aid)
            if feed is None:
                continue
            if auction_id is None:
                feed.subscribers.pop((sub, False), None)
                feed.subscribers.pop((sub, True), None)
            else:
                feed.subscribers.pop((sub, festival), None)
            if not feed.subscribers:
                del self.feeds[aid]
                self._changed.set()

    async def snapshot(self, sub: Subscriber, topic: Topic) -> dict[str, Any]:
        """The ``snapshot`` frame of an auction for ``sub``, or a ``lot`` tick for a
        festival's topic."""
        tick = isinstance(topic, LotTick)
        auction_id = topic.auction if isinstance(topic, LotTick) else topic
        feed = self.feeds.get(auction_id)
        audience, viewer = (
            feed.subscribers.get((sub, tick), ("supplier", Viewer(False)))
            if feed
            else ("supplier", Viewer(False))
        )
        if feed is not None and audience.startswith("festival"):
            return frames.lot_tick(feed, audience, feed.last_seq)
        live, standings, state = await self.desk.view(auction_id, viewer)
        frame: dict[str, Any] = {"type": "snapshot", "auction": auction_id, "state": state}
        if viewer.full or not (viewer.public or hidden(live)):
            # nobody else learns the seq: its steps would count the bids
            frame.update(seq=live.seq, epoch=live.epoch)
        if not viewer.full and not viewer.public:
            feed = self.feeds.get(auction_id)  # a token computed once serves every snapshot

            def name(company: int | str) -> str:
                if feed is None:
                    return self.token(auction_id, company)
                return self._token(feed, str(company))

            frame["my_token"] = name(viewer.company_id or 0)
            if not hidden(live):
                frame["order"] = [name(b["company"]) for b in standings]
        return frame

    async def run(self) -> None:
        """The reader: XREAD over every watched stream, dispatch; runs until cancelled."""
        while True:
            if not self.feeds:
                self._changed.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(BLOCK_MS / 1000):
                        await self._changed.wait()
                continue
            now = time.monotonic()
            if now - self._epochs_checked >= BLOCK_MS / 1000:
                self._epochs_checked = now
                try:
                    await self._check_epochs()
                except asyncio.CancelledError:
                    raise
                except Exception:  # Redis or SQL away: the next round tries again
                    log.warning("hub: checking epochs failed; retrying", exc_info=True)
            streams = {
                self.desk.engine.auction_keys(aid).fanout: f"{feed.last_seq}-0"
                for aid, feed in self.feeds.items()
            }
            try:
                answer = await self._read(streams)
            except asyncio.CancelledError:
                raise
            except Exception:  # Redis away: wait and retry; clients keep their sockets
                log.warning("hub: XREAD failed; retrying", exc_info=True)
                await asyncio.sleep(0.5)
                continue
            for key, entries in answer or []:
                auction_id = _auction_of(key)
                feed = self.feeds.get(auction_id)
                if feed is None:
                    continue
                for n, (_, fields) in enumerate(entries, 1):
                    event = msgpack.unpackb(fields[b"d"], raw=False)
                    if event["seq"] <= feed.last_seq:
                        continue
                    self._dispatch(feed, event)
                    if n % FLUSH_EVENTS == 0:
                        self._flush()
                self._flush()

    async def _read(self, streams: dict[str, str]) -> list[Any]:
        """New entries of the watched streams: one blocking ``XREAD`` over all of them.

        A Redis Cluster refuses a command over keys of several slots, and every auction
        has a slot of its own; there the streams are read without blocking, one
        ``xread.lua`` each in one pipeline (a round trip per node; through ``EVAL`` so
        that redis-py routes each by its key without a ``COMMAND GETKEYS`` round
        trip, which it needs for ``XREAD``), every :data:`CLUSTER_POLL_S` while nothing
        is new.
        """
        redis = self.desk.engine.redis
        if not isinstance(redis, RedisCluster):
            answer: list[Any] = await redis.xread(streams, block=BLOCK_MS, count=500) or []
            return answer
        async with redis.pipeline(transaction=False) as pipe:
            for key, after in streams.items():
                pipe.eval(_READ_ONE, 1, key, after, 500)
            answers = await pipe.execute()
        found = [
            (stream, [(entry, dict(zip(kv[::2], kv[1::2], strict=True))) for entry, kv in rows])
            for answer in answers
            for stream, rows in answer or []
        ]
        if not found:
            await asyncio.sleep(CLUSTER_POLL_S)
        return found

    async def _check_epochs(self) -> None:
        """Reload (and snapshot) feeds whose auction was rebuilt, or had a bid voided."""
        engine = self.desk.engine
        feeds = list(self.feeds.items())
        async with engine.redis.pipeline(transaction=False) as pipe:  # one round trip
            for auction_id, _ in feeds:  # (a festival's worker watches a hundred lots)
                pipe.hget(engine.auction_keys(auction_id).meta, "epoch")
            epochs = await pipe.execute()
        for (auction_id, feed), epoch in zip(feeds, epochs, strict=True):
            if epoch is None or int(epoch) != feed.epoch:
                fresh = await self._load(auction_id)
                if self.feeds.get(auction_id) is not feed:
                    continue  # unsubscribed (or reloaded) while loading
                fresh.subscribers = feed.subscribers
                fresh.festival = feed.festival
                self.feeds[auction_id] = fresh
                for sub, tick in list(fresh.subscribers):
                    sub.offer(LotTick(auction_id) if tick else auction_id, None)

    def _dispatch(self, feed: Feed, event: dict[str, Any]) -> None:
        feed.last_seq = event["seq"]
        _apply(feed, event)
        if event["type"] == "voided":
            feed.epoch = -1  # reload the standings and snapshot everyone on the next read
            return
        # each audience's frame encoded once per subprotocol, and once as a whole frame
        encoded: dict[tuple[str, str], tuple[str | bytes, bytes] | None] = {}
        lot = LotTick(feed.auction_id)
        for (sub, tick), (audience, _) in list(feed.subscribers.items()):
            topic = lot if tick else feed.auction_id
            revealed = (event["type"] == "closed" and feed.sealed) or (
                event["type"] == "opened" and feed.pre_bids  # whether or not any came
            )
            if revealed and not tick:
                sub.offer(topic, None)  # the sealed bids (or the pre-bids) show from now on
                continue
            cache = (audience, sub.protocol)
            if cache in encoded:
                found = encoded[cache]
            else:
                frame = frames.event(feed, event, audience, partial(self._token, feed))
                payload = None if frame is None else codec.encode(sub.protocol, frame)
                found = encoded[cache] = None if payload is None else (payload, wire(payload))
            if found is not None:
                self._deliver(sub, topic, *found)

    def _deliver(self, sub: Subscriber, topic: Topic, payload: str | bytes, frame: bytes) -> None:
        """Hold the frame for the connection's next write if nothing is queued before it,
        else queue it."""
        held = self._held.get(sub)
        if held is not None and not sub.pending:
            held.append((topic, payload, frame))
        elif held is None and sub.writable():
            self._held[sub] = [(topic, payload, frame)]
        else:
            sub.offer(topic, payload)

    def _flush(self) -> None:
        """Write every connection's held frames to its socket in one write; a socket that
        takes no more gets them queued ahead of anything queued since."""
        written = 0
        for sub, held in self._held.items():
            data = held[0][2] if len(held) == 1 else b"".join(frame for _, _, frame in held)
            if not sub.closed and sub.direct is not None and sub.direct.write(data):
                written += len(held)
            else:
                sub.requeue([(topic, payload) for topic, payload, _ in held])
        self._held.clear()
        if written:
            metrics.DELIVERIES.inc(written)

    async def _load(self, auction_id: int) -> Feed:
        facts = await self.desk.facts(auction_id)
        meta, standings = await self.desk.state(auction_id)
        feed = Feed(
            auction_id=auction_id,
            buyer_company_id=facts.buyer_company_id,
            visibility=facts.visibility,
            sealed=facts.format == "sealed",
            pre_bids=meta.get("pre") == "1",
            epoch=int(meta.get("epoch", 0)),
            last_seq=int(meta.get("seq", 0)),
            status=meta.get("status", "scheduled"),
            ends_ms=int(meta.get("ends", 0)),
            extensions=int(meta.get("ext", 0)),
        )
        for b in standings:
            feed.standings[b["company"]] = (b["t"], b["seq"], b["price"])
        return feed


def _audience(viewer: Viewer, festival: bool) -> str:
    """The audience a viewer's frames are rendered for (see the module docstring)."""
    if viewer.full:
        return "festival-full" if festival else "full"
    if viewer.public:
        return "festival-status" if festival else "public"
    return "festival-public" if festival else "supplier"


def _apply(feed: Feed, event: dict[str, Any]) -> None:
    kind = event["type"]
    if kind == "bid":
        feed.standings[str(event["company"])] = (event["t"], event["seq"], event["price"])
    elif kind == "extended":
        feed.ends_ms, feed.extensions = event["ends"], event["ext"]
    elif "status" in event:
        feed.status, feed.ends_ms = event["status"], event.get("ends", feed.ends_ms)


def _auction_of(key: bytes | str) -> int:
    text = key.decode() if isinstance(key, bytes) else key
    return int(text.split("{a:", 1)[1].split("}", 1)[0])


def server_time() -> int:
    """The server's clock for ``hello`` and ``pong``."""
    return clock.now_ms()
