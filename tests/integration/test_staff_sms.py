"""Staff by SMS on Postgres: staff numbers are never callers, alerts carry a code, members act on it by text.

The demo tenant is shared by every test of the session, so each test closes the open alerts it did not make and
registers members with numbers of its own (removed afterwards).
"""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import text

from db.engine import transaction
from domain.conversations import operator
from domain.conversations.flows.staff import HELP_TEXT
from domain.conversations.store import PostgresConversationStore
from domain.events.sink import RootSink
from domain.identity import invitations
from domain.reporting import projections
from ops.tenants import DEMO_OWNER_MOBILE, create_tenant_with_campaign
from tests.support import conversation_system
from tests.support.conversation_system import System, caller
from tests.support.draining import run_delivery
from tests.support.sandbox_world import World, free_port, sandbox_key_path, world  # noqa: F401

system = conversation_system.system  # the fixture, by name so pytest finds it here
CODE = re.compile(r"^([A-Z][2-9]{2}): ")


@pytest.fixture
def staff(system: System) -> Iterator[dict[str, tuple[str, uuid.UUID]]]:
    """A fresh OWNER and two TECHs on the demo tenant, each with a mobile; no open alert left from other tests."""
    made: dict[str, tuple[str, uuid.UUID]] = {}
    with transaction(system.sessions) as session:
        session.execute(text("UPDATE conv_staff_alerts SET closed_at = now() WHERE closed_at IS NULL"))
        for name, role in (("owner", "OWNER"), ("tech", "TECH"), ("tech2", "TECH")):
            mobile = caller()
            address = f"{name}-{uuid.uuid4().hex[:8]}@example.test"
            issued = invitations.invite(
                session,
                tenant_id=system.tenant_id,
                email=address,
                role=role,
                mobile=mobile,
                ttl=timedelta(hours=1),
                events=RootSink(session),
            )
            accepted = invitations.accept(
                session,
                token=issued.token,
                clerk_user_id=f"user_{uuid.uuid4().hex}",
                email=address,
                name=name,
                events=RootSink(session),
            )
            made[name] = (mobile, accepted.user_id)
    yield made
    with transaction(system.sessions) as session:
        session.execute(
            text("DELETE FROM id_memberships WHERE user_id = ANY(:ids)"), {"ids": [u for _, u in made.values()]}
        )


def texts_to(system: System, phone: str) -> list[str]:
    return [message["body"] for message in system.sent_to(phone)]


def alert_code(system: System, phone: str, about: str) -> str:
    bodies = [body for body in texts_to(system, phone) if about in body]
    assert bodies, f"no alert about {about} reached {phone}"
    found = CODE.match(bodies[-1])
    assert found is not None, bodies[-1]
    return found.group(1)


def conversation(system: System, phone: str) -> tuple[uuid.UUID, str, uuid.UUID | None]:
    row = system.row(
        "SELECT id, state, human_user_id FROM conv_conversations WHERE caller = :c AND state IN ('open', 'human')",
        c=phone,
    )
    assert row is not None, phone
    return row.id, row.state, row.human_user_id


def wants_a_person(system: System) -> str:
    """A caller who asked for a person (the conversation is ``human``, held by nobody); their number."""
    phone = caller()
    system.inbound(phone, "hi, can I talk to a real person please")
    system.drain()
    return phone


# -- staff numbers are never callers --


def test_the_owner_replying_to_an_alert_opens_no_conversation_and_gets_no_ai_reply(
    system: System, staff: dict[str, tuple[str, uuid.UUID]]
) -> None:
    phone = caller()
    system.missed_call(phone)
    system.drain()
    before = len(texts_to(system, DEMO_OWNER_MOBILE))
    system.inbound(DEMO_OWNER_MOBILE, "drain cleaning")  # was answered "Just to check, is that for Drain cleaning?"
    system.drain()
    assert system.row("SELECT count(*) AS n FROM conv_conversations WHERE caller = :c", c=DEMO_OWNER_MOBILE).n == 0
    answers = texts_to(system, DEMO_OWNER_MOBILE)[before:]
    assert not any("Drain cleaning" in answer for answer in answers)
    assert len(answers) == 1
    assert "not yours yet" in answers[0]  # a bare text about the one open alert, not taken


