"""The engine's evaluation suite: scripted caller conversations (``conversations/*.yaml``) run through an engine
against the in-memory booking tools (:mod:`.fake`), each judged on what the caller ended up with.

``nmc eval conversations`` and ``tests/unit/test_engine_eval.py`` both call :func:`evaluate`.
"""

from __future__ import annotations

from domain.conversations.engine.eval.runner import PASS_TARGET, Outcome, Report, run
from domain.conversations.engine.eval.suite import Conversation, SuiteError, load
from domain.conversations.engine.ports import ConversationEngine


def evaluate(engine: ConversationEngine, name: str = "builtin") -> Report:
    """Every scripted conversation through ``engine``."""
    return run(engine, load(), name)


__all__ = ["PASS_TARGET", "Conversation", "Outcome", "Report", "SuiteError", "evaluate", "load", "run"]
