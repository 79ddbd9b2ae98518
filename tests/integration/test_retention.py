"""Retention rules on data shifted in time: what is purged, what is kept, batches, dry run, SKIP LOCKED."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from db.retention import run_retention

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)


class World:
    """Rows placed around every cutoff; ids by name so assertions read like the rules."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.ids: dict[str, uuid.UUID] = {}
        self.tenant = uuid.uuid4()
        with sessions() as session, session.begin():
            self.session = session
            self.conversation("conv_closed_old", "closed", NOW - 400 * DAY)
            self.conversation("conv_open_old", "open", NOW - 400 * DAY)
            self.conversation("conv_closed_recent", "closed", NOW - 300 * DAY)
            # Callers' names: one whose only conversation closed 400 days ago (both go, the name after it), one
            # with a live conversation (kept however old), two with none at all (14 and 12 months since named).
            self.conversation("conv_named_closed_old", "closed", NOW - 400 * DAY, caller="+13105550040")
            self.caller_name("+13105550040", NOW - 400 * DAY)
            self.caller_name("+13105551212", NOW - 400 * DAY)
            self.caller_name("+13105550041", NOW - 430 * DAY)
            self.caller_name("+13105550042", NOW - 360 * DAY)
            for name, age in (("msg_new", 10), ("msg_179d", 179), ("msg_181d", 181), ("msg_200d", 200)):
                self.message(name, NOW - age * DAY, conversation="conv_open_old")
            self.message("msg_14months", NOW - 430 * DAY, conversation="conv_open_old")
            self.message("msg_in_old_closed", NOW - 400 * DAY, conversation="conv_closed_old")
            for index in range(5):
                self.webhook(f"hook_old_{index}", NOW - (91 + index) * DAY)
            self.webhook("hook_89d", NOW - 89 * DAY)
            self.chain("+13105550031", NOW - 31 * DAY)
            self.chain("+13105550029", NOW - 29 * DAY)
            self.outbox("ev_dispatched_31d", dispatched=NOW - 31 * DAY)
            self.outbox("ev_dispatched_29d", dispatched=NOW - 29 * DAY)
            self.outbox("ev_undispatched_old", dispatched=None, created=NOW - 60 * DAY)
            self.outbox("ev_dead_unreplayed", dispatched=NOW - 40 * DAY, dead_letter=True)
            self.outbox("ev_dead_replayed", dispatched=NOW - 40 * DAY, dead_letter=True, replayed=True)
            self.processed("proc_31d", NOW - 31 * DAY)
            self.processed("proc_29d", NOW - 29 * DAY)
        del self.session

    def _id(self, name: str) -> uuid.UUID:
        self.ids[name] = uuid.uuid4()
        return self.ids[name]

    def conversation(self, name: str, state: str, at: datetime, caller: str = "+13105551212") -> None:
        self.session.execute(
            text(
                "INSERT INTO conv_conversations (id, tenant_id, caller, state, opened_at, updated_at, closed_at) "
                "VALUES (:id, :t, :caller, :state, :at, :at, CASE WHEN :state = 'closed' THEN :at END)"
            ),
            {"id": self._id(name), "t": self.tenant, "state": state, "at": at, "caller": caller},
        )

    def caller_name(self, caller: str, at: datetime) -> None:
        self.session.execute(
            text(
                "INSERT INTO conv_callers (tenant_id, caller, name, source, updated_at)"
                " VALUES (:t, :caller, 'Maria Lopez', 'staff', :at)"
            ),
            {"t": self.tenant, "caller": caller, "at": at},
        )

    def message(self, name: str, at: datetime, *, conversation: str) -> None:
        self.session.execute(
            text(
                "INSERT INTO conv_messages (id, tenant_id, conversation_id, direction, from_number, to_number, body, "
                "status, created_at, updated_at) VALUES (:id, :t, :c, 'in', '+13105551212', '+13105550000', "
                "'hello, call me on +13105551212', 'received', :at, :at)"
            ),
            {"id": self._id(name), "t": self.tenant, "c": self.ids[conversation], "at": at},
        )

    def webhook(self, name: str, at: datetime) -> None:
        self.session.execute(
            text(
                "INSERT INTO webhook_events (id, provider, provider_ref, kind, outcome, payload, received_at) "
                "VALUES (:id, 'twilio', :ref, 'sms', 'accepted', '{}', :at)"
            ),
            {"id": self._id(name), "ref": name, "at": at},
        )

    def chain(self, caller: str, last_seen: datetime) -> None:
        self.session.execute(
            text(
                "INSERT INTO caller_chains (tenant_id, caller, correlation_id, started_at, last_seen_at)"
                " VALUES (:t, :caller, gen_random_uuid(), :at, :at)"
            ),
            {"t": self.tenant, "caller": caller, "at": last_seen},
        )

    def outbox(
        self,
        name: str,
        *,
        dispatched: datetime | None,
        created: datetime | None = None,
        dead_letter: bool = False,
        replayed: bool = False,
    ) -> None:
        event_id = self._id(name)
        at = created or dispatched or NOW
        self.session.execute(
            text(
                "INSERT INTO outbox_events (event_id, event_name, schema_version, tenant_id, occurred_at, "
                "correlation_id, payload, created_at, dispatched_at) VALUES (:id, 'nmc.telephony.CallMissed', 1, "
                ":t, :at, :id, '{}', :at, :dispatched)"
            ),
            {"id": event_id, "t": self.tenant, "at": at, "dispatched": dispatched},
        )
        if dispatched is None:
            return
        delivery = uuid.uuid4()
        self.session.execute(
            text(
                "INSERT INTO outbox_deliveries (id, event_id, handler, queue, status, attempts) "
                "VALUES (:d, :e, 'reporting.count_missed_call', 'reporting', :status, 1)"
            ),
            {"d": delivery, "e": event_id, "status": "dead" if dead_letter else "done"},
        )
        if dead_letter:
            self.session.execute(
                text(
                    "INSERT INTO dead_letters (id, delivery_id, event_id, event_name, handler, tenant_id, envelope, "
                    "attempts, last_error, traceback, replayed_at) VALUES (gen_random_uuid(), :d, :e, "
                    "'nmc.telephony.CallMissed', 'reporting.count_missed_call', :t, '{}', 6, 'boom', 'tb', :replayed)"
                ),
                {"d": delivery, "e": event_id, "t": self.tenant, "replayed": NOW - DAY if replayed else None},
            )

    def processed(self, name: str, at: datetime) -> None:
        self.session.execute(
            text("INSERT INTO processed_events (event_id, handler, processed_at) VALUES (:id, 'x.y', :at)"),
            {"id": self._id(name), "at": at},
        )


