"""What the stand-in model reads: a chat-completions ``messages`` list turned into the caller's texts, each with the
tool calls made for it, their results and the reply, plus what the system prompt says (business, clock, language).

Nothing else reaches the model: no database, no engine state. A history OpenAI would refuse (a tool result that
answers no call, an unknown role) is a :class:`TranscriptError`, which the endpoint answers with a 400.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from domain.conversations.engine.language import Language

_NOW = re.compile(r"It is now (\w+ \w+ \d{1,2}, \d{4} \d{1,2}:\d{2} [AP]M) \(([\w/+-]+)\)")
_BUSINESS = re.compile(r"assistant for (.+?), a local service business")
_SPANISH = re.compile(r"\b(?:reply|answer|respond) in Spanish\b", re.IGNORECASE)


class TranscriptError(ValueError):
    """The messages do not form a conversation the API accepts."""


@dataclass(frozen=True)
class Step:
    """One tool call and what it returned."""

    name: str
    args: dict[str, Any]
    result: Any


@dataclass
class Exchange:
    """One caller text, the tool traffic it led to and the reply (None while the model is still deciding)."""

    text: str
    steps: list[Step] = field(default_factory=list)
    reply: str | None = None

    def results(self, name: str) -> list[tuple[dict[str, Any], Any]]:
        return [(step.args, step.result) for step in self.steps if step.name == name and isinstance(step.result, dict)]


@dataclass
class Transcript:
    business: str
    now: datetime
    tz: str
    language: Language
    past: list[Exchange]
    current: Exchange


def _content(message: dict[str, Any]) -> str:
    content = message.get("content")
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # the content-parts form: [{"type": "text", "text": "..."}]
        return "".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    raise TranscriptError("message content must be a string or an array of content parts")


def _clock(system: str) -> tuple[datetime, str]:
    match = _NOW.search(system)
    if match:
        try:
            zone = ZoneInfo(match.group(2))
            local = datetime.strptime(match.group(1), "%A %B %d, %Y %I:%M %p")
            return local.replace(tzinfo=zone).astimezone(UTC), match.group(2)
        except (ValueError, ZoneInfoNotFoundError):
            pass
    return datetime.now(UTC), "UTC"


def read_transcript(messages: list[dict[str, Any]]) -> Transcript:
    system = "\n".join(_content(m) for m in messages if m.get("role") in ("system", "developer"))
    exchanges: list[Exchange] = []
    calls: dict[str, tuple[str, dict[str, Any]]] = {}
    for message in messages:
        role = message.get("role")
        if role in ("system", "developer"):
            continue
        if role == "user":
            exchanges.append(Exchange(_content(message)))
        elif role == "assistant":
            for call in message.get("tool_calls") or []:
                function = call.get("function") or {}
                try:
                    args = json.loads(function.get("arguments") or "{}")
                except (TypeError, ValueError):
                    args = {}
                calls[str(call.get("id"))] = (str(function.get("name")), args if isinstance(args, dict) else {})
            text = _content(message)
            if text and exchanges:
                exchanges[-1].reply = text
        elif role == "tool":
            call_id = str(message.get("tool_call_id"))
            if call_id not in calls:
                raise TranscriptError(
                    "messages with role 'tool' must be a response to a preceding message with 'tool_calls'"
                )
            name, args = calls.pop(call_id)
            try:
                result = json.loads(_content(message))
            except ValueError:
                result = _content(message)
            if exchanges:
                exchanges[-1].steps.append(Step(name, args, result))
        else:
            raise TranscriptError(f"unknown message role {role!r}")
    if not exchanges:
        raise TranscriptError("the conversation has no user message")
    now, tz = _clock(system)
    business = _BUSINESS.search(system)
    return Transcript(
        business=business.group(1) if business else "us",
        now=now,
        tz=tz,
        language="es" if _SPANISH.search(system) else "en",
        past=exchanges[:-1],
        current=exchanges[-1],
    )
