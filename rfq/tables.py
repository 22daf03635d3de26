"""Importing this module registers every SQL table on ``SQLModel.metadata``.

Alembic's autogenerate and the tests read the schema from here; add each new module
that defines tables.
"""

from sqlmodel import SQLModel

from rfq import (
    accounts,
    auctions,
    awards,
    certification,
    contracts,
    deposits,
    escrow,
    festivals,
    files,
    history,
    notifications,
    participation,
    rfqs,
)

metadata = SQLModel.metadata

__all__ = [
    "accounts",
    "auctions",
    "awards",
    "certification",
    "contracts",
    "deposits",
    "escrow",
    "festivals",
    "files",
    "history",
    "metadata",
    "notifications",
    "participation",
    "rfqs",
]
