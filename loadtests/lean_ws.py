"""A lean websocket watcher for benchmarks: many subscribers in one process, cheaply.

A benchmark that measures how many frames per second a server delivers must receive
them faster than the server sends them; the ``websockets`` client costs tens of
microseconds per frame (its reader task, frame objects, a queue, UTF-8 decoding), so
on this 2-core box the clients, not the server, were the bottleneck. This client is an
``asyncio.Protocol``: ``data_received`` parses the RFC 6455 frames in place (servers do
not mask), counts them and hands the caller each text frame's payload as bytes without
decoding it; it answers pings (masked, as a client must) and closes politely. No
permessage-deflate is offered, so every frame is the server's bytes as written.
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
            if opcode == 0x1 or opcode == 0x2:
                self.frames += 1
                self.on_text(bytes(buffer[start:end]))
            elif opcode == 0x9:  # ping: pong with the same payload
                self._send(0xA, bytes(buffer[start:end]))
            elif opcode == 0x8:  # close: answer and let the server close the TCP
                self._send(0x8, bytes(buffer[start : start + 2]))
            at = end
        if at:
            del buffer[:at]

    def send_text(self, text: str) -> None:
        """Send one text frame (masked with a zero key)."""
        self._send(0x1, text.encode())

    def close(self) -> None:
        """Start the closing handshake (status 1000) and drop the connection soon after."""
        if self.transport is not None and not self.transport.is_closing():
            self._send(0x8, struct.pack("!H", 1000))
            asyncio.get_running_loop().call_later(1.0, self.transport.close)

    def _send(self, opcode: int, payload: bytes) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        n = len(payload)
        if n < 126:
            head = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
        elif n < 65536:
            head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
        else:
            head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
        self.transport.write(head + _MASK + payload)


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
