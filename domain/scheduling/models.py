"""Scheduling tables (sched_*): resources, hours, calendars, holds, appointments and the external busy shadow.

Double-booking is impossible by construction: ``EXCLUDE USING gist (resource_id WITH =, timeslot WITH &&)`` on
booked appointments (and likewise on active holds). Python never decides "free" on its own.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, time

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    Text,
    Time,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import TSTZRANGE, UUID, ExcludeConstraint, Range
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, e164_check, now_column, uuid_pk


class Resource(Base):
    __tablename__ = "sched_resources"
    __table_args__ = (
        CheckConstraint("buffer_minutes BETWEEN 0 AND 240", name="buffer"),
        CheckConstraint("min_lead_minutes BETWEEN 0 AND 10080", name="lead"),
        CheckConstraint("slot_step_minutes BETWEEN 5 AND 240", name="step"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False, index=True)
    name: Mapped[str] = mapped_column(Text, nullable=False)
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="true")
    buffer_minutes: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    min_lead_minutes: Mapped[int] = mapped_column(Integer, nullable=False, server_default="60")
    slot_step_minutes: Mapped[int] = mapped_column(Integer, nullable=False, server_default="30")
    # IANA zone the working hours are written in (the tenant's zone; scheduling does not read identity's tables).
    timezone: Mapped[str] = mapped_column(Text, nullable=False, server_default="UTC")
    created_at: Mapped[datetime] = now_column()


class ResourceService(Base):
    """Which service items a resource can do (service items live in the catalog module: no cross-module FK)."""

    __tablename__ = "sched_resource_services"

    resource_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("sched_resources.id", ondelete="CASCADE"), primary_key=True
    )
    service_item_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)


class WorkingHours(Base):
    """A weekly shift in the tenant's local time; several per weekday make a split shift."""

    __tablename__ = "sched_working_hours"
    __table_args__ = (
        CheckConstraint("weekday BETWEEN 0 AND 6", name="weekday"),
        CheckConstraint("ends_local > starts_local", name="order"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    resource_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("sched_resources.id", ondelete="CASCADE"), nullable=False, index=True
    )
    weekday: Mapped[int] = mapped_column(SmallInteger, nullable=False)
    starts_local: Mapped[time] = mapped_column(Time, nullable=False)
    ends_local: Mapped[time] = mapped_column(Time, nullable=False)


class TimeOff(Base):
    """Days off and holidays, inclusive local dates; ``resource_id`` NULL means the whole business is closed."""

    __tablename__ = "sched_time_off"
    __table_args__ = (CheckConstraint("last_day >= first_day", name="order"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False, index=True)
    resource_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("sched_resources.id", ondelete="CASCADE")
    )
    first_day: Mapped[date] = mapped_column(Date, nullable=False)
    last_day: Mapped[date] = mapped_column(Date, nullable=False)
    reason: Mapped[str | None] = mapped_column(Text)


class DateHours(Base):
    """Hours for one local date that replace the weekly hours of its weekday (a Saturday opening, a short day before
    a holiday); several on a date make a split shift. A date off is time off, not an override."""

    __tablename__ = "sched_date_hours"
    __table_args__ = (
        CheckConstraint("ends_local > starts_local", name="order"),
        Index("ix_sched_date_hours_resource_day", "resource_id", "day"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    resource_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("sched_resources.id", ondelete="CASCADE"), nullable=False
    )
    day: Mapped[date] = mapped_column(Date, nullable=False)
    starts_local: Mapped[time] = mapped_column(Time, nullable=False)
    ends_local: Mapped[time] = mapped_column(Time, nullable=False)


class ResourceCalendar(Base):
    __tablename__ = "sched_calendars"
    __table_args__ = (CheckConstraint("provider IN ('google', 'jobber', 'internal')", name="provider"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    resource_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("sched_resources.id", ondelete="CASCADE"), nullable=False, index=True
    )
    provider: Mapped[str] = mapped_column(Text, nullable=False)
    external_ref: Mapped[str] = mapped_column(Text, nullable=False)
    channel_token: Mapped[str | None] = mapped_column(Text)
    # Google push channel id (X-Goog-Channel-ID); the webhook finds the calendar by it, then checks the token.
    channel_id: Mapped[str | None] = mapped_column(Text, unique=True)
    last_synced_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_sync_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_sync_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = now_column()


class CalendarCredential(Base):
    """The OAuth tokens that let us write to one resource calendar, encrypted at rest (Fernet, with
    ``CALENDAR_CREDENTIALS_KEY``); ``status`` turns ``invalid`` when the provider refuses them, until relinked."""

    __tablename__ = "sched_calendar_credentials"
    __table_args__ = (CheckConstraint("status IN ('active', 'invalid')", name="status"),)

    calendar_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("sched_calendars.id", ondelete="CASCADE"), primary_key=True
    )
    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False, index=True)
    access_token: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    refresh_token: Mapped[bytes | None] = mapped_column(LargeBinary)
    token_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Jobber: the job whose visits our appointments are (a visit belongs to a job).
    jobber_job_id: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text, nullable=False, server_default="active")
    problem: Mapped[str | None] = mapped_column(Text)
    linked_at: Mapped[datetime] = now_column()
    updated_at: Mapped[datetime] = now_column()


