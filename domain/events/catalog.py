"""The Event Catalog: every cross-module fact, its name, version and payload schema — the source of truth.

Payloads are frozen dataclasses named in the past tense; pydantic validates them and derives their JSON schema,
so what the outbox stores, the dispatcher fans out, the DLQ keeps and a replay re-sends all validate here.
A new payload shape is a new ``schema_version`` registered beside the old one, never an edit of the old one.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any, Literal, TypeVar, dataclass_transform

from pydantic import ConfigDict, Field, TypeAdapter, ValidationError
from pydantic.dataclasses import dataclass as payload_dataclass

from domain.events.envelope import ENVELOPE_FIELDS, Envelope

E164 = Annotated[str, Field(pattern=r"^\+[1-9][0-9]{6,14}$", description="E.164 phone number")]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
_STRICT = ConfigDict(extra="forbid", frozen=True)


class EventValidationError(ValueError):
    """An event or envelope that does not match the catalog."""


@dataclass(frozen=True)
class EventSpec:
    name: str
    version: int
    payload_type: type
    description: str
    adapter: TypeAdapter[Any] = field(repr=False, compare=False)

    @property
    def domain(self) -> str:
        return self.name.split(".")[1]

    def json_schema(self) -> dict[str, Any]:
        return self.adapter.json_schema(mode="serialization")


class EventCatalog:
    def __init__(self) -> None:
        self._specs: dict[tuple[str, int], EventSpec] = {}
        self._by_type: dict[type, EventSpec] = {}

    def register(self, name: str, version: int, payload_type: type) -> None:
        if not name.startswith("nmc.") or name.count(".") != 2:
            raise ValueError(f"event name {name!r} is not nmc.<domain>.<EventName>")
        if (name, version) in self._specs:
            raise ValueError(f"{name} v{version} registered twice")
        description = " ".join((payload_type.__doc__ or "").split())
        spec = EventSpec(name, version, payload_type, description, TypeAdapter(payload_type))
        self._specs[(name, version)] = spec
        self._by_type[payload_type] = spec

    def spec_for(self, event: object) -> EventSpec:
        try:
            return self._by_type[type(event)]
        except KeyError:
            raise EventValidationError(f"{type(event).__name__} is not in the Event Catalog") from None

    def spec(self, name: str, version: int) -> EventSpec:
        try:
            return self._specs[(name, version)]
        except KeyError:
            raise EventValidationError(f"{name} v{version} is not in the Event Catalog") from None

    def latest(self, name: str) -> EventSpec:
        versions = [spec for (spec_name, _), spec in self._specs.items() if spec_name == name]
        if not versions:
            raise EventValidationError(f"{name} is not in the Event Catalog")
        return max(versions, key=lambda spec: spec.version)

    def __iter__(self) -> Iterator[EventSpec]:
        return iter(sorted(self._specs.values(), key=lambda spec: (spec.name, spec.version)))

    def names(self) -> set[str]:
        return {name for name, _ in self._specs}

    def payload_json(self, event: object) -> tuple[EventSpec, dict[str, Any]]:
        """Validate a payload object and return its JSON form (re-validated from JSON so it round-trips)."""
        spec = self.spec_for(event)
        try:
            dumped = spec.adapter.dump_python(event, mode="json")
            spec.adapter.validate_python(dumped)
        except ValidationError as error:
            raise EventValidationError(f"{spec.name} v{spec.version}: {_first_error(error)}") from None
        return spec, dumped

    def load_payload(self, name: str, version: int, payload: Mapping[str, Any]) -> Any:
        spec = self.spec(name, version)
        try:
            return spec.adapter.validate_python(dict(payload))
        except ValidationError as error:
            raise EventValidationError(f"{name} v{version}: {_first_error(error)}") from None

    def validate_envelope(self, raw: Mapping[str, Any]) -> Envelope:
        """Check a stored or replayed envelope against the current catalog; return it typed."""
        missing = [name for name in ENVELOPE_FIELDS if name not in raw]
        if missing:
            raise EventValidationError(f"envelope is missing {', '.join(missing)}")
        extra = sorted(set(raw) - set(ENVELOPE_FIELDS))
        if extra:
            raise EventValidationError(f"envelope has unknown fields {', '.join(extra)}")
        try:
            envelope = _ENVELOPE_ADAPTER.validate_python(dict(raw))
        except ValidationError as error:
            raise EventValidationError(f"envelope: {_first_error(error)}") from None
        self.load_payload(envelope.event_name, envelope.schema_version, envelope.payload)
        return envelope


def _first_error(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "payload"
    return f"{where}: {first['msg']}"


_ENVELOPE_ADAPTER: TypeAdapter[Envelope] = TypeAdapter(Envelope)

CATALOG = EventCatalog()
T = TypeVar("T")


@dataclass_transform(frozen_default=True, field_specifiers=(Field,))
def event(name: str, version: int = 1) -> Callable[[type[T]], type[T]]:
    """Declare a frozen payload dataclass as catalog event ``name`` at ``version``."""

    def register(cls: type[T]) -> type[T]:
        payload_cls: type[T] = payload_dataclass(config=_STRICT)(cls)  # type: ignore[assignment]
        CATALOG.register(name, version, payload_cls)
        return payload_cls

    return register


@payload_dataclass(config=_STRICT)
class Money:
    amount_cents: Annotated[int, Field(ge=0)]
    currency: Currency = "USD"


# --- telephony (produced by ingress from Twilio voice and status callbacks) ---------------------------------


@event("nmc.telephony.CallMissed")
class CallMissed:
    """A call to a tenant's number was not answered (no-answer, busy, failed or canceled)."""

    call_sid: str
    caller: E164
    called: E164
    dial_status: Literal["no-answer", "busy", "failed", "canceled"]
    missed_at: datetime


