"""conv_staff_alerts: the short code each staff alert carries, unique among the tenant's open alerts.

A member replies to the business number with the code (``K47 TAKE``); the partial unique indexes make Postgres the
judge of a code's uniqueness while its alert is open, and give a conversation at most one open alert. Row-level
security like every tenant table.

Revision ID: 0011
Revises: 0010
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CODE_PATTERN = "^[ACDEFHJKMNPRTUVWXY][23456789]{2}$"


def upgrade() -> None:
    op.create_table(
        'conv_staff_alerts',
        sa.Column('id', sa.UUID(), nullable=False),
        sa.Column('tenant_id', sa.UUID(), nullable=False),
        sa.Column('conversation_id', sa.UUID(), nullable=False),
        sa.Column('code', sa.Text(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(f"code ~ '{CODE_PATTERN}'", name=op.f('ck_conv_staff_alerts_code')),
        sa.ForeignKeyConstraint(
            ['conversation_id'],
            ['conv_conversations.id'],
            name=op.f('fk_conv_staff_alerts_conversation_id_conv_conversations'),
            ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_conv_staff_alerts')),
    )
    op.create_index(
        'uq_conv_staff_alerts_open_code',
        'conv_staff_alerts',
        ['tenant_id', 'code'],
        unique=True,
        postgresql_where=sa.text('closed_at IS NULL'),
    )
    op.create_index(
        'uq_conv_staff_alerts_open_conversation',
        'conv_staff_alerts',
        ['tenant_id', 'conversation_id'],
        unique=True,
        postgresql_where=sa.text('closed_at IS NULL'),
    )
    op.create_index('ix_conv_staff_alerts_created_at', 'conv_staff_alerts', ['created_at'])
    op.execute("SELECT nmc_enable_tenant_rls('conv_staff_alerts')")


def downgrade() -> None:
    op.drop_table('conv_staff_alerts')
