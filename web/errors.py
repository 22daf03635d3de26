"""The one place where exceptions become the contract's error responses.

Every error response is ``{"error": {"code": "snake_case", "message": "A sentence."}}``
with the right status; validation errors add ``fields``, a list of
``{"path": "lots.0.ceiling_price", "message": ...}``. Anything unexpected is logged
and answered with a 500 that reveals nothing.
"""

from __future__ import annotations

import logging
from typing import Any

from pydantic import ValidationError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Match, Route

from bidding import errors as auction_errors
from bidding.errors import AuctionError
from rfq.platform.errors import (
    Conflict,
    Forbidden,
    Invalid,
    NotFound,
    RateLimited,
    RfqError,
    Unauthorized,
)

log = logging.getLogger("rfq.web")


class UnsupportedMediaType(Invalid):
    """The body is not in a format the endpoint reads."""

    code = "unsupported_media_type"


class PayloadTooLarge(Invalid):
    """The body is larger than the endpoint accepts."""

    code = "payload_too_large"


_STATUS: tuple[tuple[type[RfqError], int], ...] = (
    (UnsupportedMediaType, 415),
    (PayloadTooLarge, 413),
    (Invalid, 422),
    (Unauthorized, 401),
    (Forbidden, 403),
    (NotFound, 404),
    (Conflict, 409),
    (RateLimited, 429),
)

_HTTP_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


class RequestInvalid(Invalid):
    """A request body or query failed validation; ``fields`` lists each problem."""

    code = "validation_error"

    def __init__(self, fields: list[dict[str, str]]) -> None:
        first = fields[0] if fields else {"path": "", "message": "The request is not valid."}
        where = f"{first['path']}: " if first["path"] else ""
        super().__init__(f"{where}{first['message']}", field=first["path"] or None)
        self.fields = fields

    @classmethod
    def from_pydantic(cls, exc: ValidationError, prefix: str = "") -> RequestInvalid:
        """One entry per pydantic error, with a dotted path to the bad field."""
        fields = []
        for err in exc.errors(include_url=False):
            loc = [str(p) for p in err["loc"]]
            path = ".".join(([prefix] if prefix else []) + loc)
            fields.append({"path": path, "message": _sentence(err["msg"])})
        return cls(fields)


def error_body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    """The contract's error JSON."""
    return {"error": {"code": code, "message": message, **extra}}


def status_of(exc: RfqError) -> int:
    """The HTTP status for a domain error."""
    for cls, status in _STATUS:
        if isinstance(exc, cls):
            return status
    return 400


async def rfq_error(request: Request, exc: Exception) -> Response:
    """A domain error as a JSON error response."""
    assert isinstance(exc, RfqError)
    extra: dict[str, Any] = {}
    headers = {}
    if isinstance(exc, Invalid) and exc.field:
        extra["field"] = exc.field
    if isinstance(exc, RequestInvalid):
        extra["fields"] = exc.fields
    if isinstance(exc, RateLimited):
        extra["retry_after"] = exc.retry_after
        headers["Retry-After"] = str(exc.retry_after)
    return JSONResponse(error_body(exc.code, exc.message, **extra), status_of(exc), headers=headers)


async def http_error(request: Request, exc: Exception) -> Response:
    """Starlette's own HTTP errors (404 route, 405 method, ...) in the contract's shape."""
    assert isinstance(exc, HTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    message = _sentence(str(exc.detail)) if exc.detail else "The request failed."
    headers = dict(exc.headers or {})
    if exc.status_code == 405:  # one Route per method: name every method of the path
        headers["Allow"] = ", ".join(_methods_of(request))
    return JSONResponse(error_body(code, message), exc.status_code, headers=headers)


def _methods_of(request: Request) -> list[str]:
    methods: set[str] = set()
    for route in request.app.routes:
        match, _ = route.matches(request.scope)
        if match is Match.PARTIAL and isinstance(route, Route) and route.methods:
            methods |= route.methods
    return sorted(methods)


async def client_gone(request: Request, exc: Exception) -> Response:
    """The client hung up while sending its body: nobody is left to answer (nginx's 499)."""
    return Response(status_code=499)


async def unavailable(request: Request, exc: Exception) -> Response:
    """Redis or the database did not answer: 503, try again; nothing was acknowledged."""
    log.warning("dependency unavailable on %s %s: %r", request.method, request.url.path, exc)
    body = error_body("unavailable", "The service is briefly unavailable; retry with the same key.")
    return JSONResponse(body, 503, headers={"Retry-After": "1"})


async def server_error(request: Request, exc: Exception) -> Response:
    """An unexpected failure: logged with its traceback, answered without details."""
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return JSONResponse(error_body("internal_error", "Something went wrong on our side."), 500)


_AUCTION_STATUS: tuple[tuple[type[AuctionError], int], ...] = (
    (auction_errors.NotEligible, 403),
    (auction_errors.AuctionNotLive, 409),
    (auction_errors.IllegalMove, 409),
    (auction_errors.BidNotVoidable, 409),
    (auction_errors.BidRejected, 422),
    (auction_errors.InvalidRules, 422),
)


async def auction_error(request: Request, exc: Exception) -> Response:
    """An auction engine error (a rejected bid, bad rules) as a JSON error response."""
    assert isinstance(exc, AuctionError)
    status = next((s for cls, s in _AUCTION_STATUS if isinstance(exc, cls)), 409)
    extra: dict[str, Any] = {}
    min_acceptable = getattr(exc, "min_acceptable", None)
    if min_acceptable is not None:
        extra["min_acceptable"] = min_acceptable
    field = getattr(exc, "field", None)
    if field:
        extra["field"] = field
    return JSONResponse(error_body(exc.code, exc.message, **extra), status)


HANDLERS = {
    RfqError: rfq_error,
    AuctionError: auction_error,
    RedisConnectionError: unavailable,
    RedisTimeoutError: unavailable,
    OperationalError: unavailable,
    TimeoutError: unavailable,
    ConnectionError: unavailable,  # the journal stopping or failing (JournalStopped, ...)
    HTTPException: http_error,
    ClientDisconnect: client_gone,
    Exception: server_error,
}


def _sentence(text: str) -> str:
    text = text.strip()
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."
