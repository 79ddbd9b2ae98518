"""The appointment lifecycle across modules: reminders from the appointment's current state, deferred messages asked
for again, the one follow-up, the texts that name an appointment, and quiet hours as the sender's ``SendWindow``.

The jobs run in the scheduler (``ops/jobs.py``). Each batch is one transaction: claiming reminders (scheduling's
unique key), writing their messages and appending ``OutboundMessageRequested`` commit together or not at all, so a
scheduler killed mid-batch leaves nothing claimed, and a restarted one cannot claim a reminder twice. From the outbox
on, a reminder is any other message: the sender's preflight, its send intent and the provider check before a
retry keep it to one text however often a worker dies.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session, sessionmaker

from domain.catalog import service as catalog
from domain.compliance import quiet_hours
from domain.conversations import lifecycle as conversations
from domain.conversations.ports import AppointmentBrief, AppointmentText, OfferedSlot, WindowVerdict
from domain.events.catalog import AppointmentReminderDue
from domain.events.sink import EventSink, RootSink
from domain.identity import lifecycle as settings
from domain.identity import service as identity
from domain.scheduling import queries, reminders
from domain.scheduling import service as scheduling
from domain.scheduling.errors import SchedulingError

# What is not an immediate reply to the caller waits for their allowed hours.
QUIET_PURPOSES = frozenset({"confirmation", "reminder", "follow_up"})
REPLY_INVITATION = "Reply C to confirm, R to reschedule or X to cancel."


@dataclass(frozen=True)
class AppointmentFacts:
    business: str
    number: str | None
    timezone: str
    service: str


def appointment_facts(
    session: Session, *, tenant_id: uuid.UUID, service_item_id: uuid.UUID, cache: dict[object, object] | None = None
) -> AppointmentFacts | None:
    cache = {} if cache is None else cache
    tenant = cache.get(tenant_id)
    if tenant is None:
        tenant = cache[tenant_id] = identity.get_tenant(session, tenant_id)
    if not isinstance(tenant, identity.TenantRecord):
        return None
    name = cache.get(service_item_id)
    if name is None:
        try:
            item = catalog.get_service_item(
                session, tenant_id=tenant_id, service_item_id=service_item_id, active_only=False
            )
            name = item.name
        except catalog.ServiceItemNotFound:
            name = "appointment"
        cache[service_item_id] = name
    return AppointmentFacts(tenant.name, tenant.phone_number, tenant.timezone, str(name))


def when_text(starts_at: datetime, timezone: str) -> str:
    """The start as the business's clock shows it, by date: a deferred text may arrive the next morning, when
    "tomorrow" would be wrong."""
    local = starts_at.astimezone(ZoneInfo(timezone))
    return f"{local.strftime('%A, %B')} {local.day} at {local.strftime('%I:%M %p').lstrip('0')}"


def reminder_text(facts: AppointmentFacts, starts_at: datetime, now: datetime) -> str:
    return (
        f"Reminder from {facts.business}: your {facts.service} is {when_text(starts_at, facts.timezone)}. "
        f"{REPLY_INVITATION}"
    )


def confirmation_text(facts: AppointmentFacts, starts_at: datetime, now: datetime, *, moved: bool) -> str:
    what = "is moved to" if moved else "is booked for"
    return f"{facts.business}: your {facts.service} {what} {when_text(starts_at, facts.timezone)}. {REPLY_INVITATION}"


def send_due_reminders(session: Session, *, now: datetime, limit: int = 500) -> int:
    """One batch: claim the reminders due now and request their messages, in the caller's transaction."""
    due = reminders.claim_due_reminders(
        session, now=now, offsets=settings.reminder_offsets_by_tenant(session), limit=limit
    )
    cache: dict[object, object] = {}
    for reminder in due:
        facts = appointment_facts(
            session, tenant_id=reminder.tenant_id, service_item_id=reminder.service_item_id, cache=cache
        )
        if facts is None or facts.number is None:
            continue
        sink = RootSink(session, tenant_id=reminder.tenant_id)
        queued = conversations.request_text(
            session,
            events=sink,
            tenant_id=reminder.tenant_id,
            caller=reminder.customer_phone,
            from_number=facts.number,
            body=reminder_text(facts, reminder.starts_at, now),
            purpose="reminder",
            context={"appointment_id": str(reminder.appointment_id), "stage": "reminded"},
        )
        reminders.attach_message(session, reminder.id, queued.message_id)
        sink.emit(
            AppointmentReminderDue(
                appointment_id=reminder.appointment_id,
                reminder_id=reminder.id,
                offset_minutes=reminder.offset_minutes,
                starts_at=reminder.starts_at,
                due_at=reminder.due_at,
                message_id=queued.message_id,
            ),
            occurred_at=now,
        )
    return len(due)


