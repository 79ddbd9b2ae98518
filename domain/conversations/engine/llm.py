"""The LLM engine: an OpenAI-compatible ``/chat/completions`` client that books through tool calls.

The model sees the caller's text and the conversation so far, and may call tools (match_services, find_slots,
place_hold, confirm_hold, cancel_appointment, handoff, ...) that run against the same :class:`BookingTools` port as
the built-in engine. Slots are handed to the model as opaque ids so it can only hold a slot the scheduler returned.
Everything runs under one overall deadline; on timeout, a transport or protocol error, or too many tool rounds, the
built-in engine answers instead so the caller always hears back. The guard still checks whatever is sent.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import httpx

from domain.conversations.engine.dates import parse_when
from domain.conversations.engine.formatting import money, slot_from_json, slot_label, slot_to_json
from domain.conversations.engine.intents import normalize, read
from domain.conversations.engine.language import Language, content_words, conversation_language, remembered_language
from domain.conversations.engine.matching import gloss
from domain.conversations.engine.ports import (
    BookingTools,
    ConversationEngine,
    ServiceOption,
    SlotOption,
    SlotPreference,
    Turn,
    TurnResult,
)

STATE_KEY = "llm"
HISTORY_TURNS = 8  # the caller's last texts kept for the model, each with the tool traffic it led to


def _function(name: str, description: str, properties: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": description,
            "parameters": {
                "type": "object",
                "properties": properties or {},
                "required": list(properties or {}),
                "additionalProperties": False,
            },
        },
    }


TOOLS: list[dict[str, Any]] = [
    _function(
        "match_services",
        "Find catalog services matching the caller's words; returns service_id, name, price, confidence.",
        {"text": {"type": "string", "description": "the caller's words describing the job"}},
    ),
    _function("list_services", "All services the business offers, with prices."),
    _function(
        "find_slots",
        "Open appointment slots for a service. Offer the caller 2-3 of them using their label.",
        {
            "service_id": {"type": "string"},
            "when": {"type": "string", "description": "caller's timing, e.g. 'tmrw after 3', 'asap'"},
        },
    ),
    _function(
        "place_hold",
        "Hold a slot the caller picked (15 minutes) before asking them to confirm.",
        {"slot_id": {"type": "string", "description": "a slot_id returned by find_slots"}},
    ),
    _function(
        "confirm_hold",
        "Book the held slot. Only after the caller clearly said yes.",
        {"hold_id": {"type": "string"}},
    ),
    _function("upcoming_appointment", "The caller's next booked appointment, if any."),
    _function("cancel_appointment", "Cancel the caller's appointment.", {"appointment_id": {"type": "string"}}),
    _function("business_hours", "Whether the business is open now and its opening hours."),
    _function(
        "handoff",
        "Hand the conversation to a human at the business (caller asked for a person, or you cannot help).",
        {"reason": {"type": "string"}, "urgent": {"type": "boolean"}},
    ),
]


class LLMFailure(Exception):
    """The model could not produce a reply in time or in shape; the fallback engine answers."""


class LLMEngine:
    name = "openai"

    def __init__(
        self,
        *,
        base_url: str,
        model: str,
        api_key: str,
        timeout_seconds: float,
        fallback: ConversationEngine,
        max_rounds: int = 6,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self.api_key = api_key
        self.timeout_seconds = timeout_seconds
        self.fallback = fallback
        self.max_rounds = max_rounds
        self.transport = transport
        self.clock = clock
        self._client: httpx.Client | None = None

    @property
    def client(self) -> httpx.Client:
        # One pooled client per engine: building one (TLS context included) costs more than a local round trip.
        if self._client is None:
            headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
            self._client = httpx.Client(transport=self.transport, headers=headers)
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def respond(self, turn: Turn, tools: BookingTools) -> TurnResult:
        signals = read(turn.text)
        spanish_off = not turn.spanish and conversation_language(turn.text, remembered_language(turn.state)) == "es"
        if signals.stop or signals.handoff or spanish_off:
            # Opting out, asking for a person and a Spanish caller the tenant answers itself are too important to
            # leave to a model's judgement.
            return replace(self.fallback.respond(turn, tools), engine="builtin")
        deadline = self.clock() + self.timeout_seconds
        try:
            result = _Conversation(self, turn, tools, deadline).run()
        except (httpx.HTTPError, LLMFailure, ValueError, KeyError, TypeError, IndexError) as error:
            reason = "timeout" if isinstance(error, httpx.TimeoutException) else f"{type(error).__name__}: {error}"
            fallback = self.fallback.respond(turn, tools)
            return replace(fallback, engine="builtin", fallback_reason=reason[:200])
        if signals.urgent and not result.urgent:
            result = replace(result, urgent=True)
        return result


def _last_turns(messages: list[dict[str, Any]], turns: int) -> list[dict[str, Any]]:
    """The messages from the ``turns``-th last caller text on: cut only where a caller text starts, so a tool
    result never loses the assistant message that asked for it (the API refuses such a history)."""
    starts = [index for index, message in enumerate(messages) if message.get("role") == "user"]
    return messages[starts[-turns] :] if len(starts) > turns else messages


class _Conversation:
    def __init__(self, engine: LLMEngine, turn: Turn, tools: BookingTools, deadline: float) -> None:
        self.engine = engine
        self.turn = turn
        self.tools = tools
        self.deadline = deadline
        self.state: dict[str, Any] = json.loads(json.dumps(turn.state.get(STATE_KEY) or {}))
        self.slots: dict[str, dict[str, str]] = self.state.setdefault("slots", {})
        self.handoff = False
        self.urgent = False
        self.zone = ZoneInfo(turn.timezone)
        self.today = turn.now.astimezone(self.zone).date()
        self.lang: Language = conversation_language(turn.text, remembered_language(turn.state))
        self.state["lang"] = self.lang

    def system_prompt(self) -> str:
        local = self.turn.now.astimezone(self.zone)
        return (
            f"You are the friendly SMS assistant for {self.turn.business_name}, a local service business. "
            f"It is now {local:%A %B %d, %Y %I:%M %p} ({self.turn.timezone}). Reply like a warm front office, in "
            "plain text under 300 characters. Use tools for every fact: quote prices exactly as the 'price' field "
            "and times exactly as the 'label' field. Offer 2-3 slots from find_slots; when the caller picks one, "
            "place_hold it and ask them to confirm; call confirm_hold only after a clear yes. Never say booked, "
            "confirmed or held unless the tool succeeded in this turn. If unsure which service they mean, ask one "
            "short question. If they ask for a person, call handoff."
            + (
                " The caller writes in Spanish: reply in Spanish (usted), keeping prices and the slot labels exactly "
                "as the tools give them; the service names stay as the catalog writes them."
                if self.lang == "es"
                else " Reply in the caller's language (English unless they write in Spanish)."
            )
        )

    def run(self) -> TurnResult:
        history: list[dict[str, Any]] = list(self.state.get("messages") or [])
        messages: list[dict[str, Any]] = [
            {"role": "system", "content": self.system_prompt()},
            *history,
            {"role": "user", "content": self.turn.text},
        ]
        client = self.engine.client
        for _round in range(self.engine.max_rounds):
            remaining = self.deadline - self.engine.clock()
            if remaining <= 0:
                raise LLMFailure("timeout")
            response = client.post(
                self.engine.url,
                json={"model": self.engine.model, "messages": messages, "tools": TOOLS, "tool_choice": "auto"},
                timeout=httpx.Timeout(remaining),
            )
            response.raise_for_status()
            message = response.json()["choices"][0]["message"]
            calls = message.get("tool_calls") or []
            if not calls:
                return self.finish(messages, message.get("content"))
            messages.append({"role": "assistant", "content": message.get("content"), "tool_calls": calls})
            for call in calls:
                output = self.call(call["function"]["name"], call["function"].get("arguments") or "{}")
                messages.append({"role": "tool", "tool_call_id": call["id"], "content": json.dumps(output)})
        raise LLMFailure(f"no reply after {self.engine.max_rounds} tool rounds")

    def finish(self, messages: list[dict[str, Any]], content: object) -> TurnResult:
        if content is not None and not isinstance(content, str):
            raise LLMFailure("assistant content is not text")
        reply = (content or "").strip() or None
        if reply is None and not self.handoff:
            raise LLMFailure("empty assistant reply")
        # The next turn's model sees this one as it happened, tool calls and results included: the slot ids it was
        # offered and the hold id it must confirm exist nowhere else it can read.
        history = messages[1:]
        if reply:
            history.append({"role": "assistant", "content": reply})
        self.state["messages"] = _last_turns(history, HISTORY_TURNS)
        return TurnResult(
            reply=reply,
            state={**self.turn.state, STATE_KEY: self.state},
            handoff=self.handoff,
            urgent=self.urgent,
            handoff_reason="person_requested" if self.handoff else None,
            engine="openai",
        )

    # -- tools ----------------------------------------------------------------------------------------------------

    def call(self, name: str, arguments: str) -> dict[str, Any]:
        try:
            args = json.loads(arguments)
            if not isinstance(args, dict):
                raise TypeError("arguments must be an object")
            handler = getattr(self, f"tool_{name}", None)
            if handler is None:
                return {"error": f"unknown tool {name}"}
            return dict(handler(**args))
        except (TypeError, ValueError, KeyError) as error:
            return {"error": f"bad arguments for {name}: {error}"}

    def label(self, starts_at: datetime) -> str:
        return slot_label(starts_at, self.turn.timezone, self.today, self.lang)

    def service_json(self, option: ServiceOption) -> dict[str, Any]:
        return {
            "service_id": str(option.id),
            "name": option.name,
            "price": money(option.price_cents, option.currency),
            "duration_minutes": option.duration_minutes,
            "confidence": option.confidence,
        }

    def register(self, slots: list[SlotOption] | tuple[SlotOption, ...], service_id: str) -> list[dict[str, str]]:
        listed = []
        for slot in slots:
            slot_id = f"S{len(self.slots) + 1}"
            self.slots[slot_id] = {**slot_to_json(slot), "service_id": service_id}
            listed.append({"slot_id": slot_id, "label": self.label(slot.starts_at)})
        return listed

    def tool_match_services(self, text: str) -> dict[str, Any]:
        if self.lang == "es":
            text = f"{content_words(text)} {gloss(text)}"  # the catalog's names and aliases are mostly English
        return {"services": [self.service_json(option) for option in self.tools.match_services(text)]}

    def tool_list_services(self) -> dict[str, Any]:
        return {"services": [self.service_json(option) for option in self.tools.list_services()]}

    def tool_find_slots(self, service_id: str, when: str = "asap") -> dict[str, Any]:
        preference = parse_when(normalize(when), self.turn.now, self.turn.timezone) or SlotPreference(
            earliest=self.turn.now, asap=True
        )
        slots = self.tools.find_slots(UUID(service_id), preference, 3)
        return {"slots": self.register(slots, service_id)}

    def tool_place_hold(self, slot_id: str) -> dict[str, Any]:
        known = self.slots.get(slot_id)
        if known is None:
            return {"error": "unknown slot_id; use one returned by find_slots"}
        slot = slot_from_json(known)
        result = self.tools.place_hold(UUID(known["service_id"]), slot)
        if result.hold is None:
            return {"ok": False, "alternatives": self.register(result.alternatives, known["service_id"])}
        return {
            "ok": True,
            "hold_id": str(result.hold.id),
            "label": self.label(result.hold.slot.starts_at),
            "expires_at": result.hold.expires_at.isoformat(),
        }

    def tool_confirm_hold(self, hold_id: str) -> dict[str, Any]:
        result = self.tools.confirm_hold(UUID(hold_id))
        if result.appointment is None:
            service_id = next(iter(self.slots.values()), {}).get("service_id", "")
            return {"ok": False, "alternatives": self.register(result.alternatives, service_id)}
        return {
            "ok": True,
            "appointment_id": str(result.appointment.id),
            "service": result.appointment.service_name,
            "label": self.label(result.appointment.slot.starts_at),
        }

    def tool_upcoming_appointment(self) -> dict[str, Any]:
        appointment = self.tools.upcoming_appointment()
        if appointment is None:
            return {"appointment": None}
        return {
            "appointment": {
                "appointment_id": str(appointment.id),
                "service": appointment.service_name,
                "label": self.label(appointment.slot.starts_at),
            }
        }

    def tool_cancel_appointment(self, appointment_id: str) -> dict[str, Any]:
        return {"cancelled": self.tools.cancel_appointment(UUID(appointment_id))}

    def tool_business_hours(self) -> dict[str, Any]:
        return {"open_now": self.tools.is_open_now(), "hours": self.tools.hours_text()}

    def tool_handoff(self, reason: str = "", urgent: bool = False) -> dict[str, Any]:
        self.handoff = True
        self.urgent = self.urgent or bool(urgent)
        return {"ok": True}


__all__ = ["TOOLS", "LLMEngine", "LLMFailure"]
