"""Who is calling: bearer tokens, the session cookie, CSRF protection and Origin checks.

Programs send ``Authorization: Bearer TOKEN``. Browsers carry the same kind of token
in the ``rfq_session`` cookie (HttpOnly, SameSite=Lax). A state-changing request that
is authenticated by the cookie must also carry ``X-CSRF-Token``, whose value is an
HMAC of the session token under the app's secret (readable by the page from the
``rfq_csrf`` cookie or the ``csrf-token`` meta tag), and, when the browser sends an
``Origin`` header, that origin must be allowed. A bearer request needs neither: a
browser never adds that header by itself.

Resolving a credential only reads SQL (a snapshot: it never queues behind the writers
of bids). When it was last used is recorded per process at most once a minute per
credential, in one statement for all of them every :data:`USES_EVERY_S` seconds
(:class:`Uses`); a worker that stops loses at most that long of such records.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import time
from typing import Any

from starlette.requests import HTTPConnection
from starlette.responses import Response

from rfq import accounts
from rfq.accounts import Principal
from rfq.platform import clock
from rfq.platform.db import Database
from rfq.platform.errors import CsrfFailed, Forbidden, Unauthorized

log = logging.getLogger("rfq.web")

SESSION_COOKIE = "rfq_session"
CSRF_COOKIE = "rfq_csrf"
CSRF_HEADER = "x-csrf-token"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
USES_EVERY_S = 5.0
USE_GRAIN_S = 60.0
"""A credential's use is recorded at most this often (per process)."""


class Uses:
    """Credentials' uses to record as ``last_used_at``, written in batches by :meth:`run`."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._seen: dict[int, float] = {}
        self._due: set[int] = set()

    def note(self, token_id: int) -> None:
        """Remember a use of the credential (at most one a minute is recorded)."""
        now = time.monotonic()
        if now - self._seen.get(token_id, -USE_GRAIN_S) < USE_GRAIN_S:
            return
        self._seen[token_id] = now
        self._due.add(token_id)

    async def flush(self) -> None:
        """Write the uses noted since the last flush, in one transaction."""
        now = time.monotonic()  # forget uses that are due again anyway
        self._seen = {t: at for t, at in self._seen.items() if now - at < USE_GRAIN_S}
        if self._due:
            due, self._due = self._due, set()
            await self.db.run(accounts.record_use, due, clock.now())

    async def run(self) -> None:
        """Flush every :data:`USES_EVERY_S` seconds until cancelled."""
        while True:
            await asyncio.sleep(USES_EVERY_S)
            await self.settle()

    async def settle(self) -> None:
        """:meth:`flush`, logging a failure: a usage record is a hint, and the next
        round (or nobody, at shutdown) goes on without it."""
        try:
            await self.flush()
        except Exception:
            log.warning("recording credentials' last use failed", exc_info=True)


def csrf_token(secret_key: str, session_secret: str) -> str:
    """The CSRF token that goes with a session cookie value."""
    mac = hmac.new(secret_key.encode(), b"csrf:" + session_secret.encode(), hashlib.sha256)
    return mac.hexdigest()


def allowed_origins(conn: HTTPConnection) -> set[str]:
    """The configured origins plus the app's own origin as the request addresses it."""
    own = f"{conn.url.scheme.replace('ws', 'http')}://{conn.url.netloc}"
    return {own, *conn.app.state.settings.allowed_origins}


def check_origin(conn: HTTPConnection) -> None:
    """Refuse a browser request whose ``Origin`` header is not one of ours."""
    origin = conn.headers.get("origin")
    if origin is not None and origin.rstrip("/") not in allowed_origins(conn):
        raise Forbidden("Requests from this origin are not allowed.", code="origin_not_allowed")


async def authenticate_request(conn: HTTPConnection) -> Principal | None:
    """The caller of an HTTP request or websocket handshake, or None if anonymous.

    A bearer header that is present must be valid (401 otherwise). A stale cookie is
    treated as no cookie, so a logged-out browser can still reach public pages.
    """
    state = conn.app.state
    header = conn.headers.get("authorization")
    if header is not None:
        scheme, _, secret = header.partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            raise Unauthorized("Use 'Authorization: Bearer TOKEN'.", code="invalid_token")
        principal: Principal = await state.db.read(
            accounts.resolve, secret.strip(), accounts.Via.bearer
        )
        state.uses.note(principal.token_id)
        return principal
    cookie = conn.cookies.get(SESSION_COOKIE)
    if not cookie:
        return None
    try:
        principal = await state.db.read(accounts.resolve, cookie, accounts.Via.cookie)
    except Unauthorized:
        return None
    state.uses.note(principal.token_id)
    if conn.scope["type"] == "http" and conn.scope["method"] not in _SAFE_METHODS:
        check_origin(conn)
        sent = conn.headers.get(CSRF_HEADER, "")
        if not hmac.compare_digest(sent, csrf_token(state.settings.secret_key, cookie)):
            raise CsrfFailed("Send the X-CSRF-Token header with the value of the rfq_csrf cookie.")
    return principal


def set_session(response: Response, conn: HTTPConnection, secret: str) -> None:
    """Put the session and CSRF cookies on ``response``."""
    secure = conn.url.scheme == "https"
    max_age = int(accounts.LOGIN_TTL.total_seconds())
    common: dict[str, Any] = {"max_age": max_age, "path": "/", "secure": secure}
    response.set_cookie(SESSION_COOKIE, secret, httponly=True, samesite="lax", **common)
    token = csrf_token(conn.app.state.settings.secret_key, secret)
    response.set_cookie(CSRF_COOKIE, token, httponly=False, samesite="strict", **common)


def clear_session(response: Response) -> None:
    """Remove the session and CSRF cookies."""
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")
