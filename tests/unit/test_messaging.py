"""SMS segment counting (GSM-7 vs UCS-2), reply trimming to a segment budget, first-message rendering."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.conversations.messaging import STATUS_RANK, count_segments, fit_to_segments, render_first_message


@pytest.mark.parametrize(
    ("body", "encoding", "count"),
    [
        ("a" * 160, "GSM-7", 1),
        ("a" * 161, "GSM-7", 2),
        ("a" * 306, "GSM-7", 2),
        ("a" * 307, "GSM-7", 3),
        ("{" * 80, "GSM-7", 1),  # extension characters cost two septets: 160 units
        ("{" * 81, "GSM-7", 2),
        ("é" * 160, "GSM-7", 1),  # é is in the GSM basic set
        ("ê" * 70, "UCS-2", 1),  # ê is not
        ("ê" * 71, "UCS-2", 2),
        ("👍" * 35, "UCS-2", 1),  # emoji are two UTF-16 code units each
        ("👍" * 36, "UCS-2", 2),
    ],
)
def test_segments(body: str, encoding: str, count: int) -> None:
    segments = count_segments(body)
    assert (segments.encoding, segments.count) == (encoding, count)


def test_a_long_reply_is_cut_at_a_sentence_within_the_budget() -> None:
    reply = "Drain cleaning is $149. " + "We can come by any weekday morning. " * 12 + "Reply YES to book."
    trimmed = fit_to_segments(reply, 2)
    assert count_segments(trimmed).count <= 2
    assert trimmed.startswith("Drain cleaning is $149.")
    assert trimmed.endswith(".")


@given(st.text(min_size=1, max_size=800), st.integers(min_value=1, max_value=4))
def test_fitting_never_exceeds_the_budget(body: str, budget: int) -> None:
    assert count_segments(fit_to_segments(body, budget)).count <= budget


def test_a_reply_within_budget_is_untouched() -> None:
    assert fit_to_segments("See you Thursday!", 1) == "See you Thursday!"


def test_first_message_renders_the_business_name_and_survives_stray_braces() -> None:
    assert render_first_message("Hi, this is {business}.", business="Ace") == "Hi, this is Ace."
    assert render_first_message("Hi {business} {oops", business="Ace") == "Hi Ace {oops"


def test_final_statuses_outrank_every_earlier_one() -> None:
    assert STATUS_RANK["pending"] < STATUS_RANK["queued"] < STATUS_RANK["sent"] < STATUS_RANK["delivered"]
    assert STATUS_RANK["failed"] == STATUS_RANK["undelivered"] == STATUS_RANK["delivered"]
