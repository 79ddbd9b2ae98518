"""The LLM engine against a local server speaking the chat-completions wire format, tool calls included."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from db.settings import Settings
from domain.conversations.engine import make_engine
from domain.conversations.engine.builtin import BuiltinEngine
from domain.conversations.engine.eval.fake import Business, Chat
from domain.conversations.engine.guard import SAFE_REPLY, GuardedEngine
from domain.conversations.engine.llm import LLMEngine
from tests.support.fake_llm import FakeLLM, last_tool_result, running_fake_llm, say, tool_call

NY = ZoneInfo("America/New_York")
THU_10AM = datetime(2025, 3, 6, 10, 0, tzinfo=NY).astimezone(UTC)


_engines: list[LLMEngine] = []


@pytest.fixture
def fake() -> Iterator[FakeLLM]:
    with running_fake_llm() as server:
        yield server
        while _engines:
            _engines.pop().close()


def engine_for(fake: FakeLLM, timeout: float = 2.0) -> GuardedEngine:
    settings = Settings(
        ai_provider="openai",
        ai_base_url=fake.base_url,
        ai_model="test-model",
        ai_api_key="sk-test",
        ai_timeout_seconds=timeout,
    )
    engine = make_engine(settings)
    assert isinstance(engine, GuardedEngine)
    assert isinstance(engine.inner, LLMEngine)
    _engines.append(engine.inner)
    return engine


def chat(fake: FakeLLM, business: Business, timeout: float = 2.0) -> Chat:
    return Chat(business, engine_for(fake, timeout), THU_10AM)


def first_service(body: dict[str, Any]) -> dict[str, Any]:
    return tool_call("find_slots", service_id=last_tool_result(body)["services"][0]["service_id"], when="tmrw at 3")


def offer(body: dict[str, Any]) -> dict[str, Any]:
    results = [m for m in body["messages"] if m.get("role") == "tool"]
    services = json.loads(results[0]["content"])["services"]
    slots = json.loads(results[-1]["content"])["slots"]
    labels = " or ".join(slot["label"] for slot in slots)
    return say(f"{services[0]['name']} is {services[0]['price']}. I have {labels}. Which works?")


def test_books_through_tool_calls(fake: FakeLLM) -> None:
    business = Business()
    convo = chat(fake, business)
    fake.script = [tool_call("match_services", text="drain cleaning"), first_service, offer]
    first = convo.say("how much for a drain cleaning, tmrw at 3?")
    assert first.engine == "openai"
    assert not first.guard_blocked, first.guard_reason
    assert first.reply == "Drain cleaning is $149. I have Fri 3:00 PM or Fri 4:00 PM. Which works?"

    request = fake.requests[0]
    assert fake.headers[0]["authorization"] == "Bearer sk-test"
    assert request["model"] == "test-model"
    names = {tool["function"]["name"] for tool in request["tools"]}
    assert {"match_services", "find_slots", "place_hold", "confirm_hold", "cancel_appointment", "handoff"} <= names
    assert request["messages"][0]["role"] == "system"
    # The tool results went back to the model with the ids it needs for the next call.
    assert fake.requests[2]["messages"][-1]["role"] == "tool"

    fake.script = [
        tool_call("place_hold", slot_id="S1"),
        lambda body: say(f"Great, I'm holding {last_tool_result(body)['label']}. Reply YES to book."),
    ]
    held = convo.say("first one")
    assert held.reply == "Great, I'm holding Fri 3:00 PM. Reply YES to book."
    assert not held.guard_blocked
    assert len(business.holds) == 1
    # The earlier exchange is remembered across turns.
    assert any(m.get("content") == first.reply for m in fake.requests[-1]["messages"])

    hold_id = str(next(iter(business.holds)))
    fake.script = [
        tool_call("confirm_hold", hold_id=hold_id),
        lambda body: say(f"You're booked for {last_tool_result(body)['label']}!"),
    ]
    done = convo.say("yes")
    assert done.reply == "You're booked for Fri 3:00 PM!"
    assert not done.guard_blocked
    assert [a.slot.starts_at for a in convo.appointments()] == [datetime(2025, 3, 7, 20, 0, tzinfo=UTC)]


def test_lying_model_is_stopped_by_the_guard(fake: FakeLLM) -> None:
    business = Business()
    fake.script = [
        tool_call("match_services", text="drain cleaning"),
        say("Good news, you're booked for Fri 4:00 PM and it's only $99!"),
    ]
    result = chat(fake, business).say("drain cleaning tomorrow?")
    assert result.guard_blocked
    assert result.reply == SAFE_REPLY
    assert "price" in (result.guard_reason or "") or "booking" in (result.guard_reason or "")
    assert business.appointments == {}


def test_invented_slot_ids_cannot_be_held(fake: FakeLLM) -> None:
    business = Business()
    fake.script = [
        tool_call("place_hold", slot_id="S99"),
        lambda body: say("Sorry, let me check times." if "error" in last_tool_result(body) else "Held!"),
    ]
    result = chat(fake, business).say("book me thursday 9am")
    assert result.reply == "Sorry, let me check times."
    assert business.holds == {}


def test_slow_model_falls_back_to_the_builtin_engine(fake: FakeLLM) -> None:
    business = Business()
    fake.delay = 3.0
    fake.script = [say("too late")]
    started = time.monotonic()
    result = chat(fake, business, timeout=0.5).say("drain cleaning tmrw at 3")
    elapsed = time.monotonic() - started
    assert elapsed < 2.5  # the timeout (plus one-off client set-up), not the model's 3 s
    assert result.engine == "builtin"
    assert result.fallback_reason == "timeout"
    assert "Fri 3:00 PM" in (result.reply or "")
    assert not result.guard_blocked


def test_server_error_falls_back(fake: FakeLLM) -> None:
    fake.status = 500
    result = chat(fake, Business()).say("how much is a furnace tune up")
    assert result.engine == "builtin"
    assert "$99" in (result.reply or "")
    assert "500" in (result.fallback_reason or "")


def test_unreachable_server_falls_back() -> None:
    settings = Settings(ai_provider="openai", ai_base_url="http://127.0.0.1:9/v1", ai_timeout_seconds=1.0)
    engine = make_engine(settings)
    result = Chat(Business(), engine, THU_10AM).say("hi")
    assert isinstance(engine, GuardedEngine)
    assert isinstance(engine.inner, LLMEngine)
    engine.inner.close()
    assert result.engine == "builtin"
    assert result.reply


def test_endless_tool_calls_are_bounded(fake: FakeLLM) -> None:
    fake.script = [tool_call("list_services") for _ in range(20)]
    engine = LLMEngine(
        base_url=fake.base_url, model="m", api_key="", timeout_seconds=5, fallback=BuiltinEngine(), max_rounds=3
    )
    result = Chat(Business(), GuardedEngine(engine), THU_10AM).say("hi")
    engine.close()
    assert result.engine == "builtin"
    assert "tool rounds" in (result.fallback_reason or "")
    assert len(fake.requests) == 3


def test_handoff_tool(fake: FakeLLM) -> None:
    fake.script = [tool_call("handoff", reason="complaint", urgent=True), say("I'll get someone for you right away.")]
    result = chat(fake, Business()).say("this is the third time your guy didn't show up")
    assert result.handoff
    assert result.urgent
    assert result.engine == "openai"


def test_stop_texting_never_reaches_the_model(fake: FakeLLM) -> None:
    result = chat(fake, Business()).say("please stop texting me")
    assert result.handoff
    assert result.handoff_reason == "stop_requested"
    assert fake.requests == []


def test_bad_tool_arguments_are_reported_to_the_model(fake: FakeLLM) -> None:
    fake.script = [
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "find_slots", "arguments": "{not json"}}]},
        lambda body: say("Which service do you need?" if "error" in last_tool_result(body) else "?"),
    ]  # fmt: skip
    result = chat(fake, Business()).say("hello")
    assert result.reply == "Which service do you need?"


def test_builtin_is_the_default() -> None:
    engine = make_engine(Settings())
    assert isinstance(engine, GuardedEngine)
    assert isinstance(engine.inner, BuiltinEngine)


def test_cancel_through_tools(fake: FakeLLM) -> None:
    business = Business()
    convo = chat(fake, business)
    start = THU_10AM + timedelta(days=1)
    business.book_directly(convo.caller, business.service("Drain cleaning"), start)
    fake.script = [
        tool_call("upcoming_appointment"),
        lambda body: tool_call(
            "cancel_appointment", appointment_id=last_tool_result(body)["appointment"]["appointment_id"]
        ),
        lambda body: say("Done, your appointment is cancelled." if last_tool_result(body)["cancelled"] else "Hmm."),
    ]  # fmt: skip
    result = convo.say("cancel my appointment please")
    assert result.reply == "Done, your appointment is cancelled."
    assert not result.guard_blocked
    assert business.appointments == {}


def test_a_spanish_caller_is_answered_in_spanish_and_with_spanish_off_goes_to_a_person(fake: FakeLLM) -> None:
    business = Business()
    convo = chat(fake, business)

    def find(body: dict[str, Any]) -> dict[str, Any]:
        service_id = last_tool_result(body)["services"][0]["service_id"]
        return tool_call("find_slots", service_id=service_id, when="mañana a las 3")

    def offer_es(body: dict[str, Any]) -> dict[str, Any]:
        labels = " o ".join(slot["label"] for slot in last_tool_result(body)["slots"])
        return say(f"Tengo {labels}, ¿qué hora prefiere?")

    fake.script = [tool_call("match_services", text="destapar el drenaje"), find, offer_es]
    first = convo.say("necesito destapar el drenaje mañana a las 3")
    assert not first.guard_blocked, first.guard_reason
    assert first.reply == "Tengo viernes 3:00 p. m. o viernes 4:00 p. m., ¿qué hora prefiere?"
    assert "writes in Spanish: reply in Spanish" in fake.requests[0]["messages"][0]["content"]
    matched = json.loads(next(m for m in fake.requests[1]["messages"] if m.get("role") == "tool")["content"])
    assert matched["services"][0]["name"] == "Drain cleaning"  # the Spanish words reached the English catalog

    asked = len(fake.requests)
    off = Chat(business, engine_for(fake), THU_10AM, caller="+15550002222", spanish=False)
    result = off.say("hola, necesito un plomero")
    assert (result.handoff, result.handoff_reason, result.engine) == (True, "language", "builtin")
    assert result.reply is not None
    assert "Una persona del equipo" in result.reply
    assert len(fake.requests) == asked  # the model was never asked


def test_the_history_keeps_tool_traffic_and_is_cut_only_where_a_caller_text_starts() -> None:
    from domain.conversations.engine.llm import _last_turns

    def turn(n: int) -> list[dict[str, Any]]:
        call = {"id": f"c{n}", "type": "function", "function": {"name": "list_services", "arguments": "{}"}}
        return [
            {"role": "user", "content": f"text {n}"},
            {"role": "assistant", "content": None, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": f"c{n}", "content": "{}"},
            {"role": "assistant", "content": f"reply {n}"},
        ]

    history = [message for n in range(12) for message in turn(n)]
    kept = _last_turns(history, 8)
    assert kept == [message for n in range(4, 12) for message in turn(n)]
    assert _last_turns(history[:8], 8) == history[:8]
