"""The conversation engine's ``BookingTools`` for one conversation, over the catalog and scheduling modules.

Each tool runs inside the handler's own session and raises its events into the handler's sink, so a hold or a
booking made during a turn commits with that turn and names the caller's message as its cause.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from db.settings import Settings
from domain.catalog import service as catalog
from domain.catalog.service import ServiceItemNotFound
from domain.composition.bookings import confirm_hold_at_catalog_price
from domain.composition.tenant_profile import hours_text, is_open_at
from domain.conversations.engine.ports import (
    AppointmentInfo,
    BookingResult,
    HoldInfo,
    HoldResult,
    ServiceOption,
    SlotOption,
    SlotPreference,
)
from domain.events.sink import EventSink
from domain.scheduling import queries
from domain.scheduling import service as scheduling
from domain.scheduling.availability import Preference, Slot
from domain.scheduling.errors import SchedulingError, SlotUnavailable
from domain.scheduling.records import SlotRequest

PART_OF_DAY = {"morning": (None, time(12)), "afternoon": (time(12), time(17)), "evening": (time(17), None)}
SEARCH_HORIZON = timedelta(days=21)


def _slot(slot: Slot) -> SlotOption:
    return SlotOption(resource_id=slot.resource_id, starts_at=slot.starts_at, ends_at=slot.ends_at)


class BookingToolsAdapter:
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
        self._events = events
        self._settings = settings
        self._tenant_id = tenant_id
        self._caller = caller
        self._conversation_id = conversation_id
        self._zone = ZoneInfo(timezone)
        self._now = now
        self._menu: catalog.Menu | None = None

    def _active_menu(self) -> catalog.Menu:
        # A turn lists, matches and quotes the catalog several times; it reads it once (in the turn's transaction).
        if self._menu is None:
            self._menu = catalog.active_menu(self._session, tenant_id=self._tenant_id)
        return self._menu

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
        return [self._option(c) for c in self._active_menu().match(text)]

    def list_services(self) -> list[ServiceOption]:
        return [
            ServiceOption(item.id, item.name, item.duration_minutes, item.price_cents, item.currency, 1.0)
            for item in self._active_menu().items
        ]

    def find_slots(self, service_id: uuid.UUID, preference: SlotPreference, limit: int = 3) -> list[SlotOption]:
        try:
            item = self._active_menu().item(service_id)
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
            scheduling.SlotSearch(
                service_item_id=service_id,
                duration_minutes=item.duration_minutes,
                window_start=start,
                window_end=end,
                preference=wish,
                limit=limit,
            ),
            tenant_id=self._tenant_id,
            now=self._now,
        )
        return [_slot(slot) for slot in slots]

    def place_hold(self, service_id: uuid.UUID, slot: SlotOption) -> HoldResult:
        # One hold per conversation: a caller who changes their mind frees the slot they held before.
        earlier = queries.active_hold_ids_for_conversation(
            self._session, tenant_id=self._tenant_id, conversation_id=self._conversation_id
        )
        for hold_id in earlier:
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
                SlotRequest(
                    slot.resource_id,
                    service_id,
                    slot.starts_at,
                    slot.ends_at,
                    customer_phone=self._caller,
                    conversation_id=self._conversation_id,
                ),
                tenant_id=self._tenant_id,
                now=self._now,
                ttl_minutes=self._settings.hold_ttl_minutes,
                events=self._events,
            )
        except SlotUnavailable as error:
            return HoldResult(alternatives=tuple(_slot(s) for s in error.alternatives))
        return HoldResult(hold=HoldInfo(id=hold.id, slot=slot, expires_at=hold.expires_at))

    def confirm_hold(self, hold_id: uuid.UUID) -> BookingResult:
        try:
            booked = confirm_hold_at_catalog_price(
                self._session,
                events=self._events,
                tenant_id=self._tenant_id,
                hold_id=hold_id,
                now=self._now,
                customer_phone=self._caller,
            )
        except SlotUnavailable as error:
            return BookingResult(alternatives=tuple(_slot(s) for s in error.alternatives))
        except SchedulingError:  # the hold is gone, or the slot can no longer be booked
            return BookingResult()
        appointment = booked.appointment
        return BookingResult(
            appointment=AppointmentInfo(
                id=appointment.id,
                service_id=appointment.service_item_id,
                service_name=booked.service_name,
                slot=SlotOption(appointment.resource_id, appointment.starts_at, appointment.ends_at),
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
        return AppointmentInfo(
            id=appointment.id,
            service_id=item.id,
            service_name=item.name,
            slot=SlotOption(appointment.resource_id, appointment.starts_at, appointment.ends_at),
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
        return is_open_at(self._session, self._tenant_id, self._now.astimezone(self._zone))

    def hours_text(self) -> str:
        return hours_text(self._session, self._tenant_id)


class BookingToolsFactory:
    """Makes the tools for one conversation turn; the worker bootstrap hands it to the conversation handlers."""

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
