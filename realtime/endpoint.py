"""``GET /ws``: the websocket endpoint (protocol in ``docs/protocol.md``).

The handshake (who the caller is, and whether its ``Origin`` may call) is
``web/websocket.py``'s; this module serves the accepted connection. The server picks the
client's first supported subprotocol (``rfq.v1.msgpack``, ``rfq.v1.json``; none offered:
JSON text frames) and greets with ``hello``.

Client ops: ``ping``, ``subscribe``, ``unsubscribe``, ``bid``, ``proxy``. Limits, each
answered with an ``error`` frame or a close code:

| limit | value | when exceeded |
| --- | --- | --- |
| frame size | 16 KiB | ``error`` ``frame_too_large`` (unreadable: ``bad_frame``) |
| message size | 64 KiB (``codec.MAX_MESSAGE``, uvicorn's ``ws_max_size``) | close 1009 |
| subscriptions per connection | 50 | ``error`` ``too_many_subscriptions`` |
| operations per connection | 20/s, bursts of 40 | ``error`` ``rate_limited``; 100 in 10 s: 4029 |
| idle (no client frame) | 60 s | close 4002 (clients ping every 20 s) |
| slow reader | see ``realtime/hub.py`` | close 4008 |
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from typing import Any

from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError
from starlette.websockets import WebSocket, WebSocketDisconnect

from bidding.errors import AuctionError, BidRejected
from bidding.views import Viewer
from realtime import codec, frames, transport
from realtime.hub import SEND_TIMEOUT_S, Hub, LotTick, Subscriber, server_time
from realtime.notifier import TOPIC as NOTIFICATIONS
from realtime.notifier import Notifier
from rfq import festivals, rfqs
from rfq.accounts import Principal
from rfq.platform import metrics
from rfq.platform.db import is_row_id
from rfq.platform.errors import RateLimited, RfqError

log = logging.getLogger("rfq.realtime")

MAX_SUBSCRIPTIONS = 50
MAX_FESTIVALS = 5
OPS_PER_S = 20
OPS_BURST = 40
FLOOD_CLOSE_AFTER = 100
FLOOD_WINDOW_S = 10.0
IDLE_S = 60.0

CLOSE_IDLE = 4002
CLOSE_SLOW = 4008
CLOSE_FLOOD = 4029


async def serve(websocket: WebSocket, principal: Principal) -> None:
    """Accept a websocket whose caller the handshake authenticated (``web/websocket.py``)
    and serve it until either side closes it."""
    protocol = codec.choose(list(websocket.scope.get("subprotocols", []))) or codec.JSON
    chosen = protocol if protocol in websocket.scope.get("subprotocols", []) else None
    await websocket.accept(subprotocol=chosen)
    hub: Hub = websocket.app.state.hub
    sub = Subscriber(protocol, direct=transport.direct(websocket.scope))
    session = _Session(websocket, hub, principal, sub)
    metrics.CONNECTIONS.inc()
    try:
        await session.serve()
    finally:
        metrics.CONNECTIONS.dec()


class _Session:
    def __init__(self, websocket: WebSocket, hub: Hub, principal: Principal, sub: Subscriber):
        self.ws = websocket
        self.hub = hub
        self.principal = principal
        self.sub = sub
        self.auctions: set[int] = set()
        self.festivals: dict[int, list[int]] = {}
        self.lot_ticks: set[int] = set()  # the lots of those festivals
        self.notifier: Notifier = websocket.app.state.notifier
        self.notifications = False
        self.tokens = float(OPS_BURST)
        self.refilled = time.monotonic()
        self.refused: deque[float] = deque()
        self._sending = asyncio.Lock()
        self._heard = 0.0
        self._watchdog: asyncio.TimerHandle | None = None
        self._closing: asyncio.Future[None] | None = None

    async def serve(self) -> None:
        writer = asyncio.create_task(self._writer())
        try:
            await self._send(
                {
                    "type": "hello",
                    "server_time": server_time(),
                    "protocol": self.sub.protocol,
                    "user_id": self.principal.user_id,
                    "company_id": self.principal.company_id,
                    "role": self.principal.role.value,
                }
            )
            await self._reader()
        except WebSocketDisconnect:
            pass
        finally:
            self.hub.unsubscribe(self.sub)
            self.notifier.unsubscribe(self.sub)
            self.sub.closed = True
            self.sub.wake.set()
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await writer

    async def _reader(self) -> None:
        loop = asyncio.get_running_loop()
        self._heard = loop.time()
        self._watchdog = loop.call_later(IDLE_S, self._watch_idle, loop)
        try:
            while True:
                message = await self.ws.receive()
                self._heard = loop.time()
                if message["type"] == "websocket.disconnect":
                    return
                await self._on_message(message)
        finally:
            self._watchdog.cancel()

    def _watch_idle(self, loop: asyncio.AbstractEventLoop) -> None:
        """Close a connection silent for ``IDLE_S`` (its reader then reads the
        disconnect): one timer per connection, moved on when it fires, not one per frame."""
        quiet = loop.time() - self._heard
        if quiet >= IDLE_S:
            self._closing = asyncio.ensure_future(self._close(CLOSE_IDLE, "idle"))
        else:
            self._watchdog = loop.call_later(IDLE_S - quiet, self._watch_idle, loop)

    async def _on_message(self, message: Any) -> None:
        """One client frame: within the connection's budget of operations, decoded, done."""
        data = message.get("text") if message.get("text") is not None else message.get("bytes")
        if data is None:
            return
        if not self._take_token():
            if self._flooding():  # the reader then reads the disconnect
                await self.ws.close(code=CLOSE_FLOOD, reason="too many operations")
                return
            await self._error("rate_limited", "Too many operations; slow down.")
            return
        try:
            frame = codec.decode(data)
        except codec.BadFrame as exc:
            code = "frame_too_large" if "limited" in str(exc) else "bad_frame"
            await self._error(code, f"The frame was refused: {exc}.")
            return
        await self._handle(frame)

    async def _handle(self, frame: dict[str, Any]) -> None:
        op = frame.get("op")
        if op == "ping":
            await self._send({"type": "pong", "t": frame.get("t"), "server_time": server_time()})
        elif op == "subscribe":
            await self._subscribe(frame)
        elif op == "unsubscribe" and frame.get("channel") == "notifications":
            self.notifications = False
            self.notifier.unsubscribe(self.sub)
            await self._send({"type": "unsubscribed", "channel": "notifications"})
        elif op == "unsubscribe" and is_row_id(frame.get("festival")):
            for auction_id in self.festivals.pop(frame["festival"], []):
                self.lot_ticks.discard(auction_id)
                self.hub.unsubscribe(self.sub, auction_id, festival=True)
            await self._send({"type": "unsubscribed", "festival": frame["festival"]})
        elif op == "unsubscribe":
            auction = frame.get("auction")
            if is_row_id(auction):
                self.auctions.discard(auction)
                self.hub.unsubscribe(self.sub, auction)
                await self._send({"type": "unsubscribed", "auction": auction})
        elif op in ("bid", "proxy"):
            await self._bid(op, frame)
        else:
            await self._error("unknown_op", "Ops are ping, subscribe, unsubscribe, bid, proxy.")

    async def _subscribe(self, frame: dict[str, Any]) -> None:
        if frame.get("channel") == "notifications":
            self.notifications = True
            await self.notifier.subscribe(self.sub, self.principal.user_id)
            return
        if "festival" in frame:
            await self._subscribe_festival(frame.get("festival"))
            return
        auction_id, since = frame.get("auction"), frame.get("since")
        zero = isinstance(since, int) and not isinstance(since, bool) and since == 0
        bad_since = since is not None and not (zero or is_row_id(since))
        if not is_row_id(auction_id) or bad_since:
            await self._error("bad_frame", "subscribe needs an integer auction and since >= 0.")
            return
        if auction_id not in self.auctions and len(self.auctions) >= MAX_SUBSCRIPTIONS:
            await self._error("too_many_subscriptions", f"At most {MAX_SUBSCRIPTIONS}.")
            return
        try:
            viewer = await self._viewer(auction_id)
        except (RfqError, AuctionError):
            await self._error("not_found", "No such auction.", auction=auction_id)
            return
        self.auctions.add(auction_id)
        await self.hub.subscribe(self.sub, auction_id, since, viewer)

    async def _subscribe_festival(self, festival_id: Any) -> None:
        if not is_row_id(festival_id):
            await self._error("bad_frame", "subscribe needs an integer festival.")
            return
        if festival_id not in self.festivals and len(self.festivals) >= MAX_FESTIVALS:
            await self._error("too_many_subscriptions", f"At most {MAX_FESTIVALS} festivals.")
            return

        def lots(session: Any) -> list[tuple[int, Viewer]]:
            festivals.get(session, self.principal, festival_id)
            rows = festivals.lots_of(session, festival_id)
            return [
                (auction.id, rfqs.viewer_of_rfq(session, self.principal, rfq))
                for auction, _, rfq in rows
                if rfqs.visible_to(session, self.principal, rfq)
            ]

        try:
            rows = await self.hub.desk.db.read(lots)
        except RfqError:
            await self._error("not_found", "No such festival.", festival=festival_id)
            return
        self.festivals[festival_id] = [auction_id for auction_id, _ in rows]
        self.lot_ticks.update(self.festivals[festival_id])
        await self._send(
            {"type": "festival", "festival": festival_id, "auctions": self.festivals[festival_id]}
        )
        for auction_id, viewer in rows:
            await self.hub.subscribe(self.sub, auction_id, None, viewer, festival=festival_id)

    async def _viewer(self, auction_id: int) -> Viewer:
        return await self.hub.desk.viewer(self.principal, auction_id)

    async def _bid(self, op: str, frame: dict[str, Any]) -> None:
        key, auction_id = frame.get("key"), frame.get("auction")
        value = frame.get("price") if op == "bid" else frame.get("floor")
        if (
            not isinstance(key, str)
            or not 0 < len(key) <= 100
            or not is_row_id(auction_id)
            or isinstance(value, bool)
            or not (isinstance(value, int) or (op == "proxy" and value is None))
        ):
            message = "Send an integer price (minor units), a key and an auction id."
            await self._send(frames.rejected(key, None, "invalid_price", message))
            return
        desk = self.hub.desk
        try:
            if op == "bid":
                assert isinstance(value, int)
                ack = await desk.bid(self.principal, auction_id, value, key)
                await self._send(
                    {
                        "type": "ack",
                        "key": key,
                        "auction": auction_id,
                        "bid_id": ack.bid_id,
                        "price": ack.price,
                        "rank": ack.rank,
                        "seq": ack.seq,
                        "ends_at_ms": ack.ends_at_ms,
                        "extensions": ack.extensions,
                        "extended": ack.extended,
                        "replay": ack.replay,
                    }
                )
            else:
                outcome = await desk.proxy(self.principal, auction_id, value, key)
                await self._send(
                    {
                        "type": "ack",
                        "key": key,
                        "auction": auction_id,
                        "floor": value,
                        "rank": outcome.rank,
                    }
                )
        except BidRejected as exc:
            rejected = frames.rejected(
                key, auction_id, exc.code, exc.message, min_acceptable=exc.min_acceptable
            )
            await self._send(rejected)
        except RateLimited as exc:
            rejected = frames.rejected(
                key, auction_id, "rate_limited", exc.message, retry_after=exc.retry_after
            )
            await self._send(rejected)
        except (RfqError, AuctionError) as exc:
            await self._send(frames.rejected(key, auction_id, exc.code, exc.message))
        except (RedisError, SQLAlchemyError, ConnectionError, TimeoutError, OSError) as exc:
            log.warning("bid over websocket failed: %r", exc)
            message = "The service is briefly unavailable; retry with the same key."
            await self._send(frames.rejected(key, auction_id, "unavailable", message))

    async def _writer(self) -> None:
        sub = self.sub
        while True:
            await sub.wake.wait()
            sub.wake.clear()
            if sub.closed and not self._open():
                return
            if sub.closed:
                metrics.SLOW_CLOSED.inc()
                await self._close(CLOSE_SLOW, "too slow")
                return
            try:
                sent = await self._drain()
            except TimeoutError:
                metrics.SLOW_CLOSED.inc()
                await self._close(CLOSE_SLOW, "too slow")
                return
            if sent is None:
                return
            if sent:
                metrics.DELIVERIES.inc(sent)

    async def _drain(self) -> int | None:
        """Send every queued frame; the number sent, or None once the socket is closed.

        Raises ``TimeoutError`` when sending makes no progress for about
        ``SEND_TIMEOUT_S``: one deadline for the round, moved on as frames go out (at
        most once a second, as a timer per frame would cost more than the frame), and
        lifted while a snapshot or the notifications are fetched.
        """
        self.sub.draining = True  # frames offered meanwhile queue behind these
        try:
            async with asyncio.timeout(None) as deadline:
                return await self._drain_within(deadline)
        finally:
            self.sub.draining = False

    async def _drain_within(self, deadline: asyncio.Timeout) -> int | None:
        sub = self.sub
        loop = asyncio.get_running_loop()
        sent = 0
        while sub.pending:
            topic, payload = sub.pending.popleft()
            if topic == NOTIFICATIONS:
                if not self.notifications:
                    continue
                if payload is None:
                    deadline.reschedule(None)
                    try:
                        unread = await self.notifier.unread(self.principal.user_id)
                    except (SQLAlchemyError, TimeoutError, OSError):
                        await self._close(1011, "notifications failed; reconnect")
                        return None
                    payload = codec.encode(sub.protocol, unread)
            elif isinstance(topic, LotTick):
                if topic.auction not in self.lot_ticks:
                    continue
            elif topic not in self.auctions:
                continue
            if payload is None:
                deadline.reschedule(None)
                try:
                    snapshot = await self.hub.snapshot(sub, topic)
                except (RedisError, SQLAlchemyError, RfqError, TimeoutError, OSError) as exc:
                    log.warning("snapshot of %s failed: %r", topic, exc)
                    await self._close(1011, "snapshot failed; reconnect and resubscribe")
                    return None
                payload = codec.encode(sub.protocol, snapshot)
            if deadline.when() is None:
                deadline.reschedule(loop.time() + SEND_TIMEOUT_S)
            await self._raw_send(payload)
            sent += 1
            moved = deadline.when()
            if moved is not None and loop.time() + SEND_TIMEOUT_S - moved > 1.0:
                deadline.reschedule(loop.time() + SEND_TIMEOUT_S)  # progress
        return sent

    def _open(self) -> bool:
        return self.ws.client_state.name == "CONNECTED"

    async def _close(self, code: int, reason: str) -> None:
        with contextlib.suppress(Exception):
            await self.ws.close(code=code, reason=reason)

    async def _raw_send(self, payload: str | bytes) -> None:
        direct = self.sub.direct  # straight to the socket if it takes it now (no ASGI send)
        if direct is not None and direct.write(transport.wire(payload)):
            return
        async with self._sending:  # the reader (acks) and the writer (events) both send
            if isinstance(payload, bytes):
                await self.ws.send_bytes(payload)
            else:
                await self.ws.send_text(payload)

    async def _send(self, frame: dict[str, Any]) -> None:
        await self._raw_send(codec.encode(self.sub.protocol, frame))

    async def _error(self, code: str, message: str, **extra: Any) -> None:
        await self._send(frames.error(code, message, **extra))

    def _flooding(self) -> bool:
        """Note one refused operation; True once more than ``FLOOD_CLOSE_AFTER`` were
        refused in the last ``FLOOD_WINDOW_S`` seconds."""
        now = time.monotonic()
        self.refused.append(now)
        while now - self.refused[0] > FLOOD_WINDOW_S:
            self.refused.popleft()
        return len(self.refused) > FLOOD_CLOSE_AFTER

    def _take_token(self) -> bool:
        now = time.monotonic()
        self.tokens = min(OPS_BURST, self.tokens + (now - self.refilled) * OPS_PER_S)
        self.refilled = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True
