"""The sandbox's chat-completions stand-in over real HTTP: OpenAI's wire format and error envelope, the LLM engine
running the whole evaluation suite through it (no turn left to the fallback, no ungrounded claim), the default
settings reaching it inside the sandbox, and `nmc eval conversations --engine openai` serving it by itself."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import falcon
import httpx
import pytest
from click.testing import CliRunner

import ops.commands.eval as eval_command
from db.published_secrets import SANDBOX_AI_API_KEY
from db.settings import Settings
from domain.conversations.engine import make_engine
from domain.conversations.engine.eval import evaluate, load, run
from domain.conversations.engine.eval.fake import Business, Chat
from domain.conversations.engine.guard import GuardedEngine
from domain.conversations.engine.llm import TOOLS, LLMEngine
from ops.cli import cli
from ops.sandbox.chat_completions import ChatCompletions, mount_chat_completions
from tests.support.sandbox_world import ServedApp, World, sandbox_key_path, world  # noqa: F401

# Measured: the LLM engine reaches the asserted outcome in 202 of 202 scripted conversations against the stand-in
# (the built-in engine: 202 of 202). The floor leaves room for a new script the stand-in plays differently.
PASS_FLOOR = 0.98
KEY = {"Authorization": f"Bearer {SANDBOX_AI_API_KEY}"}
NY = ZoneInfo("America/New_York")
SYSTEM = (
    "You are the friendly SMS assistant for Acme Plumbing, a local service business. "
    "It is now Thursday March 06, 2025 10:00 AM (America/New_York). Use tools for every fact."
)


@pytest.fixture(scope="module")
def stand_in() -> Iterator[tuple[str, ChatCompletions]]:
    chat = ChatCompletions()
    app = falcon.App()
    mount_chat_completions(app, chat, "/ai/v1")
    served = ServedApp(app)
    try:
        yield f"{served.base_url}/ai/v1", chat
    finally:
        served.stop()


def engine_at(url: str, **settings: Any) -> GuardedEngine:
    engine = make_engine(Settings(ai_provider="openai", ai_base_url=url, ai_api_key=SANDBOX_AI_API_KEY, **settings))
    assert isinstance(engine, GuardedEngine)
    assert isinstance(engine.inner, LLMEngine)
    return engine


def post(url: str, body: object, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.post(f"{url}/chat/completions", json=body, headers=KEY if headers is None else headers, timeout=5)


def test_the_llm_engine_runs_the_whole_suite_against_the_stand_in(stand_in: tuple[str, ChatCompletions]) -> None:
    url, chat = stand_in
    engine = engine_at(url)
    before = chat.requests
    try:
        report = evaluate(engine, "openai")
    finally:
        assert isinstance(engine.inner, LLMEngine)
        engine.inner.close()
    failed = "\n".join(f"{o.id}: {'; '.join(o.failures)}" for o in report.failures())
    assert report.fallback_turns == 0  # every turn the model's: the protocol held
    assert report.ungrounded == 0
    assert report.pass_rate >= PASS_FLOOR, failed
    assert report.median_texts_to_booking is not None
    assert report.median_texts_to_booking <= 3
    # Tool rounds really went over the wire: more requests than turns the model answered.
    assert chat.requests - before > report.turns


def test_a_tool_call_and_the_final_answer_are_in_openais_wire_format(stand_in: tuple[str, ChatCompletions]) -> None:
    url, _chat = stand_in
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": "how much is a drain cleaning?"},
    ]
    first = post(url, {"model": "gpt-4o-mini", "messages": messages, "tools": TOOLS, "tool_choice": "auto",
                       "temperature": 0.2})  # fmt: skip
    assert first.status_code == 200, first.text
    assert first.headers["content-type"].startswith("application/json")
    body = first.json()
    assert body["id"].startswith("chatcmpl-")
    assert body["object"] == "chat.completion"
    assert isinstance(body["created"], int)
    assert body["model"] == "gpt-4o-mini"
    assert set(body["usage"]) == {"prompt_tokens", "completion_tokens", "total_tokens"}
    assert body["usage"]["total_tokens"] == body["usage"]["prompt_tokens"] + body["usage"]["completion_tokens"]
    [choice] = body["choices"]
    assert choice["index"] == 0
    assert choice["finish_reason"] == "tool_calls"
    message = choice["message"]
    assert message["role"] == "assistant"
    assert message["content"] is None
    calls = message["tool_calls"]
    assert [call["function"]["name"] for call in calls] == ["list_services", "match_services"]  # parallel calls
    for call in calls:
        assert call["id"].startswith("call_")
        assert call["type"] == "function"
        assert isinstance(call["function"]["arguments"], str)  # JSON text, as OpenAI sends it
    assert json.loads(calls[1]["function"]["arguments"]) == {"text": "how much is a drain cleaning?"}

    drain = {"service_id": "5f0c7a4e-6d1b-4c1e-9d7e-1a2b3c4d5e6f", "name": "Drain cleaning", "price": "$149",
             "duration_minutes": 60, "confidence": 1.0}  # fmt: skip
    messages.append(message)
    messages += [
        {"role": "tool", "tool_call_id": call["id"], "content": json.dumps({"services": [drain]})} for call in calls
    ]
    second = post(url, {"model": "gpt-4o-mini", "messages": messages, "tools": TOOLS})
    assert second.status_code == 200, second.text
    [choice] = second.json()["choices"]
    assert choice["finish_reason"] == "stop"
    assert choice["message"]["role"] == "assistant"
    assert "tool_calls" not in choice["message"]
    assert choice["message"]["content"] == "Drain cleaning is $149. Want me to find you a time?"  # the tool's price


def test_the_same_request_gets_the_same_answer(stand_in: tuple[str, ChatCompletions]) -> None:
    url, _chat = stand_in
    body = {"model": "m", "messages": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "hi"}],
            "tools": TOOLS}  # fmt: skip
    first, second = post(url, body).json(), post(url, body).json()
    assert first["id"] != second["id"]
    assert first["choices"] == second["choices"]


def converse(url: str, system: str, text: str, results: dict[str, object]) -> tuple[str, list[str]]:
    """One turn played by hand: each tool call the stand-in asks for answered from ``results``; (reply, calls)."""
    messages: list[dict[str, Any]] = [{"role": "system", "content": system}, {"role": "user", "content": text}]
    called: list[str] = []
    for _round in range(6):
        message = post(url, {"model": "m", "messages": messages, "tools": TOOLS}).json()["choices"][0]["message"]
        if not message.get("tool_calls"):
            return str(message["content"]), called
        messages.append(message)
        for call in message["tool_calls"]:
            called.append(call["function"]["name"])
            output = results[call["function"]["name"]]
            messages.append({"role": "tool", "tool_call_id": call["id"], "content": json.dumps(output)})
    raise AssertionError("no reply after 6 rounds")


def test_it_replies_in_spanish_when_the_system_prompt_says_so(stand_in: tuple[str, ChatCompletions]) -> None:
    url, _chat = stand_in
    system = SYSTEM + " The caller writes in Spanish: reply in Spanish (usted)."
    reply, called = converse(
        url, system, "hola", {"list_services": {"services": []}, "match_services": {"services": []}}
    )
    assert called == ["list_services", "match_services"]
    assert reply == "¡Hola! Gracias por escribir a Acme Plumbing. ¿En qué le podemos ayudar?"


def test_it_answers_hours_from_the_tool_result_only(stand_in: tuple[str, ChatCompletions]) -> None:
    url, _chat = stand_in
    hours = {"open_now": False, "hours": "Mon-Thu 9:00 AM-3:00 PM"}
    empty = {"services": []}
    reply, called = converse(url, SYSTEM, "are you open?", {"business_hours": hours, "list_services": empty,
                                                            "match_services": empty})  # fmt: skip
    assert called[0] == "business_hours"
    assert reply.startswith("We're closed right now. Our hours are Mon-Thu 9:00 AM-3:00 PM")


def test_it_holds_only_a_slot_id_find_slots_returned(stand_in: tuple[str, ChatCompletions]) -> None:
    url, _chat = stand_in
    drain = {"service_id": "5f0c7a4e-6d1b-4c1e-9d7e-1a2b3c4d5e6f", "name": "Drain cleaning", "price": "$149",
             "confidence": 1.0}  # fmt: skip
    slots = {
        "slots": [{"slot_id": "opaque-7", "label": "Fri 8:00 AM"}, {"slot_id": "opaque-9", "label": "Fri 9:00 AM"}]
    }
    results: dict[str, object] = {"list_services": {"services": [drain]}, "match_services": {"services": [drain]},
                                  "find_slots": slots}  # fmt: skip
    offer, _ = converse(url, SYSTEM, "drain cleaning tomorrow", results)
    assert offer == "I have Fri 8:00 AM or Fri 9:00 AM for your Drain cleaning. Which works best?"
    # The next turn, as the engine sends it: the previous one with its tool traffic, then the caller's pick.
    messages: list[dict[str, Any]] = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "x"}]
    history = [
        {"role": "user", "content": "drain cleaning tomorrow"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "find_slots", "arguments": json.dumps(
                {"service_id": drain["service_id"], "when": "drain cleaning tomorrow"})}}]},
        {"role": "tool", "tool_call_id": "c1", "content": json.dumps(slots)},
        {"role": "assistant", "content": offer},
        {"role": "user", "content": "the 2nd"},
    ]  # fmt: skip
    messages = [messages[0], *history]
    message = post(url, {"model": "m", "messages": messages, "tools": TOOLS}).json()["choices"][0]["message"]
    [call] = message["tool_calls"]
    assert call["function"]["name"] == "place_hold"
    assert json.loads(call["function"]["arguments"]) == {"slot_id": "opaque-9"}


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({}, None),
        ({"Authorization": "Basic abc"}, None),
        ({"Authorization": "Bearer"}, None),
        ({"Authorization": "Bearer sk-test"}, "invalid_api_key"),
    ],
)
def test_a_missing_or_wrong_bearer_key_is_a_401(
    stand_in: tuple[str, ChatCompletions], headers: dict[str, str], code: str | None
) -> None:
    url, _chat = stand_in
    answer = post(url, {"model": "m", "messages": [{"role": "user", "content": "hi"}]}, headers=headers)
    assert answer.status_code == 401
    error = answer.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == "invalid_request_error"
    assert error["code"] == code
    assert "sk-test" not in error["message"]  # a wrong key is shown masked


@pytest.mark.parametrize(
    ("body", "param"),
    [
        (b"{not json", None),
        (b"[]", None),
        ({"messages": [{"role": "user", "content": "hi"}]}, None),
        ({"model": "m"}, "messages"),
        ({"model": "m", "messages": "hi"}, "messages"),
        ({"model": "m", "messages": []}, "messages"),
        ({"model": "m", "messages": [{"role": "robot", "content": "hi"}]}, "messages[0].role"),
        ({"model": "m", "messages": [{"role": "tool", "content": "{}"}]}, "messages[0].tool_call_id"),
        ({"model": "m", "messages": [{"role": "user", "content": "hi"}, {"role": "tool", "tool_call_id": "x",
                                                                            "content": "{}"}]}, "messages"),
        ({"model": "m", "messages": [{"role": "user", "content": "hi"}], "tools": [{"type": "web"}]}, "tools"),
        ({"model": "m", "messages": [{"role": "user", "content": "hi"}], "temperature": 3}, "temperature"),
        ({"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": True}, "stream"),
    ],
)  # fmt: skip
def test_a_malformed_body_is_a_400_in_openais_error_shape(
    stand_in: tuple[str, ChatCompletions], body: object, param: str | None
) -> None:
    url, _chat = stand_in
    if isinstance(body, bytes):
        answer = httpx.post(
            f"{url}/chat/completions", content=body, headers={**KEY, "Content-Type": "application/json"}
        )
    else:
        answer = post(url, body)
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["param"] == param
    assert error["message"]


def test_garbage_in_a_well_formed_conversation_is_never_a_5xx(stand_in: tuple[str, ChatCompletions]) -> None:
    url, _chat = stand_in
    call = {"id": "c1", "type": "function", "function": {"name": "list_services", "arguments": "{"}}
    for content in ("[1, 2]", '{"services": "none"}', '{"services": [1]}', "not json", '{"slots": 7}'):
        messages = [
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": "drain cleaning tomorrow"},
            {"role": "assistant", "content": None, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": "c1", "content": content},
        ]
        answer = post(url, {"model": "m", "messages": messages, "tools": TOOLS})
        assert answer.status_code in (200, 400), (content, answer.text)
    for message in ({"role": "user", "content": 7}, {"role": "assistant", "tool_calls": "list_services"}):
        answer = post(url, {"model": "m", "messages": [message]})
        assert answer.status_code == 400, answer.text


def test_a_failing_model_leaves_the_turn_to_the_built_in_engine(stand_in: tuple[str, ChatCompletions]) -> None:
    url, chat = stand_in
    engine = engine_at(url)
    chat.fail_next(500)
    result = Chat(Business(), engine, datetime(2025, 3, 6, 10, 0, tzinfo=NY).astimezone(UTC)).say(
        "how much for a drain"
    )
    assert isinstance(engine.inner, LLMEngine)
    engine.inner.close()
    assert result.engine == "builtin"
    assert "500" in (result.fallback_reason or "")
    assert "$149" in (result.reply or "")


def test_the_sandbox_serves_it_where_the_default_settings_point(world: World) -> None:  # noqa: F811
    # AI_BASE_URL and AI_API_KEY empty: the engine talks to the sandbox's /ai/v1 with the published key.
    settings = world.settings.model_copy(update={"ai_provider": "openai"})
    assert settings.ai_api_url == f"{world.url}/ai/v1"
    assert settings.ai_key == SANDBOX_AI_API_KEY
    engine = make_engine(settings)
    chat = Chat(Business(), engine, datetime(2025, 3, 6, 10, 0, tzinfo=NY).astimezone(UTC))
    offered = chat.say("my kitchen sink is clogged, can someone come tomorrow morning?")
    held = chat.say("the first one")
    booked = chat.say("yes")
    assert isinstance(engine, GuardedEngine)
    assert isinstance(engine.inner, LLMEngine)
    engine.inner.close()
    assert [r.engine for r in (offered, held, booked)] == ["openai"] * 3
    assert offered.reply == "I have Fri 8:00 AM, Fri 9:00 AM or Fri 10:00 AM for your Drain cleaning. Which works best?"
    assert (booked.reply or "").startswith("You're all set! Your Drain cleaning is booked for Fri 8:00 AM.")
    assert len(chat.appointments()) == 1


def test_nmc_eval_openai_serves_the_stand_in_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    # A few scripts are enough here: the whole suite's figures are the first test's.
    monkeypatch.setattr(eval_command, "evaluate", lambda engine, name: run(engine, load()[:6], name))
    result = CliRunner().invoke(cli, ["eval", "conversations", "--engine", "openai"], env={"AI_BASE_URL": ""})
    assert result.exit_code == 0, result.output
    assert "pass rate: 100.0%" in result.output
    assert "turns answered by the built-in fallback: 0 of" in result.output
    assert re.search(r"model: gpt-4o-mini at http://127\.0\.0\.1:\d+/ai/v1\n", result.output)
