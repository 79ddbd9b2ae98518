"""The one follow-up: after the tenant's delay to a caller who never answered the first SMS, at most once, and never
after a reply, an opt-out, a takeover, a booking or a phone call a person answered; off by default."""

from __future__ import annotations

import uuid
from datetime import timedelta

from db.engine import transaction
from domain.composition import lifecycle
from domain.conversations import operator
from domain.events.sink import RootSink
from domain.identity import lifecycle as tenant_lifecycle
from tests.support import lifecycle_system
from tests.support.lifecycle_system import T0, Lifecycle, call_answered, caller, missed_call, text_in
from tests.support.sandbox_world import sandbox_key_path, world  # noqa: F401

life = lifecycle_system.life  # the fixture, by name so pytest finds it here
FOLLOW_UP = "Still need a hand?"


def follow_ups(life: Lifecycle, number: str) -> list[str]:
    return [m["body"] for m in life.sent_to(number) if FOLLOW_UP in m["body"]]


def run_job(life: Lifecycle, minutes: int) -> int:
    life.clock.now = T0 + timedelta(minutes=minutes)
    with transaction(life.sessions) as session:
        sent = lifecycle.send_follow_ups(session, now=life.clock.now)
    life.drain()
    return sent


def test_off_by_default(life: Lifecycle) -> None:
    number = caller()
    missed_call(life, number)
    assert run_job(life, 24 * 60) == 0
    assert follow_ups(life, number) == []


def test_one_follow_up_after_the_delay_and_never_after_a_reply_an_opt_out_a_takeover_or_a_booking(
    life: Lifecycle,
) -> None:
    with transaction(life.sessions) as session:
        tenant_lifecycle.update_lifecycle_settings(session, tenant_id=life.tenant_id, follow_up_delay_minutes=60)
    silent, replied, stopped, taken, booked = (caller() for _ in range(5))
    for number in (silent, replied, stopped, taken, booked):
        missed_call(life, number)
    text_in(life, replied, "yes I need a plumber")
    text_in(life, stopped, "STOP")
    with transaction(life.sessions) as session:
        (conversation,) = operator.list_conversations(session, tenant_id=life.tenant_id, caller=taken).items
        operator.take_over(
            session,
            tenant_id=life.tenant_id,
            conversation_id=uuid.UUID(conversation["id"]),
            user_id=None,
            lease=timedelta(minutes=30),
            events=RootSink(session),
        )
    life.book(booked, T0 + timedelta(days=2))
    assert run_job(life, 59) == 0  # not yet
    assert run_job(life, 61) == 1
    assert run_job(life, 90) == 0  # at most one
    assert len(follow_ups(life, silent)) == 1
    for number in (replied, stopped, taken, booked):
        assert follow_ups(life, number) == [], number


def test_never_after_a_staff_call_back_or_an_answered_re_call(life: Lifecycle) -> None:
    with transaction(life.sessions) as session:
        tenant_lifecycle.update_lifecycle_settings(session, tenant_id=life.tenant_id, follow_up_delay_minutes=60)
    silent, called_back, called_again = (caller() for _ in range(3))
    for number in (silent, called_back, called_again):
        missed_call(life, number)
    life.clock.now = T0 + timedelta(minutes=20)
    call_answered(life, called_back, "outbound")  # staff rang them back through the business's Twilio number
    call_answered(life, called_again, "inbound")  # they rang again and someone picked up
    assert run_job(life, 61) == 1
    assert len(follow_ups(life, silent)) == 1
    assert follow_ups(life, called_back) == []
    assert follow_ups(life, called_again) == []
