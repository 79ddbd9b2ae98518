"""The callback-aware first SMS and bookings written back to external calendars.

* ``id_tenants.callback_grace_seconds`` (0–120, default 0 = send at once) and ``conv_first_response_graces``: a
  first SMS held for the grace period, decided once (sent, or withheld because a callback was seen).
* ``sched_calendar_credentials`` (a resource calendar's OAuth tokens, encrypted) and ``sched_write_backs`` (each
  appointment as written to each external calendar).

Revision ID: 0019
Revises: 0018
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("id_tenants", sa.Column("callback_grace_seconds", sa.Integer(), server_default="0", nullable=False))
    op.create_check_constraint(
        op.f("ck_id_tenants_callback_grace"), "id_tenants", "callback_grace_seconds BETWEEN 0 AND 120"
    )
    op.create_table(
        "conv_first_response_graces",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("conversation_id", sa.UUID(), nullable=False),
        sa.Column("caller", sa.Text(), nullable=False),
        sa.Column("business_number", sa.Text(), nullable=False),
        sa.Column("call_sid", sa.Text(), nullable=False),
        sa.Column("missed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("send_after", sa.DateTime(timezone=True), nullable=False),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decision", sa.Text(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("deciding_call_sid", sa.Text(), nullable=True),
        sa.Column("correlation_id", sa.UUID(), nullable=False),
        sa.Column("causation_id", sa.UUID(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "decision IS NULL OR decision IN ('sent', 'withheld')", name=op.f("ck_conv_first_response_graces_decision")
        ),
        sa.CheckConstraint(
            "(decided_at IS NULL) = (decision IS NULL)", name=op.f("ck_conv_first_response_graces_decided")
        ),
        sa.CheckConstraint("send_after >= missed_at", name=op.f("ck_conv_first_response_graces_order")),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conv_conversations.id"],
            name=op.f("fk_conv_first_response_graces_conversation_id_conv_conversations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conv_first_response_graces")),
    )
    op.create_index(
        "uq_conv_first_response_graces_open_caller",
        "conv_first_response_graces",
        ["tenant_id", "caller"],
        unique=True,
        postgresql_where=sa.text("decided_at IS NULL"),
    )
    op.create_index(
        "ix_conv_first_response_graces_due",
        "conv_first_response_graces",
        ["send_after"],
        unique=False,
        postgresql_where=sa.text("decided_at IS NULL AND released_at IS NULL"),
    )
    op.create_index(
        "ix_conv_first_response_graces_created_at", "conv_first_response_graces", ["created_at"], unique=False
    )
    op.create_index(
        op.f("ix_conv_first_response_graces_conversation_id"),
        "conv_first_response_graces",
        ["conversation_id"],
        unique=False,
    )
    op.execute("SELECT nmc_enable_tenant_rls('conv_first_response_graces'::regclass)")
    op.create_table(
        "sched_calendar_credentials",
        sa.Column("calendar_id", sa.UUID(), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("access_token", sa.LargeBinary(), nullable=False),
        sa.Column("refresh_token", sa.LargeBinary(), nullable=True),
        sa.Column("token_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("jobber_job_id", sa.Text(), nullable=True),
        sa.Column("status", sa.Text(), server_default="active", nullable=False),
        sa.Column("problem", sa.Text(), nullable=True),
        sa.Column("linked_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("status IN ('active', 'invalid')", name=op.f("ck_sched_calendar_credentials_status")),
        sa.ForeignKeyConstraint(
            ["calendar_id"],
            ["sched_calendars.id"],
            name=op.f("fk_sched_calendar_credentials_calendar_id_sched_calendars"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("calendar_id", name=op.f("pk_sched_calendar_credentials")),
    )
    op.create_index(
        op.f("ix_sched_calendar_credentials_tenant_id"), "sched_calendar_credentials", ["tenant_id"], unique=False
    )
    op.create_table(
        "sched_write_backs",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("appointment_id", sa.UUID(), nullable=False),
        sa.Column("calendar_id", sa.UUID(), nullable=False),
        sa.Column("provider", sa.Text(), nullable=False),
        sa.Column("external_id", sa.Text(), nullable=True),
        sa.Column("state", sa.Text(), server_default="pending", nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("create_attempted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("problem", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "state IN ('pending', 'present', 'deleted', 'conflict', 'refused')", name=op.f("ck_sched_write_backs_state")
        ),
        sa.ForeignKeyConstraint(
            ["appointment_id"],
            ["sched_appointments.id"],
            name=op.f("fk_sched_write_backs_appointment_id_sched_appointments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["calendar_id"],
            ["sched_calendars.id"],
            name=op.f("fk_sched_write_backs_calendar_id_sched_calendars"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sched_write_backs")),
        sa.UniqueConstraint(
            "appointment_id", "calendar_id", name=op.f("uq_sched_write_backs_appointment_id_calendar_id")
        ),
    )
    op.create_index(op.f("ix_sched_write_backs_calendar_id"), "sched_write_backs", ["calendar_id"], unique=False)
    op.create_index(op.f("ix_sched_write_backs_tenant_id"), "sched_write_backs", ["tenant_id"], unique=False)
    op.execute("SELECT nmc_enable_tenant_rls('sched_calendar_credentials'::regclass)")
    op.execute("SELECT nmc_enable_tenant_rls('sched_write_backs'::regclass)")


def downgrade() -> None:
    op.drop_table("sched_write_backs")
    op.drop_table("sched_calendar_credentials")
    op.drop_table("conv_first_response_graces")
    op.drop_constraint(op.f("ck_id_tenants_callback_grace"), "id_tenants", type_="check")
    op.drop_column("id_tenants", "callback_grace_seconds")
