"""The SMS date parser: examples, and properties across the America/New_York DST changes."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.conversations.engine.dates import find_clock, parse_when

TZ = "America/New_York"
NY = ZoneInfo(TZ)
SAT_10AM = datetime(2025, 3, 8, 10, 0, tzinfo=NY).astimezone(UTC)  # the day before spring-forward


def local(moment: datetime | None) -> tuple[str, int, int]:
    assert moment is not None
    value = moment.astimezone(NY)
    return value.date().isoformat(), value.hour, value.minute


@pytest.mark.parametrize(
    ("text", "earliest", "latest"),
    [
        ("tmrw at 3", ("2025-03-09", 15, 0), ("2025-03-10", 0, 0)),
        ("tomorrow 3pm", ("2025-03-09", 15, 0), ("2025-03-10", 0, 0)),
        ("thu morning", ("2025-03-13", 0, 0), ("2025-03-13", 12, 0)),
        ("next week", ("2025-03-10", 0, 0), ("2025-03-17", 0, 0)),
        ("after 5", ("2025-03-08", 17, 0), ("2025-03-09", 0, 0)),
        ("friday 10am", ("2025-03-14", 10, 0), ("2025-03-15", 0, 0)),
        ("today", ("2025-03-08", 10, 0), ("2025-03-09", 0, 0)),
        ("tonight", ("2025-03-08", 17, 0), ("2025-03-09", 0, 0)),
        ("before noon", ("2025-03-08", 10, 0), ("2025-03-08", 12, 0)),
        ("3/12", ("2025-03-12", 0, 0), ("2025-03-13", 0, 0)),
        ("march 20th in the afternoon", ("2025-03-20", 12, 0), ("2025-03-20", 17, 0)),
        ("in 2 days", ("2025-03-10", 0, 0), ("2025-03-11", 0, 0)),
        ("day after tomorrow", ("2025-03-10", 0, 0), ("2025-03-11", 0, 0)),
        ("this weekend", ("2025-03-08", 10, 0), ("2025-03-10", 0, 0)),
        ("saturday", ("2025-03-08", 10, 0), ("2025-03-09", 0, 0)),
        ("next saturday", ("2025-03-15", 0, 0), ("2025-03-16", 0, 0)),
        ("at 9", ("2025-03-09", 9, 0), ("2025-03-10", 0, 0)),  # 9 AM today has passed: tomorrow
        ("morning", ("2025-03-08", 10, 0), ("2025-03-08", 12, 0)),  # what is left of this morning
        ("evening", ("2025-03-08", 17, 0), ("2025-03-09", 0, 0)),
        ("saturday at 9", ("2025-03-15", 9, 0), ("2025-03-16", 0, 0)),
        ("1/2", ("2026-01-02", 0, 0), ("2026-01-03", 0, 0)),
        ("the 2nd of april", ("2025-04-02", 0, 0), ("2025-04-03", 0, 0)),
        ("20th of march, afternoon", ("2025-03-20", 12, 0), ("2025-03-20", 17, 0)),
        # mistyped time words read as the word they are a slip away from
        ("tmrw aftrnoon", ("2025-03-09", 12, 0), ("2025-03-09", 17, 0)),
        ("thrusday mornin", ("2025-03-13", 0, 0), ("2025-03-13", 12, 0)),
        ("wendesday evenin", ("2025-03-12", 17, 0), ("2025-03-13", 0, 0)),
        ("frday", ("2025-03-14", 0, 0), ("2025-03-15", 0, 0)),
    ],
)
def test_examples(text: str, earliest: tuple[str, int, int], latest: tuple[str, int, int]) -> None:
    preference = parse_when(text, SAT_10AM, TZ)
    assert preference is not None
    assert local(preference.earliest) == earliest
    assert local(preference.latest) == latest


@pytest.mark.parametrize("text", ["i have the money", "the fridge is fine", "a sundae", "were moving", "in mourning"])
def test_everyday_words_near_a_time_word_are_no_time(text: str) -> None:
    assert parse_when(text, SAT_10AM, TZ) is None


def test_asap_and_friends() -> None:
    for text in ("asap", "as soon as possible", "whenever", "ASAP pls", "first available"):
        preference = parse_when(text.lower(), SAT_10AM, TZ)
        assert preference is not None
        assert preference.asap
        assert preference.earliest == SAT_10AM
        assert preference.latest is None


def test_part_of_day_and_weekday_are_reported() -> None:
    preference = parse_when("thu morning", SAT_10AM, TZ)
    assert preference is not None
    assert preference.part_of_day == "morning"
    assert preference.weekday == 3


@pytest.mark.parametrize("text", ["the first one", "2", "$149", "call 555-1234", "option 3", "i am home", "hello"])
def test_texts_without_a_time(text: str) -> None:
    assert parse_when(text, SAT_10AM, TZ) is None


@pytest.mark.parametrize(
    ("text", "hour", "minute"),
    [("at 3", 15, 0), ("3pm", 15, 0), ("10am works", 10, 0), ("10:30", 10, 30), ("at 7", 7, 0), ("12 pm", 12, 0),
     ("12am", 0, 0), ("after 5", 17, 0), ("noon", 12, 0), ("@ 4:15", 16, 15), ("9 a.m.", 9, 0)],
)  # fmt: skip
def test_clock_reading(text: str, hour: int, minute: int) -> None:
    clock = find_clock(text)
    assert clock is not None
    assert (clock.hour, clock.minute) == (hour, minute)


def test_tomorrow_across_spring_forward_is_a_23_hour_day() -> None:
    preference = parse_when("tomorrow", SAT_10AM, TZ)
    assert preference is not None
    assert preference.earliest == datetime(2025, 3, 9, 5, 0, tzinfo=UTC)  # midnight EST
    assert preference.latest == datetime(2025, 3, 10, 4, 0, tzinfo=UTC)  # midnight EDT
    at_three = parse_when("tmrw at 3", SAT_10AM, TZ)
    assert at_three is not None
    assert at_three.earliest == datetime(2025, 3, 9, 19, 0, tzinfo=UTC)  # 3 PM EDT, not 3 PM EST


def test_tomorrow_across_fall_back_is_a_25_hour_day() -> None:
    saturday = datetime(2025, 11, 1, 12, 0, tzinfo=NY).astimezone(UTC)
    preference = parse_when("tomorrow", saturday, TZ)
    assert preference is not None
    assert preference.latest is not None
    assert preference.earliest is not None
    assert preference.latest - preference.earliest == timedelta(hours=25)
    at_three = parse_when("tmrw at 3", saturday, TZ)
    assert at_three is not None
    assert at_three.earliest == datetime(2025, 11, 2, 20, 0, tzinfo=UTC)  # 3 PM EST


def test_a_wall_time_inside_the_spring_gap_lands_on_a_real_instant() -> None:
    preference = parse_when("tomorrow at 2:30am", SAT_10AM, TZ)
    assert preference is not None
    assert preference.earliest is not None
    assert preference.earliest.astimezone(NY).hour == 3  # 2:30 does not exist that night; it reads as 3:30 EDT
    assert preference.earliest.astimezone(NY).date() == date(2025, 3, 9)


_instants = st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2026, 12, 31), timezones=st.just(UTC)).map(
    lambda moment: moment.replace(second=0, microsecond=0)
)
_phrases = st.sampled_from(
    ["tmrw at 3", "tomorrow", "thu morning", "next week", "asap", "after 5", "friday 10am", "today", "tonight",
     "monday afternoon", "this weekend", "before noon", "at 9", "evening", "next friday", "day after tomorrow",
     "sat 9am", "in 3 days", "this week", "10:30"]
)  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(now=_instants, text=_phrases)
def test_never_in_the_past_and_windows_are_ordered(now: datetime, text: str) -> None:
    preference = parse_when(text, now, TZ)
    assert preference is not None
    assert preference.earliest is not None
    assert preference.earliest >= now
    assert preference.earliest.tzinfo is not None
    if preference.latest is not None and text not in ("today", "before noon", "this weekend", "this week"):
        assert preference.earliest < preference.latest


@settings(max_examples=400, deadline=None)
@given(now=_instants)
def test_tomorrow_at_3_is_3pm_local_on_the_next_calendar_day(now: datetime) -> None:
    preference = parse_when("tmrw at 3", now, TZ)
    assert preference is not None
    assert preference.earliest is not None
    assert preference.latest is not None
    start = preference.earliest.astimezone(NY)
    assert start.date() == now.astimezone(NY).date() + timedelta(days=1)
    assert (start.hour, start.minute) == (15, 0)
    end = preference.latest.astimezone(NY)
    assert (end.date(), end.hour) == (start.date() + timedelta(days=1), 0)


@settings(max_examples=300, deadline=None)
@given(now=_instants)
def test_next_week_is_seven_local_days_from_monday_midnight(now: datetime) -> None:
    preference = parse_when("next week", now, TZ)
    assert preference is not None
    assert preference.earliest is not None
    assert preference.latest is not None
    start, end = preference.earliest.astimezone(NY), preference.latest.astimezone(NY)
    assert start.weekday() == 0
    assert (start.hour, start.minute) == (0, 0)
    assert end.date() - start.date() == timedelta(days=7)
    assert (end.hour, end.weekday()) == (0, 0)
    # 167, 168 or 169 real hours depending on a DST change inside the week.
    assert timedelta(hours=167) <= end - start <= timedelta(hours=169)


@settings(max_examples=300, deadline=None)
@given(now=_instants, weekday=st.sampled_from(["mon", "tue", "wed", "thu", "fri", "sat", "sun"]))
def test_weekday_morning_is_the_next_such_day(now: datetime, weekday: str) -> None:
    preference = parse_when(f"{weekday} morning", now, TZ)
    assert preference is not None
    assert preference.latest is not None
    end = preference.latest.astimezone(NY)
    assert end.strftime("%a").lower() == weekday
    assert (end.hour, end.minute) == (12, 0)
    ahead = (end.date() - now.astimezone(NY).date()).days
    assert 0 <= ahead <= 7
    if ahead == 7:  # only when this morning, on that very weekday, is already over
        assert now.astimezone(NY).hour >= 12
