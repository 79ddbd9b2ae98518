"""comp_campaigns: the tenant's submitted 10DLC details, and the provider SIDs the status poll asks Twilio about.

The campaign status stops being something a tenant can write: it comes from the provider (polled through the
messaging service and A2P campaign SIDs stored here) or from the operator's CLI.

Revision ID: 0006
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('comp_campaigns', sa.Column('description', sa.Text(), nullable=True))
    op.add_column('comp_campaigns', sa.Column('message_samples', postgresql.JSONB(astext_type=sa.Text()), nullable=True))
    op.add_column('comp_campaigns', sa.Column('message_flow', sa.Text(), nullable=True))
    op.add_column('comp_campaigns', sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('comp_campaigns', sa.Column('messaging_service_sid', sa.Text(), nullable=True))
    op.add_column('comp_campaigns', sa.Column('provider_campaign_sid', sa.Text(), nullable=True))
    op.add_column('comp_campaigns', sa.Column('provider_status', sa.Text(), nullable=True))
    op.add_column('comp_campaigns', sa.Column('provider_checked_at', sa.DateTime(timezone=True), nullable=True))
    op.create_check_constraint(
        op.f('ck_comp_campaigns_messaging_service_sid'),
        'comp_campaigns',
        "messaging_service_sid ~ '^MG[0-9a-fA-F]{32}$'",
    )
    op.create_check_constraint(
        op.f('ck_comp_campaigns_provider_campaign_sid'),
        'comp_campaigns',
        "provider_campaign_sid ~ '^QE[0-9a-fA-F]{32}$'",
    )
    op.create_check_constraint(
        op.f('ck_comp_campaigns_message_samples_array'),
        'comp_campaigns',
        "message_samples IS NULL OR jsonb_typeof(message_samples) = 'array'",
    )
    op.create_unique_constraint(
        op.f('uq_comp_campaigns_messaging_service_sid'), 'comp_campaigns', ['messaging_service_sid']
    )
    op.create_unique_constraint(
        op.f('uq_comp_campaigns_provider_campaign_sid'), 'comp_campaigns', ['provider_campaign_sid']
    )
    op.create_index(
        'ix_comp_campaigns_provider_poll',
        'comp_campaigns',
        ['provider_checked_at'],
        unique=False,
        postgresql_where=sa.text("status = 'pending' AND messaging_service_sid IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index('ix_comp_campaigns_provider_poll', table_name='comp_campaigns')
    op.drop_constraint(op.f('uq_comp_campaigns_provider_campaign_sid'), 'comp_campaigns', type_='unique')
    op.drop_constraint(op.f('uq_comp_campaigns_messaging_service_sid'), 'comp_campaigns', type_='unique')
    op.drop_constraint(op.f('ck_comp_campaigns_message_samples_array'), 'comp_campaigns', type_='check')
    op.drop_constraint(op.f('ck_comp_campaigns_provider_campaign_sid'), 'comp_campaigns', type_='check')
    op.drop_constraint(op.f('ck_comp_campaigns_messaging_service_sid'), 'comp_campaigns', type_='check')
    for column in (
        'provider_checked_at',
        'provider_status',
        'provider_campaign_sid',
        'messaging_service_sid',
        'submitted_at',
        'message_flow',
        'message_samples',
        'description',
    ):
        op.drop_column('comp_campaigns', column)
