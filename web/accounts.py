"""HTTP endpoints for accounts: register, login, logout, tokens, ``/api/me``."""

from __future__ import annotations

from typing import Any

import anyio.to_thread
from pydantic import BaseModel
from sqlmodel import Session
from starlette.responses import JSONResponse

from rfq import accounts
from rfq.access import require_login
from rfq.accounts import (
    Company,
    CompanyPublic,
    LoginCreate,
    Principal,
    RegisterCreate,
    TokenCreate,
    TokenKind,
    TokenPublic,
    UserPublic,
)
from rfq.platform.ratelimit import Limit
from web.auth import clear_session, set_session
from web.routing import Call, api

# Per email and per client address, counted on every attempt (success or not).
LOGIN_PER_EMAIL = Limit("login-email", limit=10, period_s=300)
LOGIN_PER_ADDRESS = Limit("login-addr", limit=50, period_s=300)


class RegisterPublic(BaseModel):
    user: UserPublic
    company: CompanyPublic
    token: str


class LoginPublic(BaseModel):
    token: str
    user: UserPublic


class MePublic(BaseModel):
    user: UserPublic
    company: CompanyPublic | None


class NewTokenPublic(BaseModel):
    token: str
    info: TokenPublic


@api(
    "POST",
    "/api/auth/register",
    body=RegisterCreate,
    response=RegisterPublic,
    status=201,
    auth=False,
    tags=("auth",),
)
async def register(call: Call[RegisterCreate]) -> Any:
    """Register a company and its first user; logs the browser in."""
    per_hour = call.state.settings.register_per_hour
    await call.state.limiter.hit(Limit("register-addr", per_hour, 3600), _address(call))
    password_hash = await anyio.to_thread.run_sync(accounts.hash_password, call.body.password)

    def work(session: Session) -> tuple[dict[str, Any], str]:
        user, company = accounts.register(session, call.body, password_hash)
        secret, _ = accounts.issue_token(session, user, TokenKind.login)
        out = RegisterPublic(
            user=UserPublic.model_validate(user),
            company=CompanyPublic.model_validate(company),
            token=secret,
        )
        return out.model_dump(mode="json"), secret

    content, secret = await call.state.db.run(work)
    response = JSONResponse(content, 201)
    set_session(response, call.request, secret)
    return response


@api("POST", "/api/auth/login", body=LoginCreate, response=LoginPublic, auth=False, tags=("auth",))
async def login(call: Call[LoginCreate]) -> Any:
    """Log in with email and password: a token for programs and a session cookie."""
    await call.state.limiter.hit(LOGIN_PER_ADDRESS, _address(call))
    await call.state.limiter.hit(LOGIN_PER_EMAIL, call.body.email.strip().lower())

    found = await call.state.db.run(accounts.find_user, call.body.email)
    user = await anyio.to_thread.run_sync(accounts.check_password, found, call.body.password)

    def work(session: Session) -> tuple[dict[str, Any], str]:
        secret, _ = accounts.issue_token(session, user, TokenKind.login)
        out = LoginPublic(token=secret, user=UserPublic.model_validate(user))
        return out.model_dump(mode="json"), secret

    content, secret = await call.state.db.run(work)
    response = JSONResponse(content)
    set_session(response, call.request, secret)
    return response


@api("POST", "/api/auth/logout", tags=("auth",))
async def logout(call: Call[Any]) -> Any:
    """Revoke the credential used for this request and clear the session cookie."""
    caller = require_login(call.principal)
    await call.state.db.run(accounts.revoke, caller, caller.token_id)
    response = JSONResponse({"ok": True})
    clear_session(response)
    return response


@api("GET", "/api/me", response=MePublic, tags=("auth",))
async def me(call: Call[Any]) -> Any:
    """The caller's user and company."""
    caller = require_login(call.principal)

    def work(session: Session) -> MePublic:
        user = accounts.get_user(session, caller.user_id)
        company = session.get(Company, user.company_id) if user.company_id else None
        return MePublic(
            user=UserPublic.model_validate(user),
            company=CompanyPublic.model_validate(company) if company else None,
        )

    return await call.state.db.run(work)


@api("GET", "/api/auth/tokens", response=list[TokenPublic], tags=("auth",))
async def list_tokens(call: Call[Any]) -> Any:
    """The caller's live credentials (logins and named API tokens)."""
    caller = require_login(call.principal)
    return await call.state.db.run(accounts.list_tokens, caller)


@api(
    "POST",
    "/api/auth/tokens",
    body=TokenCreate,
    response=NewTokenPublic,
    status=201,
    tags=("auth",),
)
async def create_token(call: Call[TokenCreate]) -> Any:
    """Create a named API token for a program; the secret is shown only in this response."""
    caller = require_login(call.principal)

    def work(session: Session) -> NewTokenPublic:
        user = accounts.get_user(session, caller.user_id)
        secret, token = accounts.issue_token(session, user, TokenKind.api, call.body.name)
        return NewTokenPublic(token=secret, info=TokenPublic.model_validate(token))

    return await call.state.db.run(work)


@api("DELETE", "/api/auth/tokens/{token_id:int}", tags=("auth",))
async def revoke_token(call: Call[Any]) -> Any:
    """Revoke one of the caller's credentials."""
    caller: Principal = require_login(call.principal)
    await call.state.db.run(accounts.revoke, caller, call.path["token_id"])
    return {"ok": True}


def _address(call: Call[Any]) -> str:
    client = call.request.client
    return client.host if client else "unknown"


ROUTES = [register, login, logout, me, list_tokens, create_token, revoke_token]