def _exists(sessions: sessionmaker[Session], table: str, key: str, value: uuid.UUID | str) -> bool:
    with sessions() as session:
        return session.execute(text(f"SELECT 1 FROM {table} WHERE {key} = :v"), {"v": value}).first() is not None


def _body(sessions: sessionmaker[Session], message: uuid.UUID) -> tuple[Any, Any]:
    with sessions() as session:
        row = session.execute(
            text("SELECT body, body_purged_at FROM conv_messages WHERE id = :id"), {"id": message}
        ).one()
        return row[0], row[1]


def test_dry_run_counts_and_changes_nothing(sessions: sessionmaker[Session]) -> None:
    world = World(sessions)
    results = {result.name: result.rows for result in run_retention(sessions, now=NOW, dry_run=True)}
    assert results == {
        "message_bodies": 4,  # 181d, 200d, 14 months, the one in the old closed conversation
        "message_metadata": 2,
        "conversations": 2,
        "webhook_events": 5,
        "caller_chains": 1,
        "dead_letters": 0,
        "outbox_events": 2,  # 31 days, and the dead letter already replayed
        "processed_events": 1,
        "idempotency_keys": 0,
        "first_response_claims": 0,
        "first_response_graces": 0,
        "staff_alerts": 0,
        "operator_tasks": 0,
        "caller_names": 1,  # the one never in a conversation: the other's conversation is deleted first, for real
        "holds": 0,
        "appointments": 0,
        "counted_bookings": 0,
        "revoked_opt_outs": 0,
        "closed_invitations": 0,
    }
    assert _body(sessions, world.ids["msg_200d"])[0] is not None
    assert _exists(sessions, "webhook_events", "id", world.ids["hook_old_0"])


