"""A BookingTools wrapper that records every result the tools return during one turn, for the guard."""

from __future__ import annotations

from uuid import UUID

from domain.conversations.engine.ports import (
    AppointmentFound,
    AppointmentInfo,
    BookingAttempt,
    BookingResult,
    BookingTools,
    Cancellation,
    DomainResult,
    HoldAttempt,
    HoldResult,
    HoursGiven,
    Quoted,
    ServiceOption,
    SlotOption,
    SlotPreference,
    SlotsFound,
)


class RecordingTools:
    """Passes every call through to the real tools and keeps what came back, in order."""

    def __init__(self, inner: BookingTools) -> None:
        self._inner = inner
        self.results: list[DomainResult] = []

    def match_services(self, text: str) -> list[ServiceOption]:
        options = list(self._inner.match_services(text))
        if options:
            self.results.append(Quoted(tuple(options)))
        return options

    def list_services(self) -> list[ServiceOption]:
        options = list(self._inner.list_services())
        if options:
            self.results.append(Quoted(tuple(options)))
        return options

    def find_slots(self, service_id: UUID, preference: SlotPreference, limit: int = 3) -> list[SlotOption]:
        slots = list(self._inner.find_slots(service_id, preference, limit))
        self.results.append(SlotsFound(tuple(slots)))
        return slots

    def place_hold(self, service_id: UUID, slot: SlotOption) -> HoldResult:
        result = self._inner.place_hold(service_id, slot)
        self.results.append(HoldAttempt(service_id, slot, result))
        return result

    def confirm_hold(self, hold_id: UUID) -> BookingResult:
        result = self._inner.confirm_hold(hold_id)
        self.results.append(BookingAttempt(hold_id, result))
        return result

    def upcoming_appointment(self) -> AppointmentInfo | None:
        appointment = self._inner.upcoming_appointment()
        self.results.append(AppointmentFound(appointment))
        return appointment

    def cancel_appointment(self, appointment_id: UUID) -> bool:
        cancelled = self._inner.cancel_appointment(appointment_id)
        self.results.append(Cancellation(appointment_id, cancelled))
        return cancelled

    def is_open_now(self) -> bool:
        open_now = self._inner.is_open_now()
        self.results.append(HoursGiven("", open_now))
        return open_now

    def hours_text(self) -> str:
        text = self._inner.hours_text()
        self.results.append(HoursGiven(text))
        return text
