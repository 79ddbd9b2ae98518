"""The conversations store: every statement on the conv_* tables, named, in one place, behind verbs.

Flows and operator actions say what happens to a conversation (open or get it, hand it to a human, release, close,
block, insert an outbound message, mark it queued/failed/blocked, advance its status); this file says how Postgres
does it. Each state change is one conditional statement, so a race is decided by the database, never in Python.
``ConversationStore`` is the protocol the flows are written against; ``tests/support/conversation_store.py`` is the
in-memory one their unit tests use. The reads behind the operator API and the scheduled scans are Postgres-only.
"""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import Row, TextClause, and_, select, text, tuple_
from sqlalchemy.orm import Session, sessionmaker

from db.engine import UNPREPARED
from domain.conversations.messaging import STATUS_RANK, count_segments
from domain.conversations.models import (
    ALERT_CODE_DIGITS,
    ALERT_CODE_LETTERS,
    Caller,
    Conversation,
    Message,
    OperatorTask,
)
from domain.conversations.states import LIVE_STATE_PREDICATE

LIVE = LIVE_STATE_PREDICATE
# A tenant has 1,152 codes and a handful of open alerts: a clash is rare, ten in a row means something is wrong.
ALERT_CODE_ATTEMPTS = 10


def new_alert_code() -> str:
    """A random code in the alert shape (``K47``); Postgres decides whether it is free."""
    pick = secrets.choice
    return pick(ALERT_CODE_LETTERS) + pick(ALERT_CODE_DIGITS) + pick(ALERT_CODE_DIGITS)


class AlertCodesExhausted(Exception):
    """Every code tried was taken by another open alert of the tenant."""


@dataclass(frozen=True)
class AlertTarget:
    """An open staff alert and the state of its conversation, as a member's command finds it."""

    code: str
    conversation_id: uuid.UUID
    caller: str
    state: str
    human_user_id: uuid.UUID | None
    human_lease_expires_at: datetime | None


@dataclass(frozen=True)
class Opened:
    """The caller's live conversation; ``opened`` when this call created it."""

    id: uuid.UUID
    state: str
    opened: bool


@dataclass(frozen=True)
class OutboundMessage:
    id: uuid.UUID
    conversation_id: uuid.UUID | None
    status: str
    purpose: str
    to_number: str
    from_number: str
    body: str
    reference_at: datetime | None
    not_before: datetime | None = None

    @classmethod
    def of(cls, row: Any) -> OutboundMessage:
        """From anything with these attributes: a ``conv_messages`` row, or the in-memory store's message."""
        values: dict[str, Any] = {field.name: getattr(row, field.name, None) for field in fields(cls)}
        return cls(**values)


@dataclass(frozen=True)
class Grace:
    """A first SMS held for the callback grace period (``conv_first_response_graces``)."""

    id: uuid.UUID
    tenant_id: uuid.UUID
    conversation_id: uuid.UUID
    caller: str
    business_number: str
    call_sid: str
    missed_at: datetime
    send_after: datetime
    decision: str | None
    reason: str | None

    @classmethod
    def of(cls, row: Any) -> Grace:
        return cls(**{field.name: getattr(row, field.name) for field in fields(cls)})


@dataclass(frozen=True)
class StatusMove:
    """A message that moved forward: its previous status and where it went."""

    message_id: uuid.UUID
    previous: str
    to_number: str


class ConversationStore(Protocol):
    """The verbs the conversation flows and operator actions are written in (one transaction, the caller's)."""

    # -- conversations --
    def open_or_get(self, *, tenant_id: uuid.UUID, caller: str) -> Opened:
        """The caller's live conversation, opened if there is none, and held until the transaction ends."""
        ...

    def hand_to_human(
        self,
        *,
        tenant_id: uuid.UUID,
        conversation_id: uuid.UUID,
        expires: datetime,
        acknowledgement: uuid.UUID | None = None,
    ) -> None:
        """The caller asked for a person: an open conversation goes to ``human`` until ``expires``;
        ``acknowledgement`` is the message telling the caller so, which the sender may still send."""
        ...

    def take_over(
        self, *, tenant_id: uuid.UUID, conversation_id: uuid.UUID, user_id: uuid.UUID | None, expires: datetime
    ) -> bool:
        """An operator takes (or renews) the conversation; another operator's unexpired lease wins."""
        ...

    def hold_for_human_reply(
        self, *, tenant_id: uuid.UUID, conversation_id: uuid.UUID, holder: uuid.UUID | None = None
    ) -> str | None:
        """The caller's number if a human holds the conversation (touched and locked), else None; with ``holder``,
        only if that holder's lease is the one in force."""
        ...

    def release(self, *, tenant_id: uuid.UUID, conversation_id: uuid.UUID, holder: uuid.UUID | None = None) -> bool:
        """Back to the AI; with ``holder``, only from that holder."""
        ...

    def close(self, *, tenant_id: uuid.UUID, conversation_id: uuid.UUID) -> bool: ...

    def block_caller(self, *, tenant_id: uuid.UUID, phone: str) -> list[uuid.UUID]:
        """Every live conversation with ``phone`` blocked (an opt-out); returns their ids."""
        ...

    def state_for_send(self, conversation_id: uuid.UUID) -> str:
        """The state, share-locked: a takeover committing now waits for the send, or the send sees it."""
        ...

    def acknowledges_takeover(self, conversation_id: uuid.UUID, message_id: uuid.UUID) -> bool:
        """Whether ``message_id`` is the acknowledgement queued with the conversation's takeover."""
        ...

    def engine_state(self, conversation_id: uuid.UUID) -> dict[str, Any]: ...

    def save_engine_state(self, conversation_id: uuid.UUID, state: dict[str, Any]) -> None: ...

    def claim_first_response(
        self, *, tenant_id: uuid.UUID, caller: str, call_sid: str, now: datetime, window: timedelta
    ) -> bool:
        """One first SMS per caller per tenant per ``window``: True if this call won it."""
        ...

    # -- the callback grace period (a first SMS held until it ends) --
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
        """Hold the caller's first SMS until ``send_after``; None when one is already held (the same episode)."""
        ...

    def first_response_grace(self, *, tenant_id: uuid.UUID, grace_id: uuid.UUID) -> Grace | None: ...

    def decide_first_response(
        self, *, tenant_id: uuid.UUID, grace_id: uuid.UUID, decision: str, reason: str, call_sid: str | None
    ) -> bool:
        """Decide a held first SMS once: True only for the one decision that found it undecided."""
        ...

    def note_answered_call(self, *, tenant_id: uuid.UUID, caller: str, answered_at: datetime) -> None:
        """A person spoke with ``caller`` on the phone at ``answered_at``: their live conversation remembers it."""
        ...

    def withhold_for_answered_call(
        self, *, tenant_id: uuid.UUID, caller: str, answered_at: datetime, reason: str, call_sid: str
    ) -> Grace | None:
        """An answered call with ``caller`` withholds their undecided first SMS (missed before ``answered_at``);
        the grace it decided, or None."""
        ...

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
        """The one way an outbound message is written: ``pending``, with its segments and encoding."""
        ...

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
        """The caller's message, once per provider SID (None when it was already recorded), dated when the provider
        handed it to us (``received_at``), not when a worker got to it."""
        ...

    def attach_message(self, message_id: uuid.UUID, conversation_id: uuid.UUID) -> None: ...

    def outbound_message(self, *, tenant_id: uuid.UUID, message_id: uuid.UUID) -> OutboundMessage: ...

    def record_send_intent(self, message_id: uuid.UUID, now: datetime) -> datetime | None:
        """Commit "about to call the provider" on its own, before the call; the earlier intent's time if any."""
        ...

    def mark_blocked(self, message_id: uuid.UUID, record: dict[str, Any]) -> None: ...

    def mark_failed(self, message_id: uuid.UUID, code: int | None, record: dict[str, Any]) -> None: ...

    def mark_queued(
        self,
        message_id: uuid.UUID,
        *,
        sid: str,
        now: datetime,
        latency_ms: int | None,
        record: dict[str, Any],
        segments: int | None,
    ) -> None: ...

    def advance_status(
        self, *, tenant_id: uuid.UUID, sid: str, status: str, error_code: int | None
    ) -> StatusMove | None:
        """Move the message forward only (``STATUS_RANK``); None when it would not move, or is unknown."""
        ...

    def knows_message(self, *, tenant_id: uuid.UUID, sid: str) -> bool: ...

    # -- quiet hours and the appointment lifecycle --
    def lock_recipient(self, *, tenant_id: uuid.UUID, to_number: str) -> None:
        """Hold the recipient's lane until the transaction ends: two sends to one number count each other."""
        ...

    def automated_sends_since(
        self, *, tenant_id: uuid.UUID, to_number: str, since: datetime, purposes: Collection[str]
    ) -> list[datetime]:
        """When the messages of ``purposes`` to ``to_number`` went (queued) since ``since``."""
        ...

    def caller_wrote_since(self, conversation_id: uuid.UUID, since: datetime) -> bool: ...

    def defer(self, message_id: uuid.UUID, not_before: datetime, record: dict[str, Any]) -> None:
        """Keep the message ``pending`` until ``not_before``, with the decision that deferred it."""
        ...

    def set_appointment_context(self, conversation_id: uuid.UUID, context: dict[str, Any] | None) -> None:
        """The appointment the caller's next reply is about (None: none)."""
        ...

    def appointment_context(self, conversation_id: uuid.UUID) -> dict[str, Any] | None: ...

    # -- staff alerts --
    def open_alert(self, *, tenant_id: uuid.UUID, conversation_id: uuid.UUID, expires: datetime) -> str:
        """The code of the conversation's open staff alert, renewed until ``expires``, or of a new one."""
        ...

    # -- callers' names --
    def name_caller(
        self, *, tenant_id: uuid.UUID, caller: str, name: str, source: str, named_by: uuid.UUID | None
    ) -> bool:
        """Record the caller's name; caller ID's (``source`` ``caller_id``) never replaces one staff gave. True when
        it was recorded."""
        ...

    def caller_name(self, *, tenant_id: uuid.UUID, caller: str) -> str | None: ...

    # -- operator tasks --
    def ask_opt_out_review(self, *, tenant_id: uuid.UUID, conversation_id: uuid.UUID, phone: str, note: str) -> None:
        """One open review per conversation, however often it is asked for."""
        ...

    def add_task(
        self, *, tenant_id: uuid.UUID, kind: str, conversation_id: uuid.UUID | None, phone: str, note: str
    ) -> None: ...

    def complete_task(self, *, tenant_id: uuid.UUID, task_id: uuid.UUID) -> bool: ...


