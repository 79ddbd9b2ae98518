"""Periodic conversation work the scheduler runs: human leases that lapsed, statuses that never called back, and
first SMS whose callback grace period ran out."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from domain.conversations.ports import SendFailed, SmsSender
from domain.conversations.store import PostgresConversationStore
from domain.events.catalog import FirstResponseGraceEnded, HumanTakeoverReleased, MessageStatusReported
from domain.events.sink import ResumedSink, RootSink

FINAL_STATUSES = ("delivered", "undelivered", "failed")


def expire_human_leases(session: Session, now: datetime, *, limit: int = 500) -> int:
    """A lapsed human lease hands the conversation back to the AI (``HumanTakeoverReleased`` expired)."""
    rows = PostgresConversationStore(session).expire_human_leases(now, limit=limit)
    for row in rows:
        # Each lapse is a fact with no cause upstream: it starts a chain of its own.
        RootSink(session).emit(
            HumanTakeoverReleased(conversation_id=row.id, outcome="expired"), tenant_id=row.tenant_id
        )
    return len(rows)


def end_due_graces(session: Session, now: datetime, *, limit: int = 500) -> int:
    """Every held first SMS whose grace period is over gets its ``FirstResponseGraceEnded``, once (the row is
    marked released in the same transaction), in the chain of the missed call that held it; the conversations
    handler then reads the call list and decides."""
    rows = PostgresConversationStore(session).release_due_graces(now, limit=limit)
    for row in rows:
        ResumedSink(
            session, correlation_id=row.correlation_id, causation_id=row.causation_id, tenant_id=row.tenant_id
        ).emit(FirstResponseGraceEnded(conversation_id=row.conversation_id, grace_id=row.id, call_sid=row.call_sid))
    return len(rows)


def poll_silent_messages(
    session: Session, now: datetime, *, sms: SmsSender, silent_after: timedelta, limit: int = 200
) -> int:
    """Webhook first, poll on failure: ask the provider about messages whose callbacks never came.

    What the provider says is written as a ``MessageStatusReported`` fact, so the one status handler applies it with
    the same forward-only rule as a callback.
    """
    store = PostgresConversationStore(session)
    rows = store.silent_messages(now, silent_after=silent_after, limit=limit)
    reported = 0
    for row in rows:
        try:
            status, error_code = sms.fetch_status(row.provider_ref)
        except SendFailed:
            continue  # the provider is down too: try again at the next tick
        # Touch the row so an unchanged message is not asked about again at every tick.
        store.touch_message(row.id)
        if status == row.status:
            continue
        # What the provider says of one message starts a chain of its own (as a status callback would).
        RootSink(session).emit(
            MessageStatusReported(message_sid=row.provider_ref, status=status, error_code=error_code, reported_at=now),  # type: ignore[arg-type]
            tenant_id=row.tenant_id,
        )
        reported += 1
    return reported


def reconcile_with_provider(session: Session, now: datetime, *, sms: SmsSender, since: timedelta) -> int:
    """The daily reconciliation: compare what we believe of the last ``since`` with the provider's message list.

    Every difference becomes a ``MessageStatusReported`` fact; the status handler's forward-only rule decides
    whether it moves anything (the provider cannot make one of our messages go backwards either).
    """
    rows = PostgresConversationStore(session).sent_since(now - since)
    ours = {row.provider_ref: row for row in rows}
    senders = {row.from_number for row in rows}
    reported = 0
    for sender in sorted(senders):
        for sid, status, error_code in sms.list_sent(from_=sender, since=now - since):
            row = ours.get(sid)
            if row is None or row.status == status or status not in _REPORTABLE:
                continue
            RootSink(session).emit(
                MessageStatusReported(message_sid=sid, status=status, error_code=error_code, reported_at=now),  # type: ignore[arg-type]
                tenant_id=row.tenant_id,
            )
            reported += 1
    return reported


_REPORTABLE = frozenset({"queued", "sent", "delivered", "undelivered", "failed"})
