"""Conversation handlers in one process: the real registry, Postgres, and the sandbox over real HTTP.

Deliveries are drained synchronously (dispatch → claim → process), so each test can act between two steps.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from db.engine import transaction
from domain.conversations import maintenance, operator
from domain.events import outbox
from domain.events.catalog import CallerNamed, MessageStatusReported
from domain.events.sink import RootSink
from ops.tenants import DEMO_NUMBER
from tests.support import conversation_system
from tests.support.conversation_system import System, caller
from tests.support.sandbox_world import World, free_port, sandbox_key_path, world  # noqa: F401
from tests.support.waiting import wait_until
from workers.adapters.gated_sms import GatedSmsSender
from workers.adapters.twilio_gateway import TwilioGateway

system = conversation_system.system  # the fixture, by name so pytest finds it here


def test_a_takeover_silences_a_reply_that_was_already_queued(system: System) -> None:
    phone = caller()
    system.inbound(phone, "how much is drain cleaning?")
    system.drain(only="conversations.reply_to_caller")
    reply = system.row("SELECT id, conversation_id, status FROM conv_messages WHERE to_number = :c", c=phone)
    assert reply.status == "pending"  # written and requested, not yet sent
    with transaction(system.sessions) as session:
        operator.take_over(
            session,
            tenant_id=system.tenant_id,
            conversation_id=reply.conversation_id,
            user_id=None,
            events=RootSink(session),
        )
    system.drain()
    blocked = system.row("SELECT status, preflight FROM conv_messages WHERE id = :id", id=reply.id)
    assert blocked.status == "blocked"
    assert blocked.preflight["reason"] == "human_takeover"
    assert system.sent_to(phone) == []


def test_a_human_reply_still_goes_out_during_the_takeover(system: System) -> None:
    phone = caller()
    system.inbound(phone, "hello")
    system.drain()
    conversation_id = system.row("SELECT id FROM conv_conversations WHERE caller = :c", c=phone).id
    with transaction(system.sessions) as session:
        operator.take_over(
            session, tenant_id=system.tenant_id, conversation_id=conversation_id, user_id=None, events=RootSink(session)
        )
        operator.reply_as_human(
            session,
            tenant_id=system.tenant_id,
            conversation_id=conversation_id,
            user_id=None,
            body="Hi, this is Sam from the office.",
            from_number=DEMO_NUMBER,
            events=RootSink(session),
        )
    system.drain()
    assert [m["body"] for m in system.sent_to(phone)][-1] == "Hi, this is Sam from the office."


def test_a_lapsed_human_lease_returns_the_conversation_to_the_ai(system: System) -> None:
    phone = caller()
    system.inbound(phone, "hello")
    system.drain()
    conversation_id = system.row("SELECT id FROM conv_conversations WHERE caller = :c", c=phone).id
    with transaction(system.sessions) as session:
        operator.take_over(
            session,
            tenant_id=system.tenant_id,
            conversation_id=conversation_id,
            user_id=None,
            lease=timedelta(0),
            events=RootSink(session),
        )
    with transaction(system.sessions) as session:
        released = maintenance.expire_human_leases(session, datetime.now(UTC) + timedelta(seconds=1))
    assert released == 1
    assert system.row("SELECT state FROM conv_conversations WHERE id = :id", id=conversation_id).state == "open"
    assert (
        system.row(
            "SELECT payload->>'outcome' AS outcome FROM outbox_events"
            " WHERE event_name = 'nmc.conversations.HumanTakeoverReleased'"
        ).outcome
        == "expired"
    )


def test_a_status_never_moves_backwards(system: System) -> None:
    phone = caller()
    system.inbound(phone, "how much is a leak repair")
    system.drain()
    sid = system.row("SELECT provider_ref FROM conv_messages WHERE to_number = :c", c=phone).provider_ref
    with transaction(system.sessions) as session:
        for status in ("delivered", "sent", "queued"):
            outbox.append(
                session,
                MessageStatusReported(message_sid=sid, status=status, error_code=None, reported_at=datetime.now(UTC)),
                tenant_id=system.tenant_id,
            )
    system.drain()
    assert system.row("SELECT status FROM conv_messages WHERE provider_ref = :s", s=sid).status == "delivered"


def _wait_until_the_provider_has_delivered(system: System, phone: str) -> None:
    # The sandbox moves a message to delivered on its own timer (as Twilio does, later): asking before it has, on a
    # busy machine, would find "sent" and rightly report that.
    wait_until(
        lambda: [message["status"] for message in system.sent_to(phone)] == ["delivered"],
        10,
        "the sandbox to deliver the reply",
    )


def test_silent_messages_are_polled_from_the_provider(system: System) -> None:
    system.world.fault({"callbacks": "drop"})
    phone = caller()
    system.inbound(phone, "how much is an ac tune-up")
    system.drain()
    message = system.row("SELECT id, status FROM conv_messages WHERE to_number = :c", c=phone)
    assert message.status == "queued"  # no callback came
    _wait_until_the_provider_has_delivered(system, phone)
    sms = GatedSmsSender(TwilioGateway(system.settings), system.settings)
    with transaction(system.sessions) as session:
        reported = maintenance.poll_silent_messages(
            session, datetime.now(UTC) + timedelta(minutes=5), sms=sms, silent_after=timedelta(seconds=1)
        )
    assert reported == 1
    system.drain()
    assert system.row("SELECT status FROM conv_messages WHERE id = :id", id=message.id).status == "delivered"


def test_provider_error_21610_is_an_opt_out_and_is_never_retried(system: System) -> None:
    system.world.fault({"send": {"http_status": 400, "code": 21610, "count": 1}})
    phone = caller()
    system.inbound(phone, "hi there")
    outcomes = system.drain()
    assert "conversations.send_message:done" in outcomes
    message = system.row("SELECT status, error_code FROM conv_messages WHERE to_number = :c", c=phone)
    assert (message.status, message.error_code) == ("failed", 21610)
    assert system.row("SELECT source FROM comp_opt_outs WHERE phone = :c", c=phone).source == "provider_21610"
    assert system.row("SELECT state FROM conv_conversations WHERE caller = :c", c=phone).state == "blocked"


def test_a_provider_outage_is_retried_with_backoff_and_then_sends_once(system: System) -> None:
    system.world.fault({"send": {"http_status": 503, "count": 1}})
    phone = caller()
    system.inbound(phone, "how much is a water heater repair")
    outcomes = system.drain()
    assert "conversations.send_message:failed:SendFailed" in outcomes
    delivery = system.row(
        "SELECT id, status, attempts FROM outbox_deliveries WHERE handler = 'conversations.send_message'"
    )
    assert (delivery.status, delivery.attempts) == ("retrying", 1)
    with transaction(system.sessions) as session:
        session.execute(
            text("UPDATE outbox_deliveries SET next_attempt_at = now() WHERE id = :id"), {"id": delivery.id}
        )
    system.dispatcher.redrive()
    system.drain()
    assert len(system.sent_to(phone)) == 1
    assert "Water heater" in system.sent_to(phone)[0]["body"]


def test_a_caller_texting_from_another_number_cannot_touch_the_first_callers_booking(system: System) -> None:
    first, other = caller(), caller()
    for body in ("clogged drain, tomorrow morning?", "the first one", "yes"):
        system.inbound(first, body)
        system.drain()
    assert system.row("SELECT count(*) AS n FROM sched_appointments WHERE customer_phone = :c", c=first).n == 1
    system.inbound(other, "I need to cancel my appointment")
    system.drain()
    assert (
        system.row(
            "SELECT count(*) AS n FROM sched_appointments WHERE customer_phone = :c AND status = 'booked'", c=first
        ).n
        == 1
    )
    assert system.row("SELECT count(*) AS n FROM conv_conversations WHERE caller = :c", c=other).n == 1
    assert "cancel" not in system.sent_to(other)[-1]["body"].lower() or "don't see" in system.sent_to(other)[-1]["body"]


def test_the_daily_reconciliation_repairs_statuses_the_callbacks_never_told_us(system: System) -> None:
    system.world.fault({"callbacks": "drop"})
    phone = caller()
    system.inbound(phone, "how much is a leak repair")
    system.drain()
    assert system.row("SELECT status FROM conv_messages WHERE to_number = :c", c=phone).status == "queued"
    _wait_until_the_provider_has_delivered(system, phone)
    sms = GatedSmsSender(TwilioGateway(system.settings), system.settings)
    with transaction(system.sessions) as session:
        reported = maintenance.reconcile_with_provider(
            session, datetime.now(UTC) + timedelta(seconds=1), sms=sms, since=timedelta(days=1)
        )
    assert reported == 1
    system.drain()
    assert system.row("SELECT status FROM conv_messages WHERE to_number = :c", c=phone).status == "delivered"


def test_the_owner_hears_of_a_missed_call_and_of_a_caller_who_wants_a_person(system: System) -> None:
    from ops.tenants import DEMO_OWNER_MOBILE

    phone = caller()
    system.missed_call(phone)
    system.drain()
    assert len(system.sent_to(phone)) == 1  # the first SMS to the caller
    owner = [m["body"] for m in system.sent_to(DEMO_OWNER_MOBILE) if phone in m["body"]]
    assert len(owner) == 1
    code = owner[0][:3]
    assert owner[0] == (
        f"{code}: Missed call from {phone}. We've texted them back and are handling it."
        f"\nReply {code} TAKE to take over, HELP for commands."
    )
    system.inbound(phone, "can I talk to a real person please")
    system.drain()
    owner = [m["body"] for m in system.sent_to(DEMO_OWNER_MOBILE) if phone in m["body"]]
    assert (
        owner[-1]
        == f"{code}: {phone} would like to talk to a person.\nReply {code} TAKE to take over, HELP for commands."
    )
    assert system.row("SELECT state FROM conv_conversations WHERE caller = :c", c=phone).state == "human"


def test_the_owners_alert_names_a_caller_caller_id_named(system: System) -> None:
    from ops.tenants import DEMO_OWNER_MOBILE

    phone = caller()
    with transaction(system.sessions) as session:
        outbox.append(
            session,
            CallerNamed(phone=phone, caller_name="LOPEZ MARIA", source="caller_id", actor=None),
            tenant_id=system.tenant_id,
        )
    assert "conversations.record_caller_name:done" in system.drain()
    system.missed_call(phone)
    system.drain()
    (alert,) = [m["body"] for m in system.sent_to(DEMO_OWNER_MOBILE) if phone in m["body"]]
    assert alert[3:] == (
        f": Missed call from LOPEZ MARIA ({phone}). We've texted them back and are handling it."
        f"\nReply {alert[:3]} TAKE to take over, HELP for commands."
    )


def test_asking_for_a_person_gets_exactly_one_acknowledgement_and_nothing_automated_after_it(system: System) -> None:
    phone = caller()
    system.inbound(phone, "can I talk to a person")
    system.drain()
    conversation = system.row(
        "SELECT id, state, handoff_ack_message_id FROM conv_conversations WHERE caller = :c", c=phone
    )
    assert conversation.state == "human"
    (ack,) = system.sent_to(phone)
    assert "someone will reach out" in ack["body"]
    # The caller keeps texting: the AI stays quiet, and a reply queued for it by anything automated is blocked.
    system.inbound(phone, "hello??")
    system.drain()
    assert system.sent_to(phone) == [ack]
    with system.sessions() as session:
        outbound = session.execute(
            text(
                "SELECT id, purpose, status FROM conv_messages WHERE conversation_id = :id AND direction = 'out'"
                " ORDER BY created_at"
            ),
            {"id": conversation.id},
        ).all()
    assert [(row.id, row.purpose, row.status) for row in outbound] == [
        (conversation.handoff_ack_message_id, "ai_reply", "queued")
    ]
