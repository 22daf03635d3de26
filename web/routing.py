"""JSON endpoints declared with their schemas, and the OpenAPI document built from them.

An endpoint is an async function ``fn(call)``; :func:`api` wraps it into a Starlette
``Route`` that parses and validates the body against its pydantic model, resolves the
caller (bearer header or session cookie, with CSRF protection for the cookie), and
serialises what the function returns. The same declarations produce ``/openapi.json``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, TypeAdapter, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from rfq.access import require_login
from rfq.accounts import Principal
from rfq.platform.db import is_row_id
from rfq.platform.errors import Invalid, NotFound
from web.auth import authenticate_request, check_origin
from web.errors import PayloadTooLarge, RequestInvalid, UnsupportedMediaType

B = TypeVar("B", bound=BaseModel)
E = TypeVar("E", bound=StrEnum)

MAX_JSON_BODY = 1_000_000


@dataclass(slots=True)
class Call(Generic[B]):
    """What an endpoint function receives: the request, its caller and its parsed body."""

    request: Request
    principal: Principal | None
    body: B
    path: dict[str, Any]

    @property
    def state(self) -> Any:
        """The app's shared resources (``app.state``)."""
        return self.request.app.state


@dataclass(frozen=True, slots=True)
class Spec:
    """What the OpenAPI document says about one endpoint."""

    method: str
    path: str
    summary: str
    body: type[BaseModel] | None
    response: Any
    status: int
    auth: bool
    tags: tuple[str, ...] = field(default=())
    upload: str | None = None
    """The multipart field of an endpoint that takes one file instead of JSON."""


Handler = Callable[[Call[Any]], Awaitable[Any]]

_SPECS: list[Spec] = []


def api(
    method: str,
    path: str,
    *,
    body: type[BaseModel] | None = None,
    response: Any = None,
    status: int = 200,
    auth: bool = True,
    tags: tuple[str, ...] | None = None,
    upload: str | None = None,
) -> Callable[[Handler], Route]:
    """Declare a JSON endpoint; the decorated function becomes a ``Route``. Its OpenAPI
    tag is the name of the handler's module (``web/rfqs.py``: ``rfqs``) unless given."""

    def wrap(fn: Handler) -> Route:
        tagged = tags if tags is not None else (fn.__module__.rsplit(".", 1)[-1],)
        summary = (fn.__doc__ or "").strip().splitlines()[0] if fn.__doc__ else ""
        _SPECS.append(Spec(method, path, summary, body, response, status, auth, tagged, upload))
        adapter = TypeAdapter(response) if response is not None else None

        async def endpoint(request: Request) -> Response:
            check_ids(request)
            if auth:
                principal = await authenticate_request(request)
                if body is not None:  # every body-taking endpoint needs a caller; say so
                    require_login(principal)  # before the body's validation errors
            else:  # public endpoints ignore credentials; a foreign page still may not post
                principal = None
                if method != "GET":
                    check_origin(request)
            parsed = await _parse_body(request, body) if body is not None else None
            result = await fn(Call(request, principal, parsed, dict(request.path_params)))
            if isinstance(result, Response):
                return result
            if adapter is not None:
                content = adapter.dump_python(result, mode="json")
            else:
                content = result
            return JSONResponse(content, status)

        return Route(path, endpoint, methods=[method], name=fn.__name__)

    return wrap


def check_ids(request: Request) -> None:
    """Refuse a path id too large to be a row id (the router's ``int`` takes any digits)
    as not found, before it reaches, and overflows, the database driver."""
    for value in request.path_params.values():
        if isinstance(value, int) and not is_row_id(value):
            raise NotFound("Nothing has this id.")


async def _parse_body(request: Request, model: type[B]) -> B:
    raw = await read_body(request, MAX_JSON_BODY)
    ctype = request.headers.get("content-type", "")
    if raw and "json" not in ctype:
        raise UnsupportedMediaType("Send the body as application/json.")
    try:
        data = json.loads(raw or b"{}")
    except (ValueError, UnicodeDecodeError) as exc:
        raise Invalid("The body is not valid JSON.", code="invalid_json") from exc
    if not isinstance(data, dict):
        raise Invalid("The body must be a JSON object.", code="invalid_json")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise RequestInvalid.from_pydantic(exc) from exc


