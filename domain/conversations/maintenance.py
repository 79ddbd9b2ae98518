"""Periodic conversation work the scheduler runs: human leases that lapsed, and statuses that never called back."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import text
from sqlalchemy.orm import Session

from domain.conversations.ports import SendFailed, SmsSender
from domain.events import outbox
from domain.events.catalog import HumanTakeoverReleased, MessageStatusReported

FINAL_STATUSES = ("delivered", "undelivered", "failed")


def expire_human_leases(session: Session, now: datetime, *, limit: int = 500) -> int:
    """A lapsed human lease hands the conversation back to the AI (``HumanTakeoverReleased`` expired)."""
    rows = session.execute(
        text(
            "UPDATE conv_conversations SET state = 'open', human_user_id = NULL, human_lease_expires_at = NULL,"
            " updated_at = now() WHERE id IN (SELECT id FROM conv_conversations WHERE state = 'human'"
            " AND human_lease_expires_at < :now ORDER BY human_lease_expires_at LIMIT :limit FOR UPDATE SKIP LOCKED)"
            " RETURNING id, tenant_id"
        ),
        {"now": now, "limit": limit},
    ).all()
    for row in rows:
        outbox.append(
            session, HumanTakeoverReleased(conversation_id=row.id, outcome="expired"), tenant_id=row.tenant_id
        )
    return len(rows)


def poll_silent_messages(
    session: Session, now: datetime, *, sms: SmsSender, silent_after: timedelta, limit: int = 200
) -> int:
    """Webhook first, poll on failure: ask the provider about messages whose callbacks never came.

    What the provider says is written as a ``MessageStatusReported`` fact, so the one status handler applies it with
    the same forward-only rule as a callback.
    """
    rows = session.execute(
        text(
            "SELECT id, tenant_id, provider_ref, status FROM conv_messages"
            " WHERE direction = 'out' AND status IN ('queued', 'sent') AND provider_ref IS NOT NULL"
            " AND updated_at < :silent_since AND queued_at > :horizon"
            " ORDER BY updated_at LIMIT :limit FOR UPDATE SKIP LOCKED"
        ),
        {"silent_since": now - silent_after, "horizon": now - timedelta(days=2), "limit": limit},
    ).all()
    reported = 0
    for row in rows:
        try:
            status, error_code = sms.fetch_status(row.provider_ref)
        except SendFailed:
            continue  # the provider is down too: try again at the next tick
        # Touch the row so an unchanged message is not asked about again at every tick.
        session.execute(text("UPDATE conv_messages SET updated_at = now() WHERE id = :id"), {"id": row.id})
        if status == row.status:
            continue
        outbox.append(
            session,
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
    rows = session.execute(
        text(
            "SELECT m.tenant_id, m.provider_ref, m.status, m.from_number FROM conv_messages m"
            " WHERE m.direction = 'out' AND m.provider_ref IS NOT NULL AND m.queued_at > :since"
        ),
        {"since": now - since},
    ).all()
    ours = {row.provider_ref: row for row in rows}
    senders = {row.from_number for row in rows}
    reported = 0
    for sender in sorted(senders):
        for sid, status, error_code in sms.list_sent(from_=sender, since=now - since):
            row = ours.get(sid)
            if row is None or row.status == status or status not in _REPORTABLE:
                continue
            outbox.append(
                session,
                MessageStatusReported(message_sid=sid, status=status, error_code=error_code, reported_at=now),  # type: ignore[arg-type]
                tenant_id=row.tenant_id,
            )
            reported += 1
    return reported


_REPORTABLE = frozenset({"queued", "sent", "delivered", "undelivered", "failed"})
