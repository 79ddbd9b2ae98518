"""An in-memory ``ConversationStore`` and the ports around it, for unit tests of the conversation flows.

It keeps the rules Postgres keeps for the store (one live conversation per caller, one first SMS per window, a
message only moves forward, one open opt-out review per conversation), so a flow tested here behaves the same on
Postgres; ``tests/integration`` runs the same flows on the real store.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy.orm import Session

from domain.conversations.engine.ports import BookingTools, Turn, TurnResult
from domain.conversations.messaging import STATUS_RANK, count_segments
from domain.conversations.ports import Accepted, PreflightDecision, SendFailed, SentEarlier, TenantProfile
from domain.conversations.states import LIVE_STATES
from domain.conversations.store import (
    ConversationStore,
    Grace,
    Opened,
    OutboundMessage,
    StatusMove,
    StoreFactory,
    new_alert_code,
)
from domain.events.envelope import Envelope
from domain.events.handling import HandlerContext
from domain.events.outbox import build_envelope
from domain.events.sink import EventSink

# The flows hand ``ctx.session`` only to ports; these fakes ignore it, so a flow touching it directly fails loudly.
NO_SESSION = cast(Session, None)


@dataclass
class StoredConversation:
    id: uuid.UUID
    tenant_id: uuid.UUID
    caller: str
    state: str = "open"
    human_user_id: uuid.UUID | None = None
    human_lease_expires_at: datetime | None = None
    handoff_ack_message_id: uuid.UUID | None = None
    engine_state: dict[str, Any] = field(default_factory=dict)
    call_answered_at: datetime | None = None


@dataclass
class StoredMessage:
    id: uuid.UUID
    tenant_id: uuid.UUID
    conversation_id: uuid.UUID | None
    direction: str
    purpose: str | None
    from_number: str
    to_number: str
    body: str
    status: str
    segments: int
    encoding: str
    provider_ref: str | None = None
    error_code: int | None = None
    preflight: dict[str, Any] | None = None
    reference_at: datetime | None = None
    send_attempted_at: datetime | None = None
    queued_at: datetime | None = None
    first_response_latency_ms: int | None = None
    not_before: datetime | None = None
    created_at: datetime | None = None  # inbound messages: when the provider handed them over


@dataclass
class StoredTask:
    id: uuid.UUID
    tenant_id: uuid.UUID
    kind: str
    conversation_id: uuid.UUID | None
    subject_ref: str
    note: str
    status: str = "open"


class MemoryConversationStore:
    """``ConversationStore`` in dicts: what a flow wrote, readable by the test."""

    def __init__(self) -> None:
        self.conversations: dict[uuid.UUID, StoredConversation] = {}
        self.messages: dict[uuid.UUID, StoredMessage] = {}
        self.claims: dict[tuple[uuid.UUID, str], datetime] = {}
        self.graces: dict[uuid.UUID, Grace] = {}
        self.tasks: list[StoredTask] = []
        self.alerts: dict[uuid.UUID, tuple[str, datetime]] = {}  # conversation id -> (code, expires)
        self.contexts: dict[uuid.UUID, dict[str, Any] | None] = {}
        self.names: dict[tuple[uuid.UUID, str], tuple[str, str]] = {}  # (tenant, caller) -> (name, source)

    def factory(self) -> StoreFactory:
        """What the registry injects as ``conversation_store``: every session gets this one store."""
        return lambda _session: self

    # -- helpers for tests --

    def live(self, tenant_id: uuid.UUID, caller: str) -> StoredConversation | None:
        return next(
            (
                row
                for row in self.conversations.values()
                if row.tenant_id == tenant_id and row.caller == caller and row.state in LIVE_STATES
            ),
            None,
        )

    def outbound(self) -> list[StoredMessage]:
        return [row for row in self.messages.values() if row.direction == "out"]

    def _conversation(self, tenant_id: uuid.UUID, conversation_id: uuid.UUID) -> StoredConversation | None:
        row = self.conversations.get(conversation_id)
        return row if row is not None and row.tenant_id == tenant_id else None

    # -- conversations --

    def open_or_get(self, *, tenant_id: uuid.UUID, caller: str) -> Opened:
        found = self.live(tenant_id, caller)
        if found is not None:
            return Opened(found.id, found.state, opened=False)
        row = StoredConversation(uuid.uuid4(), tenant_id, caller)
        self.conversations[row.id] = row
        return Opened(row.id, "open", opened=True)

    def hand_to_human(
        self,
        *,
        tenant_id: uuid.UUID,
        conversation_id: uuid.UUID,
        expires: datetime,
        acknowledgement: uuid.UUID | None = None,
    ) -> None:
        row = self._conversation(tenant_id, conversation_id)
        if row is not None and row.state == "open":
            row.state, row.human_lease_expires_at = "human", expires
            row.handoff_ack_message_id = acknowledgement

    def take_over(
        self, *, tenant_id: uuid.UUID, conversation_id: uuid.UUID, user_id: uuid.UUID | None, expires: datetime
    ) -> bool:
        row = self._conversation(tenant_id, conversation_id)
        if row is None:
            return False
        lapsed = row.human_lease_expires_at is None or row.human_lease_expires_at < datetime.now(UTC)
        unheld = row.human_user_id is None
        if row.state == "open" or (row.state == "human" and (unheld or row.human_user_id == user_id or lapsed)):
            row.state, row.human_user_id, row.human_lease_expires_at = "human", user_id, expires
            return True
        return False

    def hold_for_human_reply(
        self, *, tenant_id: uuid.UUID, conversation_id: uuid.UUID, holder: uuid.UUID | None = None
    ) -> str | None:
        row = self._conversation(tenant_id, conversation_id)
        if row is None or row.state != "human":
            return None
        if holder is not None and not (
            row.human_user_id == holder
            and row.human_lease_expires_at is not None
            and row.human_lease_expires_at > datetime.now(UTC)
        ):
            return None
        return row.caller

    def release(self, *, tenant_id: uuid.UUID, conversation_id: uuid.UUID, holder: uuid.UUID | None = None) -> bool:
        row = self._conversation(tenant_id, conversation_id)
        if row is None or row.state != "human" or (holder is not None and row.human_user_id != holder):
            return False
        row.state, row.human_user_id, row.human_lease_expires_at = "open", None, None
        return True

    def close(self, *, tenant_id: uuid.UUID, conversation_id: uuid.UUID) -> bool:
        row = self._conversation(tenant_id, conversation_id)
        if row is None or row.state not in LIVE_STATES:
            return False
        row.state, row.human_user_id, row.human_lease_expires_at = "closed", None, None
        return True

    def block_caller(self, *, tenant_id: uuid.UUID, phone: str) -> list[uuid.UUID]:
        blocked = []
        for row in self.conversations.values():
            if row.tenant_id == tenant_id and row.caller == phone and row.state in LIVE_STATES:
                row.state = "blocked"
                blocked.append(row.id)
        return blocked

    def state_for_send(self, conversation_id: uuid.UUID) -> str:
        return self.conversations[conversation_id].state

    def acknowledges_takeover(self, conversation_id: uuid.UUID, message_id: uuid.UUID) -> bool:
        return self.conversations[conversation_id].handoff_ack_message_id == message_id

    def engine_state(self, conversation_id: uuid.UUID) -> dict[str, Any]:
        return dict(self.conversations[conversation_id].engine_state)

    def save_engine_state(self, conversation_id: uuid.UUID, state: dict[str, Any]) -> None:
        self.conversations[conversation_id].engine_state = dict(state)

    def claim_first_response(
        self, *, tenant_id: uuid.UUID, caller: str, call_sid: str, now: datetime, window: timedelta
    ) -> bool:
        claimed_at = self.claims.get((tenant_id, caller))
        if claimed_at is not None and claimed_at > now - window:
            return False
        self.claims[(tenant_id, caller)] = now
        return True

    # -- the callback grace period (one open per caller, decided once) --

    def defer_first_response(
        self,
        *,
        tenant_id: uuid.UUID,
        conversation_id: uuid.UUID,
        caller: str,
        business_number: str,
        call_sid: str,
        missed_at: datetime,
        send_after: datetime,
        correlation_id: uuid.UUID,
        causation_id: uuid.UUID,
    ) -> uuid.UUID | None:
        if any(g.tenant_id == tenant_id and g.caller == caller and g.decision is None for g in self.graces.values()):
            return None
        grace = Grace(
            uuid.uuid4(), tenant_id, conversation_id, caller, business_number, call_sid, missed_at, send_after,
            None, None,
        )  # fmt: skip
        self.graces[grace.id] = grace
        return grace.id

    def first_response_grace(self, *, tenant_id: uuid.UUID, grace_id: uuid.UUID) -> Grace | None:
        grace = self.graces.get(grace_id)
        return grace if grace is not None and grace.tenant_id == tenant_id else None

    def decide_first_response(
        self, *, tenant_id: uuid.UUID, grace_id: uuid.UUID, decision: str, reason: str, call_sid: str | None
    ) -> bool:
        grace = self.first_response_grace(tenant_id=tenant_id, grace_id=grace_id)
        if grace is None or grace.decision is not None:
            return False
        self.graces[grace_id] = replace(grace, decision=decision, reason=reason)
        return True

    def note_answered_call(self, *, tenant_id: uuid.UUID, caller: str, answered_at: datetime) -> None:
        found = self.live(tenant_id, caller)
        if found is not None:
            earlier = found.call_answered_at
            found.call_answered_at = answered_at if earlier is None else max(earlier, answered_at)

    def withhold_for_answered_call(
        self, *, tenant_id: uuid.UUID, caller: str, answered_at: datetime, reason: str, call_sid: str
    ) -> Grace | None:
        for grace in list(self.graces.values()):
            if (
                grace.tenant_id == tenant_id
                and grace.caller == caller
                and grace.decision is None
                and grace.missed_at <= answered_at
                and grace.call_sid != call_sid
            ):
                decided = replace(grace, decision="withheld", reason=reason)
                self.graces[grace.id] = decided
                return decided
        return None

    # -- messages --

    def insert_outbound(
        self,
        *,
        tenant_id: uuid.UUID,
        conversation_id: uuid.UUID | None,
        to_number: str,
        from_number: str,
        body: str,
        purpose: str,
        reference_at: datetime | None = None,
    ) -> uuid.UUID:
        segments = count_segments(body)
        row = StoredMessage(
            uuid.uuid4(),
            tenant_id,
            conversation_id,
            "out",
            purpose,
            from_number,
            to_number,
            body,
            "pending",
            segments.count,
            segments.encoding,
            reference_at=reference_at,
        )
        self.messages[row.id] = row
        return row.id

    def insert_inbound(
        self,
        *,
        tenant_id: uuid.UUID,
        from_number: str,
        to_number: str,
        body: str,
        message_sid: str,
        received_at: datetime,
    ) -> uuid.UUID | None:
        if any(row.provider_ref == message_sid for row in self.messages.values()):
            return None
        segments = count_segments(body)
        row = StoredMessage(
            uuid.uuid4(),
            tenant_id,
            None,
            "in",
            None,
            from_number,
            to_number,
            body,
            "received",
            segments.count,
            segments.encoding,
            provider_ref=message_sid,
            created_at=received_at,
        )
        self.messages[row.id] = row
        return row.id

    def attach_message(self, message_id: uuid.UUID, conversation_id: uuid.UUID) -> None:
        self.messages[message_id].conversation_id = conversation_id

    def outbound_message(self, *, tenant_id: uuid.UUID, message_id: uuid.UUID) -> OutboundMessage:
        row = self.messages[message_id]
        assert row.tenant_id == tenant_id
        assert row.purpose is not None
        return OutboundMessage.of(row)

    def record_send_intent(self, message_id: uuid.UUID, now: datetime) -> datetime | None:
        row = self.messages[message_id]
        previous = row.send_attempted_at
        if previous is None:
            row.send_attempted_at = now
        return previous

    def mark_blocked(self, message_id: uuid.UUID, record: dict[str, Any]) -> None:
        row = self.messages[message_id]
        row.status, row.preflight = "blocked", record

    def mark_failed(self, message_id: uuid.UUID, code: int | None, record: dict[str, Any]) -> None:
        row = self.messages[message_id]
        row.status, row.error_code, row.preflight = "failed", code, record

    def mark_queued(
        self,
        message_id: uuid.UUID,
        *,
        sid: str,
        now: datetime,
        latency_ms: int | None,
        record: dict[str, Any],
        segments: int | None,
    ) -> None:
        row = self.messages[message_id]
        row.status, row.provider_ref, row.queued_at, row.preflight = "queued", sid, now, record
        row.first_response_latency_ms = latency_ms
        if segments is not None:
            row.segments = segments

    def _by_sid(self, tenant_id: uuid.UUID, sid: str) -> StoredMessage | None:
        return next(
            (row for row in self.messages.values() if row.provider_ref == sid and row.tenant_id == tenant_id), None
        )

    def advance_status(
        self, *, tenant_id: uuid.UUID, sid: str, status: str, error_code: int | None
    ) -> StatusMove | None:
        row = self._by_sid(tenant_id, sid)
        if row is None or STATUS_RANK.get(row.status, 3) >= STATUS_RANK[status]:
            return None
        previous = row.status
        row.status = status
        if error_code is not None:
            row.error_code = error_code
        return StatusMove(row.id, previous, row.to_number)

    def knows_message(self, *, tenant_id: uuid.UUID, sid: str) -> bool:
        return self._by_sid(tenant_id, sid) is not None

    # -- quiet hours --
    def lock_recipient(self, *, tenant_id: uuid.UUID, to_number: str) -> None:
        return None  # one thread: nothing to serialise

    def automated_sends_since(
        self, *, tenant_id: uuid.UUID, to_number: str, since: datetime, purposes: Collection[str]
    ) -> list[datetime]:
        return sorted(
            row.queued_at
            for row in self.messages.values()
            if row.tenant_id == tenant_id
            and row.to_number == to_number
            and row.purpose in purposes
            and row.queued_at is not None
            and row.queued_at > since
        )

    def caller_wrote_since(self, conversation_id: uuid.UUID, since: datetime) -> bool:
        return any(row.conversation_id == conversation_id and row.direction == "in" for row in self.messages.values())

    def defer(self, message_id: uuid.UUID, not_before: datetime, record: dict[str, Any]) -> None:
        row = self.messages[message_id]
        if row.status == "pending":
            row.not_before, row.preflight = not_before, record

    def set_appointment_context(self, conversation_id: uuid.UUID, context: dict[str, Any] | None) -> None:
        self.contexts[conversation_id] = context

    def appointment_context(self, conversation_id: uuid.UUID) -> dict[str, Any] | None:
        return self.contexts.get(conversation_id)

    # -- operator tasks --

    def open_alert(self, *, tenant_id: uuid.UUID, conversation_id: uuid.UUID, expires: datetime) -> str:
        taken = {code for code, _ in self.alerts.values()}
        code, until = self.alerts.get(conversation_id, (None, expires))
        while code is None or (conversation_id not in self.alerts and code in taken):
            code = new_alert_code()
        self.alerts[conversation_id] = (code, max(until, expires))
        return code

    # -- callers' names --

    def name_caller(
        self, *, tenant_id: uuid.UUID, caller: str, name: str, source: str, named_by: uuid.UUID | None
    ) -> bool:
        current = self.names.get((tenant_id, caller))
        if current is not None and current[1] == "staff" and source != "staff":
            return False
        self.names[(tenant_id, caller)] = (name, source)
        return True

    def caller_name(self, *, tenant_id: uuid.UUID, caller: str) -> str | None:
        current = self.names.get((tenant_id, caller))
        return None if current is None else current[0]

    def ask_opt_out_review(self, *, tenant_id: uuid.UUID, conversation_id: uuid.UUID, phone: str, note: str) -> None:
        if not any(
            task.tenant_id == tenant_id
            and task.conversation_id == conversation_id
            and task.kind == "review_opt_out"
            and task.status == "open"
            for task in self.tasks
        ):
            self.add_task(
                tenant_id=tenant_id, kind="review_opt_out", conversation_id=conversation_id, phone=phone, note=note
            )

    def add_task(
        self, *, tenant_id: uuid.UUID, kind: str, conversation_id: uuid.UUID | None, phone: str, note: str
    ) -> None:
        self.tasks.append(StoredTask(uuid.uuid4(), tenant_id, kind, conversation_id, phone, note))

    def complete_task(self, *, tenant_id: uuid.UUID, task_id: uuid.UUID) -> bool:
        for task in self.tasks:
            if task.id == task_id and task.tenant_id == tenant_id:
                task.status = "done"
                return True
        return False


def _conforms(store: MemoryConversationStore) -> ConversationStore:
    return store  # mypy checks here that the fake implements every verb of the protocol


class RecordingContext(HandlerContext):
    """A handler context whose follow-up events are kept in ``events`` instead of written to the outbox."""

    def __init__(self, tenant_id: uuid.UUID, *, attempt: int = 1) -> None:
        super().__init__(session=NO_SESSION, envelope=_cause(tenant_id), attempt=attempt)
        self.events: list[object] = []

    def emit(
        self, event: object, *, tenant_id: uuid.UUID | None = None, occurred_at: datetime | None = None
    ) -> Envelope:
        envelope = build_envelope(
            event,
            tenant_id=tenant_id if tenant_id is not None else self.envelope.tenant_id,
            correlation_id=self.envelope.correlation_id,
            causation_id=self.envelope.event_id,
            occurred_at=occurred_at,
        )
        self.events.append(event)
        return envelope

    def of(self, event_type: type) -> list[Any]:
        return [event for event in self.events if isinstance(event, event_type)]


def _cause(tenant_id: uuid.UUID) -> Envelope:
    return Envelope(
        event_id=uuid.uuid4(),
        event_name="test.cause",
        schema_version=1,
        tenant_id=tenant_id,
        occurred_at=datetime.now(UTC),
        correlation_id=uuid.uuid4(),
        causation_id=None,
    )


# -- the other ports, as plain fakes --


def profile(tenant_id: uuid.UUID, *, owner_mobile: str | None = "+16175550999", open_now: bool = True) -> TenantProfile:
    return TenantProfile(
        id=tenant_id,
        name="Ace Plumbing",
        timezone="America/New_York",
        number="+16175550100",
        owner_mobile=owner_mobile,
        first_message_template="Hi, this is {business}. Sorry we missed your call: how can we help?",
        after_hours_template="Hi, this is {business}. We're closed now but can book you in: what do you need?",
        help_text="Ace Plumbing: reply STOP to opt out.",
        open_now=open_now,
    )


@dataclass
class Directory:
    tenant: TenantProfile | None

    def profile(self, session: Session, tenant_id: uuid.UUID, now: datetime) -> TenantProfile | None:
        return self.tenant


@dataclass(frozen=True)
class Decision:
    allowed: bool = True
    reason: str | None = None

    def as_record(self) -> dict[str, object]:
        return {"allowed": self.allowed, "reason": self.reason}


@dataclass
class Gate:
    decision: Decision = field(default_factory=Decision)
    checked: list[tuple[str, str | None, str]] = field(default_factory=list)

    def check(
        self, session: Session, *, tenant_id: uuid.UUID, to_number: str, conversation_state: str | None, purpose: str
    ) -> PreflightDecision:
        self.checked.append((to_number, conversation_state, purpose))
        return self.decision


class NoAppointment:
    """Appointment replies for flows whose conversations have no appointment in context: never asked."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"no appointment is in context, yet {name} was asked")


