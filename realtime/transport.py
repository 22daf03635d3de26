"""Writing an encoded frame straight to a connection's socket, without a task wake-up.

``rfq serve`` runs uvicorn with :class:`DirectProtocol`: uvicorn's own websocket
protocol (``websockets``' sans-I/O ``ServerProtocol`` under uvicorn's ASGI adapter),
which also puts a :class:`Direct` writer for the connection in the ASGI scope
(``scope["extensions"]["rfq.direct"]``). The hub encodes each event once per audience
into the bytes of a whole websocket frame (:func:`wire`) and hands the same bytes to
every connection of that audience: when a connection has nothing queued, is open and
its socket's buffer is below uvicorn's high-water mark, :meth:`Direct.write` writes the
frame at once, in the hub's turn of the loop (what ``websockets``' ``broadcast()``
does). Otherwise the frame goes to the connection's queue and its writer task sends it
through the ASGI ``send``, where back-pressure and the slow-client rules apply
(``realtime/hub.py``). A connection served by anything else (permessage-deflate
negotiated, another server, Starlette's test client) has no ``Direct`` and always
takes the queue.

Each write is one whole frame, synchronous, on the loop's thread, so it interleaves
with the ASGI sends (themselves synchronous once the socket is writable) frame by
frame and never inside one.
"""

from __future__ import annotations

from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.protocol import State

SCOPE_KEY = "rfq.direct"


def wire(payload: str | bytes) -> bytes:
    """A whole unmasked, uncompressed server frame carrying ``payload`` (text for a
    ``str``, binary for ``bytes``): the same bytes suit every such connection (RFC 6455
    section 5.2, as ``websockets``' ``Frame.serialize`` writes it, without its checks)."""
    if isinstance(payload, str):
        data, first = payload.encode(), 0x81  # FIN + text
    else:
        data, first = payload, 0x82  # FIN + binary
    size = len(data)
    if size < 126:
        return bytes((first, size)) + data
    if size < 65536:
        return bytes((first, 126)) + size.to_bytes(2, "big") + data
    return bytes((first, 127)) + size.to_bytes(8, "big") + data


class Direct:
    """The synchronous frame writer of one connection served by :class:`DirectProtocol`."""

    __slots__ = ("_protocol",)

    def __init__(self, protocol: WebSocketsSansIOProtocol) -> None:
        self._protocol = protocol

    def write(self, frame: bytes) -> bool:
        """Write a :func:`wire` frame now if the connection is open and its socket takes
        it without queueing past the high-water mark; False (nothing written) otherwise."""
        protocol = self._protocol
        if (
            protocol.close_sent
            or protocol.disconnected
            or protocol.initial_response is not None
            or not protocol.writable.is_set()
            or protocol.conn.state is not State.OPEN
            or protocol.transport.is_closing()
        ):
            return False
        protocol.transport.write(frame)
        return True


def direct(scope: Any) -> Direct | None:
    """The connection's :class:`Direct` writer, if its server provides one."""
    found = scope.get("extensions", {}).get(SCOPE_KEY)
    return found if isinstance(found, Direct) else None


class DirectProtocol(WebSocketsSansIOProtocol):
    """uvicorn's websocket protocol, offering a :class:`Direct` writer in the scope of
    every accepted upgrade whose frames are not compressed."""

    def handle_connect(self, event: Any) -> None:
        super().handle_connect(event)
        scope = getattr(self, "scope", None)
        # The scope exists only for an upgrade that goes to the app; its task has been
        # created but not started, so the app sees the extension from its first step.
        if scope is not None and not self.conn.extensions:
            scope["extensions"][SCOPE_KEY] = Direct(self)
