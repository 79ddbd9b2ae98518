"""What the conversations module needs from the rest of the system, as ports the bootstrap fills in.

Conversations never imports identity, compliance, catalog or scheduling (the import-linter independence contract):
the composition layer (``domain/composition/``) implements these by calling those modules' services inside the
handler's own transaction, and the worker bootstrap hands them to the handlers.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy.orm import Session

from domain.conversations.engine.ports import BookingTools
from domain.events.sink import EventSink


@dataclass(frozen=True)
class StaffMember:
    """A number of the tenant's staff (a member's registered mobile, or the owner mobile): never a caller.

    ``user_id`` is the member's; the bare owner mobile has none (see ``holder_id``)."""

    phone: str
    role: str  # OWNER | TECH
    user_id: uuid.UUID | None
    name: str | None = None

    def holder_id(self, tenant_id: uuid.UUID) -> uuid.UUID:
        """Who holds a conversation this number took over: the member, or for the bare owner mobile a stable id of
        its own, so a takeover lease always names exactly one holder and another member cannot share it."""
        return self.user_id or uuid.uuid5(OWNER_MOBILE_NAMESPACE, f"{tenant_id}:{self.phone}")


OWNER_MOBILE_NAMESPACE = uuid.UUID("6f1b2f0e-5a7c-4f0e-9a43-8d2c1c3f4e51")


@dataclass(frozen=True)
class TenantProfile:
    id: uuid.UUID
    name: str
    timezone: str
    number: str
    owner_mobile: str | None
    first_message_template: str
    after_hours_template: str
    help_text: str
    open_now: bool
    staff: tuple[StaffMember, ...] = ()
    spanish_replies: bool = True  # off: a caller writing in Spanish is handed to a person
    # How long the first SMS waits for a callback that makes it unneeded (0: sent at once).
    callback_grace_seconds: int = 0

    def staff_member(self, phone: str) -> StaffMember | None:
        """The staff member whose number this is; None for a caller."""
        return next((member for member in self.staff if member.phone == phone), None)

    @property
    def alert_numbers(self) -> tuple[str, ...]:
        """Where staff alerts go: the owner mobile first, then every member's registered mobile, once each."""
        numbers = ([self.owner_mobile] if self.owner_mobile else []) + [member.phone for member in self.staff]
        return tuple(dict.fromkeys(numbers))


class TenantDirectory(Protocol):
    def profile(self, session: Session, tenant_id: uuid.UUID, now: datetime) -> TenantProfile | None: ...


class PreflightDecision(Protocol):
    @property
    def allowed(self) -> bool: ...

    @property
    def reason(self) -> str | None: ...

    def as_record(self) -> dict[str, object]: ...


class SendGate(Protocol):
    """The one send preflight (compliance + feature gates)."""

    def check(
        self, session: Session, *, tenant_id: uuid.UUID, to_number: str, conversation_state: str | None, purpose: str
    ) -> PreflightDecision: ...


@dataclass(frozen=True)
class Accepted:
    sid: str
    status: str
    num_segments: int


@dataclass(frozen=True)
class SentEarlier:
    sid: str
    status: str


class SendFailed(Exception):
    """The provider refused the message. ``retryable`` failures propagate (backoff, then DLQ); others are final."""

    def __init__(self, code: int | None, message: str, *, retryable: bool, opted_out: bool = False) -> None:
        super().__init__(f"provider error {code}: {message}")
        self.code = code
        self.retryable = retryable
        self.opted_out = opted_out


class SmsSender(Protocol):
    def send(
        self,
        decision: PreflightDecision,
        *,
        tenant_id: uuid.UUID,
        to: str,
        from_: str,
        body: str,
        correlation_id: uuid.UUID | None = None,
    ) -> Accepted:
        """Send through the gate's Decision; raises SendFailed. The provider's status reports for the message join
        the chain ``correlation_id`` names."""
        ...

    def find_sent(self, *, to: str, from_: str, body: str, since: datetime) -> SentEarlier | None:
        """A message the provider already accepted (a crash between the provider call and our commit)."""
        ...

    def fetch_status(self, sid: str) -> tuple[str, int | None]: ...

    def list_sent(self, *, from_: str, since: datetime) -> list[tuple[str, str, int | None]]:
        """(sid, status, error code) of every message the provider holds from ``from_`` since ``since``."""
        ...


@dataclass(frozen=True)
class CallbackSeen:
    """A call that makes a held first SMS unneeded, as the provider's call list shows it."""

    call_sid: str
    reason: str  # caller_recall_answered | staff_called_back


class CallLogUnavailable(Exception):
    """The provider's call list could not be read (down, rate limited, refused)."""


