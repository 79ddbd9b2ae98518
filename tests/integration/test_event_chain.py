"""Causation and correlation across modules, and metrics counted from what committed, on the real pipeline.

The conversation is driven as in ``test_conversations``: the real registry and delivery runner, Postgres, and the
sandbox's Twilio over HTTP, deliveries drained synchronously.
"""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlencode

import falcon.testing
import pytest
import redis
from prometheus_client import REGISTRY
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session
from twilio.request_validator import RequestValidator

from db.engine import transaction
from ingress.app import IngressDeps, create_app
from ingress.verification import FormParams
from ops.tenants import DEMO_NUMBER
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


class Ingress:
    """The real ingress app (create_app), in process, answering what Twilio would post to it for this caller."""

    def __init__(self, system: System, engine: Engine) -> None:  # noqa: F811 - not the fixture
        deps = IngressDeps(
            engine=engine, sessions=system.sessions, redis=redis.Redis.from_url(system.settings.redis_url)
        )
        self.settings = system.settings
        self.client = falcon.testing.TestClient(create_app(system.settings, deps))
        self.world = system.world
        self.replayed = 0

    def post(self, path: str, params: list[tuple[str, str]]) -> None:
        url = self.settings.public_base_url + path
        signature = RequestValidator(self.settings.twilio_auth_token.get_secret_value()).compute_signature(
            url, FormParams.from_pairs(params)
        )
        self._answered(path, urlencode(params).encode(), signature)

    def missed_call(self, phone: str) -> None:
        sid = f"CA{uuid.uuid4().hex}"
        self.post(
            "/webhooks/twilio/voice/status",
            [
                ("CallSid", sid),
                ("From", phone),
                ("To", DEMO_NUMBER),
                ("CallStatus", "in-progress"),
                ("DialCallStatus", "no-answer"),
            ],
        )

    def text(self, phone: str, body: str) -> None:
        self.post(
            "/webhooks/twilio/sms",
            [
                ("MessageSid", f"SM{uuid.uuid4().hex}"),
                ("From", phone),
                ("To", DEMO_NUMBER),
                ("Body", body),
                ("NumMedia", "0"),
            ],
        )

    def replay_status_callbacks(self) -> int:
        """Hand the ingress the status callbacks the sandbox made (to the recording stand-in) since the last call,
        signed as the sandbox signed them."""
        callbacks = self.world.ingress.at("/webhooks/twilio/sms/status")
        fresh = callbacks[self.replayed :]
        for callback in fresh:
            self._answered(callback.path, callback.body, callback.headers["X-Twilio-Signature"], query=callback.query)
        self.replayed = len(callbacks)
        return len(fresh)

    def _answered(self, path: str, body: bytes, signature: str, *, query: str = "") -> None:
        result = self.client.simulate_post(
            path,
            query_string=query or None,
            body=body,
            headers={"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature},
        )
        assert result.status_code == 200, result.text


def test_every_event_of_a_booked_conversation_shares_the_missed_calls_chain_and_names_its_cause(
    system: System,  # noqa: F811 - the fixture
    engine: Engine,
) -> None:
    ingress = Ingress(system, engine)
    phone = caller()
    with system.sessions() as session:
        first = session.execute(text("SELECT coalesce(max(seq), 0) + 1 FROM outbox_events")).scalar_one()
    ingress.missed_call(phone)
    system.drain()
    for body in DEMO_SCRIPT:
        ingress.text(phone, body)
        system.drain()
    system.world.ingress.wait_for(lambda got: len([r for r in got if r.path.endswith("/sms/status")]) >= 8)
    assert ingress.replay_status_callbacks() >= 8  # sent and delivered, for each of four replies at least
    system.drain()
    assert system.row("SELECT status FROM sched_appointments WHERE customer_phone = :c", c=phone).status == "booked"

    events = _events_since(system, first)
    by_id = {event.event_id: event for event in events}
    print("\nevent chain (name event_id: correlation / causation):")
    for event in events:
        name = event.event_name.split(".")[-1]
        print(f"  {name:<26}{_short(event.event_id)}: {_short(event.correlation_id)} / {_short(event.causation_id)}")

    (missed,) = [event for event in events if event.event_name == "nmc.telephony.CallMissed"]
    # One id traces the whole episode: the missed call's (its webhook request's, which started the chain).
    assert {event.correlation_id for event in events} == {missed.correlation_id}
    # What came in from outside (the missed call, the caller's texts, the status reports) has no cause upstream;
    # everything else names its cause, which is in the outbox.
    roots = [event for event in events if event.causation_id is None]
    outside = {
        "nmc.telephony.CallMissed",
        "nmc.conversations.MessageReceived",
        "nmc.telephony.MessageStatusReported",
    }
    assert {root.event_name for root in roots} == outside
    texts = [root for root in roots if root.event_name == "nmc.conversations.MessageReceived"]
    assert len(texts) == len(DEMO_SCRIPT)
    for event in events:
        if event.causation_id is not None:
            assert event.causation_id in by_id, f"{event.event_name} names a cause that is not in the outbox"

    first_sms = [
        event
        for event in events
        if event.event_name == "nmc.conversations.OutboundMessageRequested"
        and event.payload["purpose"] == "first_response"
    ]
    assert [event.causation_id for event in first_sms] != [None]
    (opened,) = [event for event in events if event.event_name == "nmc.conversations.ConversationOpened"]
    assert opened.causation_id == missed.event_id
    # A hold and a booking raised by scheduling inside the conversation's handler name the caller's text as cause.
    for name, text_index in (("nmc.scheduling.HoldPlaced", 1), ("nmc.scheduling.AppointmentBooked", 2)):
        (raised,) = [event for event in events if event.event_name == name]
        assert raised.causation_id == texts[text_index].event_id, name


def test_a_text_after_the_idle_window_starts_a_chain_of_its_own(
    system: System,  # noqa: F811 - the fixture
    engine: Engine,
) -> None:
    ingress = Ingress(system, engine)
    phone = caller()
    ingress.missed_call(phone)
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE caller_chains SET last_seen_at = now() - make_interval(hours => :h) WHERE caller = :c"),
            {"h": system.settings.caller_chain_idle_hours + 1, "c": phone},
        )
    ingress.text(phone, "hello?")
    received = system.rows(
        "SELECT event_id, correlation_id FROM outbox_events WHERE event_name = 'nmc.conversations.MessageReceived'"
        " AND payload ->> 'from_number' = :c",
        c=phone,
    )
    (missed,) = system.rows(
        "SELECT correlation_id FROM outbox_events WHERE event_name = 'nmc.telephony.CallMissed'"
        " AND payload ->> 'caller' = :c",
        c=phone,
    )
    (restarted,) = {row.correlation_id for row in received}
    assert restarted != missed.correlation_id
    # The text restarted the caller's chain: what comes next joins the new one.
    ingress.text(phone, "anyone there?")
    later = system.rows(
        "SELECT correlation_id FROM outbox_events WHERE event_name = 'nmc.conversations.MessageReceived'"
        " AND payload ->> 'from_number' = :c ORDER BY seq",
        c=phone,
    )
    assert [row.correlation_id for row in later] == [restarted] * 2


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