@event("nmc.telephony.CallAnswered")
class CallAnswered:
    """A call between a tenant's number and someone else was answered by a person: ``inbound`` a caller's call the
    business picked up (the dial's verdict), ``outbound`` a call placed from the business's Twilio number (a staff
    callback through Twilio). ``customer_phone`` is the other party, ``business_number`` the tenant's number."""

    call_sid: str
    direction: Literal["inbound", "outbound"]
    customer_phone: E164
    business_number: E164
    answered_at: datetime


@event("nmc.telephony.MessageStatusReported")
class MessageStatusReported:
    """Twilio reported a status for an outbound message (a raw callback; may be late, duplicated, reordered)."""

    message_sid: str
    status: Literal[
        "accepted",
        "scheduled",
        "queued",
        "sending",
        "sent",
        "delivered",
        "undelivered",
        "failed",
        "read",
        "canceled",
    ]
    error_code: int | None
    reported_at: datetime


# --- conversations --------------------------------------------------------------------------------------


@event("nmc.conversations.MessageReceived")
class MessageReceived:
    """A caller's SMS arrived at a tenant's number."""

    message_sid: str
    from_number: E164
    to_number: E164
    body: str
    num_media: Annotated[int, Field(ge=0)]
    media_urls: tuple[str, ...]
    received_at: datetime


@event("nmc.conversations.ConversationOpened")
class ConversationOpened:
    """A conversation with a caller was opened (state ``open``, AI-controlled)."""

    conversation_id: uuid.UUID
    caller: E164
    trigger: Literal["missed_call", "inbound_sms", "operator"]


@event("nmc.conversations.OutboundMessageRequested")
class OutboundMessageRequestedV1:
    """A message to a caller or tenant was written and awaits the send preflight and the provider."""

    message_id: uuid.UUID
    conversation_id: uuid.UUID | None
    to_number: E164
    from_number: E164
    body: Annotated[str, Field(min_length=1, max_length=1600)]
    purpose: Literal["first_response", "ai_reply", "human_reply", "notification", "compliance"]


