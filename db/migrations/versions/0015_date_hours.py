"""sched_date_hours: per-date working hours that replace a resource's weekly hours on that date (the staff app's
settings); availability reads them beside the weekly shifts and the time off.

Revision ID: 0015
Revises: 0014
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0015'
down_revision: str | None = '0014'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'sched_date_hours',
        sa.Column('id', sa.UUID(), nullable=False),
        sa.Column('tenant_id', sa.UUID(), nullable=False),
        sa.Column('resource_id', sa.UUID(), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('starts_local', sa.Time(), nullable=False),
        sa.Column('ends_local', sa.Time(), nullable=False),
        sa.CheckConstraint('ends_local > starts_local', name=op.f('ck_sched_date_hours_order')),
        sa.ForeignKeyConstraint(
            ['resource_id'],
            ['sched_resources.id'],
            name=op.f('fk_sched_date_hours_resource_id_sched_resources'),
            ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_sched_date_hours')),
    )
    op.create_index('ix_sched_date_hours_resource_day', 'sched_date_hours', ['resource_id', 'day'], unique=False)
    op.execute("SELECT nmc_enable_tenant_rls('sched_date_hours'::regclass)")


def downgrade() -> None:
    op.drop_table('sched_date_hours')
