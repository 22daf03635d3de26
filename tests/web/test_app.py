"""App-wide behaviour: probes, the OpenAPI document, unknown routes, pages."""

from __future__ import annotations

import httpx

from tests.support import assert_error


def test_health_and_readiness(client: httpx.Client) -> None:
    """/healthz answers ok; /readyz reports the database and Redis as ok."""
    assert client.get("/healthz").json()["status"] == "ok"
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": "ok", "redis": "ok"}


def test_openapi_lists_the_auth_endpoints(client: httpx.Client) -> None:
    """/openapi.json is an OpenAPI 3.1 document describing register's body schema."""
    doc = client.get("/openapi.json").json()
    assert doc["openapi"].startswith("3.1")
    register = doc["paths"]["/api/auth/register"]["post"]
    schema = register["requestBody"]["content"]["application/json"]["schema"]
    assert set(schema["required"]) >= {"email", "password", "company_name", "role"}
    assert "/api/auth/tokens/{token_id}" in doc["paths"]
    assert "Error" in doc["components"]["schemas"]


def test_openapi_describes_the_file_upload(client: httpx.Client) -> None:
    """POST /api/files is documented with its multipart body: one binary field ``file``."""
    doc = client.get("/openapi.json").json()
    body = doc["paths"]["/api/files"]["post"]["requestBody"]
    schema = body["content"]["multipart/form-data"]["schema"]
    assert body["required"] and schema["required"] == ["file"]
    assert schema["properties"]["file"] == {"type": "string", "format": "binary"}


def test_unknown_route_and_method_use_the_error_shape(client: httpx.Client) -> None:
    """A missing route is 404 not_found and a wrong method is 405, both in the error shape."""
    assert_error(client.get("/api/nothing-here"), 404, "not_found")
    assert_error(client.get("/api/auth/login"), 405, "method_not_allowed")


def test_login_page_has_labelled_inputs(client: httpx.Client) -> None:
    """/login serves a form whose inputs have labels."""
    page = client.get("/login")
    assert page.status_code == 200
    assert '<label for="email">' in page.text and '<label for="password">' in page.text
    assert client.get("/static/login.js").status_code == 200


def test_oversized_body_is_413(client: httpx.Client) -> None:
    """A JSON body over the size limit is refused with 413 payload_too_large."""
    body = b'{"email": "' + b"a" * 1_100_000 + b'"}'
    response = client.post(
        "/api/auth/login", content=body, headers={"content-type": "application/json"}
    )
    assert_error(response, 413, "payload_too_large")
