"""next rounds: the sealed lot a live round follows

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 12:31:37.669626
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('auction', schema=None) as batch_op:
        batch_op.add_column(sa.Column('previous_round', sa.Integer(), nullable=True))
        batch_op.create_unique_constraint('uq_auction_previous_round', ['previous_round'])
        batch_op.create_foreign_key(
            'fk_auction_previous_round_auction', 'auction', ['previous_round'], ['id']
        )


def downgrade() -> None:
    with op.batch_alter_table('auction', schema=None) as batch_op:
        batch_op.drop_constraint('fk_auction_previous_round_auction', type_='foreignkey')
        batch_op.drop_constraint('uq_auction_previous_round', type_='unique')
        batch_op.drop_column('previous_round')
