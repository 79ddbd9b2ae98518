"""Conversation tables (conv_*): conversations, messages, first-SMS claims and operator tasks."""

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
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, e164_check, now_column, uuid_pk
from domain.conversations.messaging import MAX_BODY_CHARS
from domain.conversations.states import CONVERSATION_STATES, LIVE_STATE_PREDICATE, MESSAGE_STATUSES


class Conversation(Base):
    __tablename__ = "conv_conversations"
    __table_args__ = (
        CheckConstraint(f"state IN {CONVERSATION_STATES!r}", name="state"),
        CheckConstraint(e164_check("caller"), name="caller_e164"),
        # At most one live conversation per caller per tenant, enforced where races cannot get past it.
        Index(
            "uq_conv_conversations_live_caller",
            "tenant_id",
            "caller",
            unique=True,
            postgresql_where=text(LIVE_STATE_PREDICATE),
        ),
        # The staff inbox: a tenant's conversations (of one state, or all) by last activity.
        Index("ix_conv_conversations_inbox", "tenant_id", "state", "last_message_seq", "id"),
        Index("ix_conv_conversations_activity", "tenant_id", "last_message_seq", "id"),
        # A caller's conversations, live or not: the API's caller filter and the callers' retention rule.
        Index("ix_conv_conversations_caller", "tenant_id", "caller"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False, index=True)
    caller: Mapped[str] = mapped_column(Text, nullable=False)
    state: Mapped[str] = mapped_column(Text, nullable=False, server_default="open")
    human_lease_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    human_user_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    # The acknowledgement queued with the caller's own takeover: the one automated message the sender still sends.
    handoff_ack_message_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    engine_state: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, server_default="{}")
    opened_at: Mapped[datetime] = now_column()
    updated_at: Mapped[datetime] = now_column()
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The newest message's seq, kept by a trigger on conv_messages (migration 0010).
    last_message_seq: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    # The appointment the caller's next reply is about (a confirmation or reminder, a cancel asked once, the slots
    # offered for a reschedule): read before the engine, cleared when the exchange ends.
    appointment_context: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    # When a person last spoke with the caller on the phone (a re-call the business answered, a staff call back
    # through its Twilio number): after that, no automated follow-up nudges them.
    call_answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


# A caller's name as staff typed it or as caller ID said it: at most this many characters.
MAX_CALLER_NAME = 80
CALLER_NAME_SOURCES = ("staff", "caller_id")


