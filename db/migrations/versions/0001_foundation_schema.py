"""foundation schema

Revision ID: 0001
Revises:
Create Date: 2026-11-27 22:41:56.210384
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # btree_gist lets one GiST exclusion constraint mix `resource_id WITH =` and `timeslot WITH &&`.
    op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
    op.create_table('bill_customers',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('stripe_customer_id', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bill_customers')),
    sa.UniqueConstraint('stripe_customer_id', name=op.f('uq_bill_customers_stripe_customer_id')),
    sa.UniqueConstraint('tenant_id', name=op.f('uq_bill_customers_tenant_id'))
    )
    op.create_table('bill_plan_prices',
    sa.Column('stripe_price_id', sa.Text(), nullable=False),
    sa.Column('plan_code', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('stripe_price_id', name=op.f('pk_bill_plan_prices'))
    )
    op.create_table('bill_subscriptions',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('stripe_subscription_id', sa.Text(), nullable=False),
    sa.Column('stripe_customer_id', sa.Text(), nullable=False),
    sa.Column('plan', sa.Text(), nullable=False),
    sa.Column('status', sa.Text(), nullable=False),
    sa.Column('current_period_end', sa.DateTime(timezone=True), nullable=True),
    sa.Column('source_created', sa.BigInteger(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bill_subscriptions')),
    sa.UniqueConstraint('stripe_subscription_id', name=op.f('uq_bill_subscriptions_stripe_subscription_id'))
    )
    op.create_index(op.f('ix_bill_subscriptions_tenant_id'), 'bill_subscriptions', ['tenant_id'], unique=False)
    op.create_table('catalog_service_items',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('duration_minutes', sa.Integer(), nullable=False),
    sa.Column('price_cents', sa.Integer(), nullable=False),
    sa.Column('currency', sa.Text(), server_default='USD', nullable=False),
    sa.Column('active', sa.Boolean(), server_default='true', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("currency ~ '^[A-Z]{3}$'", name=op.f('ck_catalog_service_items_currency')),
    sa.CheckConstraint('duration_minutes BETWEEN 1 AND 480', name=op.f('ck_catalog_service_items_duration')),
    sa.CheckConstraint('price_cents >= 0', name=op.f('ck_catalog_service_items_price_cents')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_catalog_service_items')),
    sa.UniqueConstraint('tenant_id', 'name', name=op.f('uq_catalog_service_items_tenant_id_name'))
    )
    op.create_index(op.f('ix_catalog_service_items_tenant_id'), 'catalog_service_items', ['tenant_id'], unique=False)
    op.create_table('comp_brands',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('legal_name', sa.Text(), nullable=False),
    sa.Column('ein', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_comp_brands')),
    sa.UniqueConstraint('tenant_id', name=op.f('uq_comp_brands_tenant_id'))
    )
    op.create_table('comp_opt_outs',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('phone', sa.Text(), nullable=False),
    sa.Column('source', sa.Text(), nullable=False),
    sa.Column('keyword', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("phone ~ '^\\+[1-9][0-9]{6,14}$'", name=op.f('ck_comp_opt_outs_phone_e164')),
    sa.CheckConstraint("source IN ('keyword', 'provider_21610', 'operator')", name=op.f('ck_comp_opt_outs_source')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_comp_opt_outs'))
    )
    op.create_index('uq_comp_opt_outs_active', 'comp_opt_outs', ['tenant_id', 'phone'], unique=True, postgresql_where=sa.text('revoked_at IS NULL'))
    op.create_table('conv_conversations',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('caller', sa.Text(), nullable=False),
    sa.Column('state', sa.Text(), server_default='open', nullable=False),
    sa.Column('human_lease_expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('human_user_id', sa.UUID(), nullable=True),
    sa.Column('engine_state', postgresql.JSONB(astext_type=sa.Text()), server_default='{}', nullable=False),
    sa.Column('opened_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("caller ~ '^\\+[1-9][0-9]{6,14}$'", name=op.f('ck_conv_conversations_caller_e164')),
    sa.CheckConstraint("state IN ('open', 'human', 'closed', 'blocked')", name=op.f('ck_conv_conversations_state')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_conv_conversations'))
    )
    op.create_index(op.f('ix_conv_conversations_tenant_id'), 'conv_conversations', ['tenant_id'], unique=False)
    op.create_index('uq_conv_conversations_live_caller', 'conv_conversations', ['tenant_id', 'caller'], unique=True, postgresql_where=sa.text("state IN ('open', 'human')"))
    op.create_table('conv_first_response_claims',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('caller', sa.Text(), nullable=False),
    sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('call_sid', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_conv_first_response_claims')),
    sa.UniqueConstraint('tenant_id', 'caller', name=op.f('uq_conv_first_response_claims_tenant_id_caller'))
    )
    op.create_table('conv_operator_tasks',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('kind', sa.Text(), nullable=False),
    sa.Column('conversation_id', sa.UUID(), nullable=True),
    sa.Column('subject_ref', sa.Text(), nullable=True),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('status', sa.Text(), server_default='open', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('done_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status IN ('open', 'done')", name=op.f('ck_conv_operator_tasks_status')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_conv_operator_tasks'))
    )
    op.create_index(op.f('ix_conv_operator_tasks_tenant_id'), 'conv_operator_tasks', ['tenant_id'], unique=False)
    op.create_table('id_plans',
    sa.Column('code', sa.Text(), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('gates', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('past_due_grace_days', sa.Integer(), server_default='7', nullable=False),
    sa.CheckConstraint('past_due_grace_days >= 0', name=op.f('ck_id_plans_grace')),
    sa.PrimaryKeyConstraint('code', name=op.f('pk_id_plans'))
    )
    op.create_table('id_tenants',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('timezone', sa.Text(), nullable=False),
    sa.Column('forward_to', sa.Text(), nullable=False),
    sa.Column('owner_mobile', sa.Text(), nullable=True),
    sa.Column('ring_timeout_seconds', sa.Integer(), server_default='20', nullable=False),
    sa.Column('first_message_template', sa.Text(), server_default='Hi, this is {business}. Sorry we missed your call! How can we help? Reply here to get a quote or book a time.', nullable=False),
    sa.Column('after_hours_template', sa.Text(), server_default="Hi, this is {business}. We're closed right now, but we can still help by text: tell us what you need and we'll find you a time.", nullable=False),
    sa.Column('help_text', sa.Text(), server_default='Reply STOP to opt out. For help call us back at this number.', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("forward_to ~ '^\\+[1-9][0-9]{6,14}$'", name=op.f('ck_id_tenants_forward_to_e164')),
    sa.CheckConstraint("owner_mobile IS NULL OR owner_mobile ~ '^\\+[1-9][0-9]{6,14}$'", name=op.f('ck_id_tenants_owner_mobile_e164')),
    sa.CheckConstraint('ring_timeout_seconds BETWEEN 5 AND 60', name=op.f('ck_id_tenants_ring_timeout')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_id_tenants'))
    )
    op.create_table('id_users',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('clerk_user_id', sa.Text(), nullable=False),
    sa.Column('email', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_id_users')),
    sa.UniqueConstraint('clerk_user_id', name=op.f('uq_id_users_clerk_user_id'))
    )
    op.create_table('outbox_events',
    sa.Column('event_id', sa.UUID(), nullable=False),
    sa.Column('seq', sa.BigInteger(), sa.Identity(always=True), nullable=False),
    sa.Column('event_name', sa.Text(), nullable=False),
    sa.Column('schema_version', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.UUID(), nullable=True),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('correlation_id', sa.UUID(), nullable=False),
    sa.Column('causation_id', sa.UUID(), nullable=True),
    sa.Column('payload', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('dispatched_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("event_name ~ '^nmc\\.[a-z]+\\.[A-Z][A-Za-z]+$'", name=op.f('ck_outbox_events_event_name')),
    sa.CheckConstraint('schema_version >= 1', name=op.f('ck_outbox_events_schema_version')),
    sa.PrimaryKeyConstraint('event_id', name=op.f('pk_outbox_events')),
    sa.UniqueConstraint('seq', name=op.f('uq_outbox_events_seq'))
    )
    op.create_index('ix_outbox_events_dispatched_at', 'outbox_events', ['dispatched_at'], unique=False)
    op.create_index('ix_outbox_events_tenant_id', 'outbox_events', ['tenant_id'], unique=False)
    op.create_index('ix_outbox_events_undispatched', 'outbox_events', ['seq'], unique=False, postgresql_where=sa.text('dispatched_at IS NULL'))
    op.create_table('processed_events',
    sa.Column('event_id', sa.UUID(), nullable=False),
    sa.Column('handler', sa.Text(), nullable=False),
    sa.Column('processed_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('event_id', 'handler', name=op.f('pk_processed_events'))
    )
    op.create_table('rep_daily_tenant_stats',
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('missed_calls', sa.Integer(), server_default='0', nullable=False),
    sa.Column('conversations', sa.Integer(), server_default='0', nullable=False),
    sa.Column('bookings', sa.Integer(), server_default='0', nullable=False),
    sa.Column('recovered_revenue_cents', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('opt_outs', sa.Integer(), server_default='0', nullable=False),
    sa.Column('takeovers', sa.Integer(), server_default='0', nullable=False),
    sa.PrimaryKeyConstraint('tenant_id', 'day', name=op.f('pk_rep_daily_tenant_stats'))
    )
    op.create_table('rep_first_responses',
    sa.Column('message_id', sa.UUID(), nullable=False),
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('latency_ms', sa.Integer(), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('source', sa.Text(), server_default='MessageQueued', nullable=False),
    sa.PrimaryKeyConstraint('message_id', name=op.f('pk_rep_first_responses'))
    )
    op.create_index(op.f('ix_rep_first_responses_tenant_id'), 'rep_first_responses', ['tenant_id'], unique=False)
    op.create_table('sched_resources',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('active', sa.Boolean(), server_default='true', nullable=False),
    sa.Column('buffer_minutes', sa.Integer(), server_default='0', nullable=False),
    sa.Column('min_lead_minutes', sa.Integer(), server_default='60', nullable=False),
    sa.Column('slot_step_minutes', sa.Integer(), server_default='30', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('buffer_minutes BETWEEN 0 AND 240', name=op.f('ck_sched_resources_buffer')),
    sa.CheckConstraint('min_lead_minutes BETWEEN 0 AND 10080', name=op.f('ck_sched_resources_lead')),
    sa.CheckConstraint('slot_step_minutes BETWEEN 5 AND 240', name=op.f('ck_sched_resources_step')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sched_resources'))
    )
    op.create_index(op.f('ix_sched_resources_tenant_id'), 'sched_resources', ['tenant_id'], unique=False)
    op.create_table('webhook_events',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('provider', sa.Text(), nullable=False),
    sa.Column('provider_ref', sa.Text(), nullable=False),
    sa.Column('kind', sa.Text(), nullable=False),
    sa.Column('tenant_id', sa.UUID(), nullable=True),
    sa.Column('outcome', sa.Text(), nullable=False),
    sa.Column('payload', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("outcome IN ('accepted', 'unroutable', 'ignored')", name=op.f('ck_webhook_events_outcome')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_events')),
    sa.UniqueConstraint('provider', 'provider_ref', name=op.f('uq_webhook_events_provider_provider_ref'))
    )
    op.create_index('ix_webhook_events_received_at', 'webhook_events', ['received_at'], unique=False)
    op.create_table('catalog_aliases',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('service_item_id', sa.UUID(), nullable=False),
    sa.Column('alias', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['service_item_id'], ['catalog_service_items.id'], name=op.f('fk_catalog_aliases_service_item_id_catalog_service_items'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_catalog_aliases')),
    sa.UniqueConstraint('tenant_id', 'alias', name=op.f('uq_catalog_aliases_tenant_id_alias'))
    )
    op.create_index(op.f('ix_catalog_aliases_service_item_id'), 'catalog_aliases', ['service_item_id'], unique=False)
    op.create_table('comp_campaigns',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('brand_id', sa.UUID(), nullable=True),
    sa.Column('use_case', sa.Text(), server_default='CUSTOMER_CARE', nullable=False),
    sa.Column('status', sa.Text(), server_default='pending', nullable=False),
    sa.Column('status_reason', sa.Text(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("status IN ('pending', 'approved', 'rejected')", name=op.f('ck_comp_campaigns_status')),
    sa.ForeignKeyConstraint(['brand_id'], ['comp_brands.id'], name=op.f('fk_comp_campaigns_brand_id_comp_brands'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_comp_campaigns')),
    sa.UniqueConstraint('tenant_id', name=op.f('uq_comp_campaigns_tenant_id'))
    )
    op.create_table('conv_messages',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('conversation_id', sa.UUID(), nullable=True),
    sa.Column('direction', sa.Text(), nullable=False),
    sa.Column('purpose', sa.Text(), nullable=True),
    sa.Column('from_number', sa.Text(), nullable=False),
    sa.Column('to_number', sa.Text(), nullable=False),
    sa.Column('body', sa.Text(), nullable=True),
    sa.Column('status', sa.Text(), nullable=False),
    sa.Column('provider_ref', sa.Text(), nullable=True),
    sa.Column('error_code', sa.Integer(), nullable=True),
    sa.Column('preflight', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('segments', sa.Integer(), server_default='0', nullable=False),
    sa.Column('encoding', sa.Text(), nullable=True),
    sa.Column('reference_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('send_attempted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('queued_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('first_response_latency_ms', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('body_purged_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("direction IN ('in', 'out')", name=op.f('ck_conv_messages_direction')),
    sa.CheckConstraint("from_number ~ '^\\+[1-9][0-9]{6,14}$'", name=op.f('ck_conv_messages_from_e164')),
    sa.CheckConstraint("status IN ('received', 'pending', 'queued', 'sent', 'delivered', 'undelivered', 'failed', 'blocked')", name=op.f('ck_conv_messages_status')),
    sa.CheckConstraint("to_number ~ '^\\+[1-9][0-9]{6,14}$'", name=op.f('ck_conv_messages_to_e164')),
    sa.CheckConstraint('segments >= 0', name=op.f('ck_conv_messages_segments')),
    sa.ForeignKeyConstraint(['conversation_id'], ['conv_conversations.id'], name=op.f('fk_conv_messages_conversation_id_conv_conversations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_conv_messages')),
    sa.UniqueConstraint('provider_ref', name=op.f('uq_conv_messages_provider_ref'))
    )
    op.create_index('ix_conv_messages_awaiting_status', 'conv_messages', ['status', 'queued_at'], unique=False, postgresql_where=sa.text("status = 'queued'"))
    op.create_index('ix_conv_messages_conversation', 'conv_messages', ['conversation_id', 'created_at'], unique=False)
    op.create_index(op.f('ix_conv_messages_tenant_id'), 'conv_messages', ['tenant_id'], unique=False)
    op.create_table('id_feature_gates',
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('plan', sa.Text(), nullable=False),
    sa.Column('subscription_status', sa.Text(), nullable=False),
    sa.Column('gates', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('past_due_since', sa.DateTime(timezone=True), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['id_tenants.id'], name=op.f('fk_id_feature_gates_tenant_id_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tenant_id', name=op.f('pk_id_feature_gates'))
    )
    op.create_table('id_memberships',
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('user_id', sa.UUID(), nullable=False),
    sa.Column('role', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("role IN ('OWNER', 'TECH')", name=op.f('ck_id_memberships_role')),
    sa.ForeignKeyConstraint(['tenant_id'], ['id_tenants.id'], name=op.f('fk_id_memberships_tenant_id_id_tenants'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['id_users.id'], name=op.f('fk_id_memberships_user_id_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tenant_id', 'user_id', name=op.f('pk_id_memberships'))
    )
    op.create_table('id_phone_numbers',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('e164', sa.Text(), nullable=False),
    sa.Column('provider_ref', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("e164 ~ '^\\+[1-9][0-9]{6,14}$'", name=op.f('ck_id_phone_numbers_e164')),
    sa.ForeignKeyConstraint(['tenant_id'], ['id_tenants.id'], name=op.f('fk_id_phone_numbers_tenant_id_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_id_phone_numbers')),
    sa.UniqueConstraint('e164', name=op.f('uq_id_phone_numbers_e164'))
    )
    op.create_index(op.f('ix_id_phone_numbers_tenant_id'), 'id_phone_numbers', ['tenant_id'], unique=False)
    op.create_table('outbox_deliveries',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('event_id', sa.UUID(), nullable=False),
    sa.Column('handler', sa.Text(), nullable=False),
    sa.Column('queue', sa.Text(), nullable=False),
    sa.Column('status', sa.Text(), server_default='enqueued', nullable=False),
    sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('enqueued_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status IN ('enqueued', 'processing', 'retrying', 'done', 'dead')", name=op.f('ck_outbox_deliveries_status')),
    sa.CheckConstraint('attempts >= 0', name=op.f('ck_outbox_deliveries_attempts')),
    sa.ForeignKeyConstraint(['event_id'], ['outbox_events.event_id'], name=op.f('fk_outbox_deliveries_event_id_outbox_events'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox_deliveries')),
    sa.UniqueConstraint('event_id', 'handler', name=op.f('uq_outbox_deliveries_event_id_handler'))
    )
    op.create_index('ix_outbox_deliveries_due', 'outbox_deliveries', ['status', 'next_attempt_at'], unique=False, postgresql_where=sa.text("status IN ('enqueued', 'processing', 'retrying')"))
    op.create_table('sched_appointments',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('resource_id', sa.UUID(), nullable=False),
    sa.Column('service_item_id', sa.UUID(), nullable=False),
    sa.Column('timeslot', postgresql.TSTZRANGE(), nullable=False),
    sa.Column('status', sa.Text(), server_default='booked', nullable=False),
    sa.Column('customer_phone', sa.Text(), nullable=False),
    sa.Column('price_cents', sa.Integer(), nullable=False),
    sa.Column('currency', sa.Text(), server_default='USD', nullable=False),
    sa.Column('hold_id', sa.UUID(), nullable=True),
    sa.Column('conversation_id', sa.UUID(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('cancelled_at', sa.DateTime(timezone=True), nullable=True),
    postgresql.ExcludeConstraint((sa.column('resource_id'), '='), (sa.column('timeslot'), '&&'), where=sa.text("status = 'booked'"), using='gist', name='sched_appointments_no_overlap'),
    sa.CheckConstraint("currency ~ '^[A-Z]{3}$'", name=op.f('ck_sched_appointments_currency')),
    sa.CheckConstraint("customer_phone ~ '^\\+[1-9][0-9]{6,14}$'", name=op.f('ck_sched_appointments_customer_phone_e164')),
    sa.CheckConstraint("status IN ('booked', 'cancelled')", name=op.f('ck_sched_appointments_status')),
    sa.CheckConstraint('NOT isempty(timeslot)', name=op.f('ck_sched_appointments_timeslot_nonempty')),
    sa.CheckConstraint('price_cents >= 0', name=op.f('ck_sched_appointments_price_cents')),
    sa.ForeignKeyConstraint(['resource_id'], ['sched_resources.id'], name=op.f('fk_sched_appointments_resource_id_sched_resources'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sched_appointments')),
    sa.UniqueConstraint('hold_id', name=op.f('uq_sched_appointments_hold_id'))
    )
    op.create_index(op.f('ix_sched_appointments_tenant_id'), 'sched_appointments', ['tenant_id'], unique=False)
    op.create_table('sched_calendars',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('resource_id', sa.UUID(), nullable=False),
    sa.Column('provider', sa.Text(), nullable=False),
    sa.Column('external_ref', sa.Text(), nullable=False),
    sa.Column('channel_token', sa.Text(), nullable=True),
    sa.Column('last_synced_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("provider IN ('google', 'jobber', 'internal')", name=op.f('ck_sched_calendars_provider')),
    sa.ForeignKeyConstraint(['resource_id'], ['sched_resources.id'], name=op.f('fk_sched_calendars_resource_id_sched_resources'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sched_calendars'))
    )
    op.create_index(op.f('ix_sched_calendars_resource_id'), 'sched_calendars', ['resource_id'], unique=False)
    op.create_table('sched_holds',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('resource_id', sa.UUID(), nullable=False),
    sa.Column('service_item_id', sa.UUID(), nullable=False),
    sa.Column('timeslot', postgresql.TSTZRANGE(), nullable=False),
    sa.Column('status', sa.Text(), server_default='active', nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('extensions', sa.Integer(), server_default='0', nullable=False),
    sa.Column('conversation_id', sa.UUID(), nullable=True),
    sa.Column('customer_phone', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    postgresql.ExcludeConstraint((sa.column('resource_id'), '='), (sa.column('timeslot'), '&&'), where=sa.text("status = 'active'"), using='gist', name='sched_holds_no_overlap'),
    sa.CheckConstraint("customer_phone IS NULL OR customer_phone ~ '^\\+[1-9][0-9]{6,14}$'", name=op.f('ck_sched_holds_customer_phone_e164')),
    sa.CheckConstraint("status IN ('active', 'confirmed', 'released', 'expired')", name=op.f('ck_sched_holds_status')),
    sa.CheckConstraint('NOT isempty(timeslot)', name=op.f('ck_sched_holds_timeslot_nonempty')),
    sa.ForeignKeyConstraint(['resource_id'], ['sched_resources.id'], name=op.f('fk_sched_holds_resource_id_sched_resources'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sched_holds'))
    )
    op.create_index(op.f('ix_sched_holds_tenant_id'), 'sched_holds', ['tenant_id'], unique=False)
    op.create_table('sched_resource_services',
    sa.Column('resource_id', sa.UUID(), nullable=False),
    sa.Column('service_item_id', sa.UUID(), nullable=False),
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.ForeignKeyConstraint(['resource_id'], ['sched_resources.id'], name=op.f('fk_sched_resource_services_resource_id_sched_resources'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('resource_id', 'service_item_id', name=op.f('pk_sched_resource_services'))
    )
    op.create_table('sched_time_off',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('resource_id', sa.UUID(), nullable=True),
    sa.Column('first_day', sa.Date(), nullable=False),
    sa.Column('last_day', sa.Date(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.CheckConstraint('last_day >= first_day', name=op.f('ck_sched_time_off_order')),
    sa.ForeignKeyConstraint(['resource_id'], ['sched_resources.id'], name=op.f('fk_sched_time_off_resource_id_sched_resources'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sched_time_off'))
    )
    op.create_index(op.f('ix_sched_time_off_tenant_id'), 'sched_time_off', ['tenant_id'], unique=False)
    op.create_table('sched_working_hours',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('resource_id', sa.UUID(), nullable=False),
    sa.Column('weekday', sa.SmallInteger(), nullable=False),
    sa.Column('starts_local', sa.Time(), nullable=False),
    sa.Column('ends_local', sa.Time(), nullable=False),
    sa.CheckConstraint('ends_local > starts_local', name=op.f('ck_sched_working_hours_order')),
    sa.CheckConstraint('weekday BETWEEN 0 AND 6', name=op.f('ck_sched_working_hours_weekday')),
    sa.ForeignKeyConstraint(['resource_id'], ['sched_resources.id'], name=op.f('fk_sched_working_hours_resource_id_sched_resources'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sched_working_hours'))
    )
    op.create_index(op.f('ix_sched_working_hours_resource_id'), 'sched_working_hours', ['resource_id'], unique=False)
    op.create_table('dead_letters',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('delivery_id', sa.UUID(), nullable=False),
    sa.Column('event_id', sa.UUID(), nullable=False),
    sa.Column('event_name', sa.Text(), nullable=False),
    sa.Column('handler', sa.Text(), nullable=False),
    sa.Column('tenant_id', sa.UUID(), nullable=True),
    sa.Column('envelope', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=False),
    sa.Column('traceback', sa.Text(), nullable=False),
    sa.Column('dead_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('replayed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['delivery_id'], ['outbox_deliveries.id'], name=op.f('fk_dead_letters_delivery_id_outbox_deliveries'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dead_letters'))
    )
    op.create_index('ix_dead_letters_tenant_id', 'dead_letters', ['tenant_id'], unique=False)
    op.create_index('ix_dead_letters_unreplayed', 'dead_letters', ['dead_at'], unique=False, postgresql_where=sa.text('replayed_at IS NULL'))
    op.create_table('sched_external_busy',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('calendar_id', sa.UUID(), nullable=False),
    sa.Column('resource_id', sa.UUID(), nullable=False),
    sa.Column('timeslot', postgresql.TSTZRANGE(), nullable=False),
    sa.Column('all_day', sa.Boolean(), server_default='false', nullable=False),
    sa.Column('external_ref', sa.Text(), nullable=True),
    sa.Column('synced_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('NOT isempty(timeslot)', name=op.f('ck_sched_external_busy_timeslot_nonempty')),
    sa.ForeignKeyConstraint(['calendar_id'], ['sched_calendars.id'], name=op.f('fk_sched_external_busy_calendar_id_sched_calendars'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sched_external_busy'))
    )
    op.create_index(op.f('ix_sched_external_busy_calendar_id'), 'sched_external_busy', ['calendar_id'], unique=False)
    op.create_index(op.f('ix_sched_external_busy_resource_id'), 'sched_external_busy', ['resource_id'], unique=False)
    # Dispatchers LISTEN on `outbox`; a statement trigger means no writer can forget to wake them, and the
    # notification is only delivered when the writing transaction commits.
    op.execute(
        """
        CREATE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('outbox', '');
            RETURN NULL;
        END $$;
        CREATE TRIGGER outbox_events_notify AFTER INSERT ON outbox_events
            FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();
        """
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS outbox_events_notify ON outbox_events")
    op.execute("DROP FUNCTION IF EXISTS outbox_notify()")
    op.drop_index(op.f('ix_sched_external_busy_resource_id'), table_name='sched_external_busy')
    op.drop_index(op.f('ix_sched_external_busy_calendar_id'), table_name='sched_external_busy')
    op.drop_table('sched_external_busy')
    op.drop_index('ix_dead_letters_unreplayed', table_name='dead_letters', postgresql_where=sa.text('replayed_at IS NULL'))
    op.drop_index('ix_dead_letters_tenant_id', table_name='dead_letters')
    op.drop_table('dead_letters')
    op.drop_index(op.f('ix_sched_working_hours_resource_id'), table_name='sched_working_hours')
    op.drop_table('sched_working_hours')
    op.drop_index(op.f('ix_sched_time_off_tenant_id'), table_name='sched_time_off')
    op.drop_table('sched_time_off')
    op.drop_table('sched_resource_services')
    op.drop_index(op.f('ix_sched_holds_tenant_id'), table_name='sched_holds')
    op.drop_table('sched_holds')
    op.drop_index(op.f('ix_sched_calendars_resource_id'), table_name='sched_calendars')
    op.drop_table('sched_calendars')
    op.drop_index(op.f('ix_sched_appointments_tenant_id'), table_name='sched_appointments')
    op.drop_table('sched_appointments')
    op.drop_index('ix_outbox_deliveries_due', table_name='outbox_deliveries', postgresql_where=sa.text("status IN ('enqueued', 'processing', 'retrying')"))
    op.drop_table('outbox_deliveries')
    op.drop_index(op.f('ix_id_phone_numbers_tenant_id'), table_name='id_phone_numbers')
    op.drop_table('id_phone_numbers')
    op.drop_table('id_memberships')
    op.drop_table('id_feature_gates')
    op.drop_index(op.f('ix_conv_messages_tenant_id'), table_name='conv_messages')
    op.drop_index('ix_conv_messages_conversation', table_name='conv_messages')
    op.drop_index('ix_conv_messages_awaiting_status', table_name='conv_messages', postgresql_where=sa.text("status = 'queued'"))
    op.drop_table('conv_messages')
    op.drop_table('comp_campaigns')
    op.drop_index(op.f('ix_catalog_aliases_service_item_id'), table_name='catalog_aliases')
    op.drop_table('catalog_aliases')
    op.drop_index('ix_webhook_events_received_at', table_name='webhook_events')
    op.drop_table('webhook_events')
    op.drop_index(op.f('ix_sched_resources_tenant_id'), table_name='sched_resources')
    op.drop_table('sched_resources')
    op.drop_index(op.f('ix_rep_first_responses_tenant_id'), table_name='rep_first_responses')
    op.drop_table('rep_first_responses')
    op.drop_table('rep_daily_tenant_stats')
    op.drop_table('processed_events')
    op.drop_index('ix_outbox_events_undispatched', table_name='outbox_events', postgresql_where=sa.text('dispatched_at IS NULL'))
    op.drop_index('ix_outbox_events_tenant_id', table_name='outbox_events')
    op.drop_index('ix_outbox_events_dispatched_at', table_name='outbox_events')
    op.drop_table('outbox_events')
    op.drop_table('id_users')
    op.drop_table('id_tenants')
    op.drop_table('id_plans')
    op.drop_index(op.f('ix_conv_operator_tasks_tenant_id'), table_name='conv_operator_tasks')
    op.drop_table('conv_operator_tasks')
    op.drop_table('conv_first_response_claims')
    op.drop_index('uq_conv_conversations_live_caller', table_name='conv_conversations', postgresql_where=sa.text("state IN ('open', 'human')"))
    op.drop_index(op.f('ix_conv_conversations_tenant_id'), table_name='conv_conversations')
    op.drop_table('conv_conversations')
    op.drop_index('uq_comp_opt_outs_active', table_name='comp_opt_outs', postgresql_where=sa.text('revoked_at IS NULL'))
    op.drop_table('comp_opt_outs')
    op.drop_table('comp_brands')
    op.drop_index(op.f('ix_catalog_service_items_tenant_id'), table_name='catalog_service_items')
    op.drop_table('catalog_service_items')
    op.drop_index(op.f('ix_bill_subscriptions_tenant_id'), table_name='bill_subscriptions')
    op.drop_table('bill_subscriptions')
    op.drop_table('bill_plan_prices')
    op.drop_table('bill_customers')
