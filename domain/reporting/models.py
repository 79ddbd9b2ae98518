"""Reporting projections (rep_*), built from events and rebuildable from them."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import BigInteger, CheckConstraint, Date, DateTime, Index, Integer, Text
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, now_column


class DailyTenantStats(Base):
    __tablename__ = "rep_daily_tenant_stats"

    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    missed_calls: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    conversations: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    bookings: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    recovered_revenue_cents: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    opt_outs: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    takeovers: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")


class QuarterHourTenantStats(Base):
    """The daily counters per quarter hour (a UTC instant on :00, :15, :30 or :45). Every time zone's offset from UTC
    is a whole number of quarter hours, so a tenant's local day is an exact sum of these, whatever its zone."""

    __tablename__ = "rep_quarter_hour_tenant_stats"

    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    missed_calls: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    conversations: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    bookings: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    recovered_revenue_cents: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    opt_outs: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    takeovers: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")


class CountedBooking(Base):
    """A booking the report counted (made in a conversation), kept so its cancellation can take it back from the
    day it was counted on: reporting reads no scheduling table. ``counted_at`` is the booking's moment (its
    ``AppointmentBooked``), NULL when the cancellation was recorded first (a redelivered or late booking then counts
    nothing); ``cancelled_at`` once the cancellation took the count and price back. The primary key makes a second
    delivery of either event a no-op."""

    __tablename__ = "rep_bookings"
    __table_args__ = (
        CheckConstraint("(counted_at IS NULL) = (price_cents IS NULL)", name="counted_price"),
        CheckConstraint("counted_at IS NOT NULL OR cancelled_at IS NOT NULL", name="counted_or_cancelled"),
        CheckConstraint("price_cents >= 0", name="price_cents"),
        Index("ix_rep_bookings_recorded_at", "recorded_at"),  # retention's cutoff
    )

    appointment_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False, index=True)
    counted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    price_cents: Mapped[int | None] = mapped_column(BigInteger)
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    recorded_at: Mapped[datetime] = now_column()


class FirstResponseSample(Base):
    """Raw first-response latencies, so the daily P50/P95 are exact rather than averaged."""

    __tablename__ = "rep_first_responses"

    message_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False, index=True)
    day: Mapped[date] = mapped_column(Date, nullable=False)
    latency_ms: Mapped[int] = mapped_column(Integer, nullable=False)
    # When the reply was queued (the event's occurred_at), for local-day percentiles; NULL on samples recorded
    # before it was kept, which count on their UTC day.
    occurred_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    recorded_at: Mapped[datetime] = now_column()
    source: Mapped[str] = mapped_column(Text, nullable=False, server_default="MessageQueued")
