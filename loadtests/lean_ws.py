"""A lean websocket client for load generators: many connections in one process, cheaply.

A benchmark that measures how many frames per second a server delivers must receive
them faster than the server sends them; the ``websockets`` client costs tens of
microseconds per frame (its reader task, frame objects, a queue, UTF-8 decoding), and
``websocket-client`` (locust's users) more: two or three socket reads per frame and a
pure-Python UTF-8 check of every text frame (py-spy of the festival's locust during the
soft close: 40 % of its time in that check, 24 % in reading frame by frame). So on this
2-core box the clients, not the server, were the bottleneck. :func:`parse` takes the
complete RFC 6455 frames off the front of a buffer filled by large reads (servers do not
mask, and the servers here send every message as one frame); :class:`LeanSocket` is an
``asyncio.Protocol`` on it that counts them and hands the caller each text frame's
payload as bytes without decoding it, answers pings (masked, as a client must) and
closes politely; the festival's locust users read their gevent sockets with
:func:`parse` too. No permessage-deflate is offered, so every frame is the server's
bytes as written.
"""

from __future__ import annotations

import asyncio
import base64
import os
import struct
from collections.abc import Callable
from urllib.parse import urlsplit

_MASK = b"\x00\x00\x00\x00"
"""Clients must mask; a zero key leaves the payload as it is (and costs no XOR)."""
TEXT, BINARY, CLOSE, PING, PONG = 0x1, 0x2, 0x8, 0x9, 0xA
"""Opcodes (RFC 6455, 5.2)."""


class LeanSocket(asyncio.Protocol):
    """One websocket connection; ``on_text(payload)`` for every text frame."""

    def __init__(self, on_text: Callable[[bytes], None]) -> None:
        self.on_text = on_text
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.upgraded = asyncio.get_running_loop().create_future()
        self.closed = asyncio.get_running_loop().create_future()
        self.frames = 0
        self._handshaking = True

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.upgraded.done():
            self.upgraded.set_exception(exc or ConnectionError("closed during the handshake"))
        if not self.closed.done():
            self.closed.set_result(None)

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer
        buffer += data
        if self._handshaking:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(buffer[:end])
            del buffer[: end + 4]
            self._handshaking = False
            if not head.startswith(b"HTTP/1.1 101"):
                self.upgraded.set_exception(ConnectionError(head.split(b"\r\n", 1)[0].decode()))
                return
            self.upgraded.set_result(None)
        found, used = parse(buffer)
        if used:
            del buffer[:used]
        for opcode, payload in found:
            if opcode == TEXT or opcode == BINARY:
                self.frames += 1
                self.on_text(payload)
            elif opcode == PING:  # pong with the same payload
                self._send(PONG, payload)
            elif opcode == CLOSE:  # answer and let the server close the TCP
                self._send(CLOSE, payload[:2])

    def send_text(self, text: str) -> None:
        """Send one text frame (masked with a zero key)."""
        self._send(TEXT, text.encode())

    def close(self) -> None:
        """Start the closing handshake (status 1000) and drop the connection soon after."""
        if self.transport is not None and not self.transport.is_closing():
            self._send(CLOSE, struct.pack("!H", 1000))
            asyncio.get_running_loop().call_later(1.0, self.transport.close)

    def _send(self, opcode: int, payload: bytes) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        self.transport.write(masked(opcode, payload))


def parse(buffer: bytearray) -> tuple[list[tuple[int, bytes]], int]:
    """The complete frames at the start of ``buffer`` as ``(opcode, payload)``, and how
    many bytes they took (the caller deletes them; an incomplete frame stays)."""
    found: list[tuple[int, bytes]] = []
    at, size = 0, len(buffer)
    while size - at >= 2:
        opcode = buffer[at] & 0x0F
        length = buffer[at + 1] & 0x7F
        start = at + 2
        if length == 126:
            if size - at < 4:
                break
            (length,) = struct.unpack_from("!H", buffer, start)
            start += 2
        elif length == 127:
            if size - at < 10:
                break
            (length,) = struct.unpack_from("!Q", buffer, start)
            start += 8
        end = start + length
        if end > size:
            break
        found.append((opcode, bytes(buffer[start:end])))
        at = end
    return found, at


def masked(opcode: int, payload: bytes) -> bytes:
    """One client frame (masked with a zero key)."""
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
    elif n < 65536:
        head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
    return head + _MASK + payload


async def connect(
    url: str,
    on_text: Callable[[bytes], None],
    *,
    headers: dict[str, str] | None = None,
    subprotocol: str | None = None,
) -> LeanSocket:
    """Open ``url`` (``ws://host:port/path``) and return the upgraded connection."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    loop = asyncio.get_running_loop()
    _, protocol = await loop.create_connection(lambda: LeanSocket(on_text), host, port)
    key = base64.b64encode(os.urandom(16)).decode()
    lines = [
        f"GET {parts.path or '/'} HTTP/1.1",
        f"Host: {host}:{port}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key}",
        "Sec-WebSocket-Version: 13",
    ]
    if subprotocol:
        lines.append(f"Sec-WebSocket-Protocol: {subprotocol}")
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    assert protocol.transport is not None
    protocol.transport.write(("\r\n".join(lines) + "\r\n\r\n").encode())
    await asyncio.wait_for(protocol.upgraded, 30)
    return protocol
