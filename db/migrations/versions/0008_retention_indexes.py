"""retention: indexes for the new rules' cutoffs on the tables that grow with callers.

Each retention batch selects ``… WHERE <time> < :cutoff LIMIT n FOR UPDATE SKIP LOCKED``; without an index every
batch scans the whole table, and a first run over a year of first-SMS claims or holds would scan it thousands of
times. (The other new rules' tables are small or already indexed.)

Revision ID: 0008
Revises: 0004
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        op.f('ix_conv_first_response_claims_claimed_at'), 'conv_first_response_claims', ['claimed_at'], unique=False
    )
    op.create_index(
        'ix_sched_holds_finished_created_at',
        'sched_holds',
        ['created_at'],
        unique=False,
        postgresql_where="status <> 'active'",
    )


def downgrade() -> None:
    op.drop_index('ix_sched_holds_finished_created_at', table_name='sched_holds')
    op.drop_index(op.f('ix_conv_first_response_claims_claimed_at'), table_name='conv_first_response_claims')