@event("nmc.conversations.OutboundMessageRequested", version=2)
class OutboundMessageRequested:
    """A message to a caller or tenant was written and awaits the send preflight and the provider. Version 2 adds
    the appointment lifecycle's purposes: ``confirmation`` (of a booking or a reschedule), ``reminder`` and
    ``follow_up``, which go only inside the recipient's quiet-hours window."""

    message_id: uuid.UUID
    conversation_id: uuid.UUID | None
    to_number: E164
    from_number: E164
    body: Annotated[str, Field(min_length=1, max_length=1600)]
    purpose: Literal[
        "first_response",
        "ai_reply",
        "human_reply",
        "notification",
        "compliance",
        "confirmation",
        "reminder",
        "follow_up",
    ]


@event("nmc.conversations.MessageDeferred")
class MessageDeferred:
    """Quiet hours (or a state's daily cap) held an automated message back until ``not_before``; it is sent then,
    never dropped. ``rule_id`` and ``rule_version`` name the row of the quiet-hours table that decided."""

    message_id: uuid.UUID
    conversation_id: uuid.UUID | None
    purpose: str
    not_before: datetime
    reason: Literal["quiet_hours", "daily_cap"]
    rule_id: str
    rule_version: Annotated[int, Field(ge=1)]


@event("nmc.conversations.FollowUpRequested")
class FollowUpRequested:
    """A caller who never answered the first SMS gets the one gentle follow-up (after the tenant's delay)."""

    conversation_id: uuid.UUID
    message_id: uuid.UUID
    first_message_id: uuid.UUID
    caller: E164


@event("nmc.conversations.MessageQueued")
class MessageQueued:
    """The provider accepted an outbound message (Twilio ``queued``); carries the first-response latency."""

    message_id: uuid.UUID
    conversation_id: uuid.UUID | None
    provider_ref: str
    queued_at: datetime
    purpose: str
    first_response_latency_ms: int | None


@event("nmc.conversations.MessageBlocked")
class MessageBlocked:
    """The send preflight refused an outbound message; the reason says which gate closed."""

    message_id: uuid.UUID
    conversation_id: uuid.UUID | None
    reason: str


@event("nmc.conversations.MessageStatusChanged")
class MessageStatusChanged:
    """An outbound message moved forward in queued → sent → delivered/undelivered/failed."""

    message_id: uuid.UUID
    provider_ref: str
    previous_status: str
    status: Literal["queued", "sent", "delivered", "undelivered", "failed"]
    error_code: int | None


@event("nmc.conversations.HumanTakeoverRequested")
class HumanTakeoverRequested:
    """A human takes the conversation over (state ``human``) until the lease expires or is released."""

    conversation_id: uuid.UUID
    requested_by: Literal["operator", "caller", "system"]
    user_id: uuid.UUID | None
    reason: str
    lease_expires_at: datetime


@event("nmc.conversations.HumanTakeoverReleased")
class HumanTakeoverReleased:
    """The human lease ended (released or expired); the conversation is back with the AI or escalated."""

    conversation_id: uuid.UUID
    outcome: Literal["released", "expired", "escalated"]


@event("nmc.conversations.ConversationClosed")
class ConversationClosed:
    """A conversation finished."""

    conversation_id: uuid.UUID
    reason: str


@event("nmc.conversations.StaffCallRecognised")
class StaffCallRecognised:
    """A missed call came from a staff number (a member's mobile or the owner mobile): not a caller's, so no text
    back and not a missed call in the reports; ``call_occurred_at`` is the ``CallMissed`` it corrects."""

    call_sid: str
    phone: E164
    call_occurred_at: datetime


@event("nmc.conversations.FirstResponseDeferred")
class FirstResponseDeferred:
    """The first SMS after a missed call waits for the tenant's callback grace period, until ``send_after``: an
    answered re-call or a staff call before then makes it unneeded."""

    conversation_id: uuid.UUID
    grace_id: uuid.UUID
    call_sid: str
    grace_seconds: Annotated[int, Field(ge=1, le=120)]
    send_after: datetime


