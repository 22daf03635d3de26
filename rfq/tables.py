"""Importing this module registers every SQL table on ``SQLModel.metadata``.

Alembic's autogenerate and the tests read the schema from here; add each new module
that defines tables.
"""

from sqlmodel import SQLModel

from rfq import accounts

metadata = SQLModel.metadata

__all__ = ["accounts", "metadata"]
