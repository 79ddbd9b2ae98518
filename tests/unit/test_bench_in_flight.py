"""The e2e bench reports how many conversations were really in flight, not just the configured cap."""

from __future__ import annotations

from ops.bench.e2e import Conversation, in_flight


def _conversation(start: float, end: float) -> Conversation:
    conversation = Conversation(index=0, caller="+15555550199", tenant_number="+15555550100", question="price?")
    conversation.call_posted, conversation.finished = start, end
    return conversation


def test_in_flight_is_time_weighted_and_peaks_where_conversations_overlap() -> None:
    # 0–10 s: one conversation; 2–4 s: a second overlaps it. Mean over the 10 s span: (10 + 2) / 10.
    measured = in_flight([_conversation(0.0, 10.0), _conversation(2.0, 4.0)])
    assert measured == {"mean": 1.2, "peak": 2}


def test_in_flight_ignores_conversations_that_never_started() -> None:
    assert in_flight([Conversation(index=0, caller="+15555550199", tenant_number="+15555550100", question="x")]) == {
        "mean": 0.0,
        "peak": 0,
    }