def test_rules_purge_and_delete_exactly_past_their_cutoffs(sessions: sessionmaker[Session]) -> None:
    world = World(sessions)
    batches: list[tuple[str, int]] = []
    results = run_retention(sessions, now=NOW, batch_size=2, on_batch=lambda rule, n: batches.append((rule, n)))
    by_rule = {result.name: result for result in results}
    ids = world.ids

    # Bodies: purged after 180 days, row and metadata kept until 13 months.
    assert _body(sessions, ids["msg_179d"])[0] is not None
    body, purged_at = _body(sessions, ids["msg_181d"])
    assert body is None
    assert purged_at == NOW
    assert _body(sessions, ids["msg_200d"])[0] is None
    assert _body(sessions, ids["msg_new"])[0] is not None
    # Metadata: 13 months.
    assert not _exists(sessions, "conv_messages", "id", ids["msg_14months"])
    assert not _exists(sessions, "conv_conversations", "id", ids["conv_closed_old"])
    assert not _exists(sessions, "conv_messages", "id", ids["msg_in_old_closed"])
    assert _exists(sessions, "conv_conversations", "id", ids["conv_open_old"])  # a live conversation stays
    assert _exists(sessions, "conv_conversations", "id", ids["conv_closed_recent"])
    # Callers' names go with the caller's last conversation, and only when 13 months old.
    assert not _exists(sessions, "conv_conversations", "id", ids["conv_named_closed_old"])
    assert not _exists(sessions, "conv_callers", "caller", "+13105550040")
    assert not _exists(sessions, "conv_callers", "caller", "+13105550041")
    assert _exists(sessions, "conv_callers", "caller", "+13105551212")  # its conversation is live
    assert _exists(sessions, "conv_callers", "caller", "+13105550042")
    assert by_rule["caller_names"].rows == 2
    # Webhook dedupe: 90 days, in batches of two (5 rows -> 2 + 2 + 1).
    assert all(not _exists(sessions, "webhook_events", "id", ids[f"hook_old_{i}"]) for i in range(5))
    assert _exists(sessions, "webhook_events", "id", ids["hook_89d"])
    assert [n for rule, n in batches if rule == "webhook_events"] == [2, 2, 1]
    assert by_rule["webhook_events"].rows == 5
    # Caller chains: 30 days after the caller was last seen.
    assert not _exists(sessions, "caller_chains", "caller", "+13105550031")
    assert _exists(sessions, "caller_chains", "caller", "+13105550029")
    # Outbox: 30 days after dispatch; deliveries cascade; never an event whose dead letter awaits replay.
    assert not _exists(sessions, "outbox_events", "event_id", ids["ev_dispatched_31d"])
    assert not _exists(sessions, "outbox_deliveries", "event_id", ids["ev_dispatched_31d"])
    assert _exists(sessions, "outbox_events", "event_id", ids["ev_dispatched_29d"])
    assert _exists(sessions, "outbox_events", "event_id", ids["ev_undispatched_old"])
    assert _exists(sessions, "outbox_events", "event_id", ids["ev_dead_unreplayed"])
    assert _exists(sessions, "dead_letters", "event_id", ids["ev_dead_unreplayed"])
    assert not _exists(sessions, "outbox_events", "event_id", ids["ev_dead_replayed"])
    # Processed markers: 30 days.
    assert not _exists(sessions, "processed_events", "event_id", ids["proc_31d"])
    assert _exists(sessions, "processed_events", "event_id", ids["proc_29d"])

    # Idempotent: a second run finds nothing more to do.
    again = run_retention(sessions, now=NOW)
    assert {result.name: result.rows for result in again} == dict.fromkeys(by_rule, 0)


def test_rows_locked_by_a_handler_are_skipped_not_waited_for(sessions: sessionmaker[Session], engine: Engine) -> None:
    world = World(sessions)
    locked, release = threading.Event(), threading.Event()

    def hold_lock() -> None:
        with engine.connect() as conn, conn.begin():
            conn.execute(
                text("SELECT 1 FROM webhook_events WHERE id = :id FOR UPDATE"), {"id": world.ids["hook_old_0"]}
            )
            locked.set()
            release.wait(10)

    holder = threading.Thread(target=hold_lock)
    holder.start()
    try:
        assert locked.wait(10)
        results = run_retention(sessions, now=NOW, batch_size=2, lock_timeout_ms=500)
    finally:
        release.set()
        holder.join(10)
    assert {result.name: result.rows for result in results}["webhook_events"] == 4
    assert _exists(sessions, "webhook_events", "id", world.ids["hook_old_0"])
    assert not _exists(sessions, "webhook_events", "id", world.ids["hook_old_1"])
    # The next run picks up what was skipped.
    assert {result.name: result.rows for result in run_retention(sessions, now=NOW)}["webhook_events"] == 1


