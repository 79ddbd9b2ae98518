"""Adapters that fill the conversations module's ports with identity, compliance, catalog and scheduling.

This is where modules meet: each adapter calls another module's public service inside the handler's own
session, so whatever it changes (a hold, an opt-out) commits or rolls back with the handler.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlalchemy.orm import Session

from db.settings import Settings
from domain.catalog import service as catalog
from domain.catalog.service import ServiceItemNotFound
from domain.compliance import gate as compliance_gate
from domain.compliance import keywords as compliance_keywords
from domain.compliance import service as compliance
from domain.conversations.engine.ports import (
    AppointmentInfo,
    BookingResult,
    HoldInfo,
    HoldResult,
    ServiceOption,
    SlotOption,
    SlotPreference,
)
from domain.conversations.ports import (
    Accepted,
    PreflightDecision,
    SendFailed,
    SentEarlier,
    StaffMember,
    TenantProfile,
)
from domain.events.sink import EventSink
from domain.identity import service as identity
from domain.identity.models import Tenant
from domain.scheduling import service as scheduling
from domain.scheduling.availability import Preference, Slot
from domain.scheduling.errors import SchedulingError, SlotUnavailable
from workers.adapters.twilio_gateway import ProviderError, TwilioGateway

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
PART_OF_DAY = {"morning": (None, time(12)), "afternoon": (time(12), time(17)), "evening": (time(17), None)}
SEARCH_HORIZON = timedelta(days=21)


def _working_now(session: Session, tenant_id: uuid.UUID, local: datetime) -> bool:
    return (
        session.execute(
            text(
                "SELECT 1 FROM sched_working_hours WHERE tenant_id = :tenant AND weekday = :weekday"
                " AND starts_local <= :at AND ends_local > :at LIMIT 1"
            ),
            {"tenant": tenant_id, "weekday": local.weekday(), "at": local.time()},
        ).first()
        is not None
    )


def hours_text(session: Session, tenant_id: uuid.UUID) -> str:
    rows = session.execute(
        text(
            "SELECT weekday, min(starts_local) AS opens, max(ends_local) AS closes FROM sched_working_hours"
            " WHERE tenant_id = :tenant GROUP BY weekday ORDER BY weekday"
        ),
        {"tenant": tenant_id},
    ).all()
    if not rows:
        return "by appointment"
    parts = [f"{WEEKDAYS[row.weekday]} {_clock(row.opens)}–{_clock(row.closes)}" for row in rows]
    return ", ".join(parts)


def _clock(value: time) -> str:
    hour = value.hour % 12 or 12
    suffix = "am" if value.hour < 12 else "pm"
    return f"{hour}{suffix}" if value.minute == 0 else f"{hour}:{value.minute:02d}{suffix}"


class TenantDirectoryAdapter:
    def profile(self, session: Session, tenant_id: uuid.UUID, now: datetime) -> TenantProfile | None:
        record = identity.get_tenant(session, tenant_id)
        tenant = session.get(Tenant, tenant_id)
        if record is None or tenant is None or record.phone_number is None:
            return None
        local = now.astimezone(ZoneInfo(record.timezone))
        return TenantProfile(
            id=tenant_id,
            name=record.name,
            timezone=record.timezone,
            number=record.phone_number,
            owner_mobile=tenant.owner_mobile,
            first_message_template=tenant.first_message_template,
            after_hours_template=tenant.after_hours_template,
            help_text=tenant.help_text,
            open_now=_working_now(session, tenant_id, local),
            staff=tuple(
                StaffMember(phone=staff.phone, role=staff.role, user_id=staff.user_id, name=staff.name)
                for staff in identity.staff_numbers(session, tenant_id)
            ),
        )


class SendGateAdapter:
    """The one send preflight: compliance facts plus the tenant's feature gates."""

    def check(
        self, session: Session, *, tenant_id: uuid.UUID, to_number: str, conversation_state: str | None, purpose: str
    ) -> PreflightDecision:
        return compliance_gate.check_outbound(
            session,
            tenant_id=tenant_id,
            to_number=to_number,
            conversation_state=conversation_state,
            feature_gates=identity.feature_gates_for(session, tenant_id),
            purpose=purpose,
        )