PROJECTION_TABLES = ("rep_daily_tenant_stats", "rep_quarter_hour_tenant_stats")


def test_a_missed_call_from_a_member_texts_nobody_and_counts_no_missed_call(
    system: System, staff: dict[str, tuple[str, uuid.UUID]]
) -> None:
    tech, _ = staff["tech"]
    with transaction(system.sessions) as session:
        projections.rebuild(session, system.tenant_id)
    totals = "SELECT coalesce(sum(missed_calls), 0) AS missed, coalesce(sum(conversations), 0) AS opened"
    # The UTC days (/v1/reports, nmc report) and the quarter hours the staff app's local-day reports add up.
    stats = [f"{totals} FROM {table} WHERE tenant_id = :t" for table in PROJECTION_TABLES]
    counted = [system.row(query, t=system.tenant_id) for query in stats]
    system.missed_call(tech)
    system.inbound(tech, "hello?")
    outcomes = system.drain()
    assert "reporting.uncount_staff_call:done" in outcomes
    assert system.row("SELECT count(*) AS n FROM conv_conversations WHERE caller = :c", c=tech).n == 0
    assert [system.row(query, t=system.tenant_id) for query in stats] == counted
    # The rebuild from events agrees: the staff call is not a missed call.
    with transaction(system.sessions) as session:
        projections.rebuild(session, system.tenant_id)
    assert [system.row(query, t=system.tenant_id) for query in stats] == counted
    recognised = system.row(
        "SELECT s.causation_id = c.event_id AS caused FROM outbox_events s JOIN outbox_events c"
        " ON c.event_name = 'nmc.telephony.CallMissed' AND c.payload->>'caller' = :p"
        " WHERE s.event_name = 'nmc.conversations.StaffCallRecognised' AND s.payload->>'phone' = :p",
        p=tech,
    )
    assert recognised.caused
    answers = texts_to(system, tech)
    assert answers == ["There is no open alert right now. Nothing was done. Reply HELP for the commands."]


def test_stop_from_a_member_is_honoured_and_answered_by_no_command(
    system: System, staff: dict[str, tuple[str, uuid.UUID]]
) -> None:
    tech, _ = staff["tech"]
    system.inbound(tech, "STOP")
    system.drain()
    assert system.row("SELECT count(*) AS n FROM comp_opt_outs WHERE phone = :p", p=tech).n >= 1
    assert texts_to(system, tech) == []
    assert system.row("SELECT count(*) AS n FROM conv_conversations WHERE caller = :c", c=tech).n == 0


# -- alerts carry a code --


def test_every_alert_carries_a_code_unique_among_the_open_ones_and_reaches_every_staff_number(
    system: System, staff: dict[str, tuple[str, uuid.UUID]]
) -> None:
    first, second = caller(), caller()
    system.missed_call(first)
    system.missed_call(second)
    system.drain()
    codes = {alert_code(system, DEMO_OWNER_MOBILE, first), alert_code(system, DEMO_OWNER_MOBILE, second)}
    assert len(codes) == 2
    for mobile, _ in staff.values():
        assert {alert_code(system, mobile, first), alert_code(system, mobile, second)} == codes
    # A second alert on the same conversation keeps its code.
    system.inbound(first, "can I speak to a real person")
    system.drain()
    assert alert_code(system, DEMO_OWNER_MOBILE, f"{first} would like") in codes
    assert alert_code(system, DEMO_OWNER_MOBILE, f"{first} would like") == alert_code(system, DEMO_OWNER_MOBILE, first)