@event("nmc.conversations.FirstResponseGraceEnded")
class FirstResponseGraceEnded:
    """A first SMS's grace period ran out undecided: it is now sent, unless the call list shows a callback."""

    conversation_id: uuid.UUID
    grace_id: uuid.UUID
    call_sid: str


@event("nmc.conversations.FirstResponseDecided")
class FirstResponseDecided:
    """A held first SMS was decided, once: ``sent`` (no callback seen) or ``withheld`` because the caller's re-call
    was answered or staff called them back (``deciding_call_sid``; ``seen_by`` says through a webhook or Twilio's
    call list), or because by the grace's end a person had taken the conversation or it was closed or blocked."""

    conversation_id: uuid.UUID
    grace_id: uuid.UUID
    decision: Literal["sent", "withheld"]
    reason: Literal[
        "no_callback",
        "no_callback_call_list_unavailable",
        "caller_recall_answered",
        "staff_called_back",
        "staff_took_over",
        "conversation_ended",
    ]
    seen_by: Literal["webhook", "call_list"] | None
    deciding_call_sid: str | None


@event("nmc.conversations.StaffCommandReceived")
class StaffCommandReceived:
    """A staff member texted the business number: the command read from it and what came of it."""

    phone: E164
    user_id: uuid.UUID | None
    command: Literal["take", "text", "back", "help", "unknown"]
    code: str | None
    conversation_id: uuid.UUID | None
    outcome: Literal["done", "refused", "answered"]


@event("nmc.conversations.CallerNamed")
class CallerNamed:
    """A caller's number got a name for the tenant: ``staff`` typed it in the thread (``actor`` is the member; the
    name is recorded as the event is raised), or ``caller_id`` is Twilio's ``CallerName`` on an incoming call
    (``actor`` null), which conversations records unless staff named the caller. Personal data: logs never show
    ``caller_name``."""

    phone: E164
    caller_name: Annotated[str, Field(min_length=1, max_length=80)]
    source: Literal["staff", "caller_id"]
    actor: uuid.UUID | None


@event("nmc.conversations.ConversationBlocked")
class ConversationBlocked:
    """A conversation was blocked for compliance or opt-out; nothing more is sent in it."""

    conversation_id: uuid.UUID
    reason: Literal["opt_out", "compliance"]


# --- catalog ---------------------------------------------------------------------------------------------


@event("nmc.catalog.ServiceItemChanged")
class ServiceItemChanged:
    """A service item was created or changed (price, duration, active flag or aliases)."""

    service_item_id: uuid.UUID
    name: str
    duration_minutes: Annotated[int, Field(ge=1, le=480)]
    price: Money
    active: bool


# --- scheduling ------------------------------------------------------------------------------------------


@event("nmc.scheduling.HoldPlaced")
class HoldPlaced:
    """A timeslot on a resource was held for a caller until ``expires_at``."""

    hold_id: uuid.UUID
    resource_id: uuid.UUID
    service_item_id: uuid.UUID
    starts_at: datetime
    ends_at: datetime
    expires_at: datetime
    conversation_id: uuid.UUID | None


@event("nmc.scheduling.HoldExpired")
class HoldExpired:
    """A hold passed its TTL without being confirmed."""

    hold_id: uuid.UUID
    resource_id: uuid.UUID


@event("nmc.scheduling.HoldExtended")
class HoldExtended:
    """A hold's TTL was extended while the caller is still engaged (up to a cap)."""

    hold_id: uuid.UUID
    resource_id: uuid.UUID
    expires_at: datetime
    extensions: Annotated[int, Field(ge=1)]


@event("nmc.scheduling.HoldReleased")
class HoldReleased:
    """A hold was given up before its TTL (the caller declined or chose another time)."""

    hold_id: uuid.UUID
    resource_id: uuid.UUID
    reason: str


