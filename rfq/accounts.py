"""Companies, people and their credentials.

A company is a buyer or a supplier; operators belong to no company. Passwords are
hashed with argon2id. A credential is a random token of which only the SHA-256 is
stored: a ``login`` token comes from logging in (returned as ``token`` and set as the
browser's session cookie, 7 days), an ``api`` token is created by name for a program
(90 days). Either is presented as a bearer header or the cookie; all are listed at
``GET /api/auth/tokens`` and revocable.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from pydantic import EmailStr, field_validator
from sqlalchemy import Column, or_, update
from sqlmodel import Field, Session, SQLModel, col, select

from rfq.platform import clock
from rfq.platform.db import UtcDateTime, enum_type
from rfq.platform.errors import Conflict, Invalid, NotFound, Unauthorized

LOGIN_TTL = timedelta(days=7)
API_TTL = timedelta(days=90)

_hasher = PasswordHasher()
# Verifying against this keeps a login for an unknown email as slow as a real one.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


class CompanyKind(StrEnum):
    """What a company does on the platform."""

    buyer = "buyer"
    supplier = "supplier"


class Role(StrEnum):
    """A user's role; operators run the platform and belong to no company."""

    buyer = "buyer"
    supplier = "supplier"
    operator = "operator"


class TokenKind(StrEnum):
    """Where a credential came from: a login, or a named token for a program."""

    login = "login"
    api = "api"


class Via(StrEnum):
    """How a credential was presented on a request."""

    bearer = "bearer"
    cookie = "cookie"


# --- companies -------------------------------------------------------------------


class CompanyBase(SQLModel):
    name: str = Field(min_length=1, max_length=200)
    kind: CompanyKind = Field(sa_type=enum_type(CompanyKind))


class Company(CompanyBase, table=True):
    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))


class CompanyPublic(CompanyBase):
    id: int


# --- users -----------------------------------------------------------------------


class UserBase(SQLModel):
    email: str = Field(max_length=254)
    role: Role = Field(sa_type=enum_type(Role))


class User(UserBase, table=True):
    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=254, unique=True, index=True)
    password_hash: str
    company_id: int | None = Field(default=None, foreign_key="company.id", index=True)
    created_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    disabled: bool = False


class UserPublic(UserBase):
    id: int
    company_id: int | None


class RegisterCreate(SQLModel):
    """``POST /api/auth/register``."""

    email: EmailStr = Field(max_length=254)
    password: str = Field(min_length=10, max_length=200)
    company_name: str = Field(min_length=1, max_length=200)
    role: CompanyKind

    @field_validator("email")
    @classmethod
    def _lower(cls, value: str) -> str:
        return value.strip().lower()


class LoginCreate(SQLModel):
    """``POST /api/auth/login``."""

    email: str = Field(min_length=1, max_length=254)
    password: str = Field(min_length=1, max_length=200)


# --- tokens ----------------------------------------------------------------------


class ApiToken(SQLModel, table=True):
    __tablename__ = "api_token"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    kind: TokenKind = Field(sa_type=enum_type(TokenKind))
    name: str = Field(default="", max_length=100)
    token_hash: str = Field(unique=True, index=True, max_length=64)
    created_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    expires_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    last_used_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime()))
    revoked_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime()))


class TokenPublic(SQLModel):
    id: int
    kind: TokenKind
    name: str
    created_at: datetime
    expires_at: datetime
    last_used_at: datetime | None
    current: bool = False


