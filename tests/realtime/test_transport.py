"""The frame bytes the hub writes straight to sockets, against ``websockets``' own."""

from __future__ import annotations

import pytest
from websockets.frames import Frame, Opcode

from realtime.transport import wire


@pytest.mark.parametrize("size", [0, 1, 125, 126, 127, 65535, 65536, 70000])
def test_wire_writes_the_frame_websockets_would(size: int) -> None:
    text = "价" * (size // 3) + "x" * (size % 3)  # multi-byte UTF-8, about `size` bytes
    assert wire(text) == Frame(Opcode.TEXT, text.encode()).serialize(mask=False)
    data = bytes(range(256)) * (size // 256) + b"y" * (size % 256)
    assert wire(data) == Frame(Opcode.BINARY, data).serialize(mask=False)