class PersonalData:
    """Rows of the other tables holding a caller's number or words, each just past or just inside its cutoff."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.ids: dict[str, Any] = {}
        self.tenant = uuid.uuid4()
        self.resource = uuid.uuid4()
        with sessions() as session, session.begin():
            self.session = session
            self.sql(
                "INSERT INTO id_tenants (id, name, timezone, forward_to) VALUES (:t, 'Ace', 'UTC', '+13105550001')"
            )
            self.sql("INSERT INTO sched_resources (id, tenant_id, name) VALUES (:r, :t, 'Mike')")
            for name, age in (("key_25h", timedelta(hours=25)), ("key_23h", timedelta(hours=23))):
                self.sql(
                    "INSERT INTO id_api_idempotency_keys (tenant_id, key, request_fingerprint, response_status, "
                    "response_body, created_at) VALUES (:t, :name, 'f', 201, "
                    '\'{"reply": "call +13105551212", "email": "a@b.co"}\', :at)',
                    name=name,
                    at=NOW - age,
                )
            for name, age in (("dl_181d", 181), ("dl_179d", 179)):
                self.ids[name] = self.dead_letter(NOW - age * DAY)
            for name, age in (("claim_14m", 430), ("claim_12m", 360)):
                self.ids[name] = self.sql(
                    "INSERT INTO conv_first_response_claims (id, tenant_id, caller, claimed_at) "
                    "VALUES (gen_random_uuid(), :t, :caller, :at) RETURNING id",
                    caller=f"+1310555{age:04d}",
                    at=NOW - age * DAY,
                )
            for name, status, age in (("task_done_14m", "done", 430), ("task_open_14m", "open", 430)):
                self.ids[name] = self.sql(
                    "INSERT INTO conv_operator_tasks (id, tenant_id, kind, note, status, created_at, done_at) "
                    "VALUES (gen_random_uuid(), :t, 'callback', 'call +13105551212', :status, :at, "
                    "CASE WHEN :status = 'done' THEN CAST(:at AS timestamptz) END) RETURNING id",
                    status=status,
                    at=NOW - age * DAY,
                )
            self.ids["task_done_12m"] = self.sql(
                "INSERT INTO conv_operator_tasks (id, tenant_id, kind, note, status, created_at, done_at) "
                "VALUES (gen_random_uuid(), :t, 'callback', 'x', 'done', :at, :at) RETURNING id",
                at=NOW - 360 * DAY,
            )
            for index, (name, status, age) in enumerate(
                (("hold_expired_14m", "expired", 430), ("hold_active_14m", "active", 430), ("hold_12m", "expired", 360))
            ):
                start = NOW - age * DAY + index * timedelta(hours=1)
                self.ids[name] = self.sql(
                    "INSERT INTO sched_holds (id, tenant_id, resource_id, service_item_id, timeslot, status, "
                    "expires_at, customer_phone, created_at) VALUES (gen_random_uuid(), :t, :r, gen_random_uuid(), "
                    "tstzrange(:start, :start + interval '1 hour'), :status, :start, '+13105551212', :start) "
                    "RETURNING id",
                    status=status,
                    start=start,
                )
            for name, age in (("appt_ended_14m", 430), ("appt_ended_12m", 360)):
                self.ids[name] = self.sql(
                    "INSERT INTO sched_appointments (id, tenant_id, resource_id, service_item_id, timeslot, "
                    "customer_phone, price_cents, created_at) VALUES (gen_random_uuid(), :t, :r, gen_random_uuid(), "
                    "tstzrange(:start, :start + interval '1 hour'), '+13105551212', 12000, :start) RETURNING id",
                    start=NOW - age * DAY,
                )
            for name, revoked in (("optout_revoked_14m", 430), ("optout_revoked_12m", 360), ("optout_active", None)):
                self.ids[name] = self.sql(
                    "INSERT INTO comp_opt_outs (id, tenant_id, phone, source, created_at, revoked_at) VALUES "
                    "(gen_random_uuid(), :t, :phone, 'keyword', :created, :revoked) RETURNING id",
                    phone=f"+1310555{1000 + len(self.ids):04d}",
                    created=NOW - 500 * DAY,
                    revoked=None if revoked is None else NOW - revoked * DAY,
                )
            for name, accepted, revoked, expires in (
                ("invite_expired_31d", None, None, 31),
                ("invite_revoked_31d", None, 31, -5),
                ("invite_accepted_29d", 29, None, 25),
                ("invite_open", None, None, -3),
            ):
                self.ids[name] = self.sql(
                    "INSERT INTO id_invitations (id, tenant_id, email, role, token_hash, created_at, expires_at, "
                    "accepted_at, revoked_at) VALUES (gen_random_uuid(), :t, :email, 'TECH', :name, :created, "
                    ":expires, :accepted, :revoked) RETURNING id",
                    email=f"{name.replace('_', '-')}@example.com",
                    name=name,
                    created=NOW - 40 * DAY,
                    expires=NOW - expires * DAY,
                    accepted=None if accepted is None else NOW - accepted * DAY,
                    revoked=None if revoked is None else NOW - revoked * DAY,
                )
            for name, age in (("booking_counted_14m", 430), ("booking_counted_12m", 360)):
                self.ids[name] = self.sql(
                    "INSERT INTO rep_bookings (appointment_id, tenant_id, counted_at, price_cents, recorded_at) "
                    "VALUES (gen_random_uuid(), :t, :at, 14900, :at) RETURNING appointment_id",
                    at=NOW - age * DAY,
                )
        del self.session

    def sql(self, statement: str, **params: Any) -> Any:
        result = self.session.execute(text(statement), {"t": self.tenant, "r": self.resource, **params})
        return result.scalar() if "RETURNING" in statement else None

    def dead_letter(self, dead_at: datetime) -> uuid.UUID:
        event, delivery = uuid.uuid4(), uuid.uuid4()
        self.sql(
            "INSERT INTO outbox_events (event_id, event_name, schema_version, tenant_id, occurred_at, correlation_id, "
            "payload, dispatched_at) VALUES (:e, 'nmc.telephony.CallMissed', 1, :t, :at, :e, "
            '\'{"caller": "+13105551212"}\', :at)',
            e=event,
            at=dead_at,
        )
        self.sql(
            "INSERT INTO outbox_deliveries (id, event_id, handler, queue, status, attempts) "
            "VALUES (:d, :e, 'conversations.send_first_sms', 'conversations', 'dead', 6)",
            d=delivery,
            e=event,
        )
        self.sql(
            "INSERT INTO dead_letters (id, delivery_id, event_id, event_name, handler, tenant_id, envelope, attempts, "
            "last_error, traceback, dead_at) VALUES (:d, :d, :e, 'nmc.telephony.CallMissed', "
            "'conversations.send_first_sms', :t, '{\"payload\": {\"caller\": \"+13105551212\"}}', 6, 'boom', "
            "'tb', :at)",
            d=delivery,
            e=event,
            at=dead_at,
        )
        return event


def test_every_table_with_a_callers_data_is_purged_past_its_cutoff(sessions: sessionmaker[Session]) -> None:
    data = PersonalData(sessions)
    ids = data.ids
    counts = {result.name: result.rows for result in run_retention(sessions, now=NOW)}
    assert counts["idempotency_keys"] == 1
    assert counts["dead_letters"] == 1
    with sessions() as session:
        keys = set(session.execute(text("SELECT key FROM id_api_idempotency_keys")).scalars())
    assert keys == {"key_23h"}
    # A dead letter older than 180 days goes, and with it the outbox event it was holding back (same run).
    assert not _exists(sessions, "dead_letters", "event_id", ids["dl_181d"])
    assert not _exists(sessions, "outbox_events", "event_id", ids["dl_181d"])
    assert _exists(sessions, "dead_letters", "event_id", ids["dl_179d"])
    assert _exists(sessions, "outbox_events", "event_id", ids["dl_179d"])
    assert not _exists(sessions, "conv_first_response_claims", "id", ids["claim_14m"])
    assert _exists(sessions, "conv_first_response_claims", "id", ids["claim_12m"])
    assert not _exists(sessions, "conv_operator_tasks", "id", ids["task_done_14m"])
    assert _exists(sessions, "conv_operator_tasks", "id", ids["task_open_14m"])
    assert _exists(sessions, "conv_operator_tasks", "id", ids["task_done_12m"])
    assert not _exists(sessions, "sched_holds", "id", ids["hold_expired_14m"])
    assert _exists(sessions, "sched_holds", "id", ids["hold_active_14m"])
    assert _exists(sessions, "sched_holds", "id", ids["hold_12m"])
    assert not _exists(sessions, "sched_appointments", "id", ids["appt_ended_14m"])
    assert _exists(sessions, "sched_appointments", "id", ids["appt_ended_12m"])
    assert not _exists(sessions, "comp_opt_outs", "id", ids["optout_revoked_14m"])
    assert _exists(sessions, "comp_opt_outs", "id", ids["optout_revoked_12m"])
    assert _exists(sessions, "comp_opt_outs", "id", ids["optout_active"])  # STOP is honoured for ever
    assert not _exists(sessions, "id_invitations", "id", ids["invite_expired_31d"])
    assert not _exists(sessions, "id_invitations", "id", ids["invite_revoked_31d"])
    assert _exists(sessions, "id_invitations", "id", ids["invite_accepted_29d"])
    assert _exists(sessions, "id_invitations", "id", ids["invite_open"])
    assert not _exists(sessions, "rep_bookings", "appointment_id", ids["booking_counted_14m"])
    assert _exists(sessions, "rep_bookings", "appointment_id", ids["booking_counted_12m"])
