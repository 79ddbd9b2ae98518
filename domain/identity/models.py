"""Identity tables (id_*): tenants, their numbers, users and roles, plans and feature gates."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, CheckConstraint, DateTime, ForeignKey, Index, Integer, Text, text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, e164_check, now_column, uuid_pk

DEFAULT_FIRST_MESSAGE = (
    "Hi, this is {business}. Sorry we missed your call! How can we help? Reply here to get a quote or book a time."
)
DEFAULT_AFTER_HOURS_MESSAGE = (
    "Hi, this is {business}. We're closed right now, but we can still help by text: "
    "tell us what you need and we'll find you a time."
)


class Tenant(Base):
    __tablename__ = "id_tenants"
    __table_args__ = (
        CheckConstraint(e164_check("forward_to"), name="forward_to_e164"),
        CheckConstraint(f"owner_mobile IS NULL OR {e164_check('owner_mobile')}", name="owner_mobile_e164"),
        CheckConstraint("ring_timeout_seconds BETWEEN 5 AND 60", name="ring_timeout"),
        CheckConstraint("follow_up_delay_minutes BETWEEN 15 AND 10080", name="follow_up_delay"),
        CheckConstraint("first_sms_quiet_hours IN ('send', 'defer')", name="first_sms_quiet_hours"),
        CheckConstraint("callback_grace_seconds BETWEEN 0 AND 120", name="callback_grace"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    name: Mapped[str] = mapped_column(Text, nullable=False)
    timezone: Mapped[str] = mapped_column(Text, nullable=False)
    forward_to: Mapped[str] = mapped_column(Text, nullable=False)
    owner_mobile: Mapped[str | None] = mapped_column(Text)
    ring_timeout_seconds: Mapped[int] = mapped_column(Integer, nullable=False, server_default="20")
    # How long the first SMS waits for a callback (an answered re-call, a staff call) that makes it unneeded; 0 = none.
    callback_grace_seconds: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    first_message_template: Mapped[str] = mapped_column(Text, nullable=False, server_default=DEFAULT_FIRST_MESSAGE)
    after_hours_template: Mapped[str] = mapped_column(Text, nullable=False, server_default=DEFAULT_AFTER_HOURS_MESSAGE)
    help_text: Mapped[str] = mapped_column(
        Text, nullable=False, server_default="Reply STOP to opt out. For help call us back at this number."
    )
    # On: the AI answers a caller who writes in Spanish in Spanish; off: that caller is handed to a person.
    spanish_replies: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("true"))
    # The Clerk organization whose tokens (``org_id``) act for this tenant: how a member of several picks one.
    clerk_org_id: Mapped[str | None] = mapped_column(Text, unique=True)
    created_at: Mapped[datetime] = now_column()
    # The appointment lifecycle: reminders this many minutes before a start, one follow-up this long after an
    # unanswered first SMS (NULL: none), and whether a first SMS that falls in quiet hours waits for the morning.
    reminder_offsets_minutes: Mapped[list[int]] = mapped_column(
        ARRAY(Integer), nullable=False, server_default=text("'{1440,120}'")
    )
    follow_up_delay_minutes: Mapped[int | None] = mapped_column(Integer)
    first_sms_quiet_hours: Mapped[str] = mapped_column(Text, nullable=False, server_default="send")


class PhoneNumber(Base):
    """A Twilio number a tenant owns; inbound webhooks are routed by it."""

    __tablename__ = "id_phone_numbers"
    __table_args__ = (CheckConstraint(e164_check("e164"), name="e164"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    tenant_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("id_tenants.id", ondelete="CASCADE"), nullable=False, index=True
    )
    e164: Mapped[str] = mapped_column(Text, nullable=False, unique=True)
    provider_ref: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = now_column()


class User(Base):
    """A Clerk user. The profile (email, name) is written only from the user's own verified token claims."""

    __tablename__ = "id_users"

    id: Mapped[uuid.UUID] = uuid_pk()
    clerk_user_id: Mapped[str] = mapped_column(Text, nullable=False, unique=True)
    email: Mapped[str | None] = mapped_column(Text)
    name: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = now_column()