# A flow is handed this and calls it with its own session (the delivery's transaction).
StoreFactory = Callable[[Session], ConversationStore]


_STATEMENTS: dict[str, str] = {
    # -- conversations --
    "open_conversation": (
        "INSERT INTO conv_conversations (id, tenant_id, caller, state) VALUES (:id, :tenant, :caller, 'open')"
        f" ON CONFLICT (tenant_id, caller) WHERE {LIVE} DO NOTHING RETURNING id"
    ),
    "lock_live_conversation": (
        f"SELECT id, state FROM conv_conversations WHERE tenant_id = :tenant AND caller = :caller AND {LIVE} FOR UPDATE"
    ),
    "hand_to_human": (
        "UPDATE conv_conversations SET state = 'human', human_lease_expires_at = :expires,"
        " handoff_ack_message_id = :ack, updated_at = now()"
        " WHERE id = :id AND tenant_id = :tenant AND state = 'open'"
    ),
    "take_over": (
        "UPDATE conv_conversations SET state = 'human', human_user_id = :user, human_lease_expires_at = :expires,"
        " updated_at = now()"
        # Nobody holds a conversation the caller handed to a person (human_user_id NULL): the first taker does.
        " WHERE tenant_id = :tenant AND id = :id AND (state = 'open' OR (state = 'human' AND"
        " (human_user_id IS NULL OR human_user_id = :user OR human_lease_expires_at IS NULL"
        "  OR human_lease_expires_at < now()))) RETURNING id"
    ),
    "hold_for_human_reply": (
        "UPDATE conv_conversations SET updated_at = now() WHERE tenant_id = :tenant AND id = :id"
        " AND state = 'human' AND (CAST(:holder AS uuid) IS NULL OR (human_user_id = :holder"
        "  AND human_lease_expires_at > now())) RETURNING caller"
    ),
    "release": (
        "UPDATE conv_conversations SET state = 'open', human_user_id = NULL, human_lease_expires_at = NULL,"
        " updated_at = now() WHERE tenant_id = :tenant AND id = :id AND state = 'human'"
        " AND (CAST(:holder AS uuid) IS NULL OR human_user_id = :holder) RETURNING id"
    ),
    "close": (
        "UPDATE conv_conversations SET state = 'closed', closed_at = now(), human_user_id = NULL,"
        " human_lease_expires_at = NULL, updated_at = now()"
        f" WHERE tenant_id = :tenant AND id = :id AND {LIVE} RETURNING id"
    ),
    "block_caller": (
        "UPDATE conv_conversations SET state = 'blocked', updated_at = now(), closed_at = now()"
        f" WHERE tenant_id = :tenant AND caller = :phone AND {LIVE} RETURNING id"
    ),
    "expire_human_leases": (
        "UPDATE conv_conversations SET state = 'open', human_user_id = NULL, human_lease_expires_at = NULL,"
        " updated_at = now() WHERE id IN (SELECT id FROM conv_conversations WHERE state = 'human'"
        " AND human_lease_expires_at < :now ORDER BY human_lease_expires_at LIMIT :limit FOR UPDATE SKIP LOCKED)"
        " RETURNING id, tenant_id"
    ),
    "state_for_send": "SELECT state FROM conv_conversations WHERE id = :id FOR SHARE",
    "acknowledges_takeover": (
        "SELECT handoff_ack_message_id IS NOT DISTINCT FROM :message FROM conv_conversations WHERE id = :id"
    ),
    "engine_state": "SELECT engine_state FROM conv_conversations WHERE id = :id",
    "save_engine_state": (
        "UPDATE conv_conversations SET engine_state = CAST(:state AS jsonb), updated_at = now() WHERE id = :id"
    ),
    "claim_first_response": (
        "INSERT INTO conv_first_response_claims (id, tenant_id, caller, claimed_at, call_sid)"
        " VALUES (:id, :tenant, :caller, :now, :call_sid)"
        " ON CONFLICT (tenant_id, caller) DO UPDATE SET claimed_at = EXCLUDED.claimed_at,"
        " call_sid = EXCLUDED.call_sid"
        " WHERE conv_first_response_claims.claimed_at <= :window_start RETURNING id"
    ),
    # -- the callback grace period --
    "defer_first_response": (
        "INSERT INTO conv_first_response_graces (id, tenant_id, conversation_id, caller, business_number, call_sid,"
        " missed_at, send_after, correlation_id, causation_id) VALUES (:id, :tenant, :conversation, :caller,"
        " :business_number, :call_sid, :missed_at, :send_after, :correlation, :causation)"
        " ON CONFLICT (tenant_id, caller) WHERE decided_at IS NULL DO NOTHING RETURNING id"
    ),
    "first_response_grace": (
        "SELECT id, tenant_id, conversation_id, caller, business_number, call_sid, missed_at, send_after, decision,"
        " reason FROM conv_first_response_graces WHERE id = :id AND tenant_id = :tenant"
    ),
    # The one decision: whoever's UPDATE finds it undecided wins; a racing one waits on the row, then finds it decided.
    "decide_first_response": (
        "UPDATE conv_first_response_graces SET decided_at = now(), decision = :decision, reason = :reason,"
        " deciding_call_sid = :call_sid WHERE id = :id AND tenant_id = :tenant AND decided_at IS NULL RETURNING id"
    ),
    "note_answered_call": (
        "UPDATE conv_conversations SET call_answered_at = greatest(call_answered_at, :answered_at), updated_at = now()"
        f" WHERE tenant_id = :tenant AND caller = :caller AND {LIVE}"
    ),
    "withhold_for_answered_call": (
        "UPDATE conv_first_response_graces SET decided_at = now(), decision = 'withheld', reason = :reason,"
        " deciding_call_sid = :call_sid WHERE tenant_id = :tenant AND caller = :caller AND decided_at IS NULL"
        " AND missed_at <= :answered_at AND call_sid <> :call_sid"
        " RETURNING id, tenant_id, conversation_id, caller, business_number, call_sid, missed_at, send_after,"
        " decision, reason"
    ),
    "release_due_graces": (
        "UPDATE conv_first_response_graces SET released_at = :now WHERE id IN (SELECT id FROM"
        " conv_first_response_graces WHERE decided_at IS NULL AND released_at IS NULL AND send_after <= :now"
        " ORDER BY send_after LIMIT :limit FOR UPDATE SKIP LOCKED)"
        " RETURNING id, tenant_id, conversation_id, call_sid, correlation_id, causation_id"
    ),
    "graces_of": (
        "SELECT id, call_sid, missed_at, send_after, decided_at, decision, reason, deciding_call_sid"
        " FROM conv_first_response_graces WHERE tenant_id = :tenant AND conversation_id = :id ORDER BY created_at"
    ),
    # -- messages --
    "insert_outbound": (
        "INSERT INTO conv_messages (id, tenant_id, conversation_id, direction, purpose, from_number, to_number,"
        " body, status, segments, encoding, reference_at)"
        " VALUES (:id, :tenant, :conversation, 'out', :purpose, :from_number, :to_number, :body, 'pending',"
        " :segments, :encoding, :reference_at)"
    ),
    "insert_inbound": (
        "INSERT INTO conv_messages (id, tenant_id, direction, from_number, to_number, body, status, provider_ref,"
        " segments, encoding, created_at) VALUES (:id, :tenant, 'in', :from_number, :to_number, :body, 'received',"
        " :sid, :segments, :encoding, :received_at) ON CONFLICT (provider_ref) DO NOTHING RETURNING id"
    ),
    "attach_message": "UPDATE conv_messages SET conversation_id = :conversation WHERE id = :id",
    "outbound_message": (
        "SELECT id, conversation_id, status, purpose, to_number, from_number, body, reference_at, not_before"
        " FROM conv_messages WHERE id = :id AND tenant_id = :tenant"
    ),
    # One statement: the row locked, the earlier intent (if any) kept and returned as it was before this one; a
    # concurrent attempt waits on the lock and then reads the intent this one committed.
    "record_send_intent": (
        "UPDATE conv_messages m SET send_attempted_at = coalesce(m.send_attempted_at, :now)"
        " FROM (SELECT id, send_attempted_at FROM conv_messages WHERE id = :id FOR UPDATE) AS earlier"
        " WHERE m.id = earlier.id RETURNING earlier.send_attempted_at"
    ),
    "mark_blocked": (
        "UPDATE conv_messages SET status = 'blocked', preflight = CAST(:record AS jsonb), updated_at = now()"
        " WHERE id = :id"
    ),
    "mark_failed": (
        "UPDATE conv_messages SET status = 'failed', error_code = :code, preflight = CAST(:record AS jsonb),"
        " updated_at = now() WHERE id = :id"
    ),
    "mark_queued": (
        "UPDATE conv_messages SET status = 'queued', provider_ref = :sid, queued_at = :now,"
        " first_response_latency_ms = :latency, preflight = CAST(:record AS jsonb),"
        " segments = COALESCE(:segments, segments), updated_at = now() WHERE id = :id"
    ),
    # The CASE is STATUS_RANK: a late, duplicated or out-of-order callback never moves a message backwards.
    "advance_status": (
        "WITH current AS (SELECT id, status FROM conv_messages WHERE provider_ref = :sid AND tenant_id = :tenant"
        " FOR UPDATE)"
        " UPDATE conv_messages m SET status = :status, error_code = COALESCE(:code, m.error_code),"
        " updated_at = now() FROM current WHERE m.id = current.id"
        " AND (CASE current.status WHEN 'pending' THEN 0 WHEN 'queued' THEN 1 WHEN 'sent' THEN 2 ELSE 3 END)"
        " < :rank"
        " RETURNING m.id, current.status AS previous, m.to_number"
    ),
    "knows_message": "SELECT 1 FROM conv_messages WHERE provider_ref = :sid AND tenant_id = :tenant",
    # -- quiet hours --
    "lock_recipient": "SELECT pg_advisory_xact_lock(hashtextextended(CAST(:tenant AS text) || :phone, 7018))",
    "automated_sends_since": (
        "SELECT queued_at FROM conv_messages WHERE tenant_id = :tenant AND to_number = :phone AND direction = 'out'"
        " AND queued_at > :since AND purpose = ANY(:purposes) ORDER BY queued_at"
    ),
    "caller_wrote_since": (
        "SELECT 1 FROM conv_messages WHERE conversation_id = :id AND direction = 'in' AND created_at > :since LIMIT 1"
    ),
    "defer": (
        "UPDATE conv_messages SET not_before = :not_before, preflight = CAST(:record AS jsonb), updated_at = now()"
        " WHERE id = :id AND status = 'pending'"
    ),
    # -- the appointment lifecycle --
    "follow_up_candidates": """
    SELECT c.id AS conversation_id, c.tenant_id, c.caller, m.id AS first_message_id, m.from_number
    FROM unnest(CAST(:tenants AS uuid[]), CAST(:delays AS int[])) AS t(tenant_id, delay)
    JOIN conv_conversations c ON c.tenant_id = t.tenant_id AND c.state = 'open' AND c.human_user_id IS NULL
         AND c.handoff_ack_message_id IS NULL
    JOIN LATERAL (SELECT id, from_number, queued_at FROM conv_messages WHERE conversation_id = c.id
                  AND purpose = 'first_response' AND status IN ('queued', 'sent', 'delivered')
                  ORDER BY seq DESC LIMIT 1) m ON TRUE
    WHERE c.call_answered_at IS NULL
      AND m.queued_at <= :now - make_interval(mins => t.delay)
      AND m.queued_at > :now - make_interval(mins => t.delay) - interval '1 day'
      AND NOT EXISTS (SELECT 1 FROM conv_messages x WHERE x.conversation_id = c.id
                      AND (x.direction = 'in' OR x.purpose IN ('follow_up', 'human_reply')))
    ORDER BY m.queued_at
    LIMIT :limit
    """,
    # The partial unique index (one follow-up per conversation) decides between two jobs; the loser inserts nothing.
    "insert_follow_up": (
        "INSERT INTO conv_messages (id, tenant_id, conversation_id, direction, purpose, from_number, to_number, body,"
        " status, segments, encoding) VALUES (:id, :tenant, :conversation, 'out', 'follow_up', :from_number,"
        " :to_number, :body, 'pending', :segments, :encoding)"
        " ON CONFLICT (conversation_id) WHERE purpose = 'follow_up' DO NOTHING RETURNING id"
    ),
    "set_appointment_context": (
        "UPDATE conv_conversations SET appointment_context = CAST(:context AS jsonb), updated_at = now() WHERE id = :id"
    ),
    "appointment_context": "SELECT appointment_context FROM conv_conversations WHERE id = :id",
    # The scheduler asks again for deferred messages whose time has come; clearing not_before in the same statement
    # is what makes each one asked for once.
    "release_deferred": (
        "UPDATE conv_messages m SET not_before = NULL, updated_at = now() WHERE m.id IN (SELECT id FROM conv_messages"
        " WHERE status = 'pending' AND not_before IS NOT NULL AND not_before <= :now ORDER BY not_before"
        " LIMIT :limit FOR UPDATE SKIP LOCKED)"
        " RETURNING m.id, m.tenant_id, m.conversation_id, m.to_number, m.from_number, m.body, m.purpose"
    ),
    "silent_messages": (
        "SELECT id, tenant_id, provider_ref, status FROM conv_messages"
        " WHERE direction = 'out' AND status IN ('queued', 'sent') AND provider_ref IS NOT NULL"
        " AND updated_at < :silent_since AND queued_at > :horizon"
        " ORDER BY updated_at LIMIT :limit FOR UPDATE SKIP LOCKED"
    ),
    "touch_message": "UPDATE conv_messages SET updated_at = now() WHERE id = :id",
    "sent_since": (
        "SELECT m.tenant_id, m.provider_ref, m.status, m.from_number FROM conv_messages m"
        " WHERE m.direction = 'out' AND m.provider_ref IS NOT NULL AND m.queued_at > :since"
    ),
    # -- staff alerts --
    # An alert past its time, or whose conversation is no longer live, frees its code (partial indexes cannot say
    # "expired", so the row says it).
    "close_stale_alerts": (
        "UPDATE conv_staff_alerts a SET closed_at = now() WHERE a.tenant_id = :tenant AND a.closed_at IS NULL"
        " AND (a.expires_at <= now() OR NOT EXISTS (SELECT 1 FROM conv_conversations c"
        f"  WHERE c.id = a.conversation_id AND c.{LIVE}))"
    ),
    "renew_alert": (
        "UPDATE conv_staff_alerts SET expires_at = greatest(expires_at, :expires) WHERE tenant_id = :tenant"
        " AND conversation_id = :conversation AND closed_at IS NULL RETURNING code"
    ),
    # Either partial unique index refuses it: the code is taken (try another) or the conversation got an alert
    # meanwhile (renew that one).
    "insert_alert": (
        "INSERT INTO conv_staff_alerts (id, tenant_id, conversation_id, code, expires_at)"
        " VALUES (:id, :tenant, :conversation, :code, :expires) ON CONFLICT DO NOTHING RETURNING code"
    ),
    "open_alerts": (
        "SELECT a.code, a.conversation_id, c.caller, c.state, c.human_user_id, c.human_lease_expires_at"
        " FROM conv_staff_alerts a JOIN conv_conversations c ON c.id = a.conversation_id"
        " WHERE a.tenant_id = :tenant AND a.closed_at IS NULL AND a.expires_at > now()"
        f" AND c.{LIVE} AND (CAST(:code AS text) IS NULL OR a.code = :code)"
        " ORDER BY a.created_at DESC, a.code LIMIT :limit"
    ),
    # -- operator tasks --
    # The caller's conversation row is held (``open_or_get``), so two of these cannot interleave.
    "ask_opt_out_review": (
        "INSERT INTO conv_operator_tasks (id, tenant_id, kind, conversation_id, subject_ref, note)"
        " SELECT :id, :tenant, 'review_opt_out', :conversation, :phone, :note WHERE NOT EXISTS ("
        "SELECT 1 FROM conv_operator_tasks WHERE tenant_id = :tenant AND conversation_id = :conversation"
        " AND kind = 'review_opt_out' AND status = 'open')"
    ),
    "add_task": (
        "INSERT INTO conv_operator_tasks (id, tenant_id, kind, conversation_id, subject_ref, note)"
        " VALUES (:id, :tenant, :kind, :conversation, :phone, :note)"
    ),
    "complete_task": (
        "UPDATE conv_operator_tasks SET status = 'done', done_at = coalesce(done_at, now())"
        " WHERE tenant_id = :tenant AND id = :id RETURNING id"
    ),
    # -- callers' names: staff's always wins; caller ID's only where staff gave none (one statement decides) --
    "name_caller": (
        "INSERT INTO conv_callers AS n (tenant_id, caller, name, source, named_by, updated_at)"
        " VALUES (:tenant, :caller, :name, :source, :by, now())"
        " ON CONFLICT (tenant_id, caller) DO UPDATE SET name = excluded.name, source = excluded.source,"
        " named_by = excluded.named_by, updated_at = now()"
        " WHERE excluded.source = 'staff' OR n.source <> 'staff' RETURNING n.caller"
    ),
    "caller_name": "SELECT name FROM conv_callers WHERE tenant_id = :tenant AND caller = :caller",
}

