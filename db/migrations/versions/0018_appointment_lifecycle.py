"""The appointment lifecycle: sched_reminders (one row per appointment, start time and offset: the unique key makes
a reminder once, and a reschedule's new start makes new rows), when an appointment's timeslot was set and when the
caller confirmed it, messages deferred by quiet hours (conv_messages.not_before) and one follow-up per conversation
(a partial unique index), the appointment a caller's reply is about, and the tenant's lifecycle settings.

Revision ID: 0018
Revises: 0017
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0018'
down_revision: str | None = '0017'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('sched_reminders',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('appointment_id', sa.UUID(), nullable=False),
    sa.Column('offset_minutes', sa.Integer(), nullable=False),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.Text(), server_default='due', nullable=False),
    sa.Column('message_id', sa.UUID(), nullable=True),
    sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('due', 'void')", name=op.f('ck_sched_reminders_status')),
    sa.CheckConstraint('offset_minutes BETWEEN 5 AND 10080', name=op.f('ck_sched_reminders_offset')),
    sa.ForeignKeyConstraint(['appointment_id'], ['sched_appointments.id'], name=op.f('fk_sched_reminders_appointment_id_sched_appointments'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sched_reminders')),
    sa.UniqueConstraint('appointment_id', 'starts_at', 'offset_minutes', name='uq_sched_reminders_once')
    )
    op.create_index('ix_sched_reminders_message', 'sched_reminders', ['message_id'], unique=False)
    op.create_index(op.f('ix_sched_reminders_tenant_id'), 'sched_reminders', ['tenant_id'], unique=False)
    op.execute("SELECT nmc_enable_tenant_rls('sched_reminders'::regclass)")
    op.add_column('conv_conversations', sa.Column('appointment_context', postgresql.JSONB(astext_type=sa.Text()), nullable=True))
    op.add_column('conv_messages', sa.Column('not_before', sa.DateTime(timezone=True), nullable=True))
    op.create_index('ix_conv_messages_deferred', 'conv_messages', ['not_before'], unique=False, postgresql_where=sa.text("status = 'pending' AND not_before IS NOT NULL"))
    op.create_index('ux_conv_messages_one_follow_up', 'conv_messages', ['conversation_id'], unique=True, postgresql_where=sa.text("purpose = 'follow_up'"))
    op.add_column('id_tenants', sa.Column('reminder_offsets_minutes', postgresql.ARRAY(sa.Integer()), server_default=sa.text("'{1440,120}'"), nullable=False))
    op.add_column('id_tenants', sa.Column('follow_up_delay_minutes', sa.Integer(), nullable=True))
    op.add_column('id_tenants', sa.Column('first_sms_quiet_hours', sa.Text(), server_default='send', nullable=False))
    op.create_check_constraint(
        op.f('ck_id_tenants_follow_up_delay'), 'id_tenants', 'follow_up_delay_minutes BETWEEN 15 AND 10080'
    )
    op.create_check_constraint(
        op.f('ck_id_tenants_first_sms_quiet_hours'), 'id_tenants', "first_sms_quiet_hours IN ('send', 'defer')"
    )
    op.add_column('sched_appointments', sa.Column('timeslot_set_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False))
    op.add_column('sched_appointments', sa.Column('confirmed_at', sa.DateTime(timezone=True), nullable=True))
    op.create_index(
        'ix_sched_appointments_booked_start',
        'sched_appointments',
        [sa.text('lower(timeslot)')],
        unique=False,
        postgresql_where=sa.text("status = 'booked'"),
    )


def downgrade() -> None:
    op.drop_index('ix_sched_appointments_booked_start', table_name='sched_appointments')
    op.drop_column('sched_appointments', 'confirmed_at')
    op.drop_column('sched_appointments', 'timeslot_set_at')
    op.drop_constraint(op.f('ck_id_tenants_first_sms_quiet_hours'), 'id_tenants', type_='check')
    op.drop_constraint(op.f('ck_id_tenants_follow_up_delay'), 'id_tenants', type_='check')
    op.drop_column('id_tenants', 'first_sms_quiet_hours')
    op.drop_column('id_tenants', 'follow_up_delay_minutes')
    op.drop_column('id_tenants', 'reminder_offsets_minutes')
    op.drop_index('ux_conv_messages_one_follow_up', table_name='conv_messages', postgresql_where=sa.text("purpose = 'follow_up'"))
    op.drop_index('ix_conv_messages_deferred', table_name='conv_messages', postgresql_where=sa.text("status = 'pending' AND not_before IS NOT NULL"))
    op.drop_column('conv_messages', 'not_before')
    op.drop_column('conv_conversations', 'appointment_context')
    op.drop_index(op.f('ix_sched_reminders_tenant_id'), table_name='sched_reminders')
    op.drop_index('ix_sched_reminders_message', table_name='sched_reminders')
    op.drop_table('sched_reminders')
