"""Pure availability: DST weeks in New York and Los Angeles, busy subtraction, preferences, and properties."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.scheduling.availability import (
    DayShift,
    Interval,
    Preference,
    ResourceSchedule,
    Shift,
    Slot,
    compute_slots,
    parse_preference,
    wall_time_exists,
    within_working_hours,
)

RID = uuid.UUID(int=1)
RID2 = uuid.UUID(int=2)
WEEKDAYS_8_TO_5 = tuple(Shift(day, time(8), time(17)) for day in range(5))
# A night crew working across the 02:00 transition every Sunday exercises the gap and the repeated hour.
SUNDAY_NIGHT = (Shift(6, time(0), time(6)),)


def schedule(tz: str, shifts: tuple[Shift, ...] = WEEKDAYS_8_TO_5, **kwargs: object) -> ResourceSchedule:
    return ResourceSchedule(resource_id=RID, timezone=tz, shifts=shifts, **kwargs)  # type: ignore[arg-type]


def week_of(tz: str, first: date) -> tuple[datetime, datetime]:
    zone = ZoneInfo(tz)
    start = datetime.combine(first, time(0), tzinfo=zone).astimezone(UTC)
    return start, datetime.combine(first + timedelta(days=7), time(0), tzinfo=zone).astimezone(UTC)


DST_WEEKS = [
    # (zone, Monday before the change, the Sunday of the change)
    ("America/New_York", date(2030, 3, 4), date(2030, 3, 10)),  # spring forward
    ("America/New_York", date(2030, 10, 28), date(2030, 11, 3)),  # fall back
    ("America/Los_Angeles", date(2030, 3, 4), date(2030, 3, 10)),
    ("America/Los_Angeles", date(2030, 10, 28), date(2030, 11, 3)),
]


@pytest.mark.parametrize(("tz", "monday", "change_day"), DST_WEEKS)
def test_working_hours_stay_local_across_a_dst_week(tz: str, monday: date, change_day: date) -> None:
    zone = ZoneInfo(tz)
    start, end = week_of(tz, monday)
    # The week after the change too, so both offsets are covered.
    slots = compute_slots(
        [schedule(tz)], duration_minutes=60, window_start=start, window_end=end + timedelta(days=7), now=start
    )
    local_starts = [slot.starts_at.astimezone(zone) for slot in slots]
    per_day = Counter(local.date() for local in local_starts)
    assert len(per_day) == 10  # ten weekdays
    assert set(per_day.values()) == {17}  # 8:00 … 16:00 every half hour, on both sides of the change
    assert {local.strftime("%H:%M") for local in local_starts} == {
        f"{hour:02d}:{minute:02d}" for hour in range(8, 17) for minute in (0, 30) if (hour, minute) != (16, 30)
    }
    assert all(slot.ends_at - slot.starts_at == timedelta(minutes=60) for slot in slots)


@pytest.mark.parametrize("tz", ["America/New_York", "America/Los_Angeles"])
def test_spring_forward_offers_no_slot_in_the_missing_hour(tz: str) -> None:
    zone = ZoneInfo(tz)
    start, end = week_of(tz, date(2030, 3, 10))
    slots = compute_slots(
        [schedule(tz, SUNDAY_NIGHT)], duration_minutes=30, window_start=start, window_end=end, now=start
    )
    walls = [slot.starts_at.astimezone(zone).strftime("%H:%M") for slot in slots]
    assert "02:00" not in walls
    assert "02:30" not in walls
    assert walls == ["00:00", "00:30", "01:00", "01:30", "03:00", "03:30", "04:00", "04:30", "05:00", "05:30"]
    for slot in slots:
        assert wall_time_exists(slot.starts_at.astimezone(zone).replace(tzinfo=None), zone)


@pytest.mark.parametrize("tz", ["America/New_York", "America/Los_Angeles"])
def test_fall_back_offers_the_repeated_hour_once(tz: str) -> None:
    zone = ZoneInfo(tz)
    start, end = week_of(tz, date(2030, 11, 3))
    slots = compute_slots(
        [schedule(tz, SUNDAY_NIGHT)], duration_minutes=30, window_start=start, window_end=end, now=start
    )
    walls = [slot.starts_at.astimezone(zone).strftime("%H:%M") for slot in slots]
    assert walls == [f"{hour:02d}:{minute:02d}" for hour in range(6) for minute in (0, 30)]
    assert len(set(walls)) == len(walls)
    assert len({slot.starts_at for slot in slots}) == len(slots)
    # The 06:00 end is local: the night shift is 7 real hours long that day, and the last slot still ends by 06:00.
    assert slots[-1].ends_at.astimezone(zone).strftime("%H:%M") == "06:00"


def test_busy_block_hides_exactly_the_slots_it_overlaps() -> None:
    tz = "America/New_York"
    zone = ZoneInfo(tz)
    start, end = week_of(tz, date(2030, 1, 7))
    free = compute_slots([schedule(tz)], duration_minutes=60, window_start=start, window_end=end, now=start)
    busy = Interval(
        datetime(2030, 1, 8, 10, tzinfo=zone).astimezone(UTC), datetime(2030, 1, 8, 11, tzinfo=zone).astimezone(UTC)
    )
    blocked = compute_slots(
        [schedule(tz, busy=(busy,))], duration_minutes=60, window_start=start, window_end=end, now=start
    )
    removed = set(free) - set(blocked)
    assert set(blocked) <= set(free)
    assert {slot.starts_at.astimezone(zone).strftime("%a %H:%M") for slot in removed} == {
        "Tue 09:30",
        "Tue 10:00",
        "Tue 10:30",
    }


def test_buffer_and_lead_time_and_days_off() -> None:
    tz = "America/New_York"
    zone = ZoneInfo(tz)
    start, end = week_of(tz, date(2030, 1, 7))
    now = datetime(2030, 1, 7, 9, 10, tzinfo=zone).astimezone(UTC)
    busy = Interval(
        datetime(2030, 1, 7, 13, tzinfo=zone).astimezone(UTC), datetime(2030, 1, 7, 14, tzinfo=zone).astimezone(UTC)
    )
    sched = schedule(tz, busy=(busy,), buffer_minutes=30, min_lead_minutes=120, days_off=frozenset({date(2030, 1, 8)}))
    slots = compute_slots([sched], duration_minutes=60, window_start=start, window_end=end, now=now)
    monday = [slot.starts_at.astimezone(zone).strftime("%H:%M") for slot in slots if slot.starts_at.day == 7]
    # Lead time: nothing before 11:10, so 11:30 is first; buffer: 12:00-14:30 is padded away around 13-14.
    assert monday == ["11:30", "14:30", "15:00", "15:30", "16:00"]
    assert not [slot for slot in slots if slot.starts_at.astimezone(zone).date() == date(2030, 1, 8)]


def test_split_shift_and_preferences() -> None:
    tz = "America/Los_Angeles"
    zone = ZoneInfo(tz)
    shifts = (Shift(3, time(8), time(11)), Shift(3, time(14), time(18)), Shift(4, time(8), time(12)))
    start, end = week_of(tz, date(2030, 1, 7))
    all_slots = compute_slots(
        [schedule(tz, shifts)], duration_minutes=60, window_start=start, window_end=end, now=start
    )
    walls = [slot.starts_at.astimezone(zone).strftime("%a %H:%M") for slot in all_slots]
    assert "Thu 10:30" not in walls  # would run past the 11:00 end of the first shift
    assert "Thu 11:00" not in walls
    assert "Thu 13:00" not in walls
    after3 = compute_slots(
        [schedule(tz, shifts)],
        duration_minutes=60,
        window_start=start,
        window_end=end,
        now=start,
        preference=parse_preference("any time after 3pm"),
    )
    assert [s.starts_at.astimezone(zone).strftime("%a %H:%M") for s in after3] == [
        "Thu 15:00",
        "Thu 15:30",
        "Thu 16:00",
        "Thu 16:30",
        "Thu 17:00",
    ]
    mornings_thursday = parse_preference("thursday mornings")
    assert mornings_thursday == Preference(latest_local=time(12), weekdays=frozenset({3}))
    slots = compute_slots(
        [schedule(tz, shifts)],
        duration_minutes=60,
        window_start=start,
        window_end=end,
        now=start,
        preference=mornings_thursday,
    )
    assert [s.starts_at.astimezone(zone).strftime("%a %H:%M") for s in slots] == [
        "Thu 08:00",
        "Thu 08:30",
        "Thu 09:00",
        "Thu 09:30",
        "Thu 10:00",
    ]


def test_slots_across_resources_are_ordered_and_distinct_by_time() -> None:
    tz = "America/New_York"
    start, end = week_of(tz, date(2030, 1, 7))
    zone = ZoneInfo(tz)
    busy = Interval(
        datetime(2030, 1, 7, 8, tzinfo=zone).astimezone(UTC), datetime(2030, 1, 7, 9, tzinfo=zone).astimezone(UTC)
    )
    first = ResourceSchedule(RID, tz, WEEKDAYS_8_TO_5, busy=(busy,))
    second = ResourceSchedule(RID2, tz, WEEKDAYS_8_TO_5)
    slots = compute_slots([first, second], duration_minutes=60, window_start=start, window_end=end, now=start, limit=4)
    assert [slot.starts_at.astimezone(zone).strftime("%H:%M") for slot in slots] == ["08:00", "08:30", "09:00", "09:30"]
    assert [slot.resource_id for slot in slots] == [RID2, RID2, RID, RID]


def test_parse_preference_reads_common_phrasings() -> None:
    today = date(2030, 1, 7)
    assert parse_preference("mornings work best") == Preference(latest_local=time(12))
    assert parse_preference("after 3pm") == Preference(earliest_local=time(15))
    assert parse_preference("after 3") == Preference(earliest_local=time(15))
    assert parse_preference("before 10am please") == Preference(latest_local=time(10))
    assert parse_preference("on Thursday") == Preference(weekdays=frozenset({3}))
    assert parse_preference("tomorrow afternoon", today=today) == Preference(
        earliest_local=time(12), latest_local=time(17), dates=frozenset({date(2030, 1, 8)})
    )
    assert parse_preference("yes that works") is None


# --- properties ----------------------------------------------------------------------------------------------

ZONES = ["America/New_York", "America/Los_Angeles", "Europe/London", "Australia/Lord_Howe", "UTC"]
quarter_hours = st.integers(min_value=0, max_value=95).map(lambda n: time(n // 4, (n % 4) * 15))


@st.composite
def shifts_strategy(draw: st.DrawFn) -> tuple[Shift, ...]:
    found = []
    for weekday in draw(st.sets(st.integers(0, 6), min_size=1, max_size=7)):
        a, b = draw(quarter_hours), draw(quarter_hours)
        if a == b:
            continue
        found.append(Shift(weekday, min(a, b), max(a, b)))
    return tuple(found) or (Shift(0, time(8), time(17)),)


@st.composite
def scenario(draw: st.DrawFn) -> tuple[ResourceSchedule, datetime, datetime, datetime, int]:
    tz = draw(st.sampled_from(ZONES))
    # Windows around the 2030 transitions and ordinary weeks.
    anchor = draw(
        st.sampled_from(
            [
                datetime(2030, 3, 8, tzinfo=UTC),
                datetime(2030, 11, 1, tzinfo=UTC),
                datetime(2030, 3, 29, tzinfo=UTC),
                datetime(2030, 10, 4, tzinfo=UTC),
                datetime(2030, 6, 10, tzinfo=UTC),
            ]
        )
    )
    window_start = anchor + timedelta(minutes=draw(st.integers(0, 3 * 24 * 60)))
    window_end = window_start + timedelta(hours=draw(st.integers(1, 24 * 5)))
    now = window_start - timedelta(minutes=draw(st.integers(0, 600)))
    busy = tuple(
        Interval(s, s + timedelta(minutes=length))
        for s, length in draw(
            st.lists(
                st.tuples(
                    st.integers(-600, 7 * 24 * 60).map(lambda m: window_start + timedelta(minutes=m)),
                    st.integers(1, 600),
                ),
                max_size=12,
            )
        )
    )
    sched = ResourceSchedule(
        resource_id=RID,
        timezone=tz,
        shifts=draw(shifts_strategy()),
        busy=busy,
        buffer_minutes=draw(st.sampled_from([0, 10, 15, 30])),
        min_lead_minutes=draw(st.sampled_from([0, 60, 240])),
        slot_step_minutes=draw(st.sampled_from([15, 30, 45, 60])),
    )
    return sched, window_start, window_end, now, draw(st.sampled_from([15, 30, 60, 90, 120, 480]))


@settings(max_examples=150, deadline=None)
@given(scenario())
def test_no_offered_slot_overlaps_busy_and_every_slot_is_inside_working_hours(
    case: tuple[ResourceSchedule, datetime, datetime, datetime, int],
) -> None:
    sched, window_start, window_end, now, duration = case
    zone = ZoneInfo(sched.timezone)
    pad = timedelta(minutes=sched.buffer_minutes)
    slots = compute_slots([sched], duration_minutes=duration, window_start=window_start, window_end=window_end, now=now)
    assert slots == sorted(slots, key=lambda slot: slot.starts_at)
    for slot in slots:
        assert slot.ends_at - slot.starts_at == timedelta(minutes=duration)
        for busy in sched.busy:
            assert not (slot.starts_at < busy.end + pad and busy.start - pad < slot.ends_at), (slot, busy)
        assert within_working_hours(slot, sched)
        local = slot.starts_at.astimezone(zone)
        assert wall_time_exists(local.replace(tzinfo=None), zone)
        assert local.fold == 0
        assert slot.starts_at >= max(window_start, now + timedelta(minutes=sched.min_lead_minutes))
        assert slot.ends_at <= window_end


def test_per_date_hours_replace_the_weekly_hours_of_that_date_only() -> None:
    tz = "America/New_York"
    monday = date(2030, 1, 7)
    saturday = monday + timedelta(days=5)
    sched = schedule(
        tz,
        date_shifts=(
            DayShift(monday, time(13), time(15)),  # a short Monday
            DayShift(saturday, time(9), time(10)),  # a Saturday opening
        ),
    )
    start, end = week_of(tz, monday)
    slots = compute_slots([sched], duration_minutes=60, window_start=start, window_end=end, now=start)
    local = [slot.starts_at.astimezone(ZoneInfo(tz)) for slot in slots]
    mondays = [moment.time() for moment in local if moment.date() == monday]
    assert mondays == [time(13), time(13, 30), time(14)]
    assert [moment.time() for moment in local if moment.date() == saturday] == [time(9)]
    tuesday = [moment.time() for moment in local if moment.date() == monday + timedelta(days=1)]
    assert (tuesday[0], tuesday[-1]) == (time(8), time(16))  # the weekly hours still hold on other days
    assert not within_working_hours(
        Slot(RID, datetime.combine(monday, time(9), tzinfo=ZoneInfo(tz)).astimezone(UTC),
             datetime.combine(monday, time(10), tzinfo=ZoneInfo(tz)).astimezone(UTC)),
        sched,
    )  # fmt: skip
    assert all(within_working_hours(slot, sched) for slot in slots)


def test_a_day_off_wins_over_per_date_hours() -> None:
    tz = "UTC"
    monday = date(2030, 1, 7)
    sched = schedule(tz, date_shifts=(DayShift(monday, time(9), time(12)),), days_off=frozenset({monday}))
    start, end = week_of(tz, monday)
    slots = compute_slots([sched], duration_minutes=60, window_start=start, window_end=end, now=start)
    assert all(slot.starts_at.date() != monday for slot in slots)
