"""Causation and correlation across modules, and metrics counted from what committed, on the real pipeline.

The conversation is driven as in ``test_conversations``: the real registry and delivery runner, Postgres, and the
sandbox's Twilio over HTTP, deliveries drained synchronously.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import text
from sqlalchemy.orm import Session

from db.engine import transaction
from tests.support.conversation_system import System, caller, system  # noqa: F401 - the fixture
from tests.support.sandbox_world import sandbox_key_path, world  # noqa: F401 - fixtures
from workers.delivery import DeliveryRunner

DEMO_SCRIPT = ("hi how much is a clogged drain? tomorrow morning if possible", "the first one", "yes")


def _miss_call(system: System, phone: str) -> int:  # noqa: F811 - not the fixture
    """Append a CallMissed as the ingress would (a chain of its own); its outbox ``seq``."""
    envelope = system.missed_call(phone)
    with system.sessions() as session:
        seq: int = session.execute(
            text("SELECT seq FROM outbox_events WHERE event_id = :id"), {"id": envelope.event_id}
        ).scalar_one()
    return seq


def _events_since(system: System, seq: int) -> list[Any]:  # noqa: F811 - not the fixture
    with system.sessions() as session:
        return list(
            session.execute(
                text(
                    "SELECT event_id, event_name, correlation_id, causation_id, payload FROM outbox_events"
                    " WHERE seq >= :seq ORDER BY seq"
                ),
                {"seq": seq},
            )
        )


def _short(value: uuid.UUID | None) -> str:
    return "-" if value is None else str(value)[:8]


def test_every_event_of_a_booked_conversation_names_its_cause_in_its_chain(system: System) -> None:  # noqa: F811
    phone = caller()
    first = _miss_call(system, phone)
    system.drain()
    for body in DEMO_SCRIPT:
        system.inbound(phone, body)
        system.drain()
    assert system.row("SELECT status FROM sched_appointments WHERE customer_phone = :c", c=phone).status == "booked"

    events = _events_since(system, first)
    by_id = {event.event_id: event for event in events}
    print("\nevent chain (name event_id: correlation / causation):")
    for event in events:
        name = event.event_name.split(".")[-1]
        print(f"  {name:<26}{_short(event.event_id)}: {_short(event.correlation_id)} / {_short(event.causation_id)}")

    # Only what came in from outside (the missed call, each of the caller's texts) starts a chain.
    roots = [event for event in events if event.causation_id is None]
    texts = ["nmc.conversations.MessageReceived"] * len(DEMO_SCRIPT)
    assert [root.event_name for root in roots] == ["nmc.telephony.CallMissed", *texts]
    for root in roots:
        assert root.correlation_id == root.event_id  # a fact with no cause upstream starts its own chain
    for event in events:
        if event.causation_id is None:
            continue
        cause = by_id.get(event.causation_id)
        assert cause is not None, f"{event.event_name} names a cause that is not in the outbox"
        assert event.correlation_id == cause.correlation_id, f"{event.event_name} left its cause's chain"

    def chain_of(name: str) -> uuid.UUID:
        (found,) = [event for event in events if event.event_name == name]
        return uuid.UUID(str(found.correlation_id))

    missed = roots[0]
    # The first SMS belongs to the missed call's chain.
    first_sms = [
        event
        for event in events
        if event.event_name == "nmc.conversations.OutboundMessageRequested"
        and event.payload["purpose"] == "first_response"
    ]
    assert [event.correlation_id for event in first_sms] == [missed.correlation_id]
    assert chain_of("nmc.conversations.ConversationOpened") == missed.correlation_id
    # A hold and a booking raised by scheduling inside the conversation's handler name the caller's text as cause.
    for name, text_index in (("nmc.scheduling.HoldPlaced", 2), ("nmc.scheduling.AppointmentBooked", 3)):
        (raised,) = [event for event in events if event.event_name == name]
        assert raised.causation_id == roots[text_index].event_id, name
        assert raised.correlation_id == roots[text_index].correlation_id, name


def _first_sms_count() -> float:
    return REGISTRY.get_sample_value("nmc_first_sms_latency_seconds_count") or 0.0


def test_a_send_retried_after_its_handler_ran_counts_the_first_sms_latency_once(
    system: System,  # noqa: F811 - the fixture
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    phone = caller()
    _miss_call(system, phone)
    system.drain(only="conversations.greet_missed_caller")
    before = _first_sms_count()

    real = DeliveryRunner._call_handler
    crashes = []

    def crash_after_the_handler(runner: DeliveryRunner, session: Session, row: Any) -> Any:
        done = real(runner, session, row)
        first_sms = row.handler == "conversations.send_message" and row.payload["purpose"] == "first_response"
        if first_sms and not crashes:
            crashes.append(row.handler)
            raise ConnectionError("lost the database between the handler and the commit")
        return done

    monkeypatch.setattr(DeliveryRunner, "_call_handler", crash_after_the_handler)
    outcomes = system.drain(only="conversations.send_message")
    assert "conversations.send_message:failed:ConnectionError" in outcomes
    assert crashes
    assert _first_sms_count() == before  # the attempt rolled back: nothing to count yet

    with transaction(system.sessions) as session:
        session.execute(
            text(
                "UPDATE outbox_deliveries SET next_attempt_at = now()"
                " WHERE handler = 'conversations.send_message' AND status = 'retrying'"
            )
        )
    system.dispatcher.redrive()
    assert system.drain(only="conversations.send_message") == ["conversations.send_message:done"]
    # The retry found the SMS the first attempt had sent (one to the caller) and recorded it queued.
    assert len(system.sent_to(phone)) == 1
    assert system.row(
        "SELECT status FROM conv_messages WHERE to_number = :c AND purpose = 'first_response'", c=phone
    ).status in ("queued", "sent", "delivered")
    assert _first_sms_count() == before + 1
