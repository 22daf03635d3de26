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
    clarifications,
    deposits,
    documents,
    escrow,
    festivals,
    files,
    history,
    notifications,
    participation,
    rfq_tables,
    webhooks,
)
from rfq.contracts import model as contracts

metadata = SQLModel.metadata

__all__ = [
    "accounts",
    "auctions",
    "awards",
    "certification",
    "clarifications",
    "contracts",
    "deposits",
    "documents",
    "escrow",
    "festivals",
    "files",
    "history",
    "metadata",
    "notifications",
    "participation",
    "rfq_tables",
    "webhooks",
]