# -- the staff inbox (Postgres-only reads): one statement per view, with and without a search on the number --
INBOX_VIEWS = ("open", "human", "closed", "blocked", "attention", "all")
_OPEN_TASK = (
    "EXISTS (SELECT 1 FROM conv_operator_tasks t WHERE t.conversation_id = c.id AND t.status = 'open'"
    " AND t.tenant_id = c.tenant_id)"
)
_OPEN_ALERT = (
    "EXISTS (SELECT 1 FROM conv_staff_alerts a WHERE a.conversation_id = c.id AND a.tenant_id = c.tenant_id"
    " AND a.closed_at IS NULL AND a.expires_at > now())"
)
# Needs attention: a live conversation whose caller asked for a person (handed over with nobody holding it yet),
# with an open operator task (an opt-out to review, an appointment to confirm), or whose staff alert is still open
# (the AI judged it urgent, or the caller asked for a person).
_ATTENTION = f"(c.{LIVE} AND ((c.state = 'human' AND c.human_user_id IS NULL) OR {_OPEN_TASK} OR {_OPEN_ALERT}))"
_VIEW_FILTERS = {
    "open": "c.state = 'open'",
    "human": "c.state = 'human'",
    "closed": "c.state = 'closed'",
    "blocked": "c.state = 'blocked'",
    "attention": _ATTENTION,
    "all": "TRUE",
}
_INBOX_PAGE = (
    "SELECT c.id, c.caller, n.name AS caller_name, c.state, c.human_user_id, c.human_lease_expires_at, c.opened_at,"
    " c.last_message_seq,"
    " m.body AS preview, m.direction AS preview_direction, m.created_at AS last_message_at,"
    " coalesce(r.last_read_seq, 0) < c.last_message_seq AS unread,"
    f" (c.state = 'human' AND c.human_user_id IS NULL) AS asked_for_person, {_ATTENTION} AS needs_attention,"
    " (SELECT array_agg(DISTINCT t.kind ORDER BY t.kind) FROM conv_operator_tasks t WHERE t.conversation_id = c.id"
    " AND t.status = 'open' AND t.tenant_id = c.tenant_id) AS open_tasks,"
    " (SELECT a.code FROM conv_staff_alerts a WHERE a.conversation_id = c.id AND a.tenant_id = c.tenant_id"
    " AND a.closed_at IS NULL AND a.expires_at > now() LIMIT 1) AS alert_code,"
    # What the caller last did with the appointment a confirmation or reminder was about (confirmed, cancelled…).
    " c.appointment_context ->> 'outcome' AS appointment_outcome,"
    # Why the first text after the missed call was withheld (a callback came in its grace period), if it was.
    " (SELECT g.reason FROM conv_first_response_graces g WHERE g.conversation_id = c.id AND g.tenant_id = c.tenant_id"
    " AND g.decision = 'withheld' ORDER BY g.created_at DESC LIMIT 1) AS first_text_withheld"
    # The page's rows first, then what each shows: the planner evaluates the lateral joins and subqueries for the
    # page only, also when it drives a search from the matching callers and sorts them (rather than walking the
    # activity index and stopping at the limit).
    " FROM (SELECT * FROM conv_conversations c"
    " WHERE c.tenant_id = :tenant AND {view} AND {search} AND (c.last_message_seq, c.id) < (:before_seq, :before_id)"
    " ORDER BY c.last_message_seq DESC, c.id DESC LIMIT :limit) c"
    " LEFT JOIN LATERAL (SELECT body, direction, created_at FROM conv_messages WHERE conversation_id = c.id"
    " ORDER BY seq DESC LIMIT 1) m ON TRUE"
    " LEFT JOIN conv_member_reads r ON r.user_id = :user AND r.conversation_id = c.id"
    " LEFT JOIN conv_callers n ON n.tenant_id = c.tenant_id AND n.caller = c.caller"
    " ORDER BY c.last_message_seq DESC, c.id DESC"
)
# A search matches the caller's number (digits, when the search reads as a number) or their name: one set of matching
# callers, which the planner drives the page from when it is small (the names' trigram index, then those callers'
# conversations through ix_conv_conversations_caller, sorted) and hashes against the whole list when it is not. Its
# best plan depends on the pattern, so it is never prepared on the server (``db.engine.UNPREPARED``): psycopg prepares
# a statement after five runs on a connection and Postgres then settles on one generic plan, which for this one walked
# 10,000 conversations against every named caller (170 ms).
_SEARCH = (
    "c.caller IN (SELECT s.caller FROM conv_callers s WHERE s.tenant_id = :tenant"
    " AND (s.name ILIKE :name OR s.name ILIKE :word)"
    " UNION ALL SELECT d.caller FROM conv_conversations d WHERE d.tenant_id = :tenant"
    " AND CAST(:number AS text) IS NOT NULL AND d.caller LIKE :number)"
)
for _view, _filter in _VIEW_FILTERS.items():
    _STATEMENTS[f"inbox_{_view}"] = _INBOX_PAGE.format(view=_filter, search="TRUE")
    _STATEMENTS[f"inbox_{_view}_search"] = _INBOX_PAGE.format(view=_filter, search=_SEARCH)
