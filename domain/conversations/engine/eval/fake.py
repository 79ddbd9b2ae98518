"""An in-memory implementation of the engine's BookingTools port, realistic enough to hold engines to account.

The one fake of the port: the evaluation suite (``nmc eval conversations``) drives engines against it, and so do the
engine's unit tests.

A :class:`Business` owns the catalog, resources, working hours, holds and appointments; :meth:`Business.tools_for`
gives the port as one caller sees it at one moment. Holds expire after the TTL, an expired hold never blocks anyone,
two holds or appointments never overlap on one resource, and a taken slot comes back with open alternatives.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from rapidfuzz.distance import DamerauLevenshtein

from domain.conversations.engine.ports import (
    AppointmentInfo,
    BookingResult,
    ConversationEngine,
    HoldInfo,
    HoldResult,
    ServiceOption,
    SlotOption,
    SlotPreference,
    Turn,
    TurnResult,
)

PARTS = {"morning": (0, 12), "afternoon": (12, 17), "evening": (17, 24)}


@dataclass
class Service:
    name: str
    price_cents: int
    duration_minutes: int = 60
    aliases: tuple[str, ...] = ()
    active: bool = True
    id: UUID = field(default_factory=uuid.uuid4)

    def option(self, confidence: float = 1.0) -> ServiceOption:
        return ServiceOption(self.id, self.name, self.duration_minutes, self.price_cents, "USD", confidence)


@dataclass
class Hold:
    id: UUID
    caller: str
    service_id: UUID
    slot: SlotOption
    expires_at: datetime


@dataclass
class Appointment:
    id: UUID
    caller: str
    service_id: UUID
    slot: SlotOption


def _overlaps(a: SlotOption, b: SlotOption) -> bool:
    return a.resource_id == b.resource_id and a.starts_at < b.ends_at and b.starts_at < a.ends_at


def _word_similarity(word: str, target: str) -> float:
    if word == target:
        return 1.0
    if len(target) < 5 or len(word) < 4:
        return 0.0
    similarity = DamerauLevenshtein.normalized_similarity(word, target)
    return similarity if similarity >= 0.8 else 0.0


def demo_services() -> list[Service]:
    return [
        Service("Drain cleaning", 14900, 60, ("drain", "clog", "clogged", "sink", "slow drain", "unclog")),
        Service("Water heater repair", 28950, 120, ("water heater", "hot water", "heater")),
        Service("Furnace tune-up", 9900, 60, ("tune up", "tuneup", "furnace", "heat", "heating", "no heat")),
        Service("Emergency leak repair", 19900, 60, ("leak", "leaking", "burst pipe", "flood", "water everywhere")),
        Service("Toilet repair", 12950, 60, ("toilet", "running toilet")),
        Service("Faucet repair", 11900, 60, ("dripping faucet", "leaky faucet", "dripping tap")),
        Service("Faucet install", 18950, 60, ("new faucet", "install faucet", "replace faucet")),
        Service("Sewer line inspection", 34900, 90, ("sewer", "camera inspection"), active=False),
    ]


class Business:
    """One tenant's calendar: by default Mon-Fri 8:00-17:00 and Sat 9:00-13:00 local, hourly slots, two
    technicians; ``hours`` maps a weekday (0 = Monday) to its (opening, closing) hour."""

    def __init__(
        self,
        tz: str = "America/New_York",
        services: list[Service] | None = None,
        resources: int = 2,
        hold_ttl: timedelta = timedelta(minutes=15),
        hours: dict[int, tuple[int, int]] | None = None,
    ) -> None:
        self.tz = tz
        self.zone = ZoneInfo(tz)
        self.services = services if services is not None else demo_services()
        self.resources = [uuid.UUID(int=index + 1) for index in range(resources)]
        self.hold_ttl = hold_ttl
        self.hours: dict[int, tuple[int, int]] = (
            dict(hours) if hours is not None else dict.fromkeys(range(5), (8, 17)) | {5: (9, 13)}
        )
        self.holds: dict[UUID, Hold] = {}
        self.appointments: dict[UUID, Appointment] = {}
        self.calls: list[str] = []

    def hours_text(self) -> str:
        """``Mon-Fri 8:00 AM-5:00 PM and Sat 9:00 AM-1:00 PM``: runs of weekdays with the same opening hours."""
        names = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
        runs: list[tuple[int, int, tuple[int, int]]] = []
        for day in range(7):
            opening = self.hours.get(day)
            if opening is None:
                continue
            if runs and runs[-1][1] == day - 1 and runs[-1][2] == opening:
                runs[-1] = (runs[-1][0], day, opening)
            else:
                runs.append((day, day, opening))

        def hour(value: int) -> str:
            return f"{value % 12 or 12}:00 {'AM' if value < 12 else 'PM'}"

        parts = [
            (names[first] if first == last else f"{names[first]}-{names[last]}") + f" {hour(o)}-{hour(c)}"
            for first, last, (o, c) in runs
        ]
        return " and ".join([", ".join(parts[:-1]), parts[-1]]) if len(parts) > 1 else "".join(parts)

    def tools_for(self, caller: str, now: datetime) -> MemoryBookingTools:
        return MemoryBookingTools(self, caller, now)

    def service(self, name: str) -> Service:
        return next(service for service in self.services if service.name == name)

    def busy(self, slot: SlotOption, now: datetime, ignore_hold: UUID | None = None) -> bool:
        if any(_overlaps(slot, appointment.slot) for appointment in self.appointments.values()):
            return True
        return any(
            hold.id != ignore_hold and hold.expires_at > now and _overlaps(slot, hold.slot)
            for hold in self.holds.values()
        )

    def book_directly(self, caller: str, service: Service, starts_at: datetime, resource: int = 0) -> Appointment:
        slot = SlotOption(self.resources[resource], starts_at, starts_at + timedelta(minutes=service.duration_minutes))
        assert not any(_overlaps(slot, a.slot) for a in self.appointments.values())
        appointment = Appointment(uuid.uuid4(), caller, service.id, slot)
        self.appointments[appointment.id] = appointment
        return appointment

    def appointments_of(self, caller: str) -> list[Appointment]:
        return sorted((a for a in self.appointments.values() if a.caller == caller), key=lambda a: a.slot.starts_at)


class MemoryBookingTools:
    def __init__(self, business: Business, caller: str, now: datetime) -> None:
        self.business = business
        self.caller = caller
        self.now = now

    # catalog

    def list_services(self) -> list[ServiceOption]:
        self.business.calls.append("list_services")
        return [service.option() for service in self.business.services if service.active]

    def match_services(self, text: str) -> list[ServiceOption]:
        """Word-level matching with typo tolerance, like a trigram search over names and aliases would rank."""
        self.business.calls.append("match_services")
        words = re.findall(r"[a-z0-9]+", text.lower())
        scored = []
        for service in self.business.services:
            if not service.active:
                continue
            best = 0.0
            for phrase in (service.name.lower(), *service.aliases):
                # Words under three letters ("up", "a") carry no meaning of their own.
                all_words = re.findall(r"[a-z0-9]+", phrase)
                # ... unless the phrase has nothing else ("ac", "a/c"), which then must be said exactly.
                targets = [target for target in all_words if len(target) >= 3] or all_words
                similarity = [max((_word_similarity(w, target) for w in words), default=0.0) for target in targets]
                best = max(best, sum(similarity) / len(targets))
            if best >= 0.3:
                scored.append(service.option(round(best, 3)))
        return sorted(scored, key=lambda option: -option.confidence)

    # scheduling

    def _service(self, service_id: UUID) -> Service | None:
        return next((s for s in self.business.services if s.id == service_id and s.active), None)

    def find_slots(self, service_id: UUID, preference: SlotPreference, limit: int = 3) -> list[SlotOption]:
        self.business.calls.append("find_slots")
        service = self._service(service_id)
        if service is None:
            return []
        zone = self.business.zone
        earliest = max(preference.earliest or self.now, self.now)
        latest = preference.latest or earliest + timedelta(days=14)
        found: list[SlotOption] = []
        day: date = earliest.astimezone(zone).date()
        while len(found) < limit and datetime.combine(day, time(0), tzinfo=zone) < latest:
            opening = self.business.hours.get(day.weekday())
            if opening and (preference.weekday is None or preference.weekday == day.weekday()):
                for hour in range(opening[0], opening[1]):
                    start = datetime.combine(day, time(hour), tzinfo=zone).astimezone(UTC)
                    end = start + timedelta(minutes=service.duration_minutes)
                    if end.astimezone(zone) > datetime.combine(day, time(opening[1]), tzinfo=zone):
                        break
                    if not (earliest <= start < latest and start > self.now):
                        continue
                    if preference.part_of_day is not None:
                        first, last = PARTS[preference.part_of_day]
                        if not first <= hour < last:
                            continue
                    for resource in self.business.resources:
                        slot = SlotOption(resource, start, end)
                        if not self.business.busy(slot, self.now):
                            found.append(slot)
                            break
                    if len(found) >= limit:
                        break
            day += timedelta(days=1)
        return found

    def _alternatives(self, service_id: UUID, near: datetime) -> tuple[SlotOption, ...]:
        return tuple(self.find_slots(service_id, SlotPreference(earliest=max(near, self.now)), 3))

    def place_hold(self, service_id: UUID, slot: SlotOption) -> HoldResult:
        self.business.calls.append("place_hold")
        if self._service(service_id) is None:
            return HoldResult()
        # One live hold per caller: a new pick releases the previous one.
        for hold in [h for h in self.business.holds.values() if h.caller == self.caller]:
            del self.business.holds[hold.id]
        if slot.starts_at < self.now or self.business.busy(slot, self.now):
            return HoldResult(alternatives=self._alternatives(service_id, slot.starts_at))
        hold = Hold(uuid.uuid4(), self.caller, service_id, slot, self.now + self.business.hold_ttl)
        self.business.holds[hold.id] = hold
        return HoldResult(hold=HoldInfo(hold.id, slot, hold.expires_at))

    def confirm_hold(self, hold_id: UUID) -> BookingResult:
        self.business.calls.append("confirm_hold")
        hold = self.business.holds.get(hold_id)
        if hold is None or hold.caller != self.caller:
            return BookingResult()
        del self.business.holds[hold_id]
        # An expired hold still books when nobody else took the time meanwhile.
        if self.business.busy(hold.slot, self.now):
            return BookingResult(alternatives=self._alternatives(hold.service_id, hold.slot.starts_at))
        appointment = Appointment(uuid.uuid4(), self.caller, hold.service_id, hold.slot)
        self.business.appointments[appointment.id] = appointment
        return BookingResult(appointment=self._info(appointment))

    def _info(self, appointment: Appointment) -> AppointmentInfo:
        service = next(s for s in self.business.services if s.id == appointment.service_id)
        return AppointmentInfo(appointment.id, service.id, service.name, appointment.slot)

    def upcoming_appointment(self) -> AppointmentInfo | None:
        self.business.calls.append("upcoming_appointment")
        mine = [a for a in self.business.appointments_of(self.caller) if a.slot.starts_at >= self.now]
        return self._info(mine[0]) if mine else None

    def cancel_appointment(self, appointment_id: UUID) -> bool:
        self.business.calls.append("cancel_appointment")
        appointment = self.business.appointments.get(appointment_id)
        if appointment is None or appointment.caller != self.caller:
            return False
        del self.business.appointments[appointment_id]
        return True

    def is_open_now(self) -> bool:
        local = self.now.astimezone(self.business.zone)
        opening = self.business.hours.get(local.weekday())
        return bool(opening) and opening[0] <= local.hour < opening[1]  # type: ignore[index]

    def hours_text(self) -> str:
        return self.business.hours_text()


class Chat:
    """One caller texting one business through an engine, turn by turn, with the state carried over."""

    def __init__(
        self,
        business: Business,
        engine: ConversationEngine,
        now: datetime,
        caller: str = "+15550001111",
        business_name: str = "Acme Plumbing",
        spanish: bool = True,
    ) -> None:
        self.business = business
        self.engine = engine
        self.now = now
        self.caller = caller
        self.business_name = business_name
        self.spanish = spanish
        self.state: dict[str, Any] = {}
        self.transcript: list[tuple[str, str | None]] = []

    def say(self, text: str, after: timedelta = timedelta(minutes=1)) -> TurnResult:
        self.now += after
        turn = Turn(text, self.now, self.business.tz, self.business_name, dict(self.state), self.caller, self.spanish)
        result = self.engine.respond(turn, self.business.tools_for(self.caller, self.now))
        json.dumps(result.state)  # the state must survive a round trip through JSONB
        self.state = result.state
        self.transcript.append((text, result.reply))
        return result

    @property
    def stage(self) -> str:
        return str((self.state.get("builtin") or {}).get("stage"))

    def appointments(self) -> list[Appointment]:
        return self.business.appointments_of(self.caller)

    def local(self, moment: datetime) -> datetime:
        return moment.astimezone(self.business.zone)
