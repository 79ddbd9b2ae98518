"""scheduler_runs: each scheduled job's last claimed period, so a daily job runs once a day across restarts and replicas.

Bookkeeping of the scheduler (which connects as the owner): ``nmc_app``, the API's role, gets nothing on it.

Revision ID: 0012
Revises: 0011
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'scheduler_runs',
        sa.Column('job', sa.Text(), nullable=False),
        sa.Column('period_start', sa.DateTime(timezone=True), nullable=False),
        sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('runs', sa.Integer(), server_default=sa.text('1'), nullable=False),
        sa.Column('last_result', sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint('job', name=op.f('pk_scheduler_runs')),
    )
    op.execute("REVOKE ALL ON scheduler_runs FROM nmc_app")


def downgrade() -> None:
    op.drop_table('scheduler_runs')
