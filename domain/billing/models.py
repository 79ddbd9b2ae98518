"""Billing tables (bill_*): Stripe customers, subscriptions and which price is which plan."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Text
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, now_column, uuid_pk


class Customer(Base):
    __tablename__ = "bill_customers"

    id: Mapped[uuid.UUID] = uuid_pk()
    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False, unique=True)
    stripe_customer_id: Mapped[str] = mapped_column(Text, nullable=False, unique=True)
    created_at: Mapped[datetime] = now_column()


class Subscription(Base):
    """The latest known state; ``source_created`` (the Stripe event's ``created``) stops older events winning."""

    __tablename__ = "bill_subscriptions"

    id: Mapped[uuid.UUID] = uuid_pk()
    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False, index=True)
    stripe_subscription_id: Mapped[str] = mapped_column(Text, nullable=False, unique=True)
    stripe_customer_id: Mapped[str] = mapped_column(Text, nullable=False)
    plan: Mapped[str] = mapped_column(Text, nullable=False)
    status: Mapped[str] = mapped_column(Text, nullable=False)
    current_period_end: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    source_created: Mapped[int] = mapped_column(BigInteger, nullable=False)
    updated_at: Mapped[datetime] = now_column()


class PlanPrice(Base):
    __tablename__ = "bill_plan_prices"

    stripe_price_id: Mapped[str] = mapped_column(Text, primary_key=True)
    plan_code: Mapped[str] = mapped_column(Text, nullable=False)
