"""caller_chains: the correlation chain a caller's contact with a tenant belongs to, kept by the ingress.

A missed call and the texts that follow are one episode, so every event of it carries one correlation id. The
ingress writes each inbound fact without knowing about conversations; this row is what lets a caller's text join
the chain their missed call started (see ingress/recording.py).

Revision ID: 0016
Revises: 0015
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0016'
down_revision: str | None = '0015'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'caller_chains',
        sa.Column('tenant_id', sa.UUID(), nullable=False),
        sa.Column('caller', sa.Text(), nullable=False),
        sa.Column('correlation_id', sa.UUID(), nullable=False),
        sa.Column('started_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.Column('last_seen_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.PrimaryKeyConstraint('tenant_id', 'caller', name=op.f('pk_caller_chains')),
    )
    op.create_index('ix_caller_chains_last_seen_at', 'caller_chains', ['last_seen_at'], unique=False)
    op.execute("SELECT nmc_enable_tenant_rls('caller_chains')")
    # Pipeline bookkeeping, like webhook_events: the API's role has no business with it at all (see 0007).
    op.execute("REVOKE ALL ON caller_chains FROM nmc_app")


def downgrade() -> None:
    op.drop_index('ix_caller_chains_last_seen_at', table_name='caller_chains')
    op.drop_table('caller_chains')
