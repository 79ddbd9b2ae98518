"""The engine's evaluation suite runs in `make test`: the built-in engine must reach the asserted outcome in at
least 95% of the scripted caller conversations, never make an ungrounded claim, and book within 3 texts (median)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from db.settings import Settings
from domain.conversations.engine import make_engine
from domain.conversations.engine.eval import PASS_TARGET, evaluate, load, run
from domain.conversations.engine.eval.suite import SuiteError, local_start
from domain.conversations.engine.gsm import plain
from domain.conversations.engine.ports import BookingTools, Turn, TurnResult
from domain.conversations.messaging import count_segments, fit_to_segments


def test_the_suite_is_large_and_covers_every_catalog_zone_and_weekday() -> None:
    conversations = load()
    assert len(conversations) >= 150
    # Distinct caller situations, not one script counted again at each of its start times.
    assert len({c.id.split("@")[0] for c in conversations}) >= 160
    assert {c.catalog.key for c in conversations} >= {"plumbing", "hvac", "salon", "auto"}
    assert len({c.tz for c in conversations}) >= 4
    starts = [c.start.astimezone(datetime.now(UTC).tzinfo) for c in conversations]
    assert len({(c.start + timedelta(minutes=1)).weekday() for c in conversations}) == 7
    assert len({s.hour for s in starts}) >= 8


def test_the_builtin_engine_passes_the_suite() -> None:
    report = evaluate(make_engine(Settings(ai_provider="builtin")))
    failed = "\n".join(f"{o.id}: {'; '.join(o.failures)}" for o in report.failures())
    assert report.pass_rate >= PASS_TARGET, failed
    assert report.ungrounded == 0
    median = report.median_texts_to_booking
    assert median is not None
    assert median <= 3


def test_a_start_time_that_is_not_one_is_a_suite_error() -> None:
    with pytest.raises(SuiteError, match="not a start time"):
        local_start("someday 25:00", "America/New_York")


@pytest.mark.parametrize(
    ("typographic", "expected"),
    [("We\u2019re on it\u2026", "We're on it..."), ("\u201cSure\u201d \u2014 8 AM", '"Sure" - 8 AM')],
)
def test_typographic_characters_become_gsm_7(typographic: str, expected: str) -> None:
    assert plain(typographic) == expected
    assert count_segments(plain(typographic)).encoding == "GSM-7"


def test_a_trimmed_gsm_reply_stays_gsm_7() -> None:
    trimmed = fit_to_segments("word " * 200, 1)
    assert trimmed.endswith("...")
    assert count_segments(trimmed).encoding == "GSM-7"


def test_turns_another_engine_handed_to_its_fallback_are_counted() -> None:
    builtin = make_engine(Settings(ai_provider="builtin"))

    class FallingBack:
        name = "openai"

        def respond(self, turn: Turn, tools: BookingTools) -> TurnResult:
            return replace(builtin.respond(turn, tools), engine="builtin", fallback_reason="model timed out")

    report = run(FallingBack(), load()[:3], "openai")
    assert report.turns > 0
    assert report.fallback_turns == report.turns
    assert report.to_json()["fallback_turns"] == report.turns
    assert evaluate(builtin).fallback_turns == 0
