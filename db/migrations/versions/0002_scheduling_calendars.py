"""scheduling: resource time zone, calendar push-channel and sync bookkeeping, busy shadow GiST index

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Working hours are local to the resource's IANA zone (the tenant's zone, copied in when the resource is made:
    # scheduling may not read identity's tables).
    op.add_column('sched_resources', sa.Column('timezone', sa.Text(), server_default='UTC', nullable=False))
    op.add_column('sched_calendars', sa.Column('channel_id', sa.Text(), nullable=True))
    op.add_column('sched_calendars', sa.Column('last_sync_attempt_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('sched_calendars', sa.Column('last_sync_error', sa.Text(), nullable=True))
    op.create_unique_constraint(op.f('uq_sched_calendars_channel_id'), 'sched_calendars', ['channel_id'])
    op.create_index(
        'ix_sched_external_busy_resource_timeslot',
        'sched_external_busy',
        ['resource_id', 'timeslot'],
        unique=False,
        postgresql_using='gist',
    )


def downgrade() -> None:
    op.drop_index('ix_sched_external_busy_resource_timeslot', table_name='sched_external_busy', postgresql_using='gist')
    op.drop_constraint(op.f('uq_sched_calendars_channel_id'), 'sched_calendars', type_='unique')
    op.drop_column('sched_calendars', 'last_sync_error')
    op.drop_column('sched_calendars', 'last_sync_attempt_at')
    op.drop_column('sched_calendars', 'channel_id')
    op.drop_column('sched_resources', 'timezone')
