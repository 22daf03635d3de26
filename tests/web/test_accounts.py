"""The account endpoints against a real uvicorn, on SQLite and on PostgreSQL."""

from __future__ import annotations

import httpx

from tests.support import PASSWORD, LiveServer, assert_error, bearer, register, unique_email


def test_register_returns_user_company_and_token(client: httpx.Client) -> None:
    """Registering creates a company and user and returns a usable token."""
    data = register(client, "supplier")
    assert data["user"]["role"] == "supplier"
    assert data["company"]["kind"] == "supplier"
    assert data["user"]["company_id"] == data["company"]["id"]
    assert "password" not in str(data["user"])
    me = client.get("/api/me", headers=bearer(data["token"]))
    assert me.status_code == 200
    assert me.json()["company"]["name"] == data["company"]["name"]


def test_register_twice_with_one_email_is_a_conflict(client: httpx.Client) -> None:
    """A second account with the same email (any case) is refused with email_taken."""
    data = register(client)
    again = client.post(
        "/api/auth/register",
        json={
            "email": data["email"].upper(),
            "password": PASSWORD,
            "company_name": "Other",
            "role": "buyer",
        },
    )
    assert_error(again, 409, "email_taken")


def test_login_gives_token_and_session_cookie(live: LiveServer) -> None:
    """Login returns a bearer token and sets the HttpOnly session cookie and the CSRF cookie."""
    with httpx.Client(base_url=live.url) as anon:
        data = register(anon)
    with httpx.Client(base_url=live.url) as browser:
        response = browser.post(
            "/api/auth/login", json={"email": data["email"], "password": PASSWORD}
        )
        assert response.status_code == 200, response.text
        cookies = response.headers.get_list("set-cookie")
        session = next(c for c in cookies if c.startswith("rfq_session="))
        assert "HttpOnly" in session and "SameSite=lax" in session
        assert any(c.startswith("rfq_csrf=") for c in cookies)
        assert browser.get("/api/me").json()["user"]["email"] == data["email"]
        token = response.json()["token"]
    with httpx.Client(base_url=live.url) as program:
        assert program.get("/api/me", headers=bearer(token)).status_code == 200


def test_wrong_password_and_unknown_email_look_the_same(client: httpx.Client) -> None:
    """A wrong password and an unknown email both get 401 bad_credentials."""
    data = register(client)
    wrong = client.post("/api/auth/login", json={"email": data["email"], "password": "nope" * 4})
    unknown = client.post("/api/auth/login", json={"email": unique_email(), "password": PASSWORD})
    assert_error(wrong, 401, "bad_credentials")
    assert_error(unknown, 401, "bad_credentials")
    assert wrong.json() == unknown.json()


def test_anonymous_and_bad_tokens_are_refused(client: httpx.Client) -> None:
    """No credential is 401 login_required; a bad or malformed bearer token is 401."""
    assert_error(client.get("/api/me"), 401, "login_required")
    assert_error(client.get("/api/me", headers=bearer("rfq_forged")), 401, "invalid_token")
    assert_error(client.get("/api/me", headers={"Authorization": "Basic abc"}), 401)


def test_revoked_token_stops_working(client: httpx.Client) -> None:
    """A token revoked through DELETE /api/auth/tokens/{id} is refused afterwards."""
    data = register(client)
    auth = bearer(data["token"])
    made = client.post("/api/auth/tokens", json={"name": "ci"}, headers=auth)
    assert made.status_code == 201, made.text
    api_token, token_id = made.json()["token"], made.json()["info"]["id"]
    listed = client.get("/api/auth/tokens", headers=auth).json()
    assert {t["id"] for t in listed} >= {token_id}
    assert sum(t["current"] for t in listed) == 1
    assert "token_hash" not in str(listed) and api_token not in str(listed)
    assert client.get("/api/me", headers=bearer(api_token)).status_code == 200
    assert client.delete(f"/api/auth/tokens/{token_id}", headers=auth).status_code == 200
    assert_error(client.get("/api/me", headers=bearer(api_token)), 401, "invalid_token")
    assert token_id not in {t["id"] for t in client.get("/api/auth/tokens", headers=auth).json()}


def test_someone_elses_token_cannot_be_revoked(client: httpx.Client) -> None:
    """Revoking another user's token id reads as not found and leaves it working."""
    alice, bob = register(client), register(client)
    bob_token_id = client.get("/api/auth/tokens", headers=bearer(bob["token"])).json()[0]["id"]
    response = client.delete(f"/api/auth/tokens/{bob_token_id}", headers=bearer(alice["token"]))
    assert_error(response, 404, "not_found")
    assert client.get("/api/me", headers=bearer(bob["token"])).status_code == 200


