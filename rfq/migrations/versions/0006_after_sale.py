"""after-sale: ship-by dates, extensions, partial quantities, retentions, dispute kinds,
appeals against suspension, RFQ lead times

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 06:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

import rfq.platform.db
from alembic import op

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_STATES = (
    'offered', 'declined', 'awaiting_funding', 'cancelled', 'funded', 'shipped', 'delivered',
    'disputed', 'warranty', 'released', 'refunded', 'settled',
)


def upgrade() -> None:
    with op.batch_alter_table('contract', schema=None) as batch_op:
        batch_op.add_column(sa.Column('ship_by', rfq.platform.db.UtcDateTime(), nullable=True))
        batch_op.add_column(sa.Column('overdue_at', rfq.platform.db.UtcDateTime(), nullable=True))
        batch_op.add_column(sa.Column('extension_days', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('extension_status', sa.Enum('none', 'requested', 'accepted', 'refused', name='extensionstatus', native_enum=False, length=32), nullable=False, server_default='none'))
        batch_op.add_column(sa.Column('extension_reason', sa.String(length=1000), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('quantity_shipped', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('quantity_accepted', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('warranty_days', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('return_days', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('retention_bps', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('aftersale_ends_at', rfq.platform.db.UtcDateTime(), nullable=True))
        batch_op.create_index(batch_op.f('ix_contract_ship_by'), ['ship_by'], unique=False)
        batch_op.create_index(batch_op.f('ix_contract_aftersale_ends_at'), ['aftersale_ends_at'], unique=False)
    with op.batch_alter_table('dispute', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.Enum('delivery', 'non_delivery', 'warranty', 'return', name='disputekind', native_enum=False, length=32), nullable=False, server_default='delivery'))
    with op.batch_alter_table('certification', schema=None) as batch_op:
        batch_op.add_column(sa.Column('appeal', sa.String(length=2000), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('appealed_at', rfq.platform.db.UtcDateTime(), nullable=True))
    with op.batch_alter_table('rfq', schema=None) as batch_op:
        batch_op.add_column(sa.Column('lead_time_days', sa.Integer(), nullable=False, server_default='30'))


def downgrade() -> None:
    with op.batch_alter_table('rfq', schema=None) as batch_op:
        batch_op.drop_column('lead_time_days')
    with op.batch_alter_table('certification', schema=None) as batch_op:
        batch_op.drop_column('appealed_at')
        batch_op.drop_column('appeal')
    with op.batch_alter_table('dispute', schema=None) as batch_op:
        batch_op.drop_column('kind')
    with op.batch_alter_table('contract', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_contract_aftersale_ends_at'))
        batch_op.drop_index(batch_op.f('ix_contract_ship_by'))
        for name in ('aftersale_ends_at', 'retention_bps', 'return_days', 'warranty_days',
                     'quantity_accepted', 'quantity_shipped', 'extension_reason',
                     'extension_status', 'extension_days', 'overdue_at', 'ship_by'):
            batch_op.drop_column(name)
