"""Migrations and the model layer on an empty SQLite file and a fresh PostgreSQL database."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import inspect
from sqlmodel import Session, select

from rfq import accounts
from rfq.accounts import Company, CompanyKind, RegisterCreate, TokenKind, Via
from rfq.platform import db
from rfq.platform.errors import Conflict, Unauthorized
from rfq.tables import metadata
from web.auth import Uses

pytestmark = pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)


@pytest.fixture(scope="module")
def migrated(database_url: str) -> db.Database:
    db.upgrade(database_url)
    database = db.Database(database_url)
    yield database
    database.dispose()


def test_migrations_create_every_table(migrated: db.Database) -> None:
    """After `upgrade` the database has every table the models declare, and is current."""
    names = set(inspect(migrated.engine).get_table_names())
    assert set(metadata.tables) <= names
    db.require_current(migrated.url)


def test_upgrade_is_idempotent(migrated: db.Database) -> None:
    """Running the migrations twice changes nothing and raises nothing."""
    db.upgrade(migrated.url)
    db.require_current(migrated.url)


def test_register_and_authenticate(migrated: db.Database) -> None:
    """A registered user authenticates with its password and resolves from its token."""
    body = RegisterCreate(
        email="Model@Example.com", password="x" * 12, company_name="M Co", role=CompanyKind.supplier
    )
    with migrated.session() as session:
        user, company = accounts.register(session, body, accounts.hash_password("x" * 12))
        secret, _ = accounts.issue_token(session, user, TokenKind.login)
        session.commit()
    with migrated.session() as session:
        found = accounts.find_user(session, "model@example.com")
        assert accounts.check_password(found, "x" * 12).id == user.id
        with pytest.raises(Unauthorized):
            accounts.check_password(found, "y" * 12)
        principal = accounts.resolve(session, secret, Via.bearer)
        assert principal.company_id == company.id and principal.role.value == "supplier"
        with pytest.raises(Conflict):
            accounts.register(session, body, "hash")


def test_resolving_reads_and_uses_are_recorded_in_batches(migrated: db.Database) -> None:
    """``resolve`` runs in a read-only session (it writes nothing); a use noted twice is
    recorded once, by the batch's one statement, and never moves ``last_used_at`` back."""
    body = RegisterCreate(
        email=f"uses-{datetime.now(UTC).timestamp()}@example.com",
        password="x" * 12,
        company_name="U Co",
        role=CompanyKind.buyer,
    )
    with migrated.session() as session:
        user, _ = accounts.register(session, body, "hash")
        secret, token = accounts.issue_token(session, user, TokenKind.login)
        session.commit()
    principal = asyncio.run(migrated.read(accounts.resolve, secret, Via.bearer))
    assert principal.token_id == token.id

    def last_used(session: Session) -> datetime | None:
        return session.get(accounts.ApiToken, token.id).last_used_at  # type: ignore[union-attr]

    assert migrated.run_sync(last_used) is None
    uses = Uses(migrated)
    uses.note(principal.token_id)
    uses.note(principal.token_id)
    assert uses._due == {principal.token_id}
    asyncio.run(uses.flush())
    first = migrated.run_sync(last_used)
    assert first is not None and uses._due == set()
    uses.note(principal.token_id)  # within the minute: not due again
    assert uses._due == set()
    earlier = datetime(2020, 1, 1, tzinfo=UTC)
    migrated.run_sync(accounts.record_use, [principal.token_id], earlier)
    assert migrated.run_sync(last_used) == first


def test_timestamps_come_back_aware_utc(migrated: db.Database) -> None:
    """Stored datetimes are read back as aware UTC datetimes on both backends."""
    moment = datetime(2026, 12, 1, 8, 0, 0, 123000, tzinfo=UTC)
    with migrated.session() as session:
        session.add(Company(name="T", kind=CompanyKind.buyer, created_at=moment))
        session.commit()
    with migrated.session() as session:
        row = session.exec(select(Company).where(Company.name == "T")).one()
        assert row.created_at == moment and row.created_at.tzinfo is UTC
        assert row.kind is CompanyKind.buyer
