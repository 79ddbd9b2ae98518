"""Compliance tables (comp_*): 10DLC brand and campaign, opt-outs."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Index, Text, text
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, e164_check, now_column, uuid_pk
from domain.compliance.sids import A2P_CAMPAIGN_SID_PATTERN, MESSAGING_SERVICE_SID_PATTERN

CAMPAIGN_STATUSES = ("pending", "approved", "rejected")


class Brand(Base):
    __tablename__ = "comp_brands"

    id: Mapped[uuid.UUID] = uuid_pk()
    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False, unique=True)
    legal_name: Mapped[str] = mapped_column(Text, nullable=False)
    ein: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = now_column()


class Campaign(Base):
    """The tenant's 10DLC campaign. The tenant writes the details; ``status`` is written only by the provider poll
    and the operator's CLI, and the poll finds the campaign at the provider through the two provider SIDs."""

    __tablename__ = "comp_campaigns"
    __table_args__ = (
        CheckConstraint(f"status IN {CAMPAIGN_STATUSES!r}", name="status"),
        CheckConstraint(f"messaging_service_sid ~ '{MESSAGING_SERVICE_SID_PATTERN}'", name="messaging_service_sid"),
        CheckConstraint(f"provider_campaign_sid ~ '{A2P_CAMPAIGN_SID_PATTERN}'", name="provider_campaign_sid"),
        CheckConstraint(
            "message_samples IS NULL OR jsonb_typeof(message_samples) = 'array'", name="message_samples_array"
        ),
        # What the poll scans: pending campaigns linked to the provider, least recently asked first.
        Index(
            "ix_comp_campaigns_provider_poll",
            "provider_checked_at",
            postgresql_where=text("status = 'pending' AND messaging_service_sid IS NOT NULL"),
        ),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False, unique=True)
    brand_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("comp_brands.id", ondelete="SET NULL")
    )
    use_case: Mapped[str] = mapped_column(Text, nullable=False, server_default="CUSTOMER_CARE")
    status: Mapped[str] = mapped_column(Text, nullable=False, server_default="pending")
    status_reason: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = now_column()
    description: Mapped[str | None] = mapped_column(Text)
    message_samples: Mapped[list[str] | None] = mapped_column(JSONB)
    message_flow: Mapped[str | None] = mapped_column(Text)
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # A messaging service (and so its campaign) belongs to one tenant: a second tenant cannot borrow its verdict.
    messaging_service_sid: Mapped[str | None] = mapped_column(Text, unique=True)
    provider_campaign_sid: Mapped[str | None] = mapped_column(Text, unique=True)
    provider_status: Mapped[str | None] = mapped_column(Text)
    provider_checked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class OptOut(Base):
    """A caller's opt-out from one tenant; ``revoked_at`` is set when they opt back in."""

    __tablename__ = "comp_opt_outs"
    __table_args__ = (
        CheckConstraint(e164_check("phone"), name="phone_e164"),
        CheckConstraint("source IN ('keyword', 'provider_21610', 'operator')", name="source"),
        Index(
            "uq_comp_opt_outs_active",
            "tenant_id",
            "phone",
            unique=True,
            postgresql_where=text("revoked_at IS NULL"),
        ),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    phone: Mapped[str] = mapped_column(Text, nullable=False)
    source: Mapped[str] = mapped_column(Text, nullable=False)
    keyword: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = now_column()
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