class Membership(Base):
    """A user's role in one tenant, made only by accepting that tenant's invitation.

    ``email`` is the address the invitation went to (the tenant's own record, not the user's profile); ``is_default``
    marks the tenant a request without ``X-Tenant-Id`` or an organization claim acts for, so joining another tenant
    never changes where a user's existing requests go."""

    __tablename__ = "id_memberships"
    __table_args__ = (
        CheckConstraint("role IN ('OWNER', 'TECH')", name="role"),
        CheckConstraint(f"mobile IS NULL OR {e164_check('mobile')}", name="mobile_e164"),
        Index("uq_id_memberships_default", "user_id", unique=True, postgresql_where=text("is_default")),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("id_tenants.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("id_users.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[str] = mapped_column(Text, nullable=False)
    email: Mapped[str | None] = mapped_column(Text)
    mobile: Mapped[str | None] = mapped_column(Text)
    is_default: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("false"))
    created_at: Mapped[datetime] = now_column()


class Invitation(Base):
    """An OWNER's (or an operator's) offer of a role; only the user whose verified email matches may accept it.

    Only the SHA-256 of the token is stored: the token itself is shown once, to whoever created the invitation."""

    __tablename__ = "id_invitations"
    __table_args__ = (
        CheckConstraint("role IN ('OWNER', 'TECH')", name="role"),
        CheckConstraint("email = lower(btrim(email)) AND email LIKE '_%@_%'", name="email_normalised"),
        CheckConstraint(f"mobile IS NULL OR {e164_check('mobile')}", name="mobile_e164"),
        CheckConstraint("accepted_at IS NULL OR revoked_at IS NULL", name="accepted_or_revoked"),
        # One open invitation per address and tenant: a new one replaces it, a concurrent one is refused.
        Index(
            "uq_id_invitations_open",
            "tenant_id",
            "email",
            unique=True,
            postgresql_where=text("accepted_at IS NULL AND revoked_at IS NULL"),
        ),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    tenant_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("id_tenants.id", ondelete="CASCADE"), nullable=False, index=True
    )
    email: Mapped[str] = mapped_column(Text, nullable=False)
    role: Mapped[str] = mapped_column(Text, nullable=False)
    mobile: Mapped[str | None] = mapped_column(Text)
    token_hash: Mapped[str] = mapped_column(Text, nullable=False, unique=True)
    invited_by: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("id_users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = now_column()
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    accepted_by: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("id_users.id", ondelete="SET NULL")
    )
    accepted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Plan(Base):
    """A plan and what it gates: data, not code branches."""

    __tablename__ = "id_plans"
    __table_args__ = (CheckConstraint("past_due_grace_days >= 0", name="grace"),)

    code: Mapped[str] = mapped_column(Text, primary_key=True)
    name: Mapped[str] = mapped_column(Text, nullable=False)
    gates: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    past_due_grace_days: Mapped[int] = mapped_column(Integer, nullable=False, server_default="7")


class FeatureGates(Base):
    __tablename__ = "id_feature_gates"

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("id_tenants.id", ondelete="CASCADE"), primary_key=True
    )
    plan: Mapped[str] = mapped_column(Text, nullable=False)
    subscription_status: Mapped[str] = mapped_column(Text, nullable=False)
    gates: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    past_due_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The SubscriptionUpdated this state came from (Stripe's ``created``): an older one never overwrites it.
    source_created: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    updated_at: Mapped[datetime] = now_column()


class IdempotencyKey(Base):
    """An operator API POST's ``Idempotency-Key``: same key and body ⇒ the stored response, other body ⇒ 422."""

    __tablename__ = "id_api_idempotency_keys"
    __table_args__ = (Index("ix_id_api_idempotency_keys_created_at", "created_at"),)

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("id_tenants.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(Text, primary_key=True)
    request_fingerprint: Mapped[str] = mapped_column(Text, nullable=False)
    response_status: Mapped[int] = mapped_column(Integer, nullable=False)
    response_body: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    created_at: Mapped[datetime] = now_column()