class TokenCreate(SQLModel):
    """``POST /api/auth/tokens``: a named bearer token for a program."""

    name: str = Field(default="", max_length=100)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is making a request, resolved from a valid credential."""

    user_id: int
    email: str
    role: Role
    company_id: int | None
    token_id: int
    via: Via

    @property
    def is_operator(self) -> bool:
        return self.role is Role.operator


# --- operations ------------------------------------------------------------------


def hash_password(password: str) -> str:
    """An argon2id hash of ``password``."""
    return _hasher.hash(password)


def register(session: Session, body: RegisterCreate, password_hash: str) -> tuple[User, Company]:
    """Create a company and its first user; a taken email is a ``Conflict``.

    The password is hashed by the caller, outside the transaction (argon2 is slow on
    purpose and must not hold the database's write lock).
    """
    if find_user(session, body.email) is not None:
        raise Conflict("An account with this email already exists.", code="email_taken")
    now = clock.now()
    company = Company(name=body.company_name.strip(), kind=body.role, created_at=now)
    session.add(company)
    session.flush()
    user = User(
        email=body.email,
        password_hash=password_hash,
        role=Role(body.role.value),
        company_id=company.id,
        created_at=now,
    )
    session.add(user)
    session.flush()
    return user, company


def create_operator(session: Session, email: str, password: str) -> User:
    """Create an operator account (``rfq admin create``)."""
    email = email.strip().lower()
    if "@" not in email:
        raise Invalid("The email address is not valid.", field="email")
    if len(password) < 10:
        raise Invalid("The password must be at least 10 characters long.", field="password")
    if find_user(session, email) is not None:
        raise Conflict("An account with this email already exists.", code="email_taken")
    user = User(
        email=email,
        password_hash=hash_password(password),
        role=Role.operator,
        company_id=None,
        created_at=clock.now(),
    )
    session.add(user)
    session.flush()
    return user


def find_user(session: Session, email: str) -> User | None:
    """The user with this email (case-insensitive), if any."""
    return session.exec(select(User).where(User.email == email.strip().lower())).first()


def check_password(user: User | None, password: str) -> User:
    """``user`` if ``password`` is its password, else ``Unauthorized`` (same for either fault).

    An unknown user is checked against a dummy hash, so both faults take as long.
    """
    stored = user.password_hash if user is not None else _DUMMY_HASH
    try:
        _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        user = None
    if user is None or user.disabled:
        raise Unauthorized("The email or password is wrong.", code="bad_credentials")
    return user


def issue_token(
    session: Session, user: User, kind: TokenKind, name: str = ""
) -> tuple[str, ApiToken]:
    """A new credential for ``user``: the secret (shown once) and its stored record."""
    assert user.id is not None
    secret = f"rfq_{secrets.token_urlsafe(32)}"
    now = clock.now()
    ttl = LOGIN_TTL if kind is TokenKind.login else API_TTL
    token = ApiToken(
        user_id=user.id,
        kind=kind,
        name=name,
        token_hash=_digest(secret),
        created_at=now,
        expires_at=now + ttl,
    )
    session.add(token)
    session.flush()
    return secret, token


def resolve(session: Session, secret: str, via: Via) -> Principal:
    """The principal behind ``secret``, or ``Unauthorized`` if unknown, expired or revoked
    (a read: see :func:`record_use`)."""
    row = session.exec(
        select(ApiToken, User).join(User).where(ApiToken.token_hash == _digest(secret))
    ).first()
    now = clock.now()
    if row is None:
        raise Unauthorized("The credential is not valid.", code="invalid_token")
    token, user = row
    if token.revoked_at is not None or user.disabled:
        raise Unauthorized("The credential is not valid.", code="invalid_token")
    if token.expires_at <= now:
        raise Unauthorized("The credential has expired; log in again.", code="token_expired")
    assert user.id is not None and token.id is not None
    return Principal(user.id, user.email, user.role, user.company_id, token.id, via)


def record_use(session: Session, token_ids: Collection[int], at: datetime) -> None:
    """Set the credentials' ``last_used_at`` to ``at`` (where it is earlier), in one
    statement; :func:`resolve` only reads, and its callers record uses in batches."""
    session.execute(
        update(ApiToken)
        .where(col(ApiToken.id).in_(list(token_ids)))
        .where(or_(col(ApiToken.last_used_at).is_(None), col(ApiToken.last_used_at) < at))
        .values(last_used_at=at)
    )


def list_tokens(session: Session, principal: Principal) -> list[TokenPublic]:
    """The caller's live credentials, newest first."""
    rows = session.exec(
        select(ApiToken)
        .where(ApiToken.user_id == principal.user_id)
        .where(ApiToken.revoked_at.is_(None))  # type: ignore[union-attr]
        .where(ApiToken.expires_at > clock.now())
        .order_by(ApiToken.id.desc())  # type: ignore[union-attr]
    ).all()
    return [
        TokenPublic.model_validate(t, update={"current": t.id == principal.token_id}) for t in rows
    ]


def revoke(session: Session, principal: Principal, token_id: int) -> None:
    """Revoke one of the caller's own credentials (someone else's reads as not found)."""
    token = session.get(ApiToken, token_id)
    if token is None or token.user_id != principal.user_id:
        raise NotFound("No such token.")
    if token.revoked_at is None:
        token.revoked_at = clock.now()
        session.add(token)


def get_user(session: Session, user_id: int) -> User:
    """The user with this id (it exists: a principal was resolved for it)."""
    user = session.get(User, user_id)
    assert user is not None
    return user


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()
