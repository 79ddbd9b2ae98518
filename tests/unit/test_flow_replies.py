"""The replies flow against the in-memory store: one reply per text, HELP, unclear stops, the engine, handoffs."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from db.settings import Settings
from domain.conversations.engine.builtin import BuiltinEngine
from domain.conversations.engine.guard import GuardedEngine
from domain.conversations.engine.ports import TurnResult
from domain.conversations.flows.replies import reply_to_caller
from domain.conversations.ports import TenantProfile
from domain.events.catalog import ConversationOpened, HumanTakeoverRequested, MessageReceived
from tests.support.conversation_store import (
    Directory,
    Engine,
    Keywords,
    MemoryConversationStore,
    NoAppointment,
    RecordingContext,
    no_tools,
    profile,
)

TENANT = uuid.uuid4()
CALLER = "+16175550123"
NOW = datetime(2025, 3, 6, 15, 0, tzinfo=UTC)
KINDS = {"STOP": "opt_out", "YES": "opt_in", "HELP": "help", "PLEASE STOP TEXTING ME": "unclear_opt_out"}


def text(body: str, sid: str | None = None) -> MessageReceived:
    return MessageReceived(
        message_sid=sid or f"SM{uuid.uuid4().hex}",
        from_number=CALLER,
        to_number="+16175550100",
        body=body,
        num_media=0,
        media_urls=(),
        received_at=NOW,
    )


def reply(
    store: MemoryConversationStore,
    event: MessageReceived,
    *,
    engine: Engine | None = None,
    keywords: Keywords | None = None,
    settings: Settings | None = None,
    tenant: TenantProfile | None = None,
) -> RecordingContext:
    ctx = RecordingContext(TENANT)
    reply_to_caller(
        event,
        ctx,
        directory=Directory(tenant or profile(TENANT)),
        keywords=keywords or Keywords(KINDS),
        engine=engine or Engine(TurnResult(reply="Happy to help: what do you need?", state={"stage": "ask"})),
        tools=no_tools,
        conversation_store=store.factory(),
        appointment_replies=NoAppointment(),
        settings=settings or Settings(),
        clock=lambda: NOW,
    )
    return ctx


def purposes(store: MemoryConversationStore) -> list[str | None]:
    return [row.purpose for row in store.outbound()]


def test_a_text_is_recorded_in_its_conversation_and_the_engine_answers_it() -> None:
    store, engine = MemoryConversationStore(), Engine(TurnResult(reply="Friday at 3?", state={"stage": "offer"}))
    ctx = reply(store, text("need a plumber friday"), engine=engine)
    conversation = store.live(TENANT, CALLER)
    assert conversation is not None
    assert len(ctx.of(ConversationOpened)) == 1
    (inbound,) = [row for row in store.messages.values() if row.direction == "in"]
    assert (inbound.conversation_id, inbound.status, inbound.encoding) == (conversation.id, "received", "GSM-7")
    (answer,) = store.outbound()
    assert (answer.purpose, answer.body, answer.to_number) == ("ai_reply", "Friday at 3?", CALLER)
    assert conversation.engine_state == {"stage": "offer"}
    # The next turn starts from the state the last one saved.
    reply(store, text("yes"), engine=engine, keywords=Keywords())
    assert engine.turns[-1].state == {"stage": "offer"}


def test_the_same_inbound_message_twice_gets_one_reply() -> None:
    store = MemoryConversationStore()
    event = text("hello", sid="SMsame")
    reply(store, event)
    assert reply(store, event).events == []
    assert purposes(store) == ["ai_reply"]


def test_a_long_reply_is_trimmed_to_the_segment_budget() -> None:
    store = MemoryConversationStore()
    long = "We can come any weekday morning. " * 20
    reply(
        store, text("when?"), engine=Engine(TurnResult(reply=long, state={})), settings=Settings(reply_segment_budget=1)
    )
    (answer,) = store.outbound()
    assert answer.segments == 1


def test_a_stop_word_gets_no_reply_and_opens_nothing() -> None:
    store = MemoryConversationStore()
    assert reply(store, text("STOP")).events == []
    assert store.conversations == {}
    assert store.outbound() == []


def test_yes_from_someone_opted_out_is_left_to_compliance() -> None:
    store, engine = MemoryConversationStore(), Engine(TurnResult(reply="?", state={}))
    reply(store, text("YES"), engine=engine, keywords=Keywords(KINDS, opted_out={CALLER}))
    assert store.conversations == {}
    assert engine.turns == []


def test_help_gets_the_tenants_help_text_and_not_the_engine() -> None:
    store, engine = MemoryConversationStore(), Engine(TurnResult(reply="?", state={}))
    reply(store, text("HELP"), engine=engine)
    (answer,) = store.outbound()
    assert (answer.purpose, answer.body) == ("compliance", "Ace Plumbing: reply STOP to opt out.")
    assert engine.turns == []


def test_an_unclear_stop_goes_to_a_person_with_one_review_task_however_often_it_is_said() -> None:
    store, engine = MemoryConversationStore(), Engine(TurnResult(reply="?", state={}))
    ctx = reply(store, text("please stop texting me"), engine=engine)
    conversation = store.live(TENANT, CALLER)
    assert conversation is not None
    assert conversation.state == "human"
    assert conversation.human_lease_expires_at == NOW + timedelta(minutes=Settings().human_lease_minutes)
    assert [takeover.requested_by for takeover in ctx.of(HumanTakeoverRequested)] == ["caller"]
    # One acknowledgement to the caller, named by the takeover as the last automated message; the owner is told.
    assert purposes(store) == ["ai_reply", "notification"]
    ack = store.outbound()[0]
    assert "won't text you again" in (ack.body or "")
    assert store.acknowledges_takeover(conversation.id, ack.id)
    reply(store, text("please stop texting me"), engine=engine)
    assert purposes(store) == ["ai_reply", "notification"]
    assert [(task.kind, task.conversation_id) for task in store.tasks] == [("review_opt_out", conversation.id)]
    assert engine.turns == []


def test_while_a_person_holds_the_conversation_the_engine_stays_silent() -> None:
    store, engine = MemoryConversationStore(), Engine(TurnResult(reply="?", state={}))
    opened = store.open_or_get(tenant_id=TENANT, caller=CALLER)
    store.take_over(tenant_id=TENANT, conversation_id=opened.id, user_id=None, expires=NOW + timedelta(minutes=5))
    reply(store, text("hello?"), engine=engine)
    assert engine.turns == []
    assert store.outbound() == []


def test_a_handoff_puts_the_conversation_with_a_person_and_tells_the_owner() -> None:
    store = MemoryConversationStore()
    handoff = TurnResult(
        reply="Someone will text you shortly.", state={}, handoff=True, handoff_reason="person_requested"
    )
    ctx = reply(store, text("can I talk to a real person"), engine=Engine(handoff))
    conversation = store.live(TENANT, CALLER)
    assert conversation is not None
    assert conversation.state == "human"
    assert [takeover.reason for takeover in ctx.of(HumanTakeoverRequested)] == ["person_requested"]
    assert purposes(store) == ["ai_reply", "notification"]


def test_an_urgent_text_is_passed_to_the_owner() -> None:
    store = MemoryConversationStore()
    reply(
        store,
        text("water everywhere, pipe burst"),
        engine=Engine(TurnResult(reply="On our way.", state={}, urgent=True)),
    )
    owner = store.outbound()[-1]
    code = owner.body[:3]
    conversation = store.live(TENANT, CALLER)
    assert conversation is not None
    assert store.alerts[conversation.id][0] == code
    assert (owner.purpose, owner.body) == (
        "notification",
        f"{code}: Urgent: {CALLER} says: water everywhere, pipe burst"
        f"\nReply {code} TAKE to take over, HELP for commands.",
    )


# --- Spanish ------------------------------------------------------------------------------------------------------


def test_the_engine_is_told_whether_the_tenant_answers_in_spanish() -> None:
    engine = Engine(TurnResult(reply="?", state={}))
    reply(MemoryConversationStore(), text("hola"), engine=engine)
    reply(
        MemoryConversationStore(), text("hola"), engine=engine, tenant=replace(profile(TENANT), spanish_replies=False)
    )
    assert [turn.spanish for turn in engine.turns] == [True, False]


def test_with_spanish_off_a_spanish_caller_gets_one_spanish_line_and_a_person() -> None:
    store = MemoryConversationStore()
    tenant = replace(profile(TENANT), spanish_replies=False)
    ctx = reply(
        store, text("se me tapó el baño, ¿pueden venir hoy?"), engine=GuardedEngine(BuiltinEngine()), tenant=tenant
    )
    conversation = store.live(TENANT, CALLER)
    assert conversation is not None
    assert conversation.state == "human"
    assert [takeover.reason for takeover in ctx.of(HumanTakeoverRequested)] == ["language"]
    ack, alert = store.outbound()
    assert (ack.purpose, alert.purpose) == ("ai_reply", "notification")
    assert "Una persona del equipo le va a responder pronto" in (ack.body or "")
    assert store.acknowledges_takeover(conversation.id, ack.id)  # the last automated message, and the only one
    assert "writes in Spanish" in (alert.body or "")


def test_an_opt_out_twilio_does_not_confirm_gets_our_one_confirmation_in_the_callers_language() -> None:
    words = {**KINDS, "ALTO": "opt_out", "PLEASE STOP TEXTING ME": "opt_out"}
    for body, says in (("ALTO", "ya no le vamos a enviar mensajes"), ("please stop texting me", "you're unsubscribed")):
        store = MemoryConversationStore()
        reply(store, text(body), keywords=Keywords(words))
        (confirmation,) = store.outbound()
        assert confirmation.purpose == "compliance"
        assert says in (confirmation.body or "")
        assert (confirmation.body or "").startswith("Ace Plumbing:")
        assert store.conversations == {}  # an opt-out opens no conversation
    already = MemoryConversationStore()
    reply(already, text("ALTO"), keywords=Keywords(words, opted_out={CALLER}))
    assert already.outbound() == []  # opted out before: no second confirmation


def test_ayuda_gets_a_spanish_line_before_the_tenants_help_text() -> None:
    store = MemoryConversationStore()
    reply(store, text("AYUDA"), keywords=Keywords({**KINDS, "AYUDA": "help"}))
    (answer,) = store.outbound()
    assert answer.purpose == "compliance"
    assert answer.body == (
        "Ace Plumbing: si necesita ayuda, nos puede llamar a este teléfono. Para no recibir mensajes, responda STOP."
        " Ace Plumbing: reply STOP to opt out."
    )


def test_an_unclear_spanish_stop_is_acknowledged_in_spanish() -> None:
    store = MemoryConversationStore()
    reply(store, text("cancelar"), keywords=Keywords({**KINDS, "CANCELAR": "unclear_opt_out"}))
    ack = store.outbound()[0]
    assert ack.body == "Entendido. No le volveremos a escribir a menos que usted nos escriba. - Ace Plumbing"
