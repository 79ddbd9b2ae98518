"""Opt-out words through the real inbound path: MessageReceived → compliance + conversations handlers → the sandbox.

The classification itself is tabled in tests/unit/test_opt_out_words.py; here is what each outcome does end to end.
"""

from __future__ import annotations

from ops.tenants import DEMO_OWNER_MOBILE
from tests.support import conversation_system, sandbox_world
from tests.support.conversation_system import System, caller

# The conversations suite's fixtures, with the ones they stand on: the real registry, Postgres and the sandbox.
system = conversation_system.system
world = sandbox_world.world
sandbox_key_path = sandbox_world.sandbox_key_path


def miss_call(system: System, phone: str) -> None:
    system.missed_call(phone)
    system.drain()
    assert len(system.sent_to(phone)) == 1  # the first SMS


def ai_replies(system: System, phone: str) -> int:
    """AI replies written for the caller, sent or blocked: zero means the engine was never asked to answer."""
    query = "SELECT count(*) AS n FROM conv_messages WHERE to_number = :c AND purpose = 'ai_reply'"
    return int(system.row(query, c=phone).n)


def active_opt_out(system: System, phone: str) -> str | None:
    query = "SELECT keyword FROM comp_opt_outs WHERE phone = :c AND revoked_at IS NULL"
    row = system.row(query, c=phone)
    return None if row is None else str(row.keyword)


def test_stop_with_a_full_stop_blocks_the_conversation_and_gets_no_ai_reply(system: System) -> None:
    phone = caller()
    miss_call(system, phone)
    system.inbound(phone, "STOP.")
    system.drain()
    assert active_opt_out(system, phone) == "STOP"
    assert system.row("SELECT state FROM conv_conversations WHERE caller = :c", c=phone).state == "blocked"
    assert ai_replies(system, phone) == 0  # the engine never saw "STOP."
    system.inbound(phone, "how much is a drain cleaning?")
    system.drain()
    assert len(system.sent_to(phone)) == 1  # and nothing at all leaves after the first SMS
    system.inbound(phone, "leave me alone")  # unclear, but they are opted out already: nobody needs to ask
    system.drain()
    assert system.row("SELECT count(*) AS n FROM conv_operator_tasks WHERE subject_ref = :c", c=phone).n == 0
    assert (
        system.row("SELECT count(*) AS n FROM conv_conversations WHERE caller = :c AND state = 'human'", c=phone).n == 0
    )


def test_decorated_keywords_and_clear_phrases_opt_out_like_stop(system: System) -> None:
    # Twilio confirms its own keywords; for any other opt-out the one confirmation is ours, in the caller's language.
    for body, recorded, confirmation in (
        ("\u200bＳｔｏｐ 🛑", "STOP", None),
        ("¡No más mensajes!", "NO MAS MENSAJES", "ya no le vamos a enviar mensajes"),
        ("ALTO", "ALTO", "ya no le vamos a enviar mensajes"),
        ("Please stop texting me", "PLEASE STOP TEXTING ME", "you're unsubscribed"),
    ):
        phone = caller()
        miss_call(system, phone)
        system.inbound(phone, body)
        system.drain()
        assert active_opt_out(system, phone) == recorded
        assert system.row("SELECT state FROM conv_conversations WHERE caller = :c", c=phone).state == "blocked"
        assert ai_replies(system, phone) == 0
        sent = system.sent_to(phone)
        if confirmation is None:
            assert len(sent) == 1
        else:
            assert len(sent) == 2
            assert confirmation in sent[-1]["body"]
        system.inbound(phone, body)  # said again: no second confirmation
        system.drain()
        assert len(system.sent_to(phone)) == len(sent)


def test_an_unclear_wish_to_stop_goes_to_a_person_not_the_ai(system: System) -> None:
    phone = caller()
    miss_call(system, phone)
    system.inbound(phone, "I don't want these")
    system.drain()
    # The one automated text is the acknowledgement of the handover (never silence); the engine answers nothing.
    assert ai_replies(system, phone) == 1
    acknowledged = system.row(
        "SELECT m.id = c.handoff_ack_message_id AS is_ack FROM conv_messages m"
        " JOIN conv_conversations c ON c.id = m.conversation_id WHERE m.to_number = :c AND m.purpose = 'ai_reply'",
        c=phone,
    )
    assert acknowledged.is_ack
    assert active_opt_out(system, phone) is None  # unclear: a person decides, nothing is revoked on a guess
    assert system.row("SELECT state FROM conv_conversations WHERE caller = :c", c=phone).state == "human"
    task = system.row("SELECT kind, status, note FROM conv_operator_tasks WHERE subject_ref = :c", c=phone)
    assert (task.kind, task.status) == ("review_opt_out", "open")
    assert "I don't want these" in task.note
    takeover = system.row(
        "SELECT payload->>'requested_by' AS by FROM outbox_events"
        " WHERE event_name = 'nmc.conversations.HumanTakeoverRequested' AND payload->>'conversation_id' = :id",
        id=str(system.row("SELECT id FROM conv_conversations WHERE caller = :c", c=phone).id),
    )
    assert takeover.by == "caller"
    owner = [m["body"] for m in system.sent_to(DEMO_OWNER_MOBILE) if phone in m["body"]]
    code = owner[-1][:3]
    assert owner[-1] == (
        f"{code}: {phone} asked us to stop texting. Please review the conversation."
        f"\nReply {code} TAKE to take over, HELP for commands."
    )
    assert len(system.sent_to(phone)) == 2  # the first SMS after the missed call, and the acknowledgement
    system.inbound(phone, "leave me alone")  # said again while a person holds it: still one question for them
    system.drain()
    tasks = "SELECT count(*) AS n FROM conv_operator_tasks WHERE subject_ref = :c AND kind = 'review_opt_out'"
    assert system.row(tasks, c=phone).n == 1
    assert ai_replies(system, phone) == 1  # nothing automated after the acknowledgement


def test_yes_is_an_answer_unless_the_caller_opted_out_and_a_bare_cancel_is_an_opt_out(system: System) -> None:
    phone = caller()
    for body in ("clogged drain, tomorrow morning?", "the first one", "Yes!"):
        system.inbound(phone, body)
        system.drain()
    booked = "SELECT count(*) AS n FROM sched_appointments WHERE customer_phone = :c AND status = 'booked'"
    assert system.row(booked, c=phone).n == 1  # "Yes!" answered "Shall I book it?"; it opted nobody in or out
    assert active_opt_out(system, phone) is None
    replies = ai_replies(system, phone)
    # Twilio blocks a bare CANCEL whatever was being discussed, so it is an opt-out, and the booked job needs a call.
    system.inbound(phone, "Cancel")
    system.drain()
    assert active_opt_out(system, phone) == "CANCEL"
    assert ai_replies(system, phone) == replies
    assert system.row(booked, c=phone).n == 1
    task = system.row("SELECT kind FROM conv_operator_tasks WHERE subject_ref = :c", c=phone)
    assert task.kind == "confirm_appointment"
    # Now opted out, YES is the opt-in keyword: the opt-out is revoked and the AI does not answer the "yes", even
    # when compliance's handler has already revoked it by the time the conversation's handler looks.
    system.inbound(phone, "YES")
    assert system.drain(only="compliance.record_keyword") == ["compliance.record_keyword:done"]
    system.drain()
    assert active_opt_out(system, phone) is None
    assert ai_replies(system, phone) == replies
    system.inbound(phone, "yes")
    system.drain()
    assert ai_replies(system, phone) == replies + 1  # opted back in, a later "yes" is an answer again