class NoQuietHours:
    """A send window that never applies (the flows' own tests; quiet hours are tested against Postgres)."""

    counted_purposes = frozenset({"reminder"})

    def applies(self, session: Session, *, tenant_id: uuid.UUID, purpose: str, replying: bool) -> bool:
        return False

    def assess(self, session: Session, **_: object) -> object:
        raise AssertionError("never assessed when it does not apply")


@dataclass
class Sms:
    """Accepts every message unless ``failure`` is set; ``earlier`` is what ``find_sent`` finds."""

    failure: SendFailed | None = None
    earlier: SentEarlier | None = None
    sent: list[tuple[str, str]] = field(default_factory=list)

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
        assert decision.allowed
        if self.failure is not None:
            raise self.failure
        self.sent.append((to, body))
        return Accepted(sid=f"SM{uuid.uuid4().hex}", status="queued", num_segments=count_segments(body).count)

    def find_sent(self, *, to: str, from_: str, body: str, since: datetime) -> SentEarlier | None:
        return self.earlier

    def fetch_status(self, sid: str) -> tuple[str, int | None]:
        raise AssertionError("the flows never poll")

    def list_sent(self, *, from_: str, since: datetime) -> list[tuple[str, str, int | None]]:
        raise AssertionError("the flows never reconcile")