class GatedSmsSender:
    """The only holder of the Twilio gateway in a handler's reach; nothing leaves without the gate's Decision."""

    def __init__(self, gateway: TwilioGateway, settings: Settings) -> None:
        self._gateway = gateway
        self._status_callback = f"{settings.public_base_url}/webhooks/twilio/sms/status"

    def send(self, decision: PreflightDecision, *, tenant_id: uuid.UUID, to: str, from_: str, body: str) -> Accepted:
        compliance_gate.require_allowed(decision, tenant_id=tenant_id, to_number=to)
        try:
            sent = self._gateway.send(to=to, from_=from_, body=body, status_callback=self._status_callback)
        except ProviderError as error:
            raise SendFailed(error.code, str(error), retryable=error.retryable, opted_out=error.opted_out) from error
        return Accepted(sid=sent.sid, status=sent.status, num_segments=sent.num_segments)

    def find_sent(self, *, to: str, from_: str, body: str, since: datetime) -> SentEarlier | None:
        # No DateSent filter: a message still queued at the provider has no date_sent yet.
        try:
            messages = self._gateway.list_messages(to=to, from_=from_)
        except ProviderError as error:
            raise SendFailed(error.code, str(error), retryable=True) from error
        for message in messages:
            created = message.date_created
            if message.body == body and (created is None or created >= since - timedelta(seconds=1)):
                return SentEarlier(sid=message.sid, status=message.status)
        return None

    def list_sent(self, *, from_: str, since: datetime) -> list[tuple[str, str, int | None]]:
        try:
            messages = self._gateway.list_messages(from_=from_)
        except ProviderError as error:
            raise SendFailed(error.code, str(error), retryable=True) from error
        return [
            (m.sid, m.status, m.error_code)
            for m in messages
            if (m.direction or "").startswith("outbound") and (m.date_created is None or m.date_created >= since)
        ]

    def fetch_status(self, sid: str) -> tuple[str, int | None]:
        try:
            message = self._gateway.fetch(sid)
        except ProviderError as error:
            raise SendFailed(error.code, str(error), retryable=error.retryable) from error
        return message.status, message.error_code


class InboundKeywordsAdapter:
    def classify(self, body: str) -> str:
        return compliance_keywords.classify_inbound(body)

    def is_opted_out(self, session: Session, *, tenant_id: uuid.UUID, phone: str, at: datetime | None = None) -> bool:
        return compliance.is_opted_out(session, tenant_id=tenant_id, phone=phone, at=at)

    def record_provider_opt_out(
        self, session: Session, *, tenant_id: uuid.UUID, phone: str, message_ref: str, events: EventSink
    ) -> None:
        compliance.record_opt_out(
            session,
            tenant_id=tenant_id,
            phone=phone,
            source="provider_21610",
            keyword=None,
            message_ref=message_ref,
            events=events,
        )


class AppointmentsAdapter:
    def has_upcoming(self, session: Session, *, tenant_id: uuid.UUID, phone: str, now: datetime) -> bool:
        return bool(scheduling.upcoming_appointments(session, tenant_id=tenant_id, customer_phone=phone, now=now))


def _slot(slot: Slot) -> SlotOption:
    return SlotOption(resource_id=slot.resource_id, starts_at=slot.starts_at, ends_at=slot.ends_at)