# Each view's count stops at INBOX_COUNT_CAP + 1 ("99+"): an index range of at most 100 rows per view, where an
# exact count reads every conversation the tenant ever had on every page view (10,000 here: 20-50 ms under load).
INBOX_COUNT_CAP = 99
_STATEMENTS["inbox_counts"] = "SELECT " + ", ".join(
    f"(SELECT count(*) FROM (SELECT 1 FROM conv_conversations c WHERE c.tenant_id = :tenant AND {_filter}"
    f" LIMIT {INBOX_COUNT_CAP + 1}) AS {_view}_rows) AS {_view}"
    for _view, _filter in _VIEW_FILTERS.items()
)
# A read marker is a hint to the reader, not a record: its transaction does not wait for the WAL flush
# (synchronous_commit off for this transaction only, set in the same statement). A crash in the next few hundred
# milliseconds can forget that a thread was read (it shows "New" again); nothing else is relaxed.
_STATEMENTS["mark_read"] = (
    "INSERT INTO conv_member_reads (user_id, conversation_id, tenant_id, last_read_seq, read_at)"
    " SELECT :user, c.id, c.tenant_id, c.last_message_seq, now() FROM conv_conversations c"
    " CROSS JOIN (SELECT set_config('synchronous_commit', 'off', true)) AS relaxed"
    " WHERE c.id = :id AND c.tenant_id = :tenant"
    " ON CONFLICT (user_id, conversation_id) DO UPDATE SET"
    " last_read_seq = GREATEST(conv_member_reads.last_read_seq, EXCLUDED.last_read_seq), read_at = now()"
)
_STATEMENTS["open_tasks_of"] = (
    "SELECT id, kind, note, created_at FROM conv_operator_tasks WHERE tenant_id = :tenant AND conversation_id = :id"
    " AND status = 'open' ORDER BY created_at, id"
)
STATEMENTS: dict[str, TextClause] = {
    name: text(sql).execution_options(**{UNPREPARED: True}) if name.endswith("_search") else text(sql)
    for name, sql in _STATEMENTS.items()
}
# Past the newest keyset: the first page of the inbox.
INBOX_START = (2**63 - 1, uuid.UUID(int=2**128 - 1))