def test_postgres_refuses_a_second_open_alert_with_the_same_code(system: System) -> None:
    one, two = caller(), caller()
    system.missed_call(one)
    system.missed_call(two)
    system.drain()
    code = alert_code(system, DEMO_OWNER_MOBILE, one)
    with pytest.raises(Exception, match="uq_conv_staff_alerts_open_code"), transaction(system.sessions) as session:
        session.execute(
            text("UPDATE conv_staff_alerts SET code = :code WHERE conversation_id = :c AND closed_at IS NULL"),
            {"code": code, "c": conversation(system, two)[0]},
        )


# -- the commands --


def test_take_then_text_then_back(system: System, staff: dict[str, tuple[str, uuid.UUID]]) -> None:
    owner, owner_id = staff["owner"]
    phone = wants_a_person(system)
    code = alert_code(system, owner, phone)
    system.inbound(owner, f"{code} take")
    system.drain()
    assert conversation(system, phone)[1:] == ("human", owner_id)
    assert texts_to(system, owner)[-1].startswith(f"You have {code} ({phone}) for 30 min.")
    system.inbound(owner, f"{code} Hi, this is Sam from Ace. I can come at 3pm.")
    system.drain()
    assert texts_to(system, phone)[-1] == "Hi, this is Sam from Ace. I can come at 3pm."
    sent = system.row(
        "SELECT purpose FROM conv_messages WHERE to_number = :c ORDER BY created_at DESC LIMIT 1", c=phone
    )
    assert sent.purpose == "human_reply"
    system.inbound(owner, f"{code} BACK")
    system.drain()
    assert conversation(system, phone)[1] == "open"
    assert texts_to(system, owner)[-1] == f"{code} ({phone}) is back with the AI."
    events = [
        row.event_name
        for row in system.rows(
            "SELECT e.event_name FROM outbox_events e JOIN outbox_events cause ON cause.event_id = e.causation_id"
            " WHERE cause.event_name = 'nmc.conversations.MessageReceived' AND cause.payload->>'from_number' = :p"
            " ORDER BY e.seq",
            p=owner,
        )
    ]
    assert "nmc.conversations.HumanTakeoverRequested" in events
    assert "nmc.conversations.HumanTakeoverReleased" in events
    assert events.count("nmc.conversations.StaffCommandReceived") == 3
    assert "nmc.conversations.OutboundMessageRequested" in events


def test_with_one_open_alert_the_code_may_be_left_out_and_with_two_it_may_not(
    system: System, staff: dict[str, tuple[str, uuid.UUID]]
) -> None:
    tech, tech_id = staff["tech"]
    phone = wants_a_person(system)
    system.inbound(tech, "TAKE")
    system.drain()
    assert conversation(system, phone)[1:] == ("human", tech_id)
    system.inbound(tech, "On my way")
    system.drain()
    assert texts_to(system, phone)[-1] == "On my way"
    other = wants_a_person(system)
    system.inbound(tech, "See you soon")
    system.drain()
    assert texts_to(system, tech)[-1].startswith("Several alerts are open: ")
    assert texts_to(system, phone)[-1] == "On my way"
    assert "See you soon" not in texts_to(system, other)


def test_help_and_anything_unrecognised_get_a_clear_answer(
    system: System, staff: dict[str, tuple[str, uuid.UUID]]
) -> None:
    tech, _ = staff["tech"]
    phone = wants_a_person(system)
    code = alert_code(system, tech, phone)
    acknowledged = texts_to(system, phone)  # the one acknowledgement of the caller's request (never silence)
    absent = "A22" if code != "A22" else "A23"
    system.inbound(tech, "HELP")
    system.drain()
    assert texts_to(system, tech)[-1] == HELP_TEXT
    for body, answer in (
        ("K4 TAKE", 'Sorry, "K4 TAKE" is not a command. Reply HELP for the commands.'),
        ("Z99 take", 'Sorry, "Z99 take" is not a command. Reply HELP for the commands.'),  # no Z in codes
        (code, f"{code} what? Reply {code} TAKE, {code} <text> or {code} BACK (HELP for more)."),
        (f"{absent} TAKE", f"There is no open alert {absent}. Nothing was done."),
        ("what's up", f"{code} ({phone}) is not yours yet: reply {code} TAKE first. Your text was not sent."),
    ):
        system.inbound(tech, body)
        system.drain()
        assert texts_to(system, tech)[-1] == answer
    assert texts_to(system, phone) == acknowledged  # nothing of it reached the caller