class WriteBack(Base):
    """One appointment as written to one external calendar: the provider's event (Google: our stable id, Jobber:
    the visit id it returned) and what was last written. ``state``: ``present`` (an event with ``starts_at`` /
    ``ends_at``), ``deleted``, ``conflict`` (the slot was taken there: an operator task is open), ``refused``
    (credentials refused: an operator task is open)."""

    __tablename__ = "sched_write_backs"
    __table_args__ = (
        CheckConstraint("state IN ('pending', 'present', 'deleted', 'conflict', 'refused')", name="state"),
        UniqueConstraint("appointment_id", "calendar_id"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False, index=True)
    appointment_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("sched_appointments.id", ondelete="CASCADE"), nullable=False
    )
    calendar_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("sched_calendars.id", ondelete="CASCADE"), nullable=False, index=True
    )
    provider: Mapped[str] = mapped_column(Text, nullable=False)
    external_id: Mapped[str | None] = mapped_column(Text)
    state: Mapped[str] = mapped_column(Text, nullable=False, server_default="pending")
    starts_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Committed before a create that returns an id we must keep (Jobber): a retry looks for the event first.
    create_attempted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # What the provider said when it was not written (a conflict, refused credentials): no caller data.
    problem: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = now_column()


class Hold(Base):
    __tablename__ = "sched_holds"
    __table_args__ = (
        CheckConstraint("status IN ('active', 'confirmed', 'released', 'expired')", name="status"),
        CheckConstraint("NOT isempty(timeslot)", name="timeslot_nonempty"),
        CheckConstraint(f"customer_phone IS NULL OR {e164_check('customer_phone')}", name="customer_phone_e164"),
        ExcludeConstraint(
            ("resource_id", "="),
            ("timeslot", "&&"),
            name="sched_holds_no_overlap",
            using="gist",
            where="status = 'active'",
        ),
        # Retention deletes finished holds after 13 months, in batches found through this.
        Index("ix_sched_holds_finished_created_at", "created_at", postgresql_where=text("status <> 'active'")),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False, index=True)
    resource_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("sched_resources.id", ondelete="CASCADE"), nullable=False
    )
    service_item_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    timeslot: Mapped[Range[datetime]] = mapped_column(TSTZRANGE, nullable=False)
    status: Mapped[str] = mapped_column(Text, nullable=False, server_default="active")
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    extensions: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    conversation_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    customer_phone: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = now_column()


class Appointment(Base):
    __tablename__ = "sched_appointments"
    __table_args__ = (
        CheckConstraint("status IN ('booked', 'cancelled')", name="status"),
        CheckConstraint("NOT isempty(timeslot)", name="timeslot_nonempty"),
        CheckConstraint(e164_check("customer_phone"), name="customer_phone_e164"),
        CheckConstraint("price_cents >= 0", name="price_cents"),
        CheckConstraint("currency ~ '^[A-Z]{3}$'", name="currency"),
        ExcludeConstraint(
            ("resource_id", "="),
            ("timeslot", "&&"),
            name="sched_appointments_no_overlap",
            using="gist",
            where="status = 'booked'",
        ),
        # The reminder job's range: booked appointments by start.
        Index(
            "ix_sched_appointments_booked_start", text("lower(timeslot)"), postgresql_where=text("status = 'booked'")
        ),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False, index=True)
    resource_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("sched_resources.id", ondelete="CASCADE"), nullable=False
    )
    service_item_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    timeslot: Mapped[Range[datetime]] = mapped_column(TSTZRANGE, nullable=False)
    status: Mapped[str] = mapped_column(Text, nullable=False, server_default="booked")
    customer_phone: Mapped[str] = mapped_column(Text, nullable=False)
    price_cents: Mapped[int] = mapped_column(Integer, nullable=False)
    currency: Mapped[str] = mapped_column(Text, nullable=False, server_default="USD")
    hold_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), unique=True)
    conversation_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    created_at: Mapped[datetime] = now_column()
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # When the current timeslot was set (booked or last moved): a reminder whose moment passed before it is not due.
    timeslot_set_at: Mapped[datetime] = now_column()
    # The caller confirmed by replying to a confirmation or reminder (shown to staff).
    confirmed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Reminder(Base):
    """One reminder of one appointment at one start time and offset: the unique key is what makes it once.

    A reschedule gives the appointment a new start, so its reminders are new rows and the old ones never become due;
    a cancelled appointment is never claimed. ``message_id`` is the conversations message that carries it.
    """

    __tablename__ = "sched_reminders"
    __table_args__ = (
        CheckConstraint("status IN ('due', 'void')", name="status"),
        CheckConstraint("offset_minutes BETWEEN 5 AND 10080", name="offset"),
        UniqueConstraint("appointment_id", "starts_at", "offset_minutes", name="uq_sched_reminders_once"),
        Index("ix_sched_reminders_message", "message_id"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False, index=True)
    appointment_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("sched_appointments.id", ondelete="CASCADE"), nullable=False
    )
    offset_minutes: Mapped[int] = mapped_column(Integer, nullable=False)
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    status: Mapped[str] = mapped_column(Text, nullable=False, server_default="due")
    message_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    claimed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class ExternalBusy(Base):
    """The shadow: busy blocks mirrored from Google/Jobber/internal calendars."""

    __tablename__ = "sched_external_busy"
    __table_args__ = (
        CheckConstraint("NOT isempty(timeslot)", name="timeslot_nonempty"),
        Index("ix_sched_external_busy_resource_timeslot", "resource_id", "timeslot", postgresql_using="gist"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    calendar_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("sched_calendars.id", ondelete="CASCADE"), nullable=False, index=True
    )
    resource_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False, index=True)
    timeslot: Mapped[Range[datetime]] = mapped_column(TSTZRANGE, nullable=False)
    all_day: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="false")
    external_ref: Mapped[str | None] = mapped_column(Text)
    synced_at: Mapped[datetime] = now_column()
