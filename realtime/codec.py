"""Frames on the wire: the ``rfq.v1.json`` and ``rfq.v1.msgpack`` subprotocols.

Every frame is a map. JSON frames are text, msgpack frames binary. With no
subprotocol offered the server speaks JSON. A frame larger than :data:`MAX_FRAME`
bytes, or one that does not decode to a map, is refused with :class:`BadFrame`.
"""

from __future__ import annotations

import json
from typing import Any

import msgpack

JSON = "rfq.v1.json"
MSGPACK = "rfq.v1.msgpack"
SUPPORTED = (MSGPACK, JSON)
MAX_FRAME = 16 * 1024
MAX_MESSAGE = 64 * 1024
"""The websocket protocol's own limit (uvicorn's ``ws_max_size``): a larger message is
never buffered whole; the connection is closed with 1009 (message too big)."""
DEFLATE = False
"""Whether the server offers permessage-deflate (uvicorn's ``ws_per_message_deflate``):
no. Frames are a few hundred bytes, so compression saves little, while it costs a
compressor on every connection (CPU for every frame it sends, and the compressor's
memory). The hub encodes each frame once per audience; compression would redo work per
connection."""


class BadFrame(ValueError):
    """A client frame that is too large, undecodable, or not a map."""


_json = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
"""One compact encoder for every frame (``json.dumps`` with options builds one per call)."""


def choose(offered: list[str]) -> str | None:
    """The first offered subprotocol the server supports (None: plain JSON, none chosen)."""
    for name in offered:
        if name in SUPPORTED:
            return name
    return None


def encode(protocol: str, frame: dict[str, Any]) -> str | bytes:
    """A frame in the connection's encoding: text for JSON, bytes for msgpack."""
    if protocol == MSGPACK:
        packed: bytes = msgpack.packb(frame, use_bin_type=True)
        return packed
    return _json(frame)


def decode(data: str | bytes) -> dict[str, Any]:
    """A client frame as a dict (JSON text or msgpack bytes), or ``BadFrame``."""
    if len(data) > MAX_FRAME:
        raise BadFrame(f"frames are limited to {MAX_FRAME} bytes")
    try:
        value = json.loads(data) if isinstance(data, str) else msgpack.unpackb(data, raw=False)
    except (ValueError, msgpack.ExtraData, msgpack.FormatError, msgpack.StackError) as exc:
        raise BadFrame("the frame does not decode") from exc
    if not isinstance(value, dict):
        raise BadFrame("a frame must be a map")
    return value
