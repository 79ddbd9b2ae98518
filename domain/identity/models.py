"""Identity tables (id_*): tenants, their numbers, users and roles, plans and feature gates."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, DateTime, ForeignKey, Index, Integer, Text
from sqlalchemy.dialects.postgresql import JSONB, UUID
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
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    name: Mapped[str] = mapped_column(Text, nullable=False)
    timezone: Mapped[str] = mapped_column(Text, nullable=False)
    forward_to: Mapped[str] = mapped_column(Text, nullable=False)
    owner_mobile: Mapped[str | None] = mapped_column(Text)
    ring_timeout_seconds: Mapped[int] = mapped_column(Integer, nullable=False, server_default="20")
    first_message_template: Mapped[str] = mapped_column(Text, nullable=False, server_default=DEFAULT_FIRST_MESSAGE)
    after_hours_template: Mapped[str] = mapped_column(Text, nullable=False, server_default=DEFAULT_AFTER_HOURS_MESSAGE)
    help_text: Mapped[str] = mapped_column(
        Text, nullable=False, server_default="Reply STOP to opt out. For help call us back at this number."
    )
    created_at: Mapped[datetime] = now_column()


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
    __tablename__ = "id_users"

    id: Mapped[uuid.UUID] = uuid_pk()
    clerk_user_id: Mapped[str] = mapped_column(Text, nullable=False, unique=True)
    email: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = now_column()


class Membership(Base):
    __tablename__ = "id_memberships"
    __table_args__ = (CheckConstraint("role IN ('OWNER', 'TECH')", name="role"),)

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("id_tenants.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("id_users.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = now_column()


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