def query_enum(request: Request, name: str, enum: type[E]) -> E | None:
    """The query parameter ``name`` as a member of ``enum``, None if absent, else 422."""
    value = request.query_params.get(name)
    if value is None or value == "":
        return None
    try:
        return enum(value)
    except ValueError:
        allowed = ", ".join(m.value for m in enum)
        raise RequestInvalid([{"path": name, "message": f"Must be one of: {allowed}."}]) from None


def query_int(request: Request, name: str, default: int, low: int, high: int) -> int:
    """The query parameter ``name`` as an int in ``[low, high]``; 422 otherwise."""
    value = request.query_params.get(name)
    if value is None or value == "":
        return default
    if not value.isdigit() or not low <= int(value) <= high:
        message = f"Must be a whole number from {low} to {high}."
        raise RequestInvalid([{"path": name, "message": message}])
    return int(value)


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused with 413 as soon as it grows past ``limit`` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"The request body is larger than {limit} bytes.")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"The request body is larger than {limit} bytes.")
        chunks.append(chunk)
    return b"".join(chunks)


def openapi(title: str, version: str) -> dict[str, Any]:
    """The OpenAPI 3.1 document of every declared endpoint."""
    paths: dict[str, dict[str, Any]] = {}
    defs: dict[str, Any] = {}
    for spec in _SPECS:
        op: dict[str, Any] = {"summary": spec.summary, "tags": list(spec.tags)}
        params = _path_params(spec.path)
        if params:
            op["parameters"] = params
        if spec.body is not None:
            op["requestBody"] = {  # a model whose fields all have defaults takes no body
                "required": any(f.is_required() for f in spec.body.model_fields.values()),
                "content": {"application/json": {"schema": _schema(spec.body, defs)}},
            }
        if spec.upload is not None:
            op["requestBody"] = {
                "required": True,
                "content": {
                    "multipart/form-data": {
                        "schema": {
                            "type": "object",
                            "required": [spec.upload],
                            "properties": {spec.upload: {"type": "string", "format": "binary"}},
                        }
                    }
                },
            }
        ok: dict[str, Any] = {"description": "Success"}
        if spec.response is not None:
            ok["content"] = {"application/json": {"schema": _schema(spec.response, defs)}}
        responses: dict[str, Any] = {str(spec.status): ok}
        for code in _error_statuses(spec):
            responses[code] = {
                "description": "Error",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
            }
        op["responses"] = responses
        if spec.auth:
            op["security"] = [{"bearer": []}, {"cookie": []}]
        paths.setdefault(re.sub(r"\{(\w+):\w+\}", r"{\1}", spec.path), {})[spec.method.lower()] = op
    defs["Error"] = _ERROR_SCHEMA
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "paths": paths,
        "components": {
            "schemas": defs,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "cookie": {"type": "apiKey", "in": "cookie", "name": "rfq_session"},
            },
        },
    }


def _schema(tp: Any, defs: dict[str, Any]) -> dict[str, Any]:
    schema = TypeAdapter(tp).json_schema(ref_template="#/components/schemas/{model}")
    defs.update(schema.pop("$defs", {}))
    return schema


def _path_params(path: str) -> list[dict[str, Any]]:
    params = []
    for part in path.split("/"):
        if part.startswith("{") and part.endswith("}"):
            name, _, conv = part[1:-1].partition(":")
            kind = "integer" if conv == "int" else "string"
            params.append({"name": name, "in": "path", "required": True, "schema": {"type": kind}})
    return params


def _error_statuses(spec: Spec) -> list[str]:
    """Every error status the operation can answer (``docs/api.md``, Errors)."""
    # bad credentials (also on login); bad query parameters; limits; Redis or SQL down
    codes = {"400", "401", "422", "429", "503"}
    if spec.body is not None or spec.upload or spec.method != "GET":  # too large, wrong type
        codes |= {"413", "415"}
    if spec.auth:
        codes |= {"401", "403", "404"}
    if "{" in spec.path:
        codes.add("404")
    if spec.method != "GET":
        codes |= {"403", "409"}  # a foreign Origin; the object's state
    return sorted(codes)


_ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "field": {"type": "string"},
                "fields": {"type": "array", "items": {"type": "object"}},
                "retry_after": {"type": "integer"},
            },
        }
    },
}