def test_a_text_from_a_member_who_did_not_take_it_is_never_sent(
    system: System, staff: dict[str, tuple[str, uuid.UUID]]
) -> None:
    owner, _ = staff["owner"]
    tech, _ = staff["tech"]
    phone = wants_a_person(system)
    code = alert_code(system, owner, phone)
    system.inbound(owner, f"{code} TAKE")
    system.drain()
    system.inbound(tech, f"{code} I'll be there at 5")
    system.inbound(tech, f"{code} TAKE")
    system.drain()
    assert "I'll be there at 5" not in texts_to(system, phone)
    answers = texts_to(system, tech)
    assert f"{code} ({phone}) is with another member. Your text was not sent." in answers
    assert f"{code} ({phone}) is already with another member. Nothing was done." in answers


def test_a_tech_hands_back_only_their_own_and_an_owner_any(
    system: System, staff: dict[str, tuple[str, uuid.UUID]]
) -> None:
    owner, _ = staff["owner"]
    tech, _ = staff["tech"]
    tech2, _ = staff["tech2"]
    phone = wants_a_person(system)
    code = alert_code(system, tech, phone)
    system.inbound(tech, f"{code} TAKE")
    system.drain()
    system.inbound(tech2, f"{code} BACK")
    system.drain()
    assert texts_to(system, tech2)[-1].startswith(f"Only the member who took {code} over, or an OWNER")
    assert conversation(system, phone)[1] == "human"
    system.inbound(owner, f"{code} BACK")
    system.drain()
    assert conversation(system, phone)[1] == "open"


def test_the_bare_owner_mobile_holds_a_lease_of_its_own(
    system: System, staff: dict[str, tuple[str, uuid.UUID]]
) -> None:
    tech, _ = staff["tech"]
    phone = wants_a_person(system)
    code = alert_code(system, DEMO_OWNER_MOBILE, phone)
    system.inbound(DEMO_OWNER_MOBILE, f"{code} TAKE")
    system.drain()
    holder = conversation(system, phone)[2]
    assert holder is not None
    assert holder not in {user for _, user in staff.values()}
    system.inbound(tech, f"{code} TAKE")
    system.drain()
    assert conversation(system, phone)[2] == holder


def test_another_tenants_member_is_a_caller_here(system: System, staff: dict[str, tuple[str, uuid.UUID]]) -> None:
    phone = wants_a_person(system)
    code = alert_code(system, DEMO_OWNER_MOBILE, phone)
    stranger = caller()
    with transaction(system.sessions) as session:
        create_tenant_with_campaign(
            session,
            name="Other Co",
            number=f"+1415555{uuid.uuid4().int % 10_000:04d}",
            forward_to="+14155550000",
            timezone="America/Los_Angeles",
            campaign="approved",
            plan="pro",
            owner_mobile=stranger,
        )
    system.inbound(stranger, f"{code} TAKE")
    system.drain()
    assert conversation(system, phone)[1:] == ("human", None)  # still unheld: the code means nothing from them
    assert system.row("SELECT count(*) AS n FROM conv_conversations WHERE caller = :c", c=stranger).n == 1


# -- races: Postgres decides --


