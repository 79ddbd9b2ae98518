"""The callback-aware first SMS through the real handlers, Postgres and the sandbox's Twilio (its call list too).

With a grace period the missed call's first SMS is held; an answered re-call or a staff call through the business's
Twilio number inside it withholds the SMS (and says why on the conversation); a re-call missed again is the same
episode; nothing seen means it goes when the grace ends. With no grace nothing changes (the rest of the suite)."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from db.engine import transaction
from domain.conversations import maintenance
from domain.conversations.store import PostgresConversationStore
from domain.events import outbox
from domain.events.catalog import CallAnswered
from domain.identity import service as identity
from ops.sandbox.client import SandboxClient
from ops.tenants import DEMO_NUMBER
from tests.support import conversation_system
from tests.support.conversation_system import System, caller
from tests.support.sandbox_world import World, sandbox_key_path, world  # noqa: F401

system = conversation_system.system  # the fixture, by name so pytest finds it here
GRACE = 30
DIAL = (
    '<?xml version="1.0" encoding="UTF-8"?><Response><Dial action="/webhooks/twilio/voice/status">'
    "<Number>+13105551001</Number></Dial></Response>"
)


def ring_through(world: World) -> None:  # noqa: F811
    """The recording ingress answers the voice webhook as ours does: dial the forward-to phone."""
    world.ingress.responders["/webhooks/twilio/voice"] = lambda _request: (200, "application/xml", DIAL)


@pytest.fixture
def graced(system: System) -> System:
    with transaction(system.sessions) as session:
        identity.update_callback_grace(session, tenant_id=system.tenant_id, seconds=GRACE)
    return system


def first_texts(system: System, phone: str) -> list[str]:
    return [row["body"] for row in system.sent_to(phone)]


def graces(system: System, phone: str) -> list[tuple[str | None, str | None]]:
    rows = system.rows(
        "SELECT decision, reason FROM conv_first_response_graces WHERE caller = :caller ORDER BY created_at",
        caller=phone,
    )
    return [(row.decision, row.reason) for row in rows]


def end_grace(system: System) -> int:
    """The scheduler's tick once the grace is over, then the pipeline."""
    with transaction(system.sessions) as session:
        ended = maintenance.end_due_graces(session, datetime.now(UTC) + timedelta(seconds=GRACE + 1))
    assert all(outcome.endswith(":done") for outcome in system.drain())
    return ended


def answered(system: System, phone: str, direction: str) -> None:
    """A CallAnswered as the ingress writes it from Twilio's status webhook."""
    with transaction(system.sessions) as session:
        outbox.append(
            session,
            CallAnswered(
                call_sid=f"CA{uuid.uuid4().hex}",
                direction=direction,  # type: ignore[arg-type]
                customer_phone=phone,
                business_number=DEMO_NUMBER,
                answered_at=datetime.now(UTC),
            ),
            tenant_id=system.tenant_id,
        )


def test_a_staff_callback_inside_the_grace_period_means_no_first_sms(graced: System) -> None:
    phone = caller()
    missed = graced.missed_call(phone)
    graced.drain()
    assert first_texts(graced, phone) == []  # held
    assert graces(graced, phone) == [(None, None)]

    answered(graced, phone, "outbound")
    graced.drain()
    assert end_grace(graced) == 0  # already decided: nothing is left to end
    assert first_texts(graced, phone) == []
    assert graces(graced, phone) == [("withheld", "staff_called_back")]
    decided = graced.row(
        "SELECT correlation_id, payload FROM outbox_events WHERE event_name = 'nmc.conversations.FirstResponseDecided'"
        " AND payload->>'conversation_id' IN (SELECT id::text FROM conv_conversations WHERE caller = :caller)",
        caller=phone,
    )
    assert decided.payload["seen_by"] == "webhook"
    deferred = graced.row(
        "SELECT correlation_id, causation_id FROM outbox_events"
        " WHERE event_name = 'nmc.conversations.FirstResponseDeferred' AND causation_id = :missed",
        missed=missed.event_id,
    )
    assert deferred.correlation_id == missed.correlation_id