def run_in_batches(sessions: sessionmaker[Session], job: object, *, now: datetime, batches: int = 40) -> int:
    """Run ``job(session, now=…)`` batch after batch, each its own short transaction, until one finds nothing."""
    total = 0
    for _ in range(batches):
        with sessions() as session, session.begin():
            done = int(job(session, now=now))  # type: ignore[operator]
        total += done
        if done == 0:
            break
    return total


def release_deferred(session: Session, *, now: datetime, limit: int = 500) -> int:
    """Deferred messages whose time has come, asked for again; a reminder only if it still names the appointment's
    current start (it may have moved or been cancelled overnight)."""

    def still_wanted(tenant_id: uuid.UUID, message_id: uuid.UUID, purpose: str) -> bool:
        if purpose != "reminder":
            return True
        return reminders.reminder_still_current(session, tenant_id=tenant_id, message_id=message_id, now=now)

    return conversations.release_deferred(
        session,
        now=now,
        sink_for=lambda tenant_id: RootSink(session, tenant_id=tenant_id),
        still_wanted=still_wanted,
        limit=limit,
    )


def send_follow_ups(session: Session, *, now: datetime, limit: int = 200) -> int:
    """The one gentle follow-up for callers who never answered the first SMS, where the tenant turned it on; never
    to a caller who has booked since (an upcoming appointment)."""

    sent = 0
    cache: dict[object, object] = {}
    for candidate in conversations.follow_up_candidates(
        session, delays=settings.follow_up_delays(session), now=now, limit=limit
    ):
        if scheduling.upcoming_appointments(
            session, tenant_id=candidate.tenant_id, customer_phone=candidate.caller, now=now
        ):
            continue
        tenant = cache.get(candidate.tenant_id) or identity.get_tenant(session, candidate.tenant_id)
        cache[candidate.tenant_id] = tenant
        business = tenant.name if isinstance(tenant, identity.TenantRecord) else "us"
        body = f"Hi, it's {business} again. Still need a hand? Just reply here and we'll find you a time."
        sink = RootSink(session, tenant_id=candidate.tenant_id)
        if conversations.request_follow_up(session, candidate, body=body, events=sink) is not None:
            sent += 1
    return sent


class SendWindowAdapter:
    """Quiet hours for the sender: the rules in ``compliance/quiet_hours.py``, the place from the number, the
    tenant's zone when the number has none, and the tenant's choice for a first SMS in quiet hours."""

    counted_purposes = QUIET_PURPOSES

    def applies(self, session: Session, *, tenant_id: uuid.UUID, purpose: str, replying: bool) -> bool:
        if purpose == "first_response":
            chosen = settings.lifecycle_settings(session, tenant_id)
            return chosen is not None and chosen.first_sms_quiet_hours == "defer"
        if purpose == "confirmation":
            return not replying
        return purpose in QUIET_PURPOSES

    def assess(
        self, session: Session, *, tenant_id: uuid.UUID, to_number: str, now: datetime, recent: Sequence[datetime]
    ) -> WindowVerdict:
        tenant = identity.get_tenant(session, tenant_id)
        verdict = quiet_hours.assess(
            quiet_hours.whereabouts(to_number),
            now=now,
            recent=recent,
            fallback_zone=tenant.timezone if tenant is not None else "America/New_York",
        )
        return WindowVerdict(
            verdict.send_now, verdict.not_before, verdict.reason, verdict.rule_id, verdict.rule_version
        )


class AppointmentTextsAdapter:
    """The confirmation text, from the appointment as it is now (scheduling), the business (identity) and the
    service's name (catalog)."""

    def confirmation(
        self, session: Session, *, tenant_id: uuid.UUID, appointment_id: uuid.UUID, now: datetime, moved: bool
    ) -> AppointmentText | None:

        appointment = queries.find_appointment(session, tenant_id=tenant_id, appointment_id=appointment_id)
        if appointment is None or appointment.status != "booked":
            return None
        facts = appointment_facts(session, tenant_id=tenant_id, service_item_id=appointment.service_item_id)
        if facts is None or facts.number is None:
            return None
        return AppointmentText(
            to_number=appointment.customer_phone,
            from_number=facts.number,
            body=confirmation_text(facts, appointment.starts_at, now, moved=moved),
            starts_at=appointment.starts_at,
        )