class BookingToolsAdapter:
    """The engine's BookingTools for one conversation, over the catalog and scheduling services."""

    def __init__(
        self,
        session: Session,
        *,
        settings: Settings,
        tenant_id: uuid.UUID,
        caller: str,
        conversation_id: uuid.UUID,
        timezone: str,
        now: datetime,
        events: EventSink,
    ) -> None:
        self._session = session
        # The handler's sink: a hold or booking made for this turn names the caller's message as its cause.
        self._events = events
        self._settings = settings
        self._tenant_id = tenant_id
        self._caller = caller
        self._conversation_id = conversation_id
        self._zone = ZoneInfo(timezone)
        self._now = now

    def _option(self, candidate: catalog.Candidate) -> ServiceOption:
        return ServiceOption(
            id=candidate.service_item_id,
            name=candidate.name,
            duration_minutes=candidate.duration_minutes,
            price_cents=candidate.price_cents,
            currency=candidate.currency,
            confidence=candidate.confidence,
        )

    def match_services(self, text: str) -> list[ServiceOption]:
        return [self._option(c) for c in catalog.match_services(self._session, tenant_id=self._tenant_id, text=text)]

    def list_services(self) -> list[ServiceOption]:
        return [
            ServiceOption(item.id, item.name, item.duration_minutes, item.price_cents, item.currency, 1.0)
            for item in catalog.list_service_items(self._session, tenant_id=self._tenant_id, active_only=True)
        ]

    def _item(self, service_id: uuid.UUID) -> catalog.ServiceItem:
        return catalog.get_service_item(self._session, tenant_id=self._tenant_id, service_item_id=service_id)

    def find_slots(self, service_id: uuid.UUID, preference: SlotPreference, limit: int = 3) -> list[SlotOption]:
        try:
            item = self._item(service_id)
        except ServiceItemNotFound:
            return []
        start = max(self._now, preference.earliest or self._now)
        end = preference.latest or start + SEARCH_HORIZON
        earliest_local, latest_local = PART_OF_DAY.get(preference.part_of_day or "", (None, None))
        wish = Preference(
            earliest_local=earliest_local,
            latest_local=latest_local,
            weekdays=None if preference.weekday is None else frozenset({preference.weekday}),
        )
        slots = scheduling.find_slots(
            self._session,
            tenant_id=self._tenant_id,
            service_item_id=service_id,
            duration_minutes=item.duration_minutes,
            window_start=start,
            window_end=end,
            now=self._now,
            preference=wish,
            limit=limit,
        )
        return [_slot(slot) for slot in slots]

    def place_hold(self, service_id: uuid.UUID, slot: SlotOption) -> HoldResult:
        # One hold per conversation: a caller who changes their mind frees the slot they held before.
        earlier = self._session.execute(
            text(
                "SELECT id FROM sched_holds WHERE tenant_id = :tenant AND conversation_id = :conversation"
                " AND status = 'active'"
            ),
            {"tenant": self._tenant_id, "conversation": self._conversation_id},
        ).scalars()
        for hold_id in list(earlier):
            scheduling.release_hold(
                self._session,
                tenant_id=self._tenant_id,
                hold_id=hold_id,
                reason="caller chose another slot",
                events=self._events,
                now=self._now,
            )
        try:
            hold = scheduling.place_hold(
                self._session,
                tenant_id=self._tenant_id,
                resource_id=slot.resource_id,
                service_item_id=service_id,
                starts_at=slot.starts_at,
                ends_at=slot.ends_at,
                now=self._now,
                ttl_minutes=self._settings.hold_ttl_minutes,
                conversation_id=self._conversation_id,
                customer_phone=self._caller,
                events=self._events,
            )
        except SlotUnavailable as error:
            return HoldResult(alternatives=tuple(_slot(s) for s in error.alternatives))
        return HoldResult(hold=HoldInfo(id=hold.id, slot=slot, expires_at=hold.expires_at))

    def confirm_hold(self, hold_id: uuid.UUID) -> BookingResult:
        service_id = self._session.execute(
            text("SELECT service_item_id FROM sched_holds WHERE id = :id AND tenant_id = :tenant"),
            {"id": hold_id, "tenant": self._tenant_id},
        ).scalar_one_or_none()
        if service_id is None:
            return BookingResult()
        item = catalog.get_service_item(
            self._session, tenant_id=self._tenant_id, service_item_id=service_id, active_only=False
        )
        try:
            appointment = scheduling.confirm_hold(
                self._session,
                tenant_id=self._tenant_id,
                hold_id=hold_id,
                price_cents=item.price_cents,
                currency=item.currency,
                now=self._now,
                customer_phone=self._caller,
                events=self._events,
            )
        except SlotUnavailable as error:
            return BookingResult(alternatives=tuple(_slot(s) for s in error.alternatives))
        except SchedulingError:
            return BookingResult()
        starts_at, ends_at = scheduling.slot_bounds(appointment)
        return BookingResult(
            appointment=AppointmentInfo(
                id=appointment.id,
                service_id=item.id,
                service_name=item.name,
                slot=SlotOption(appointment.resource_id, starts_at, ends_at),
            )
        )

    def upcoming_appointment(self) -> AppointmentInfo | None:
        booked = scheduling.upcoming_appointments(
            self._session, tenant_id=self._tenant_id, customer_phone=self._caller, now=self._now
        )
        if not booked:
            return None
        appointment = booked[0]
        item = catalog.get_service_item(
            self._session, tenant_id=self._tenant_id, service_item_id=appointment.service_item_id, active_only=False
        )
        starts_at, ends_at = scheduling.slot_bounds(appointment)
        return AppointmentInfo(
            id=appointment.id,
            service_id=item.id,
            service_name=item.name,
            slot=SlotOption(appointment.resource_id, starts_at, ends_at),
        )

    def cancel_appointment(self, appointment_id: uuid.UUID) -> bool:
        try:
            scheduling.cancel_appointment(
                self._session,
                tenant_id=self._tenant_id,
                appointment_id=appointment_id,
                reason="cancelled by caller over SMS",
                events=self._events,
                now=self._now,
            )
        except SchedulingError:
            return False
        return True

    def is_open_now(self) -> bool:
        return _working_now(self._session, self._tenant_id, self._now.astimezone(self._zone))

    def hours_text(self) -> str:
        return hours_text(self._session, self._tenant_id)


class BookingToolsFactory:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    def __call__(
        self,
        session: Session,
        *,
        tenant_id: uuid.UUID,
        caller: str,
        conversation_id: uuid.UUID,
        timezone: str,
        now: datetime,
        events: EventSink,
    ) -> BookingToolsAdapter:
        return BookingToolsAdapter(
            session,
            settings=self._settings,
            tenant_id=tenant_id,
            caller=caller,
            conversation_id=conversation_id,
            timezone=timezone,
            now=now.astimezone(UTC),
            events=events,
        )