def test_logout_revokes_the_session(live: LiveServer) -> None:
    """Logging out clears the cookie and the old token no longer works."""
    with httpx.Client(base_url=live.url) as browser:
        data = register(browser)
        csrf = browser.cookies["rfq_csrf"]
        out = browser.post("/api/auth/logout", headers={"X-CSRF-Token": csrf})
        assert out.status_code == 200, out.text
        assert_error(browser.get("/api/me"), 401, "login_required")
        assert_error(browser.get("/api/me", headers=bearer(data["token"])), 401)


def test_cookie_state_change_needs_csrf_token(live: LiveServer) -> None:
    """A cookie-authenticated POST without the CSRF header, or with a wrong one, is 403."""
    with httpx.Client(base_url=live.url) as browser:
        register(browser)
        assert_error(browser.post("/api/auth/tokens", json={}), 403, "csrf_failed")
        bad = browser.post("/api/auth/tokens", json={}, headers={"X-CSRF-Token": "0" * 64})
        assert_error(bad, 403, "csrf_failed")
        good = browser.post(
            "/api/auth/tokens", json={}, headers={"X-CSRF-Token": browser.cookies["rfq_csrf"]}
        )
        assert good.status_code == 201, good.text


def test_cookie_state_change_from_foreign_origin_is_refused(live: LiveServer) -> None:
    """Even with the right CSRF token, a cookie POST from a foreign Origin is 403."""
    with httpx.Client(base_url=live.url) as browser:
        register(browser)
        headers = {"X-CSRF-Token": browser.cookies["rfq_csrf"]}
        foreign = browser.post(
            "/api/auth/tokens", json={}, headers={**headers, "Origin": "https://evil.example"}
        )
        assert_error(foreign, 403, "origin_not_allowed")
        allowed = browser.post(
            "/api/auth/tokens", json={}, headers={**headers, "Origin": "http://allowed.example"}
        )
        assert allowed.status_code == 201
        own = browser.post("/api/auth/tokens", json={}, headers={**headers, "Origin": live.url})
        assert own.status_code == 201


def test_bearer_requests_need_no_csrf_token(client: httpx.Client) -> None:
    """A program with a bearer token changes state without any CSRF header."""
    data = register(client)
    client.cookies.clear()
    response = client.post("/api/auth/tokens", json={"name": "x"}, headers=bearer(data["token"]))
    assert response.status_code == 201


def test_login_attempts_are_rate_limited(client: httpx.Client) -> None:
    """The eleventh login attempt for one email within five minutes gets 429 rate_limited."""
    data = register(client)
    body = {"email": data["email"], "password": "wrong password!"}
    codes = [client.post("/api/auth/login", json=body).status_code for _ in range(10)]
    assert codes == [401] * 10
    limited = client.post("/api/auth/login", json={**body, "password": PASSWORD})
    error = assert_error(limited, 429, "rate_limited")
    assert int(limited.headers["retry-after"]) >= 1
    assert error["retry_after"] >= 1


def test_bad_bodies_get_contract_errors(client: httpx.Client) -> None:
    """Malformed JSON, wrong types and missing fields are 4xx with code and message."""
    url = "/api/auth/register"
    bad_json = client.post(url, content=b"{nope", headers={"content-type": "application/json"})
    assert_error(bad_json, 422, "invalid_json")
    assert_error(client.post(url, json=[1, 2]), 422, "invalid_json")
    wrong_type = client.post(url, content=b"a=b", headers={"content-type": "text/plain"})
    assert_error(wrong_type, 415, "unsupported_media_type")
    missing = assert_error(client.post(url, json={"email": "a@example.com"}), 422)
    assert missing["code"] == "validation_error"
    assert {f["path"] for f in missing["fields"]} == {"password", "company_name", "role"}
    role = assert_error(
        client.post(
            url,
            json={
                "email": unique_email(),
                "password": PASSWORD,
                "company_name": "X",
                "role": "operator",
            },
        ),
        422,
    )
    assert role["field"] == "role"
    email = assert_error(
        client.post(
            url,
            json={
                "email": "not-an-email",
                "password": PASSWORD,
                "company_name": "X",
                "role": "buyer",
            },
        ),
        422,
    )
    assert email["field"] == "email"
