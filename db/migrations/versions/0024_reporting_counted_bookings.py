"""rep_bookings: each booking the report counted (made in a conversation: ``AppointmentBooked.conversation_id`` not
null), with when it was counted and its price, so its cancellation takes the count and the recovered revenue back
from that same day. Reporting keeps this itself (it reads no scheduling table).

Counters already in ``rep_daily_tenant_stats`` and ``rep_quarter_hour_tenant_stats`` are left as they are: bookings
counted before this migration (calendar bookings among them) stay counted, and their cancellations take nothing back
(no row here names them). ``nmc report --rebuild --since D`` recomputes the days still in the outbox by the new rule.

Revision ID: 0024
Revises: 0023
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0024'
down_revision: str | None = '0023'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'rep_bookings',
        sa.Column('appointment_id', sa.UUID(), nullable=False),
        sa.Column('tenant_id', sa.UUID(), nullable=False),
        sa.Column('counted_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('price_cents', sa.BigInteger(), nullable=True),
        sa.Column('cancelled_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('recorded_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.CheckConstraint(
            '(counted_at IS NULL) = (price_cents IS NULL)', name=op.f('ck_rep_bookings_counted_price')
        ),
        sa.CheckConstraint(
            'counted_at IS NOT NULL OR cancelled_at IS NOT NULL', name=op.f('ck_rep_bookings_counted_or_cancelled')
        ),
        sa.CheckConstraint('price_cents >= 0', name=op.f('ck_rep_bookings_price_cents')),
        sa.PrimaryKeyConstraint('appointment_id', name=op.f('pk_rep_bookings')),
    )
    op.create_index('ix_rep_bookings_recorded_at', 'rep_bookings', ['recorded_at'], unique=False)
    op.create_index(op.f('ix_rep_bookings_tenant_id'), 'rep_bookings', ['tenant_id'], unique=False)
    op.execute("SELECT nmc_enable_tenant_rls('rep_bookings'::regclass)")


def downgrade() -> None:
    op.drop_table('rep_bookings')
