"""Shared infrastructure tables: webhook dedupe, caller chains, the outbox and its bookkeeping, the DLQ."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, now_column, uuid_pk

DELIVERY_STATUSES = ("enqueued", "processing", "retrying", "done", "dead")


class WebhookEvent(Base):
    """One row per provider delivery; the unique (provider, provider_ref) is the dedupe."""

    __tablename__ = "webhook_events"
    __table_args__ = (
        UniqueConstraint("provider", "provider_ref"),
        CheckConstraint("outcome IN ('accepted', 'unroutable', 'ignored')", name="outcome"),
        Index("ix_webhook_events_received_at", "received_at"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    provider: Mapped[str] = mapped_column(Text, nullable=False)
    provider_ref: Mapped[str] = mapped_column(Text, nullable=False)
    kind: Mapped[str] = mapped_column(Text, nullable=False)
    tenant_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    outcome: Mapped[str] = mapped_column(Text, nullable=False)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    received_at: Mapped[datetime] = now_column()


class CallerChain(Base):
    """The correlation chain a caller's contact with a tenant belongs to: a missed call starts it, and the texts and
    calls that follow within the idle window join it, so one id traces the whole episode."""

    __tablename__ = "caller_chains"
    __table_args__ = (Index("ix_caller_chains_last_seen_at", "last_seen_at"),)

    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    caller: Mapped[str] = mapped_column(Text, primary_key=True)
    correlation_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    started_at: Mapped[datetime] = now_column()
    last_seen_at: Mapped[datetime] = now_column()


class OutboxEvent(Base):
    """A domain event, written in the same transaction as the change it describes."""

    __tablename__ = "outbox_events"
    __table_args__ = (
        Index("ix_outbox_events_undispatched", "seq", postgresql_where=text("dispatched_at IS NULL")),
        Index("ix_outbox_events_dispatched_at", "dispatched_at"),
        Index("ix_outbox_events_tenant_id", "tenant_id"),
        CheckConstraint("event_name ~ '^nmc\\.[a-z]+\\.[A-Z][A-Za-z]+$'", name="event_name"),
        CheckConstraint("schema_version >= 1", name="schema_version"),
    )

    event_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, Identity(always=True), nullable=False, unique=True)
    event_name: Mapped[str] = mapped_column(Text, nullable=False)
    schema_version: Mapped[int] = mapped_column(Integer, nullable=False)
    tenant_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    correlation_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    causation_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    created_at: Mapped[datetime] = now_column()
    dispatched_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class OutboxDelivery(Base):
    """One (event, subscribed handler) pair, with its durable attempt count and retry schedule."""

    __tablename__ = "outbox_deliveries"
    __table_args__ = (
        UniqueConstraint("event_id", "handler"),
        CheckConstraint(f"status IN {DELIVERY_STATUSES!r}", name="status"),
        CheckConstraint("attempts >= 0", name="attempts"),
        Index(
            "ix_outbox_deliveries_due",
            "status",
            "next_attempt_at",
            postgresql_where=text("status IN ('enqueued', 'processing', 'retrying')"),
        ),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    event_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("outbox_events.event_id", ondelete="CASCADE"), nullable=False
    )
    handler: Mapped[str] = mapped_column(Text, nullable=False)
    queue: Mapped[str] = mapped_column(Text, nullable=False)
    status: Mapped[str] = mapped_column(Text, nullable=False, server_default="enqueued")
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    next_attempt_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
    enqueued_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = now_column()
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ProcessedEvent(Base):
    """The "processed (event_id, handler)" marker, committed with the handler's own writes."""

    __tablename__ = "processed_events"
    # The retention rule's cutoff: without it every batch scans all the markers (migration 0021).
    __table_args__ = (Index("ix_processed_events_processed_at", "processed_at"),)

    event_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    handler: Mapped[str] = mapped_column(Text, primary_key=True)
    processed_at: Mapped[datetime] = now_column()


class DeadLetter(Base):
    """A delivery that failed every attempt; the envelope still validates against the Event Catalog."""

    __tablename__ = "dead_letters"
    __table_args__ = (
        Index("ix_dead_letters_unreplayed", "dead_at", postgresql_where=text("replayed_at IS NULL")),
        Index("ix_dead_letters_tenant_id", "tenant_id"),
        # Deleting a delivery (the outbox retention's cascade) finds its dead letters by it.
        Index("ix_dead_letters_delivery_id", "delivery_id"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    delivery_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("outbox_deliveries.id", ondelete="CASCADE"), nullable=False
    )
    event_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    event_name: Mapped[str] = mapped_column(Text, nullable=False)
    handler: Mapped[str] = mapped_column(Text, nullable=False)
    tenant_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    envelope: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False)
    last_error: Mapped[str] = mapped_column(Text, nullable=False)
    traceback: Mapped[str] = mapped_column(Text, nullable=False)
    dead_at: Mapped[datetime] = now_column()
    replayed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class SchedulerRun(Base):
    """Each scheduled job's last claimed period: the row that makes a job run once per period across every scheduler.

    A scheduler claims a period by advancing ``period_start`` in the job's own transaction, so a job that fails or
    whose process dies rolls its claim back with its work and runs again; one that commits never runs twice.
    """

    __tablename__ = "scheduler_runs"

    job: Mapped[str] = mapped_column(Text, primary_key=True)
    period_start: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    runs: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("1"))
    last_result: Mapped[str | None] = mapped_column(Text)
