"""Choose the engine from settings; every engine it returns is under the grounded-claims guard."""

from __future__ import annotations

from db.settings import Settings
from domain.conversations.engine.builtin import BuiltinEngine
from domain.conversations.engine.guard import GuardedEngine
from domain.conversations.engine.ports import ConversationEngine


def make_engine(settings: Settings) -> ConversationEngine:
    if settings.ai_provider == "openai":
        from domain.conversations.engine.llm import LLMEngine

        return GuardedEngine(
            LLMEngine(
                base_url=settings.ai_api_url,
                model=settings.ai_model,
                api_key=settings.ai_key,
                timeout_seconds=settings.ai_timeout_seconds,
                fallback=BuiltinEngine(),
            )
        )
    return GuardedEngine(BuiltinEngine())
