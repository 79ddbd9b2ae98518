"""Reporting projections (rep_*), built from events and rebuildable from them."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import BigInteger, Date, DateTime, Integer, Text
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
