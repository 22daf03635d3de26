"""A reader that stops reading is closed (4008) while the other readers keep every frame.

The slow reader is a raw TCP socket with a 4 KiB receive buffer that completes the
websocket handshake (with the ``websockets`` library's sans-I/O client), subscribes, and
then reads nothing. The server's end of that socket gets a 4 KiB send buffer too (the
server runs in this process), else the kernel would first absorb megabytes. Bids go one
at a time, over REST (a websocket allows 20 operations a second); each must reach every
other reader, in order and with no resync snapshot, before the next is sent, so the
stalled socket never holds the others back. Once the server has closed the slow reader,
the test drains its socket: the last frame is a close with code 4008.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
from typing import Any

import httpx
from prometheus_client import REGISTRY
from websockets.asyncio.client import ClientConnection, connect
from websockets.client import ClientProtocol
from websockets.uri import parse_uri

from realtime.endpoint import CLOSE_SLOW
from tests.support import LiveServer, bearer, certified_supplier, live_auction, operator_token
from tests.support import register as register_user

READERS = 3
MAX_BIDS = 5_000
"""Enough bids to fill the stalled socket's buffers several times over."""


def _slow_closed() -> float:
    return REGISTRY.get_sample_value("rfq_ws_slow_clients_closed_total") or 0.0


class _StalledReader:
    """A websocket client that subscribes and then stops reading."""

    def __init__(self, url: str, token: str) -> None:
        uri = parse_uri(url)
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.sock.connect((uri.host, uri.port))
        self.protocol = ClientProtocol(uri, max_size=None)
        request = self.protocol.connect()
        request.headers["Authorization"] = f"Bearer {token}"
        self.protocol.send_request(request)
        self._flush()
        while self.protocol.handshake_exc is None and not self._handshake_done():
            self.protocol.receive_data(self.sock.recv(4096))
        assert self.protocol.handshake_exc is None, self.protocol.handshake_exc

    def shrink_server_buffer(self) -> None:
        """Give the server's end of this connection (a socket of this process) a small
        send buffer, found through ``/proc``: the socket whose peer is this one."""
        host, port = self.sock.getsockname()
        peer = f"{socket.inet_aton(host)[::-1].hex().upper()}:{port:04X}"
        with open("/proc/net/tcp") as table:
            inodes = {line.split()[9] for line in table if line.split()[2] == peer}
        for fd in os.listdir("/proc/self/fd"):
            with contextlib.suppress(OSError):
                if os.readlink(f"/proc/self/fd/{fd}")[8:-1] in inodes:
                    server_end = socket.socket(fileno=os.dup(int(fd)))
                    server_end.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
                    server_end.close()  # the duplicate; the server's descriptor stays
                    return
        raise AssertionError("the server's end of the stalled socket was not found")

    def _handshake_done(self) -> bool:
        return any(True for _ in self.protocol.events_received())  # the response

    def _flush(self) -> None:
        for data in self.protocol.data_to_send():
            self.sock.sendall(data)

    def send(self, frame: dict[str, Any]) -> None:
        self.protocol.send_text(json.dumps(frame).encode())
        self._flush()

    def drain_to_close(self) -> int | None:
        """Read everything the server sent; the close code it ended with."""
        self.sock.settimeout(30)
        while self.protocol.close_rcvd is None:
            data = self.sock.recv(65536)
            if not data:
                break
            self.protocol.receive_data(data)
            for _ in self.protocol.events_received():
                pass
        self.sock.close()
        return self.protocol.close_rcvd.code if self.protocol.close_rcvd else None


async def _next_bid(ws: ClientConnection, seq: int) -> None:
    """The reader's next frame is bid ``seq``: no gap, no resync snapshot."""
    frame = json.loads(await ws.recv())
    assert (frame["type"], frame["seq"]) == ("bid", seq), frame


async def test_a_stalled_reader_is_closed_while_the_others_get_every_frame(
    live: LiveServer,
) -> None:
    with httpx.Client(base_url=live.url, timeout=30) as client:
        operator = operator_token(live)
        buyer = register_user(client, "buyer")
        suppliers = [certified_supplier(client, operator, ["fasteners"]) for _ in range(2)]
        auction = live_auction(client, buyer, seconds=600, ceiling=10_000_000)
    url = live.url.replace("http://", "ws://") + "/ws"
    headers = bearer(buyer["token"])
    closed_before = _slow_closed()
    stalled = _StalledReader(url, buyer["token"])
    stalled.shrink_server_buffer()
    stalled.send({"op": "subscribe", "auction": auction})
    readers = [await connect(url, additional_headers=headers) for _ in range(READERS)]
    http = httpx.AsyncClient(base_url=live.url, timeout=30)
    try:
        for ws in readers:
            assert json.loads(await ws.recv())["type"] == "hello"
        for ws in readers:
            await ws.send(json.dumps({"op": "subscribe", "auction": auction}))
            assert json.loads(await ws.recv())["type"] == "snapshot"
        k = 0
        while _slow_closed() == closed_before:
            assert k < MAX_BIDS, "the stalled reader was never closed"
            answer = await http.post(
                f"/api/auctions/{auction}/bids",
                json={"price": 10_000_000 - k, "key": f"slow-{k}"},
                headers=bearer(suppliers[k % 2]["token"]),
            )
            assert answer.status_code == 201, answer.text
            ack = answer.json()
            async with asyncio.timeout(10):
                for ws in readers:
                    await _next_bid(ws, ack["seq"])
            k += 1
        assert stalled.drain_to_close() == CLOSE_SLOW
    finally:
        await http.aclose()
        for ws in readers:
            await ws.close()