class AppointmentRepliesAdapter:
    """What a caller's reply to a confirmation or reminder may do, through scheduling's own writes (the exclusion
    constraint still decides every slot) in the handler's transaction."""

    def __init__(self, hold_ttl_minutes: int) -> None:
        self._hold_ttl = hold_ttl_minutes

    def brief(
        self, session: Session, *, tenant_id: uuid.UUID, appointment_id: uuid.UUID, now: datetime
    ) -> AppointmentBrief | None:

        appointment = queries.find_appointment(session, tenant_id=tenant_id, appointment_id=appointment_id)
        if appointment is None:
            return None
        facts = appointment_facts(session, tenant_id=tenant_id, service_item_id=appointment.service_item_id)
        if facts is None:
            return None
        return AppointmentBrief(
            appointment_id,
            appointment.status == "booked" and appointment.ends_at > now,
            facts.service,
            when_text(appointment.starts_at, facts.timezone),
        )

    def confirm(
        self, session: Session, *, tenant_id: uuid.UUID, appointment_id: uuid.UUID, now: datetime, events: EventSink
    ) -> bool:
        confirmed = reminders.confirm_by_caller(
            session, tenant_id=tenant_id, appointment_id=appointment_id, now=now, events=events
        )
        return confirmed is not None

    def cancel(
        self, session: Session, *, tenant_id: uuid.UUID, appointment_id: uuid.UUID, now: datetime, events: EventSink
    ) -> bool:

        record = scheduling.cancel_appointment(
            session, tenant_id=tenant_id, appointment_id=appointment_id, reason="caller", now=now, events=events
        )
        return record.status == "cancelled"

    def open_slots(
        self, session: Session, *, tenant_id: uuid.UUID, appointment_id: uuid.UUID, now: datetime
    ) -> list[OfferedSlot]:

        appointment = queries.find_appointment(session, tenant_id=tenant_id, appointment_id=appointment_id)
        if appointment is None:
            return []
        facts = appointment_facts(session, tenant_id=tenant_id, service_item_id=appointment.service_item_id)
        timezone = facts.timezone if facts is not None else "UTC"
        minutes = int((appointment.ends_at - appointment.starts_at).total_seconds() // 60)
        slots = scheduling.find_slots(
            session,
            scheduling.SlotSearch(
                service_item_id=appointment.service_item_id,
                duration_minutes=minutes,
                window_start=now,
                window_end=now + timedelta(days=14),
                limit=12,
            ),
            tenant_id=tenant_id,
            now=now,
        )
        others = [slot for slot in slots if slot.starts_at != appointment.starts_at][:3]
        return [
            OfferedSlot(slot.resource_id, slot.starts_at, slot.ends_at, when_text(slot.starts_at, timezone))
            for slot in others
        ]

    def hold(
        self,
        session: Session,
        *,
        tenant_id: uuid.UUID,
        appointment_id: uuid.UUID,
        slot: OfferedSlot,
        caller: str,
        conversation_id: uuid.UUID,
        now: datetime,
        events: EventSink,
    ) -> uuid.UUID | None:

        appointment = queries.find_appointment(session, tenant_id=tenant_id, appointment_id=appointment_id)
        if appointment is None:
            return None
        try:
            held = scheduling.place_hold(
                session,
                scheduling.SlotRequest(
                    slot.resource_id, appointment.service_item_id, slot.starts_at, slot.ends_at, caller, conversation_id
                ),
                tenant_id=tenant_id,
                now=now,
                ttl_minutes=self._hold_ttl,
                events=events,
            )
        except SchedulingError:
            return None
        return held.id

    def move(
        self,
        session: Session,
        *,
        tenant_id: uuid.UUID,
        appointment_id: uuid.UUID,
        hold_id: uuid.UUID,
        now: datetime,
        events: EventSink,
    ) -> bool:

        hold = queries.find_hold(session, tenant_id=tenant_id, hold_id=hold_id)
        if hold is None or hold.status != "active" or hold.expires_at <= now:
            return False
        try:
            # One transaction: the hold gives way to the appointment it was for, which moves into the slot (its old
            # slot is free the moment the row moves); if the move is refused, the savepoint takes the release back.
            with session.begin_nested():
                scheduling.release_hold(
                    session, tenant_id=tenant_id, hold_id=hold_id, reason="rescheduled", now=now, events=events
                )
                scheduling.reschedule_appointment(
                    session,
                    scheduling.Reschedule(appointment_id, hold.starts_at, hold.ends_at, hold.resource_id),
                    tenant_id=tenant_id,
                    now=now,
                    events=events,
                )
        except SchedulingError:
            return False
        return True

    def release(
        self, session: Session, *, tenant_id: uuid.UUID, hold_id: uuid.UUID, now: datetime, events: EventSink
    ) -> None:

        scheduling.release_hold(
            session, tenant_id=tenant_id, hold_id=hold_id, reason="caller kept", now=now, events=events
        )