@event("nmc.scheduling.AppointmentBooked")
class AppointmentBooked:
    """An appointment was booked (the GiST exclusion constraint accepted the timeslot)."""

    appointment_id: uuid.UUID
    hold_id: uuid.UUID | None
    resource_id: uuid.UUID
    service_item_id: uuid.UUID
    starts_at: datetime
    ends_at: datetime
    customer_phone: E164
    price: Money
    conversation_id: uuid.UUID | None


@event("nmc.scheduling.AppointmentCancelled")
class AppointmentCancelled:
    """An appointment was cancelled; its timeslot is free again."""

    appointment_id: uuid.UUID
    reason: str


@event("nmc.scheduling.AppointmentRescheduled")
class AppointmentRescheduled:
    """An appointment moved to another timeslot (or resource)."""

    appointment_id: uuid.UUID
    resource_id: uuid.UUID
    previous_starts_at: datetime
    starts_at: datetime
    ends_at: datetime


@event("nmc.conversations.AppointmentConfirmationRequested")
class AppointmentConfirmationRequested:
    """A booking (or its new time, after a reschedule) was texted to the customer, inviting a reply to confirm,
    reschedule or cancel."""

    appointment_id: uuid.UUID
    message_id: uuid.UUID
    starts_at: datetime
    kind: Literal["booked", "rescheduled"]


@event("nmc.scheduling.AppointmentReminderDue")
class AppointmentReminderDue:
    """A reminder came due ``offset_minutes`` before the appointment's *current* start, which it carries; it was
    claimed once (the reminder's unique key) and its message requested in the same transaction."""

    appointment_id: uuid.UUID
    reminder_id: uuid.UUID
    offset_minutes: Annotated[int, Field(ge=5)]
    starts_at: datetime
    due_at: datetime
    message_id: uuid.UUID


@event("nmc.scheduling.AppointmentConfirmedByCaller")
class AppointmentConfirmedByCaller:
    """The customer replied to a confirmation or reminder to say they will be there."""

    appointment_id: uuid.UUID
    conversation_id: uuid.UUID | None
    starts_at: datetime


@event("nmc.scheduling.AppointmentWrittenBack")
class AppointmentWrittenBack:
    """An appointment's current state was written to one of its resource's external calendars: the event was
    ``inserted``, ``patched`` (moved) or ``deleted`` (cancelled, or the appointment moved to another resource)."""

    appointment_id: uuid.UUID
    resource_calendar_id: uuid.UUID
    provider: Literal["google", "jobber"]
    action: Literal["inserted", "patched", "deleted"]
    external_ref: str


@event("nmc.scheduling.AppointmentWriteBackFailed")
class AppointmentWriteBackFailed:
    """An appointment could not be written to an external calendar and a person must look: ``conflict`` (the slot
    is taken there by something else; our booking stands and the caller is told nothing), or ``credentials_refused``
    (the provider refused the linked tokens: relink them). Retryable failures are retried, not this."""

    appointment_id: uuid.UUID
    resource_calendar_id: uuid.UUID
    provider: Literal["google", "jobber"]
    reason: Literal["conflict", "credentials_refused"]
    detail: Annotated[str, Field(max_length=500)]
    starts_at: datetime
    ends_at: datetime
    customer_phone: E164
    conversation_id: uuid.UUID | None


@event("nmc.scheduling.CalendarChangeNotified")
class CalendarChangeNotified:
    """A calendar provider said a mirrored calendar changed (webhook); the shadow needs a re-sync."""

    provider: Literal["google", "jobber"]
    external_ref: str
    resource_calendar_id: uuid.UUID | None


@event("nmc.scheduling.ExternalBusyChanged")
class ExternalBusyChanged:
    """The external busy shadow of one resource calendar was replaced over a window."""

    resource_calendar_id: uuid.UUID
    provider: Literal["google", "jobber", "internal"]
    window_start: datetime
    window_end: datetime
    busy_blocks: Annotated[int, Field(ge=0)]


