"""conv_callers: a caller's name per tenant and number (typed by staff in the thread, or caller ID's ``CallerName``
from Twilio's voice webhook, which never replaces a name staff gave), so the inbox can show and search by it, with a
trigram index on the name (``pg_trgm``, from PostgreSQL's contrib) for that search; and
``ix_conv_conversations_caller`` (tenant, caller), which a search drives the page through, the callers' retention
rule ("no conversation left") and the API's caller filter read.

Revision ID: 0023
Revises: 0022
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0023'
down_revision: str | None = '0022'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'conv_callers',
        sa.Column('tenant_id', sa.UUID(), nullable=False),
        sa.Column('caller', sa.Text(), nullable=False),
        sa.Column('name', sa.Text(), nullable=False),
        sa.Column('source', sa.Text(), nullable=False),
        sa.Column('named_by', sa.UUID(), nullable=True),
        sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.CheckConstraint(
            "caller ~ '^\\+[1-9][0-9]{6,14}$'", name=op.f('ck_conv_callers_caller_e164')
        ),
        sa.CheckConstraint('char_length(name) BETWEEN 1 AND 80', name=op.f('ck_conv_callers_name_length')),
        sa.CheckConstraint("source IN ('staff', 'caller_id')", name=op.f('ck_conv_callers_source')),
        sa.PrimaryKeyConstraint('tenant_id', 'caller', name=op.f('pk_conv_callers')),
    )
    op.create_index('ix_conv_callers_updated_at', 'conv_callers', ['updated_at'], unique=False)
    # pg_trgm ships with PostgreSQL's contrib (as btree_gist does) and is a trusted extension: the database's owner
    # may create it.
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.create_index(
        'ix_conv_callers_name_trgm',
        'conv_callers',
        ['name'],
        unique=False,
        postgresql_using='gin',
        postgresql_ops={'name': 'gin_trgm_ops'},
    )
    op.execute("SELECT nmc_enable_tenant_rls('conv_callers'::regclass)")
    op.create_index('ix_conv_conversations_caller', 'conv_conversations', ['tenant_id', 'caller'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_conv_conversations_caller', table_name='conv_conversations')
    op.drop_table('conv_callers')