# A conversation's caller, as conv_callers keys them.
_CALLER_OF_CONVERSATION = and_(Caller.tenant_id == Conversation.tenant_id, Caller.caller == Conversation.caller)


# A name search this short matches the start of a word of the name ("li" finds Li Wei and Wei Li, not Julia): a piece
# of one or two letters is in too many names to mean anything, and is no trigram the index could look up.
SHORT_NAME_SEARCH = 2


def _name_patterns(name: str | None) -> tuple[str | None, str | None]:
    """The ILIKE patterns of a name search: a piece of the name, or a word start (the name's, another word's)."""
    if not name:
        return None, None
    literal = _like_literal(name)
    if len(name) <= SHORT_NAME_SEARCH:
        return f"{literal}%", f"% {literal}%"
    return f"%{literal}%", None


def _like_literal(value: str) -> str:
    """``value`` matched literally inside a LIKE pattern (Postgres's default escape is the backslash)."""
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _json(value: dict[str, Any]) -> str:
    return json.dumps(value, default=str)


class PostgresConversationStore:
    """``ConversationStore`` on the caller's session; ``intents`` opens the send intent's own transaction."""

    def __init__(self, session: Session, *, intents: sessionmaker[Session] | None = None) -> None:
        self.session = session
        self._intents = intents

    def _run(self, statement: str, /, **params: Any) -> Any:
        return self.session.execute(STATEMENTS[statement], params)

    # -- conversations --

    def open_or_get(self, *, tenant_id: uuid.UUID, caller: str) -> Opened:
        # Most texts come from a caller whose conversation is live: look for it first (one statement). The partial
        # unique index on the live states decides a race between two openers; the loser locks the winner's row.
        row = self._run("lock_live_conversation", tenant=tenant_id, caller=caller).first()
        if row is not None:
            return Opened(row.id, row.state, opened=False)
        new_id = uuid.uuid4()
        if self._run("open_conversation", id=new_id, tenant=tenant_id, caller=caller).first() is not None:
            return Opened(new_id, "open", opened=True)
        row = self._run("lock_live_conversation", tenant=tenant_id, caller=caller).one()
        return Opened(row.id, row.state, opened=False)

    def hand_to_human(
        self,
        *,
        tenant_id: uuid.UUID,
        conversation_id: uuid.UUID,
        expires: datetime,
        acknowledgement: uuid.UUID | None = None,
    ) -> None:
        self._run("hand_to_human", expires=expires, ack=acknowledgement, id=conversation_id, tenant=tenant_id)

    def take_over(
        self, *, tenant_id: uuid.UUID, conversation_id: uuid.UUID, user_id: uuid.UUID | None, expires: datetime
    ) -> bool:
        return (
            self._run("take_over", user=user_id, expires=expires, tenant=tenant_id, id=conversation_id).first()
            is not None
        )

    def hold_for_human_reply(
        self, *, tenant_id: uuid.UUID, conversation_id: uuid.UUID, holder: uuid.UUID | None = None
    ) -> str | None:
        row = self._run("hold_for_human_reply", tenant=tenant_id, id=conversation_id, holder=holder).first()
        return None if row is None else str(row.caller)

    def release(self, *, tenant_id: uuid.UUID, conversation_id: uuid.UUID, holder: uuid.UUID | None = None) -> bool:
        return self._run("release", tenant=tenant_id, id=conversation_id, holder=holder).first() is not None

    def close(self, *, tenant_id: uuid.UUID, conversation_id: uuid.UUID) -> bool:
        return self._run("close", tenant=tenant_id, id=conversation_id).first() is not None

    def block_caller(self, *, tenant_id: uuid.UUID, phone: str) -> list[uuid.UUID]:
        return list(self._run("block_caller", tenant=tenant_id, phone=phone).scalars().all())

    def expire_human_leases(self, now: datetime, *, limit: int) -> Sequence[Row[Any]]:
        """Lapsed leases handed back to the AI: (id, tenant_id) of each, skipping rows another tick holds."""
        return list(self._run("expire_human_leases", now=now, limit=limit).all())

    def state_for_send(self, conversation_id: uuid.UUID) -> str:
        return str(self._run("state_for_send", id=conversation_id).scalar_one())

    def acknowledges_takeover(self, conversation_id: uuid.UUID, message_id: uuid.UUID) -> bool:
        return bool(self._run("acknowledges_takeover", id=conversation_id, message=message_id).scalar_one())

    def engine_state(self, conversation_id: uuid.UUID) -> dict[str, Any]:
        state = self._run("engine_state", id=conversation_id).scalar_one()
        return dict(state or {})

    def save_engine_state(self, conversation_id: uuid.UUID, state: dict[str, Any]) -> None:
        self._run("save_engine_state", state=_json(state), id=conversation_id)

    def claim_first_response(
        self, *, tenant_id: uuid.UUID, caller: str, call_sid: str, now: datetime, window: timedelta
    ) -> bool:
        # One atomic upsert, however many calls or duplicate webhooks race for it.
        claimed = self._run(
            "claim_first_response",
            id=uuid.uuid4(),
            tenant=tenant_id,
            caller=caller,
            now=now,
            call_sid=call_sid,
            window_start=now - window,
        ).first()
        return claimed is not None

    # -- the callback grace period --

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
        row = self._run(
            "defer_first_response",
            id=uuid.uuid4(),
            tenant=tenant_id,
            conversation=conversation_id,
            caller=caller,
            business_number=business_number,
            call_sid=call_sid,
            missed_at=missed_at,
            send_after=send_after,
            correlation=correlation_id,
            causation=causation_id,
        ).first()
        return None if row is None else row.id

    def first_response_grace(self, *, tenant_id: uuid.UUID, grace_id: uuid.UUID) -> Grace | None:
        row = self._run("first_response_grace", id=grace_id, tenant=tenant_id).first()
        return None if row is None else Grace.of(row)

    def decide_first_response(
        self, *, tenant_id: uuid.UUID, grace_id: uuid.UUID, decision: str, reason: str, call_sid: str | None
    ) -> bool:
        row = self._run(
            "decide_first_response", id=grace_id, tenant=tenant_id, decision=decision, reason=reason, call_sid=call_sid
        ).first()
        return row is not None

    def note_answered_call(self, *, tenant_id: uuid.UUID, caller: str, answered_at: datetime) -> None:
        self._run("note_answered_call", tenant=tenant_id, caller=caller, answered_at=answered_at)

    def withhold_for_answered_call(
        self, *, tenant_id: uuid.UUID, caller: str, answered_at: datetime, reason: str, call_sid: str
    ) -> Grace | None:
        row = self._run(
            "withhold_for_answered_call",
            tenant=tenant_id,
            caller=caller,
            answered_at=answered_at,
            reason=reason,
            call_sid=call_sid,
        ).first()
        return None if row is None else Grace.of(row)

    def release_due_graces(self, now: datetime, *, limit: int) -> Sequence[Row[Any]]:
        return self._run("release_due_graces", now=now, limit=limit).all()

    def graces_of(self, *, tenant_id: uuid.UUID, conversation_id: uuid.UUID) -> Sequence[Row[Any]]:
        return self._run("graces_of", tenant=tenant_id, id=conversation_id).all()

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
        message_id = uuid.uuid4()
        segments = count_segments(body)
        self._run(
            "insert_outbound",
            id=message_id,
            tenant=tenant_id,
            conversation=conversation_id,
            purpose=purpose,
            from_number=from_number,
            to_number=to_number,
            body=body,
            segments=segments.count,
            encoding=segments.encoding,
            reference_at=reference_at,
        )
        return message_id

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
        segments = count_segments(body)
        inserted: uuid.UUID | None = self._run(
            "insert_inbound",
            id=uuid.uuid4(),
            tenant=tenant_id,
            from_number=from_number,
            to_number=to_number,
            body=body,
            sid=message_sid,
            segments=segments.count,
            encoding=segments.encoding,
            received_at=received_at,
        ).scalar()
        return inserted

    def attach_message(self, message_id: uuid.UUID, conversation_id: uuid.UUID) -> None:
        self._run("attach_message", conversation=conversation_id, id=message_id)

    def outbound_message(self, *, tenant_id: uuid.UUID, message_id: uuid.UUID) -> OutboundMessage:
        return OutboundMessage.of(self._run("outbound_message", id=message_id, tenant=tenant_id).one())

    def record_send_intent(self, message_id: uuid.UUID, now: datetime) -> datetime | None:
        if self._intents is None:
            raise RuntimeError("this store was built without a sessionmaker for send intents")
        with self._intents() as intent, intent.begin():
            previous: datetime | None = intent.execute(
                STATEMENTS["record_send_intent"], {"now": now, "id": message_id}
            ).scalar_one()
            return previous

    def mark_blocked(self, message_id: uuid.UUID, record: dict[str, Any]) -> None:
        self._run("mark_blocked", record=_json(record), id=message_id)

    def mark_failed(self, message_id: uuid.UUID, code: int | None, record: dict[str, Any]) -> None:
        self._run("mark_failed", code=code, record=_json(record), id=message_id)

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
        self._run(
            "mark_queued", sid=sid, now=now, latency=latency_ms, record=_json(record), segments=segments, id=message_id
        )

    def advance_status(
        self, *, tenant_id: uuid.UUID, sid: str, status: str, error_code: int | None
    ) -> StatusMove | None:
        moved = self._run(
            "advance_status", sid=sid, tenant=tenant_id, status=status, code=error_code, rank=STATUS_RANK[status]
        ).first()
        return None if moved is None else StatusMove(moved.id, moved.previous, moved.to_number)

    def knows_message(self, *, tenant_id: uuid.UUID, sid: str) -> bool:
        return self._run("knows_message", sid=sid, tenant=tenant_id).first() is not None

    def lock_recipient(self, *, tenant_id: uuid.UUID, to_number: str) -> None:
        self._run("lock_recipient", tenant=tenant_id, phone=to_number)

    def automated_sends_since(
        self, *, tenant_id: uuid.UUID, to_number: str, since: datetime, purposes: Collection[str]
    ) -> list[datetime]:
        rows = self._run(
            "automated_sends_since", tenant=tenant_id, phone=to_number, since=since, purposes=list(purposes)
        )
        return list(rows.scalars())

    def caller_wrote_since(self, conversation_id: uuid.UUID, since: datetime) -> bool:
        return self._run("caller_wrote_since", id=conversation_id, since=since).first() is not None

    def defer(self, message_id: uuid.UUID, not_before: datetime, record: dict[str, Any]) -> None:
        self._run("defer", not_before=not_before, record=_json(record), id=message_id)

    def set_appointment_context(self, conversation_id: uuid.UUID, context: dict[str, Any] | None) -> None:
        self._run("set_appointment_context", id=conversation_id, context=None if context is None else _json(context))

    def appointment_context(self, conversation_id: uuid.UUID) -> dict[str, Any] | None:
        value: dict[str, Any] | None = self._run("appointment_context", id=conversation_id).scalar()
        return value

    def follow_up_candidates(
        self, *, tenants: list[uuid.UUID], delays: list[int], now: datetime, limit: int
    ) -> Sequence[Row[Any]]:
        return self._run("follow_up_candidates", tenants=tenants, delays=delays, now=now, limit=limit).all()

    def insert_follow_up(
        self, *, tenant_id: uuid.UUID, conversation_id: uuid.UUID, from_number: str, to_number: str, body: str
    ) -> uuid.UUID | None:
        """The conversation's one follow-up (``pending``), or None when it already has one."""
        segments = count_segments(body)
        inserted: uuid.UUID | None = self._run(
            "insert_follow_up",
            id=uuid.uuid4(),
            tenant=tenant_id,
            conversation=conversation_id,
            from_number=from_number,
            to_number=to_number,
            body=body,
            segments=segments.count,
            encoding=segments.encoding,
        ).scalar()
        return inserted

    def release_deferred(self, now: datetime, *, limit: int) -> Sequence[Row[Any]]:
        """Deferred messages whose time has come, each returned once (its ``not_before`` cleared)."""
        return self._run("release_deferred", now=now, limit=limit).all()

    def silent_messages(self, now: datetime, *, silent_after: timedelta, limit: int) -> Sequence[Row[Any]]:
        """Queued or sent messages of the last two days whose status has not changed for ``silent_after``."""
        return list(
            self._run(
                "silent_messages", silent_since=now - silent_after, horizon=now - timedelta(days=2), limit=limit
            ).all()
        )

    def touch_message(self, message_id: uuid.UUID) -> None:
        self._run("touch_message", id=message_id)

    def sent_since(self, since: datetime) -> Sequence[Row[Any]]:
        """(tenant_id, provider_ref, status, from_number) of every outbound message the provider took since."""
        return list(self._run("sent_since", since=since).all())

    # -- staff alerts --

    def open_alert(self, *, tenant_id: uuid.UUID, conversation_id: uuid.UUID, expires: datetime) -> str:
        self._run("close_stale_alerts", tenant=tenant_id)
        for _ in range(ALERT_CODE_ATTEMPTS):
            renewed = self._run("renew_alert", tenant=tenant_id, conversation=conversation_id, expires=expires)
            code = renewed.scalar()
            if code is None:
                code = self._run(
                    "insert_alert",
                    id=uuid.uuid4(),
                    tenant=tenant_id,
                    conversation=conversation_id,
                    code=new_alert_code(),
                    expires=expires,
                ).scalar()
            if code is not None:
                return str(code)
        raise AlertCodesExhausted(f"no free staff alert code for tenant {tenant_id}")

    def open_alerts(self, *, tenant_id: uuid.UUID, code: str | None = None, limit: int = 10) -> list[AlertTarget]:
        """The tenant's open staff alerts on live conversations, newest first (only ``code``'s, when given)."""
        rows = self._run("open_alerts", tenant=tenant_id, code=code, limit=limit).all()
        return [AlertTarget(*row) for row in rows]

    # -- callers' names --

    def name_caller(
        self, *, tenant_id: uuid.UUID, caller: str, name: str, source: str, named_by: uuid.UUID | None
    ) -> bool:
        recorded = self._run("name_caller", tenant=tenant_id, caller=caller, name=name, source=source, by=named_by)
        return recorded.first() is not None

    def caller_name(self, *, tenant_id: uuid.UUID, caller: str) -> str | None:
        name = self._run("caller_name", tenant=tenant_id, caller=caller).scalar()
        return None if name is None else str(name)

    # -- operator tasks --

    def ask_opt_out_review(self, *, tenant_id: uuid.UUID, conversation_id: uuid.UUID, phone: str, note: str) -> None:
        self._run(
            "ask_opt_out_review",
            id=uuid.uuid4(),
            tenant=tenant_id,
            conversation=conversation_id,
            phone=phone,
            note=note,
        )

    def add_task(
        self, *, tenant_id: uuid.UUID, kind: str, conversation_id: uuid.UUID | None, phone: str, note: str
    ) -> None:
        self._run(
            "add_task",
            id=uuid.uuid4(),
            tenant=tenant_id,
            kind=kind,
            conversation=conversation_id,
            phone=phone,
            note=note,
        )

    def complete_task(self, *, tenant_id: uuid.UUID, task_id: uuid.UUID) -> bool:
        return self._run("complete_task", tenant=tenant_id, id=task_id).first() is not None

    # -- the operator API's reads (ORM rows, tenant-scoped) --

    def conversation(
        self, *, tenant_id: uuid.UUID, conversation_id: uuid.UUID, fresh: bool = False
    ) -> Conversation | None:
        """``fresh`` reloads a row this session already holds (after a statement above changed it)."""
        query = select(Conversation).where(Conversation.tenant_id == tenant_id, Conversation.id == conversation_id)
        if fresh:
            query = query.execution_options(populate_existing=True)
        return self.session.scalar(query)

    def named_conversation(
        self, *, tenant_id: uuid.UUID, conversation_id: uuid.UUID, fresh: bool = False
    ) -> tuple[Conversation, str | None] | None:
        """The conversation and its caller's name (None: no name on record), in one statement."""
        query = (
            select(Conversation, Caller.name)
            .outerjoin(Caller, _CALLER_OF_CONVERSATION)
            .where(Conversation.tenant_id == tenant_id, Conversation.id == conversation_id)
        )
        if fresh:
            query = query.execution_options(populate_existing=True)
        row = self.session.execute(query).first()
        return None if row is None else (row[0], row[1])

    def hold_conversation(self, *, tenant_id: uuid.UUID, conversation_id: uuid.UUID) -> bool:
        """Key-share lock the tenant's conversation until the transaction ends; False if there is none."""
        found = self.session.scalar(
            select(Conversation.id)
            .where(Conversation.tenant_id == tenant_id, Conversation.id == conversation_id)
            .with_for_update(key_share=True)
        )
        return found is not None

    def conversations_page(
        self,
        *,
        tenant_id: uuid.UUID,
        state: str | None,
        caller: str | None,
        after: tuple[datetime, uuid.UUID] | None,
        limit: int,
    ) -> Sequence[tuple[Conversation, str | None]]:
        """Newest first on (opened_at, id), strictly after the keyset ``after``; each with its caller's name."""
        query = (
            select(Conversation, Caller.name)
            .outerjoin(Caller, _CALLER_OF_CONVERSATION)
            .where(Conversation.tenant_id == tenant_id)
        )
        if state is not None:
            query = query.where(Conversation.state == state)
        if caller is not None:
            query = query.where(Conversation.caller == caller)
        if after is not None:
            query = query.where(tuple_(Conversation.opened_at, Conversation.id) < tuple_(*after))
        rows = self.session.execute(
            query.order_by(Conversation.opened_at.desc(), Conversation.id.desc()).limit(limit)
        ).all()
        return [(row[0], row[1]) for row in rows]

    def messages_of(self, *, tenant_id: uuid.UUID, conversation_id: uuid.UUID) -> Sequence[Message]:
        return self.session.scalars(
            select(Message)
            .where(Message.tenant_id == tenant_id, Message.conversation_id == conversation_id)
            .order_by(Message.seq)
        ).all()

    def message(self, *, tenant_id: uuid.UUID, message_id: uuid.UUID) -> Message | None:
        return self.session.scalar(select(Message).where(Message.tenant_id == tenant_id, Message.id == message_id))

    def tasks(self, *, tenant_id: uuid.UUID, status: str | None, limit: int) -> Sequence[OperatorTask]:
        query = select(OperatorTask).where(OperatorTask.tenant_id == tenant_id)
        if status is not None:
            query = query.where(OperatorTask.status == status)
        return self.session.scalars(query.order_by(OperatorTask.created_at, OperatorTask.id).limit(limit)).all()

    def task(self, *, tenant_id: uuid.UUID, task_id: uuid.UUID) -> OperatorTask | None:
        return self.session.scalar(
            select(OperatorTask)
            .where(OperatorTask.tenant_id == tenant_id, OperatorTask.id == task_id)
            .execution_options(populate_existing=True)
        )

    # -- the staff inbox's reads (Postgres-only) --

    def inbox_page(
        self,
        *,
        tenant_id: uuid.UUID,
        user_id: uuid.UUID | None,
        view: str,
        number: str | None,
        before: tuple[int, uuid.UUID] | None,
        limit: int,
        name: str | None = None,
    ) -> Sequence[Row[Any]]:
        """A page of the tenant's conversations in ``view``, newest activity first, strictly before the keyset
        ``before`` (last_message_seq, id); with a search, those whose caller's number contains the digits
        ``number`` or whose name contains ``name`` (any case)."""
        if view not in INBOX_VIEWS:
            raise ValueError(f"unknown inbox view {view!r}")
        before_seq, before_id = before or INBOX_START
        searching = bool(number or name)
        statement = f"inbox_{view}_search" if searching else f"inbox_{view}"
        params: dict[str, Any] = {
            "tenant": tenant_id,
            "user": user_id,
            "before_seq": before_seq,
            "before_id": before_id,
            "limit": limit,
        }
        if searching:
            params["number"] = f"%{number}%" if number else None
            params["name"], params["word"] = _name_patterns(name)
        return list(self.session.execute(STATEMENTS[statement], params).all())

    def inbox_counts(self, *, tenant_id: uuid.UUID) -> dict[str, int]:
        """Conversations per view, each counted up to ``INBOX_COUNT_CAP + 1`` (more than the cap: "99+")."""
        row = self._run("inbox_counts", tenant=tenant_id).one()
        return {view: int(getattr(row, view)) for view in INBOX_VIEWS}

    def mark_read(self, *, tenant_id: uuid.UUID, user_id: uuid.UUID, conversation_id: uuid.UUID) -> None:
        """The member has read the conversation up to its newest message (never backwards)."""
        self._run("mark_read", user=user_id, id=conversation_id, tenant=tenant_id)

    def open_tasks_of(self, *, tenant_id: uuid.UUID, conversation_id: uuid.UUID) -> Sequence[Row[Any]]:
        return list(self._run("open_tasks_of", tenant=tenant_id, id=conversation_id).all())