def test_two_members_taking_over_at_once_one_wins(system: System, staff: dict[str, tuple[str, uuid.UUID]]) -> None:
    owner, owner_id = staff["owner"]
    tech, tech_id = staff["tech"]
    for _ in range(3):
        phone = wants_a_person(system)
        code = alert_code(system, owner, phone)
        system.inbound(owner, f"{code} TAKE")
        system.inbound(tech, f"{code} TAKE")
        system.dispatcher.dispatch_batch()
        pending = system.rows(
            "SELECT id FROM outbox_deliveries WHERE status = 'enqueued' AND handler = 'conversations.reply_to_caller'"
        )
        assert len(pending) == 2
        barrier = threading.Barrier(2)

        def run(delivery_id: uuid.UUID, barrier: threading.Barrier = barrier) -> None:
            barrier.wait()
            run_delivery(system.runner, delivery_id)

        threads = [threading.Thread(target=run, args=(row.id,)) for row in pending]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        system.drain()
        holder = conversation(system, phone)[2]
        assert holder in (owner_id, tech_id)
        winner, loser = (owner, tech) if holder == owner_id else (tech, owner)
        assert texts_to(system, winner)[-1].startswith(f"You have {code}")
        assert texts_to(system, loser)[-1] == f"{code} ({phone}) is already with another member. Nothing was done."
        assert (
            system.row(
                "SELECT count(*) AS n FROM outbox_events WHERE event_name = 'nmc.conversations.HumanTakeoverRequested'"
                " AND payload->>'conversation_id' = :c AND payload->>'requested_by' = 'operator'",
                c=str(conversation(system, phone)[0]),
            ).n
            == 1
        )


def test_a_take_and_the_ais_send_at_once_never_both_reach_the_caller(
    system: System, staff: dict[str, tuple[str, uuid.UUID]]
) -> None:
    owner, owner_id = staff["owner"]
    phone = caller()
    system.missed_call(phone)
    system.drain()
    code = alert_code(system, owner, phone)
    system.inbound(phone, "how much is drain cleaning?")
    system.drain(only="conversations.reply_to_caller")
    reply = system.row("SELECT id FROM conv_messages WHERE to_number = :c AND purpose = 'ai_reply'", c=phone)
    # The sender holds the conversation share-locked while it sends: a TAKE committing meanwhile waits for it.
    with system.sessions() as sending, sending.begin():
        assert PostgresConversationStore(sending).state_for_send(conversation(system, phone)[0]) == "open"
        taken = threading.Event()

        def take() -> None:
            with transaction(system.sessions) as session:
                operator.take_over(
                    session,
                    tenant_id=system.tenant_id,
                    conversation_id=conversation(system, phone)[0],
                    user_id=owner_id,
                    events=RootSink(session),
                )
            taken.set()

        thread = threading.Thread(target=take)
        thread.start()
        assert not taken.wait(0.5)  # blocked behind the send's lock
    thread.join(5)
    assert taken.is_set()
    # Now the send sees the takeover: the AI's reply is blocked, and only the owner's text reaches the caller.
    system.inbound(owner, f"{code} Hello from the office")
    system.drain()
    assert system.row("SELECT status FROM conv_messages WHERE id = :id", id=reply.id).status == "blocked"
    assert texts_to(system, phone)[-1] == "Hello from the office"
    assert not any("Drain cleaning" in body for body in texts_to(system, phone)[1:])


# -- what the staff inbox shows of it --


def test_an_urgent_text_puts_its_conversation_in_needs_attention_with_its_alert_code(
    system: System, staff: dict[str, tuple[str, uuid.UUID]]
) -> None:
    owner, _ = staff["owner"]
    phone = caller()
    calm = caller()
    system.inbound(calm, "how much is a drain cleaning?")
    system.inbound(phone, "water is overflowing from the toilet, it's an emergency")
    system.drain()
    code = alert_code(system, owner, phone)
    with transaction(system.sessions) as session:
        attention = operator.inbox(session, tenant_id=system.tenant_id, user_id=None, view="attention")
    listed = {item["caller"]: item for item in attention.items}
    assert calm not in listed  # an ordinary question is not a call for attention
    assert listed[phone]["needs_attention"]
    assert listed[phone]["alert_code"] == code