def test_a_staff_call_seen_only_in_twilios_call_list_withholds_it(graced: System, world: World) -> None:  # noqa: F811
    phone = caller()
    missed = graced.missed_call(phone)
    graced.drain()
    # The staff call went through Twilio but its status webhook has not come (or never will).
    SandboxClient(world.url, http=world.http).call_out(DEMO_NUMBER, phone, status_callback=False).raise_for_status()
    assert end_grace(graced) == 1
    assert first_texts(graced, phone) == []
    assert graces(graced, phone) == [("withheld", "staff_called_back")]
    ended = graced.row(
        "SELECT correlation_id, causation_id FROM outbox_events"
        " WHERE event_name = 'nmc.conversations.FirstResponseGraceEnded' AND correlation_id = :chain",
        chain=missed.correlation_id,
    )
    assert ended.causation_id == missed.event_id  # the scheduler's tick continues the missed call's chain


def test_an_answered_recall_means_no_first_sms(graced: System, world: World) -> None:  # noqa: F811
    phone = caller()
    ring_through(world)
    graced.missed_call(phone)
    graced.drain()
    SandboxClient(world.url, http=world.http).call(
        phone, DEMO_NUMBER, answered=True, dial_status="completed"
    ).raise_for_status()
    answered(graced, phone, "inbound")  # what the dial action of that call tells the ingress
    graced.drain()
    end_grace(graced)
    assert first_texts(graced, phone) == []
    assert graces(graced, phone) == [("withheld", "caller_recall_answered")]


def test_a_recall_missed_again_is_one_episode_and_one_first_sms(graced: System, world: World) -> None:  # noqa: F811
    phone = caller()
    ring_through(world)
    sandbox = SandboxClient(world.url, http=world.http)
    graced.missed_call(phone)
    graced.drain()
    sandbox.call(phone, DEMO_NUMBER, answered=False).raise_for_status()  # in Twilio's call list: missed again
    graced.missed_call(phone)
    graced.drain()
    assert end_grace(graced) == 1
    texts = first_texts(graced, phone)
    assert len(texts) == 1
    assert "Ace Plumbing" in texts[0]
    assert graces(graced, phone) == [("sent", "no_callback")]
    message = graced.row(
        "SELECT purpose, status, reference_at FROM conv_messages WHERE to_number = :caller", caller=phone
    )
    assert (message.purpose, message.status) == ("first_response", "queued")


def race_once(system: System, phone: str) -> dict[str, bool]:
    """The grace's decision against an answered call's, each in its own transaction, released together."""
    system.missed_call(phone)
    system.drain()
    grace_id = system.row("SELECT id FROM conv_first_response_graces WHERE caller = :caller", caller=phone).id
    barrier = threading.Barrier(2)
    won: dict[str, bool] = {}

    def send() -> None:
        with transaction(system.sessions) as session:
            barrier.wait()
            won["send"] = PostgresConversationStore(session).decide_first_response(
                tenant_id=system.tenant_id, grace_id=grace_id, decision="sent", reason="no_callback", call_sid=None
            )

    def withhold() -> None:
        with transaction(system.sessions) as session:
            barrier.wait()
            decided = PostgresConversationStore(session).withhold_for_answered_call(
                tenant_id=system.tenant_id,
                caller=phone,
                answered_at=datetime.now(UTC),
                reason="staff_called_back",
                call_sid="CA" + uuid.uuid4().hex,
            )
            won["withhold"] = decided is not None

    threads = [threading.Thread(target=send), threading.Thread(target=withhold)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return won


def test_the_grace_end_and_a_callback_at_the_same_instant_decide_once(graced: System) -> None:
    for index in range(20):
        phone = f"+1617666{index:04d}"  # distinct: a number seen before would be inside its first-SMS window
        won = race_once(graced, phone)
        assert sorted(won.values()) == [False, True]
        (decision,) = graces(graced, phone)
        assert decision == (("sent", "no_callback") if won["send"] else ("withheld", "staff_called_back"))


def test_the_grace_period_is_checked(system: System) -> None:
    with transaction(system.sessions) as session:
        for bad in ("121", "-1", "ten", "1.5", True):
            with pytest.raises(identity.InvalidField):
                identity.update_callback_grace(session, tenant_id=system.tenant_id, seconds=bad)
        assert identity.update_callback_grace(session, tenant_id=system.tenant_id, seconds="120") == 120
