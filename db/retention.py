"""Retention: the rules of docs/glossary.md, applied in small batches that never hold long locks on hot tables.

* message bodies — 180 days: ``conv_messages.body`` set to NULL and ``body_purged_at`` stamped (the row stays);
* metadata — 13 months: ``conv_messages`` rows deleted, and closed/blocked ``conv_conversations`` deleted;
* webhook dedupe — 90 days: ``webhook_events`` rows deleted;
* caller chains — 30 days after the caller was last seen: ``caller_chains`` rows deleted (long past their idle window);
* outbox — 30 days after dispatch: ``outbox_events`` deleted (their ``outbox_deliveries`` cascade), except events
  that still have an unreplayed dead letter (deleting those would silently drop the DLQ entry with the cascade);
* ``processed_events`` markers — 30 days;
* dead letters — 180 days after they died, replayed or not: the envelope carries the message body and numbers (a
  replayed one usually goes sooner, with its outbox event); this runs before the outbox rule, which it unblocks;
* operator API idempotency keys — 24 hours: a client's retries come within minutes, and the stored response quotes
  replies, phone numbers and emails;
* first-SMS claims, done operator tasks, finished holds, past appointments and revoked opt-outs — 13 months (metadata
  holding a caller's number). An *active* opt-out is never deleted: it is what keeps us from texting someone who said
  STOP;
* the bookings the reports counted (``rep_bookings``) — 13 months after they were recorded (the daily figures stay);
* callers' names — with the caller's last conversation: once no conversation with the number is left (the
  conversations rule deletes them 13 months after they closed) and the name is over 13 months old.

Every table in the schema has a rule here or a written reason in ``EXEMPT`` (a test compares them with the models'
metadata, so a new table cannot slip past retention unnoticed).

Each batch is its own short transaction: pick at most ``batch_size`` rows with ``LIMIT … FOR UPDATE SKIP LOCKED``
(rows a handler is working on are skipped, never waited for), change them, commit. ``lock_timeout`` bounds the wait
on anything else. It lives in ``db`` (the bottom layer, no domain imports) so the CLI and the scheduler share it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import CursorResult, text
from sqlalchemy.orm import Session, sessionmaker

DEFAULT_BATCH_SIZE = 500


@dataclass(frozen=True)
class Rule:
    name: str
    table: str
    description: str
    # A SELECT of the key column(s) of every row the rule applies to; ``:cutoff`` is bound. On the tables that hold
    # millions of rows it is ordered by its indexed cutoff column: the planner then walks that index from the oldest
    # row, where a LIMIT alone let it pick a sequential scan that reads past every younger (or deleted) row first.
    candidates: str
    # The change applied to one batch: ``{batch}`` is replaced by the locked batch subquery.
    apply: str
    age: str  # a Postgres interval: the cutoff is ``now - age``


RULES: tuple[Rule, ...] = (
    Rule(
        name="message_bodies",
        table="conv_messages",
        description="message bodies older than 180 days purged (body NULL, body_purged_at set)",
        age="180 days",
        candidates="SELECT id FROM conv_messages WHERE created_at < :cutoff AND body IS NOT NULL",
        apply="UPDATE conv_messages m SET body = NULL, body_purged_at = :now FROM ({batch}) b WHERE m.id = b.id",
    ),
    Rule(
        name="message_metadata",
        table="conv_messages",
        description="messages older than 13 months deleted",
        age="13 months",
        candidates="SELECT id FROM conv_messages WHERE created_at < :cutoff",
        apply="DELETE FROM conv_messages m USING ({batch}) b WHERE m.id = b.id",
    ),
    Rule(
        name="conversations",
        table="conv_conversations",
        description="closed or blocked conversations last updated over 13 months ago deleted",
        age="13 months",
        candidates=(
            "SELECT id FROM conv_conversations WHERE state IN ('closed', 'blocked') "
            "AND coalesce(closed_at, updated_at) < :cutoff"
        ),
        apply="DELETE FROM conv_conversations c USING ({batch}) b WHERE c.id = b.id",
    ),
    Rule(
        name="webhook_events",
        table="webhook_events",
        description="webhook dedupe rows older than 90 days deleted",
        age="90 days",
        candidates="SELECT id FROM webhook_events WHERE received_at < :cutoff",
        apply="DELETE FROM webhook_events w USING ({batch}) b WHERE w.id = b.id",
    ),
    Rule(
        name="caller_chains",
        table="caller_chains",
        description="caller correlation chains not seen for 30 days deleted (a caller's number, and long idle)",
        age="30 days",
        candidates="SELECT tenant_id, caller FROM caller_chains WHERE last_seen_at < :cutoff",
        apply=("DELETE FROM caller_chains c USING ({batch}) b WHERE c.tenant_id = b.tenant_id AND c.caller = b.caller"),
    ),
    Rule(
        name="dead_letters",
        table="dead_letters",
        description="dead letters older than 180 days deleted (their envelopes carry bodies and numbers)",
        age="180 days",
        candidates="SELECT id FROM dead_letters WHERE dead_at < :cutoff",
        apply="DELETE FROM dead_letters d USING ({batch}) b WHERE d.id = b.id",
    ),
    Rule(
        name="outbox_events",
        table="outbox_events",
        description="outbox events dispatched over 30 days ago deleted (deliveries cascade)",
        age="30 days",
        # The open statuses spelled as ix_outbox_deliveries_due's predicate: with NOT IN ('done', 'dead') the planner
        # could not use that index and hashed every delivery (a seq scan of 4 M rows per batch at 2 M events).
        candidates=(
            "SELECT event_id AS id FROM outbox_events o WHERE o.dispatched_at < :cutoff "
            "AND NOT EXISTS (SELECT 1 FROM dead_letters d WHERE d.event_id = o.event_id AND d.replayed_at IS NULL) "
            "AND NOT EXISTS (SELECT 1 FROM outbox_deliveries od WHERE od.event_id = o.event_id "
            "AND od.status IN ('enqueued', 'processing', 'retrying')) ORDER BY o.dispatched_at"
        ),
        apply="DELETE FROM outbox_events o USING ({batch}) b WHERE o.event_id = b.id",
    ),
    Rule(
        name="processed_events",
        table="processed_events",
        description="processed (event, handler) markers older than 30 days deleted",
        age="30 days",
        candidates="SELECT event_id, handler FROM processed_events WHERE processed_at < :cutoff ORDER BY processed_at",
        apply=(
            "DELETE FROM processed_events p USING ({batch}) b WHERE p.event_id = b.event_id AND p.handler = b.handler"
        ),
    ),
    Rule(
        name="idempotency_keys",
        table="id_api_idempotency_keys",
        description="operator API idempotency keys older than 24 hours deleted (stored responses quote replies)",
        age="24 hours",
        candidates="SELECT tenant_id, key FROM id_api_idempotency_keys WHERE created_at < :cutoff",
        apply=(
            "DELETE FROM id_api_idempotency_keys k USING ({batch}) b WHERE k.tenant_id = b.tenant_id AND k.key = b.key"
        ),
    ),
    Rule(
        name="first_response_claims",
        table="conv_first_response_claims",
        description="first-SMS claims older than 13 months deleted",
        age="13 months",
        candidates="SELECT id FROM conv_first_response_claims WHERE claimed_at < :cutoff",
        apply="DELETE FROM conv_first_response_claims c USING ({batch}) b WHERE c.id = b.id",
    ),
    Rule(
        name="first_response_graces",
        table="conv_first_response_graces",
        description="first-SMS grace decisions older than 13 months deleted",
        age="13 months",
        candidates="SELECT id FROM conv_first_response_graces WHERE created_at < :cutoff",
        apply="DELETE FROM conv_first_response_graces g USING ({batch}) b WHERE g.id = b.id",
    ),
    Rule(
        name="operator_tasks",
        table="conv_operator_tasks",
        description="operator tasks done over 13 months ago deleted (open ones are live work)",
        age="13 months",
        candidates="SELECT id FROM conv_operator_tasks WHERE status = 'done' AND done_at < :cutoff",
        apply="DELETE FROM conv_operator_tasks t USING ({batch}) b WHERE t.id = b.id",
    ),
    Rule(
        name="staff_alerts",
        table="conv_staff_alerts",
        description="staff alerts (and their codes) older than 13 months deleted (an open one lasts hours)",
        age="13 months",
        candidates="SELECT id FROM conv_staff_alerts WHERE created_at < :cutoff",
        apply="DELETE FROM conv_staff_alerts a USING ({batch}) b WHERE a.id = b.id",
    ),
    Rule(
        name="caller_names",
        table="conv_callers",
        # After the conversations rule: a caller's name goes once their last conversation has (closed or blocked 13
        # months ago, deleted above) and nobody named them again in those 13 months.
        description="callers' names with no conversation left and not named for 13 months deleted",
        age="13 months",
        candidates=(
            "SELECT n.tenant_id, n.caller FROM conv_callers n WHERE n.updated_at < :cutoff AND NOT EXISTS "
            "(SELECT 1 FROM conv_conversations c WHERE c.tenant_id = n.tenant_id AND c.caller = n.caller) "
            "ORDER BY n.updated_at"
        ),
        apply="DELETE FROM conv_callers n USING ({batch}) b WHERE n.tenant_id = b.tenant_id AND n.caller = b.caller",
    ),
    Rule(
        name="holds",
        table="sched_holds",
        description="holds no longer active and created over 13 months ago deleted",
        age="13 months",
        candidates="SELECT id FROM sched_holds WHERE status <> 'active' AND created_at < :cutoff",
        apply="DELETE FROM sched_holds h USING ({batch}) b WHERE h.id = b.id",
    ),
    Rule(
        name="appointments",
        table="sched_appointments",
        description="appointments that ended over 13 months ago deleted (reporting keeps the daily figures)",
        age="13 months",
        candidates="SELECT id FROM sched_appointments WHERE upper(timeslot) < :cutoff",
        apply="DELETE FROM sched_appointments a USING ({batch}) b WHERE a.id = b.id",
    ),
    Rule(
        name="counted_bookings",
        table="rep_bookings",
        # What a cancellation needs to take a booking back from its day; the appointment itself goes 13 months after
        # it ended, and the day's figures stay in the daily rows.
        description="bookings counted by the reports, recorded over 13 months ago, deleted (the day's totals stay)",
        age="13 months",
        candidates="SELECT appointment_id FROM rep_bookings WHERE recorded_at < :cutoff ORDER BY recorded_at",
        apply="DELETE FROM rep_bookings r USING ({batch}) b WHERE r.appointment_id = b.appointment_id",
    ),
    Rule(
        name="revoked_opt_outs",
        table="comp_opt_outs",
        description="opt-outs revoked over 13 months ago deleted (an active opt-out is kept: it honours STOP)",
        age="13 months",
        candidates="SELECT id FROM comp_opt_outs WHERE revoked_at < :cutoff",
        apply="DELETE FROM comp_opt_outs o USING ({batch}) b WHERE o.id = b.id",
    ),
    Rule(
        name="closed_invitations",
        table="id_invitations",
        # The address of someone who may never have joined: once the invitation is used, revoked or expired the
        # membership (if any) keeps what the tenant needs, so the invitation goes after a month of audit trail.
        description="invitations accepted, revoked or expired over 30 days ago deleted",
        age="30 days",
        candidates="SELECT id FROM id_invitations WHERE coalesce(accepted_at, revoked_at, expires_at) < :cutoff",
        apply="DELETE FROM id_invitations i USING ({batch}) b WHERE i.id = b.id",
    ),
)

# Tables no rule purges, and why. Personal data of callers (numbers, text, payloads) always has a rule above;
# what is here is the tenant's own account and configuration (removed with the account), aggregates, or rows that
# go with a parent that has a rule.
EXEMPT: dict[str, str] = {
    "outbox_deliveries": "deleted with its outbox event (ON DELETE CASCADE), so it follows the outbox rule",
    "id_tenants": "the customer's own account (business name, forwarding and owner numbers), kept while a customer",
    "id_phone_numbers": "the tenant's own Twilio numbers: business data, kept while the tenant holds them",
    "id_users": "operator accounts (Clerk id, email), kept while the account exists and removed with it",
    "id_memberships": (
        "user-tenant-role links with the address and mobile the tenant invited: staff's account data, removed with "
        "the membership"
    ),
    "id_plans": "plan definitions: no personal data",
    "id_feature_gates": "a tenant's plan and subscription state: no personal data",
    "comp_brands": "the tenant's 10DLC brand (legal name, EIN): needed by the carrier registration while a customer",
    "comp_campaigns": "the tenant's 10DLC campaign status: no personal data",
    "catalog_service_items": "the tenant's price list: no personal data",
    "catalog_aliases": "other names for the tenant's services: no personal data",
    "sched_resources": "technicians and bays the tenant configured: business configuration",
    "sched_resource_services": "which resource does which service: ids only",
    "sched_working_hours": "weekly shifts: no personal data",
    "sched_time_off": "days off the tenant entered: business configuration",
    "sched_date_hours": "per-date working hours the tenant entered: business configuration",
    "sched_reminders": "deleted with its appointment (ON DELETE CASCADE), so it follows the appointments rule",
    "sched_calendars": "which external calendar a resource mirrors: configuration",
    "sched_calendar_credentials": (
        "a resource calendar's OAuth tokens (encrypted): the tenant's configuration, removed with the calendar"
    ),
    "sched_write_backs": "which external event is which appointment: deleted with the appointment (ON DELETE CASCADE)",
    "sched_external_busy": "busy intervals and the provider's event id mirrored from a calendar: no caller data",
    "bill_customers": "the tenant's Stripe customer id: billing record",
    "bill_subscriptions": "the tenant's Stripe subscription state: billing record",
    "bill_plan_prices": "which Stripe price is which plan: no personal data",
    "rep_daily_tenant_stats": "per-tenant daily counts and sums: aggregates, no numbers or text",
    "rep_quarter_hour_tenant_stats": "per-tenant quarter-hour counts and sums: aggregates, no numbers or text",
    "conv_member_reads": "how far each member read a conversation: deleted with it (ON DELETE CASCADE)",
    "rep_first_responses": "latencies keyed by message id: no numbers or text (the message goes at 13 months)",
    "scheduler_runs": "one row per scheduled job (its last claimed period): bounded, no personal data",
}


@dataclass
class RuleResult:
    name: str
    description: str
    cutoff: datetime
    rows: int
    batches: int
    seconds: float

    def to_json(self) -> dict[str, Any]:
        return {
            "rule": self.name,
            "description": self.description,
            "cutoff": self.cutoff.isoformat(),
            "rows": self.rows,
            "batches": self.batches,
            "seconds": round(self.seconds, 3),
        }


def _cutoff(session: Session, now: datetime, age: str) -> datetime:
    value = session.execute(text(f"SELECT CAST(:now AS timestamptz) - interval '{age}'"), {"now": now}).scalar_one()
    return cast(datetime, value)


def batch_statement(rule: Rule) -> str:
    """One batch of ``rule``: ``:cutoff``, ``:limit`` and ``:now`` are bound."""
    return rule.apply.format(batch=f"{rule.candidates} LIMIT :limit FOR UPDATE SKIP LOCKED")


def run_retention(
    sessions: sessionmaker[Session],
    *,
    now: datetime | None = None,
    dry_run: bool = False,
    batch_size: int = DEFAULT_BATCH_SIZE,
    max_batches: int | None = None,
    rules: tuple[Rule, ...] = RULES,
    lock_timeout_ms: int = 2000,
    pause_seconds: float = 0.0,
    on_batch: Callable[[str, int], None] | None = None,
) -> list[RuleResult]:
    """Apply every rule (or, with ``dry_run``, count what each would touch); ``now`` shifts the clock for tests."""
    now = now or datetime.now(UTC)
    results: list[RuleResult] = []
    for rule in rules:
        started = time.monotonic()
        with sessions() as session:
            cutoff = _cutoff(session, now, rule.age)
            if dry_run:
                count = session.execute(
                    text(f"SELECT count(*) FROM ({rule.candidates}) c"), {"cutoff": cutoff}
                ).scalar_one()
                results.append(
                    RuleResult(rule.name, rule.description, cutoff, int(count), 0, time.monotonic() - started)
                )
                continue
        total = batches = 0
        batch_sql = text(batch_statement(rule))
        while max_batches is None or batches < max_batches:
            with sessions() as session, session.begin():
                session.execute(text(f"SET LOCAL lock_timeout = '{int(lock_timeout_ms)}ms'"))
                result = session.execute(batch_sql, {"cutoff": cutoff, "limit": batch_size, "now": now})
                changed = int(cast(CursorResult[Any], result).rowcount or 0)
            total += changed
            batches += 1
            if on_batch is not None:
                on_batch(rule.name, changed)
            if changed < batch_size:
                break
            if pause_seconds:
                time.sleep(pause_seconds)  # let replication and autovacuum keep up on a big first run
        results.append(RuleResult(rule.name, rule.description, cutoff, total, batches, time.monotonic() - started))
    return results