@dataclass
class Keywords:
    kinds: dict[str, str] = field(default_factory=dict)
    opted_out: set[str] = field(default_factory=set)
    provider_opt_outs: list[tuple[str, str]] = field(default_factory=list)

    def classify(self, body: str) -> str:
        return self.kinds.get(body.strip().upper(), "none")

    def is_opted_out(self, session: Session, *, tenant_id: uuid.UUID, phone: str, at: datetime | None = None) -> bool:
        return phone in self.opted_out

    def carrier_confirms(self, body: str) -> bool:
        return body.strip().upper() in {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"}

    def record_provider_opt_out(
        self, session: Session, *, tenant_id: uuid.UUID, phone: str, message_ref: str, events: EventSink
    ) -> None:
        self.provider_opt_outs.append((phone, message_ref))


@dataclass
class Appointments:
    upcoming: bool = False

    def has_upcoming(self, session: Session, *, tenant_id: uuid.UUID, phone: str, now: datetime) -> bool:
        return self.upcoming


@dataclass
class Engine:
    """Answers every turn with ``result``; the turns it was given are kept."""

    result: TurnResult
    turns: list[Turn] = field(default_factory=list)

    def respond(self, turn: Turn, tools: BookingTools) -> TurnResult:
        self.turns.append(turn)
        return self.result


def no_tools(
    session: Session,
    *,
    tenant_id: uuid.UUID,
    caller: str,
    conversation_id: uuid.UUID,
    timezone: str,
    now: datetime,
    events: EventSink,
) -> BookingTools:
    return cast(BookingTools, None)  # the scripted Engine never calls a tool


Clock = Callable[[], datetime]
