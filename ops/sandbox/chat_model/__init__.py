"""The "model" behind the sandbox's chat-completions stand-in.

It is NOT a language model. It is a deterministic stand-in that plays a plausible tool-using assistant so the LLM
engine's side of the contract can be exercised end to end without the internet: the wire protocol, the tool loop
(several rounds, parallel calls), slot-id opacity (it can only hold a ``slot_id`` that ``find_slots`` returned), the
grounded-claims guard and the fallback. It decides only from what a real model is sent (the system prompt, the
conversation with its tool calls and results, the tools offered) and never reads a database or hidden state; the
same request always gets the same answer.

Its judgement is the project's own reading of a caller's text (``intents``, ``dates``, ``matching``) and its wording
the built-in engine's phrase book, so the figures ``nmc eval conversations --engine openai`` prints measure the LLM
engine's plumbing, not a model's intelligence.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from domain.conversations.engine.phrases import phrase
from ops.sandbox.chat_model.policy import Decision, NeedTools, ToolNotOffered
from ops.sandbox.chat_model.transcript import TranscriptError, read_transcript


def complete(messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> tuple[dict[str, Any], str]:
    """The assistant message for a request, and its ``finish_reason`` (``tool_calls`` or ``stop``)."""
    transcript = read_transcript(messages)
    offered = {str((tool.get("function") or {}).get("name")) for tool in tools if isinstance(tool, dict)}
    try:
        return {"role": "assistant", "content": Decision(transcript, offered).reply(), "refusal": None}, "stop"
    except NeedTools as need:
        seed = hashlib.sha256(json.dumps([len(messages), need.calls], sort_keys=True).encode()).hexdigest()
        calls = [
            {
                "id": f"call_{seed[index * 8 : index * 8 + 24]}",
                "type": "function",
                "function": {"name": name, "arguments": json.dumps(args)},
            }
            for index, (name, args) in enumerate(need.calls)
        ]
        return {"role": "assistant", "content": None, "tool_calls": calls, "refusal": None}, "tool_calls"
    except ToolNotOffered:  # a tool it would need was not offered: it hands over rather than guess
        text = phrase(transcript.language, "spanish_off", business=transcript.business)
        return {"role": "assistant", "content": text, "refusal": None}, "stop"


__all__ = ["TranscriptError", "complete"]
