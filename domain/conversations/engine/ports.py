"""The conversation engine's port: what it is given per turn, what it returns, and the booking tools it may use.

The engine never imports the catalog or scheduling modules. ``workers/`` implements :class:`BookingTools` by calling
their services inside the turn's database transaction, so a hold or booking the engine makes commits (or rolls back)
together with the reply that announces it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol
from uuid import UUID

PartOfDay = Literal["morning", "afternoon", "evening"]


@dataclass(frozen=True)
class ServiceOption:
    """An active catalog item; ``confidence`` (0..1) says how well it matched the caller's words."""

    id: UUID
    name: str
    duration_minutes: int
    price_cents: int
    currency: str = "USD"
    confidence: float = 1.0


@dataclass(frozen=True)
class SlotOption:
    """An open timeslot ``[starts_at, ends_at)`` on one resource; aware UTC datetimes."""

    resource_id: UUID
    starts_at: datetime
    ends_at: datetime


@dataclass(frozen=True)
class SlotPreference:
    """When the caller would like to be seen, already resolved in the tenant's time zone.

    ``find_slots`` returns the earliest open slots whose start lies in ``[earliest, latest)`` (``latest`` None = no
    upper bound) and, when given, whose local start falls on ``weekday`` (0 = Monday) and in ``part_of_day``
    (morning < 12:00 <= afternoon < 17:00 <= evening). Never slots in the past.
    """

    earliest: datetime | None = None
    latest: datetime | None = None
    part_of_day: PartOfDay | None = None
    weekday: int | None = None
    asap: bool = False


@dataclass(frozen=True)
class HoldInfo:
    id: UUID
    slot: SlotOption
    expires_at: datetime


@dataclass(frozen=True)
class HoldResult:
    """Either ``hold`` (the slot is ours until ``expires_at``) or the slot was taken and ``alternatives`` are open."""

    hold: HoldInfo | None = None
    alternatives: tuple[SlotOption, ...] = ()

    @property
    def ok(self) -> bool:
        return self.hold is not None


@dataclass(frozen=True)
class AppointmentInfo:
    id: UUID
    service_id: UUID
    service_name: str
    slot: SlotOption


@dataclass(frozen=True)
class BookingResult:
    """Either the booked ``appointment`` or the slot was taken and ``alternatives`` are open."""

    appointment: AppointmentInfo | None = None
    alternatives: tuple[SlotOption, ...] = ()

    @property
    def ok(self) -> bool:
        return self.appointment is not None


class BookingTools(Protocol):
    """Catalog and scheduling as seen by one conversation (tenant and caller are bound by the implementation)."""

    def match_services(self, text: str) -> list[ServiceOption]:
        """Active services ranked by how well they match ``text`` (best first, confidence 0..1)."""
        ...

    def list_services(self) -> list[ServiceOption]: ...

    def find_slots(self, service_id: UUID, preference: SlotPreference, limit: int = 3) -> list[SlotOption]: ...

    def place_hold(self, service_id: UUID, slot: SlotOption) -> HoldResult: ...

    def confirm_hold(self, hold_id: UUID) -> BookingResult: ...

    def upcoming_appointment(self) -> AppointmentInfo | None:
        """The caller's next booked appointment, if any."""
        ...

    def cancel_appointment(self, appointment_id: UUID) -> bool: ...

    def is_open_now(self) -> bool: ...

    def hours_text(self) -> str: ...


# What the tools returned during one turn, recorded so the guard can check every claim in the reply against it.


@dataclass(frozen=True)
class Quoted:
    services: tuple[ServiceOption, ...]


@dataclass(frozen=True)
class SlotsFound:
    slots: tuple[SlotOption, ...]


@dataclass(frozen=True)
class HoldAttempt:
    service_id: UUID
    slot: SlotOption
    result: HoldResult


@dataclass(frozen=True)
class BookingAttempt:
    hold_id: UUID
    result: BookingResult


@dataclass(frozen=True)
class AppointmentFound:
    appointment: AppointmentInfo | None


@dataclass(frozen=True)
class Cancellation:
    appointment_id: UUID
    cancelled: bool


@dataclass(frozen=True)
class HoursGiven:
    text: str
    open_now: bool | None = None


DomainResult = Quoted | SlotsFound | HoldAttempt | BookingAttempt | AppointmentFound | Cancellation | HoursGiven

# ``language``: the caller writes in Spanish and the tenant turned the engine's Spanish off.
HandoffReason = Literal["person_requested", "stop_requested", "language"]


@dataclass(frozen=True)
class Turn:
    """One inbound caller text. ``state`` is what the previous turn returned (``{}`` for a new conversation).

    ``spanish`` False: the tenant turned Spanish off, so a Spanish-speaking caller is handed to a person."""

    text: str
    now: datetime
    timezone: str
    business_name: str
    state: dict[str, Any] = field(default_factory=dict)
    caller: str = ""
    spanish: bool = True


@dataclass(frozen=True)
class TurnResult:
    """The engine's answer. ``reply`` None means send nothing; ``state`` is persisted and passed to the next turn.

    ``handoff`` asks the caller's conversation to go to a human and the AI to stop (``handoff_reason`` says why);
    ``urgent`` flags an emergency for the owner. ``results`` are the domain results the tools produced this turn.
    ``guard_blocked`` means the engine's own text made an ungrounded claim and was replaced by a safe reply.
    """

    reply: str | None
    state: dict[str, Any]
    handoff: bool = False
    urgent: bool = False
    results: tuple[DomainResult, ...] = ()
    handoff_reason: HandoffReason | None = None
    guard_blocked: bool = False
    guard_reason: str | None = None
    engine: str = "builtin"
    fallback_reason: str | None = None


class ConversationEngine(Protocol):
    def respond(self, turn: Turn, tools: BookingTools) -> TurnResult: ...
