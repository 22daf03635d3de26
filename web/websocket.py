"""``GET /ws``'s handshake: the caller is the session cookie's (then ``Origin`` must be
allowed) or the ``Authorization: Bearer`` header's; anything else closes the handshake
(HTTP 403). The accepted connection is ``realtime/endpoint.py``'s to serve."""

from __future__ import annotations

from starlette.websockets import WebSocket

from realtime import endpoint
from rfq.accounts import Principal
from rfq.platform.errors import RfqError
from web.auth import authenticate_request, check_origin


async def websocket_endpoint(websocket: WebSocket) -> None:
    """Authenticate the handshake, then serve the connection until either side closes it."""
    principal = await _handshake(websocket)
    if principal is None:
        await websocket.close(code=1008)
        return
    await endpoint.serve(websocket, principal)


async def _handshake(websocket: WebSocket) -> Principal | None:
    try:
        if websocket.cookies.get("rfq_session") and "authorization" not in websocket.headers:
            check_origin(websocket)
            if websocket.headers.get("origin") is None:
                return None  # a browser always sends Origin; a cookie without one is refused
        return await authenticate_request(websocket)
    except RfqError:
        return None