# --- compliance ------------------------------------------------------------------------------------------


@event("nmc.compliance.OptOutRecorded")
class OptOutRecorded:
    """A caller opted out (a STOP keyword or a clear request in words, or provider error 21610); nothing more may be
    sent to them."""

    phone: E164
    source: Literal["keyword", "provider_21610", "operator"]
    # The keyword ("STOP") or, for a request in words, the normalised text ("NO MAS MENSAJES").
    keyword: str | None
    message_ref: str | None


@event("nmc.compliance.OptInRecorded")
class OptInRecorded:
    """A caller opted back in (START, YES, UNSTOP)."""

    phone: E164
    keyword: str


@event("nmc.compliance.CampaignStatusChanged")
class CampaignStatusChangedV1:
    """The tenant's 10DLC campaign status changed; only ``approved`` lets SMS leave."""

    campaign_id: uuid.UUID
    previous_status: Literal["pending", "approved", "rejected"] | None
    status: Literal["pending", "approved", "rejected"]
    changed_by: str


@event("nmc.compliance.CampaignStatusChanged", version=2)
class CampaignStatusChanged:
    """The tenant's 10DLC campaign status changed; only ``approved`` lets SMS leave. ``changed_by`` is
    ``provider:twilio`` (then ``provider_ref`` is the A2P campaign SID), ``operator:…`` or ``user:…`` (a tenant's
    resubmission, which can only make it ``pending``)."""

    campaign_id: uuid.UUID
    previous_status: Literal["pending", "approved", "rejected"] | None
    status: Literal["pending", "approved", "rejected"]
    changed_by: str
    provider_ref: str | None
    reason: str | None


# --- billing ---------------------------------------------------------------------------------------------


@event("nmc.billing.StripeEventReceived")
class StripeEventReceived:
    """A verified Stripe event, as Stripe sent it (may be duplicated or out of order)."""

    stripe_event_id: str
    type: str
    created: int
    livemode: bool
    data_object: dict[str, Any]


@event("nmc.billing.SubscriptionUpdated")
class SubscriptionUpdated:
    """A tenant's subscription state changed (plan, status, period)."""

    subscription_ref: str
    customer_ref: str
    plan: str
    status: Literal[
        "trialing", "active", "past_due", "canceled", "unpaid", "incomplete", "incomplete_expired", "paused"
    ]
    current_period_end: datetime | None
    source_created: int


# --- identity --------------------------------------------------------------------------------------------


@event("nmc.identity.TenantCreated")
class TenantCreated:
    """A tenant (one business) was created with its Twilio number."""

    name: str
    phone_number: E164
    timezone: str


@event("nmc.identity.FeatureGatesChanged")
class FeatureGatesChanged:
    """A tenant's feature gates were recomputed from its subscription."""

    plan: str
    subscription_status: str
    gates: dict[str, bool]


@event("nmc.identity.InvitationCreated")
class InvitationCreated:
    """An OWNER or an operator invited an email address to the tenant with a role, until ``expires_at``."""

    invitation_id: uuid.UUID
    role: Literal["OWNER", "TECH"]
    expires_at: datetime
    invited_by: uuid.UUID | None


@event("nmc.identity.InvitationAccepted")
class InvitationAccepted:
    """The invited user, signed in with the invited email, accepted: they are now a member with that role."""

    invitation_id: uuid.UUID
    user_id: uuid.UUID
    role: Literal["OWNER", "TECH"]


@event("nmc.identity.InvitationRevoked")
class InvitationRevoked:
    """An open invitation was withdrawn (or replaced by a newer one to the same address); its token no longer works."""

    invitation_id: uuid.UUID


@event("nmc.identity.MembershipRemoved")
class MembershipRemoved:
    """A user stopped being a member of the tenant (never its last OWNER)."""

    user_id: uuid.UUID
    role: Literal["OWNER", "TECH"]
