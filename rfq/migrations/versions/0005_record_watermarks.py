"""record watermarks: the highest event and audit numbers stored per auction

``auction.seq`` and ``auction.aseq`` become contiguous watermarks (every number up to
them is stored); ``seq_stored`` and ``aseq_stored`` are the highest stored, so the
journal looks for entries above a hole only when there are some.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 22:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('auction', schema=None) as batch_op:
        batch_op.add_column(sa.Column('seq_stored', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('aseq_stored', sa.Integer(), nullable=False, server_default='0'))
    op.execute('UPDATE auction SET seq_stored = seq, aseq_stored = aseq')


def downgrade() -> None:
    with op.batch_alter_table('auction', schema=None) as batch_op:
        batch_op.drop_column('aseq_stored')
        batch_op.drop_column('seq_stored')
