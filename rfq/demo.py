"""The demo festival's seed data: buyers, suppliers and an operator with known logins.

Seeding is idempotent: running ``rfq demo`` again on the same data dir keeps what is
there and adds only what is missing.
"""

from __future__ import annotations

from rfq import accounts, db
from rfq.accounts import CompanyKind, RegisterCreate
from rfq.settings import Settings

PASSWORD = "festival-demo-2026"

OPERATOR = "operator@demo.example.com"
BUYERS = (
    ("buyer@demo.example.com", "Hangzhou Motor Works"),
    ("buyer2@demo.example.com", "Shenzhen Appliance Group"),
)
SUPPLIERS = (
    ("supplier1@demo.example.com", "Ningbo Fastener Co."),
    ("supplier2@demo.example.com", "Wenzhou Bolt Industries"),
    ("supplier3@demo.example.com", "Suzhou Precision Parts"),
    ("supplier4@demo.example.com", "Foshan Steel Components"),
)


def seed(settings: Settings) -> list[tuple[str, str]]:
    """Create the demo accounts that do not exist yet; return ``(role, email)`` of all."""
    database = db.Database(settings.database_url)
    password_hash = accounts.hash_password(PASSWORD)
    try:
        with database.session() as session:
            if accounts.find_user(session, OPERATOR) is None:
                accounts.create_operator(session, OPERATOR, PASSWORD)
            for kind, people in ((CompanyKind.buyer, BUYERS), (CompanyKind.supplier, SUPPLIERS)):
                for email, company in people:
                    if accounts.find_user(session, email) is None:
                        body = RegisterCreate(
                            email=email, password=PASSWORD, company_name=company, role=kind
                        )
                        accounts.register(session, body, password_hash)
            session.commit()
    finally:
        database.dispose()
    return [
        ("operator", OPERATOR),
        *(("buyer", email) for email, _ in BUYERS),
        *(("supplier", email) for email, _ in SUPPLIERS),
    ]
