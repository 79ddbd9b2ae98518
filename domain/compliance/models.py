"""Compliance tables (comp_*): 10DLC brand and campaign, opt-outs."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Index, Text, text
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, e164_check, now_column, uuid_pk

CAMPAIGN_STATUSES = ("pending", "approved", "rejected")


class Brand(Base):
    __tablename__ = "comp_brands"

    id: Mapped[uuid.UUID] = uuid_pk()
    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False, unique=True)
    legal_name: Mapped[str] = mapped_column(Text, nullable=False)
    ein: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = now_column()


class Campaign(Base):
    __tablename__ = "comp_campaigns"
    __table_args__ = (CheckConstraint(f"status IN {CAMPAIGN_STATUSES!r}", name="status"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False, unique=True)
    brand_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("comp_brands.id", ondelete="SET NULL")
    )
    use_case: Mapped[str] = mapped_column(Text, nullable=False, server_default="CUSTOMER_CARE")
    status: Mapped[str] = mapped_column(Text, nullable=False, server_default="pending")
    status_reason: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = now_column()


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