class CallLog(Protocol):
    def callback_since(
        self, *, business_number: str, customer: str, since: datetime, missed_call_sid: str
    ) -> CallbackSeen | None:
        """An answered call between the business number and ``customer`` since ``since`` (not the missed call
        itself): the caller's re-call that a person picked up, or a call from the business's number that was
        answered. Raises CallLogUnavailable."""
        ...


class InboundKeywords(Protocol):
    def classify(self, body: str) -> str:
        """``opt_out`` | ``opt_in`` | ``help`` | ``unclear_opt_out`` (a person decides) | ``none``."""
        ...

    def is_opted_out(self, session: Session, *, tenant_id: uuid.UUID, phone: str, at: datetime | None = None) -> bool:
        """Opted out now, or at ``at`` (an opt-out revoked since still counts)."""
        ...

    def carrier_confirms(self, body: str) -> bool:
        """The provider answers this opt-out itself (one of Twilio's own keywords, such as STOP)."""
        ...

    def record_provider_opt_out(
        self, session: Session, *, tenant_id: uuid.UUID, phone: str, message_ref: str, events: EventSink
    ) -> None: ...


@dataclass(frozen=True)
class WindowVerdict:
    """Quiet hours' answer for one automated message: now, or not before ``not_before``, under which rule."""

    send_now: bool
    not_before: datetime
    reason: str | None  # quiet_hours | daily_cap
    rule_id: str
    rule_version: int

    def as_record(self) -> dict[str, object]:
        return {
            "quiet_hours_rule": self.rule_id,
            "quiet_hours_version": self.rule_version,
            "deferred": self.reason,
            "not_before": None if self.send_now else self.not_before.isoformat(),
        }


class SendWindow(Protocol):
    """Quiet hours by the recipient's state, for the messages that are not an immediate reply to the caller."""

    def applies(self, session: Session, *, tenant_id: uuid.UUID, purpose: str, replying: bool) -> bool:
        """Whether this message waits for the recipient's allowed hours (a reminder does; a reply never does)."""
        ...

    def assess(
        self, session: Session, *, tenant_id: uuid.UUID, to_number: str, now: datetime, recent: Sequence[datetime]
    ) -> WindowVerdict: ...

    @property
    def counted_purposes(self) -> frozenset[str]:
        """The purposes a state's daily cap counts."""
        ...


@dataclass(frozen=True)
class AppointmentText:
    """A text about one appointment, to its customer from the business's number."""

    to_number: str
    from_number: str
    body: str
    starts_at: datetime


class AppointmentTexts(Protocol):
    def confirmation(
        self, session: Session, *, tenant_id: uuid.UUID, appointment_id: uuid.UUID, now: datetime, moved: bool
    ) -> AppointmentText | None:
        """The booking (or its new time) as a text inviting confirm / reschedule / cancel; None when it is no longer
        booked or the business has no number."""
        ...


@dataclass(frozen=True)
class AppointmentBrief:
    """What a caller's reply about an appointment needs: whether it is still booked and ahead, and how to say it."""

    appointment_id: uuid.UUID
    booked: bool
    service: str
    when: str  # "Wednesday, March 3 at 9:00 AM", in the business's zone


@dataclass(frozen=True)
class OfferedSlot:
    resource_id: uuid.UUID
    starts_at: datetime
    ends_at: datetime
    when: str


class AppointmentReplies(Protocol):
    """What a reply to a confirmation or reminder may do to its appointment (scheduling, through the composition
    layer, in the handler's transaction; what it changes is raised into ``events``)."""

    def brief(
        self, session: Session, *, tenant_id: uuid.UUID, appointment_id: uuid.UUID, now: datetime
    ) -> AppointmentBrief | None: ...

    def confirm(
        self, session: Session, *, tenant_id: uuid.UUID, appointment_id: uuid.UUID, now: datetime, events: EventSink
    ) -> bool: ...

    def cancel(
        self, session: Session, *, tenant_id: uuid.UUID, appointment_id: uuid.UUID, now: datetime, events: EventSink
    ) -> bool: ...

    def open_slots(
        self, session: Session, *, tenant_id: uuid.UUID, appointment_id: uuid.UUID, now: datetime
    ) -> list[OfferedSlot]:
        """Real open slots for the same service (up to three), other than the appointment's own time."""
        ...

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
        """A hold on ``slot`` for the caller, or None when it was taken meanwhile."""
        ...

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
        """Move the appointment into the held slot, freeing the old one, in this transaction; False if it cannot."""
        ...

    def release(
        self, session: Session, *, tenant_id: uuid.UUID, hold_id: uuid.UUID, now: datetime, events: EventSink
    ) -> None: ...


class Appointments(Protocol):
    def has_upcoming(self, session: Session, *, tenant_id: uuid.UUID, phone: str, now: datetime) -> bool: ...


class ToolsFactory(Protocol):
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
    ) -> BookingTools:
        """The tools for one turn; whatever they book or hold is raised into ``events`` (the handler's chain)."""
        ...