class Caller(Base):
    """A caller's name, per tenant and number: typed by staff in the thread, or caller ID's (Twilio's ``CallerName``
    on an incoming call), which never replaces a name staff gave. Personal data: retention deletes the row once the
    caller has no conversation left and it was last named over 13 months ago (``db/retention.py``)."""

    __tablename__ = "conv_callers"
    __table_args__ = (
        CheckConstraint(e164_check("caller"), name="caller_e164"),
        CheckConstraint(f"char_length(name) BETWEEN 1 AND {MAX_CALLER_NAME}", name="name_length"),
        CheckConstraint(f"source IN {CALLER_NAME_SOURCES!r}", name="source"),
        Index("ix_conv_callers_updated_at", "updated_at"),  # retention's cutoff
        # The inbox's search by name: a piece of it (any case), or the start of a word in it (pg_trgm's index
        # answers both ILIKE '%maria%' and ILIKE 'ma%').
        Index("ix_conv_callers_name_trgm", "name", postgresql_using="gin", postgresql_ops={"name": "gin_trgm_ops"}),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    caller: Mapped[str] = mapped_column(Text, primary_key=True)
    name: Mapped[str] = mapped_column(Text, nullable=False)
    source: Mapped[str] = mapped_column(Text, nullable=False)
    # The member who typed it (None for caller ID).
    named_by: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    updated_at: Mapped[datetime] = now_column()


class Message(Base):
    __tablename__ = "conv_messages"
    __table_args__ = (
        CheckConstraint("direction IN ('in', 'out')", name="direction"),
        CheckConstraint(f"status IN {MESSAGE_STATUSES!r}", name="status"),
        CheckConstraint(e164_check("from_number"), name="from_e164"),
        CheckConstraint(e164_check("to_number"), name="to_e164"),
        CheckConstraint("segments >= 0", name="segments"),
        CheckConstraint(f"char_length(body) <= {MAX_BODY_CHARS}", name="body_length"),
        Index("ix_conv_messages_conversation_seq", "conversation_id", "seq"),
        Index(
            "ix_conv_messages_awaiting_status",
            "status",
            "queued_at",
            postgresql_where=text("status = 'queued'"),
        ),
        Index(
            "ix_conv_messages_deferred",
            "not_before",
            postgresql_where=text("status = 'pending' AND not_before IS NOT NULL"),
        ),
        # At most one follow-up per conversation: the index decides, not a check before the insert.
        Index(
            "ux_conv_messages_one_follow_up",
            "conversation_id",
            unique=True,
            postgresql_where=text("purpose = 'follow_up'"),
        ),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    # The true order of a thread: created_at is shared by a text and the reply written in the same delivery.
    seq: Mapped[int] = mapped_column(BigInteger, Identity(always=False), nullable=False, unique=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False, index=True)
    conversation_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("conv_conversations.id", ondelete="CASCADE")
    )
    direction: Mapped[str] = mapped_column(Text, nullable=False)
    purpose: Mapped[str | None] = mapped_column(Text)
    from_number: Mapped[str] = mapped_column(Text, nullable=False)
    to_number: Mapped[str] = mapped_column(Text, nullable=False)
    body: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text, nullable=False)
    provider_ref: Mapped[str | None] = mapped_column(Text, unique=True)
    error_code: Mapped[int | None] = mapped_column(Integer)
    preflight: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    segments: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    encoding: Mapped[str | None] = mapped_column(Text)
    reference_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    send_attempted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    queued_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    first_response_latency_ms: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = now_column()
    updated_at: Mapped[datetime] = now_column()
    body_purged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # A message deferred by quiet hours waits (still ``pending``) until then; the scheduler asks again for it.
    not_before: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class FirstResponseClaim(Base):
    """One first SMS per caller per tenant per window: claimed with one atomic upsert."""

    __tablename__ = "conv_first_response_claims"
    __table_args__ = (
        UniqueConstraint("tenant_id", "caller"),
        Index("ix_conv_first_response_claims_claimed_at", "claimed_at"),  # retention's 13-month cutoff
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    caller: Mapped[str] = mapped_column(Text, nullable=False)
    claimed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    call_sid: Mapped[str | None] = mapped_column(Text)


class FirstResponseGrace(Base):
    """A first SMS held for the tenant's callback grace period: sent when it ends, unless a callback came first.

    Open while ``decided_at`` is NULL (at most one per caller, by the partial unique index); whoever decides it first
    (the grace's end, or an answered call) wins one conditional UPDATE, so a callback arriving as the grace ends
    yields exactly one outcome. ``released_at`` is when the scheduler announced the grace's end."""

    __tablename__ = "conv_first_response_graces"
    __table_args__ = (
        CheckConstraint("decision IS NULL OR decision IN ('sent', 'withheld')", name="decision"),
        CheckConstraint("(decided_at IS NULL) = (decision IS NULL)", name="decided"),
        CheckConstraint("send_after >= missed_at", name="order"),
        Index(
            "uq_conv_first_response_graces_open_caller",
            "tenant_id",
            "caller",
            unique=True,
            postgresql_where=text("decided_at IS NULL"),
        ),
        Index(
            "ix_conv_first_response_graces_due",
            "send_after",
            postgresql_where=text("decided_at IS NULL AND released_at IS NULL"),
        ),
        Index("ix_conv_first_response_graces_created_at", "created_at"),  # retention's cutoff
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    conversation_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("conv_conversations.id", ondelete="CASCADE"), nullable=False, index=True
    )
    caller: Mapped[str] = mapped_column(Text, nullable=False)
    business_number: Mapped[str] = mapped_column(Text, nullable=False)
    call_sid: Mapped[str] = mapped_column(Text, nullable=False)
    missed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    send_after: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    released_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decision: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(Text)
    # The call that decided it (the answered re-call or the staff's call), when one did.
    deciding_call_sid: Mapped[str | None] = mapped_column(Text)
    # The chain of the missed call, which the deferred decision continues.
    correlation_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    causation_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    created_at: Mapped[datetime] = now_column()


class OperatorTask(Base):
    __tablename__ = "conv_operator_tasks"
    __table_args__ = (
        CheckConstraint("status IN ('open', 'done')", name="status"),
        Index("ix_conv_operator_tasks_open_conversation", "conversation_id", postgresql_where=text("status = 'open'")),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False, index=True)
    kind: Mapped[str] = mapped_column(Text, nullable=False)
    conversation_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    subject_ref: Mapped[str | None] = mapped_column(Text)
    note: Mapped[str] = mapped_column(Text, nullable=False)
    status: Mapped[str] = mapped_column(Text, nullable=False, server_default="open")
    created_at: Mapped[datetime] = now_column()
    done_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class MemberRead(Base):
    """How far a member has read a conversation: the staff inbox's unread marker."""

    __tablename__ = "conv_member_reads"

    user_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    conversation_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("conv_conversations.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    last_read_seq: Mapped[int] = mapped_column(BigInteger, nullable=False)
    read_at: Mapped[datetime] = now_column()


# A staff alert's code: one letter and two digits, none of them easy to misread (no I, O, S or Z; no 0 or 1).
ALERT_CODE_LETTERS = "ACDEFHJKMNPRTUVWXY"
ALERT_CODE_DIGITS = "23456789"
ALERT_CODE_PATTERN = f"^[{ALERT_CODE_LETTERS}][{ALERT_CODE_DIGITS}]{{2}}$"


class StaffAlert(Base):
    """An alert sent to the tenant's staff about one conversation, and the short code a member replies with.

    Open (``closed_at`` NULL) until it expires or its conversation is no longer live; the partial unique indexes make
    a code unique among the tenant's open alerts and give a conversation at most one open alert."""

    __tablename__ = "conv_staff_alerts"
    __table_args__ = (
        CheckConstraint(f"code ~ '{ALERT_CODE_PATTERN}'", name="code"),
        Index(
            "uq_conv_staff_alerts_open_code",
            "tenant_id",
            "code",
            unique=True,
            postgresql_where=text("closed_at IS NULL"),
        ),
        Index(
            "uq_conv_staff_alerts_open_conversation",
            "tenant_id",
            "conversation_id",
            unique=True,
            postgresql_where=text("closed_at IS NULL"),
        ),
        Index("ix_conv_staff_alerts_created_at", "created_at"),  # retention's cutoff
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    conversation_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("conv_conversations.id", ondelete="CASCADE"), nullable=False
    )
    code: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = now_column()
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
