"""Pure availability: weekly working hours in a local IANA zone, minus busy intervals, give bookable slots.

No database and no clock here: the service loads the facts and passes ``now`` in, so this is property-testable.

DST rules: candidate start times are stepped in *local wall-clock* time from the shift start, so working hours stay
local all year; a wall time that does not exist (the spring-forward gap) is never offered, and a wall time that
occurs twice (the fall-back hour) is offered once, at its first occurrence. A slot lasts its real duration.
"""

from __future__ import annotations

import bisect
import heapq
import re
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


@dataclass(frozen=True)
class Shift:
    """One weekly shift in local time; ``weekday`` 0 = Monday … 6 = Sunday. Several per day make a split shift."""

    weekday: int
    starts_local: time
    ends_local: time


@dataclass(frozen=True)
class DayShift:
    """Hours on one local date. A date with any replaces its weekday's weekly shifts (several make a split shift)."""

    day: date
    starts_local: time
    ends_local: time


@dataclass(frozen=True)
class Interval:
    """A half-open UTC interval ``[start, end)``."""

    start: datetime
    end: datetime


@dataclass(frozen=True)
class ResourceSchedule:
    resource_id: uuid.UUID
    timezone: str
    shifts: tuple[Shift, ...]
    busy: tuple[Interval, ...] = ()
    days_off: frozenset[date] = frozenset()
    buffer_minutes: int = 0
    min_lead_minutes: int = 0
    slot_step_minutes: int = 30
    date_shifts: tuple[DayShift, ...] = ()

    def shifts_on(self, day: date) -> list[Shift]:
        """The shifts worked on a local date, earliest first: its per-date hours if it has any, else its weekday's
        weekly hours; none on a day off."""
        if day in self.days_off:
            return []
        special = [Shift(day.weekday(), s.starts_local, s.ends_local) for s in self.date_shifts if s.day == day]
        chosen = special if special else [shift for shift in self.shifts if shift.weekday == day.weekday()]
        return sorted(chosen, key=lambda shift: shift.starts_local)


@dataclass(frozen=True)
class Slot:
    resource_id: uuid.UUID
    starts_at: datetime
    ends_at: datetime


@dataclass(frozen=True)
class Preference:
    """A caller's wish, applied to the slot's local start time: ``earliest <= start < latest``, on given days."""

    earliest_local: time | None = None
    latest_local: time | None = None
    weekdays: frozenset[int] | None = None
    dates: frozenset[date] | None = None

    def accepts(self, local_start: datetime) -> bool:
        wall = local_start.time()
        if self.earliest_local is not None and wall < self.earliest_local:
            return False
        if self.latest_local is not None and wall >= self.latest_local:
            return False
        if self.weekdays is not None and local_start.weekday() not in self.weekdays:
            return False
        return self.dates is None or local_start.date() in self.dates


def local_to_utc(day: date, wall: time, tz: ZoneInfo, *, earliest: bool = True) -> datetime:
    """The UTC instant of a local wall time; for an ambiguous or missing wall time, the earlier (or later) reading."""
    readings = [datetime.combine(day, wall, tzinfo=tz).replace(fold=fold).astimezone(UTC) for fold in (0, 1)]
    return min(readings) if earliest else max(readings)


def wall_time_exists(wall: datetime, tz: ZoneInfo) -> bool:
    """False inside the spring-forward gap (the wall time does not survive a round trip through UTC)."""
    aware = wall.replace(tzinfo=tz)
    return aware.astimezone(UTC).astimezone(tz).replace(tzinfo=None) == wall


def merge_intervals(intervals: Iterable[Interval], pad: timedelta = timedelta(0)) -> list[Interval]:
    merged: list[Interval] = []
    for item in sorted(intervals, key=lambda interval: interval.start):
        start, end = item.start - pad, item.end + pad
        if merged and start <= merged[-1].end:
            if end > merged[-1].end:
                merged[-1] = Interval(merged[-1].start, end)
        else:
            merged.append(Interval(start, end))
    return merged


class _BusyIndex:
    """Merged, sorted busy intervals answering "does [start, end) overlap anything?" by bisection."""

    def __init__(self, intervals: Iterable[Interval], pad: timedelta) -> None:
        merged = merge_intervals(intervals, pad)
        self.starts = [interval.start for interval in merged]
        self.ends = [interval.end for interval in merged]

    def overlaps(self, start: datetime, end: datetime) -> bool:
        # The last interval starting before `end` is the only candidate: merged intervals are disjoint and sorted.
        index = bisect.bisect_left(self.starts, end) - 1
        return index >= 0 and self.ends[index] > start


def resource_slots(
    schedule: ResourceSchedule,
    *,
    duration_minutes: int,
    window_start: datetime,
    window_end: datetime,
    now: datetime,
    preference: Preference | None = None,
) -> Iterator[Slot]:
    """Bookable slots of one resource, earliest first."""
    tz = ZoneInfo(schedule.timezone)
    duration = timedelta(minutes=duration_minutes)
    step = timedelta(minutes=schedule.slot_step_minutes)
    earliest = max(window_start, now + timedelta(minutes=schedule.min_lead_minutes))
    busy = _BusyIndex(schedule.busy, timedelta(minutes=schedule.buffer_minutes))
    by_weekday: dict[int, list[Shift]] = {}
    for shift in sorted(schedule.shifts, key=lambda item: item.starts_local):
        by_weekday.setdefault(shift.weekday, []).append(shift)
    special_days = {shift.day for shift in schedule.date_shifts}

    day = earliest.astimezone(tz).date()
    last_day = window_end.astimezone(tz).date()
    while day <= last_day:
        if day not in schedule.days_off:
            shifts = schedule.shifts_on(day) if day in special_days else by_weekday.get(day.weekday(), ())
            for shift in shifts:
                yield from _shift_slots(
                    schedule.resource_id, day, shift, tz, duration, step, earliest, window_end, busy, preference
                )
        day += timedelta(days=1)


def _shift_slots(
    resource_id: uuid.UUID,
    day: date,
    shift: Shift,
    tz: ZoneInfo,
    duration: timedelta,
    step: timedelta,
    earliest: datetime,
    window_end: datetime,
    busy: _BusyIndex,
    preference: Preference | None,
) -> Iterator[Slot]:
    # An ambiguous or missing shift end is read at its earlier instant, so no slot runs past any reading of it.
    shift_end = local_to_utc(day, shift.ends_local, tz, earliest=True)
    fast = _steady_offset(day, shift, tz)
    if fast is not None:
        yield from _steady_shift_slots(
            resource_id, day, shift, fast, shift_end, duration, step, earliest, window_end, busy, preference
        )
        return
    wall = datetime.combine(day, shift.starts_local)
    wall_end = datetime.combine(day, shift.ends_local)
    while wall < wall_end:
        if wall_time_exists(wall, tz):
            local = wall.replace(tzinfo=tz)  # fold=0: the first occurrence of a repeated wall time
            start = local.astimezone(UTC)
            end = start + duration
            if end > shift_end or end > window_end:
                return
            if (
                start >= earliest
                and (preference is None or preference.accepts(local))
                and not busy.overlaps(start, end)
            ):
                yield Slot(resource_id, start, end)
        wall += step


def _steady_offset(day: date, shift: Shift, tz: ZoneInfo) -> timedelta | None:
    """The UTC offset of the whole shift when no DST change touches it (every reading of both ends agrees)."""
    offsets = {
        datetime.combine(day, wall, tzinfo=tz).replace(fold=fold).utcoffset()
        for wall in (shift.starts_local, shift.ends_local)
        for fold in (0, 1)
    }
    if len(offsets) != 1:
        return None
    offset = offsets.pop()
    return offset


def _steady_shift_slots(
    resource_id: uuid.UUID,
    day: date,
    shift: Shift,
    offset: timedelta,
    shift_end: datetime,
    duration: timedelta,
    step: timedelta,
    earliest: datetime,
    window_end: datetime,
    busy: _BusyIndex,
    preference: Preference | None,
) -> Iterator[Slot]:
    # The common case, on plain arithmetic: with one offset all shift long, local wall steps are UTC steps.
    start = datetime.combine(day, shift.starts_local, tzinfo=UTC) - offset
    last_start = min(shift_end, window_end) - duration
    if start < earliest:
        start += step * -((start - earliest) // step)  # the first step at or after `earliest`
    starts, ends = busy.starts, busy.ends
    index = bisect.bisect_right(ends, start)  # the first busy interval still running at `start`
    while start <= last_start:
        end = start + duration
        while index < len(ends) and ends[index] <= start:
            index += 1
        if not (index < len(starts) and starts[index] < end) and (
            preference is None or preference.accepts((start + offset).replace(tzinfo=None))
        ):
            yield Slot(resource_id, start, end)
        start += step


def compute_slots(
    schedules: Sequence[ResourceSchedule],
    *,
    duration_minutes: int,
    window_start: datetime,
    window_end: datetime,
    now: datetime,
    preference: Preference | None = None,
    limit: int | None = None,
    distinct_times: bool = True,
) -> list[Slot]:
    """Open slots across resources, ordered by start time (ties: the order of ``schedules``).

    With ``distinct_times`` one slot per start time is offered (a caller does not care which technician comes).
    """

    def slots_of(schedule: ResourceSchedule) -> Iterator[Slot]:
        return resource_slots(
            schedule,
            duration_minutes=duration_minutes,
            window_start=window_start,
            window_end=window_end,
            now=now,
            preference=preference,
        )

    if limit is not None:
        # Lazily: the few earliest slots are found without generating the whole window.
        merged = heapq.merge(*(_ranked(rank, slots_of(schedule)) for rank, schedule in enumerate(schedules)))
        slots: list[Slot] = []
        last_start: datetime | None = None
        for _start, _rank, _seq, slot in merged:
            if distinct_times and slot.starts_at == last_start:
                continue
            slots.append(slot)
            last_start = slot.starts_at
            if len(slots) >= limit:
                break
        return slots
    if not distinct_times:
        every = list(dict.fromkeys(slot for schedule in schedules for slot in slots_of(schedule)))
        rank = {schedule.resource_id: index for index, schedule in enumerate(schedules)}
        return sorted(every, key=lambda slot: (slot.starts_at, rank[slot.resource_id]))
    first_by_time: dict[datetime, Slot] = {}
    for schedule in schedules:
        for slot in slots_of(schedule):
            first_by_time.setdefault(slot.starts_at, slot)
    return [first_by_time[start] for start in sorted(first_by_time)]


def _ranked(rank: int, slots: Iterator[Slot]) -> Iterator[tuple[datetime, int, int, Slot]]:
    # (start, resource rank, sequence) orders the merge without ever comparing two Slot objects.
    for seq, slot in enumerate(slots):
        yield slot.starts_at, rank, seq, slot


def within_working_hours(slot: Slot, schedule: ResourceSchedule) -> bool:
    """Does the slot lie inside one shift of its local day (and not on a day off)? Used to validate requests."""
    tz = ZoneInfo(schedule.timezone)
    local_start = slot.starts_at.astimezone(tz)
    day = local_start.date()
    for shift in schedule.shifts_on(day):
        # The start compares as wall time (a shift "from 02:15" on spring-forward day begins when clocks jump
        # to 03:00); the end as the earliest instant that wall time names.
        shift_end = local_to_utc(day, shift.ends_local, tz, earliest=True)
        if shift.starts_local <= local_start.time() and slot.ends_at <= shift_end:
            return True
    return False


# --- caller preferences ------------------------------------------------------------------------------------

_WEEKDAY_PATTERNS = {
    0: r"mon(day)?s?",
    1: r"tues?(day)?s?",
    2: r"wed(nesday)?s?",
    3: r"thu(rs?)?(day)?s?",
    4: r"fri(day)?s?",
    5: r"sat(urday)?s?",
    6: r"sun(day)?s?",
}
_CLOCK = r"(?:(?P<hour>\d{1,2})(?::(?P<minute>\d{2}))?\s*(?P<meridiem>am|pm|a\.m\.|p\.m\.)?\b|(?P<noon>noon))"
_AFTER = re.compile(rf"\b(?:after|from|later than)\s+{_CLOCK}")
_BEFORE = re.compile(rf"\b(?:before|earlier than)\s+{_CLOCK}")


def _clock(match: re.Match[str]) -> time:
    if match.group("noon"):
        return time(12)
    hour, minute = int(match.group("hour")), int(match.group("minute") or 0)
    meridiem = (match.group("meridiem") or "").replace(".", "")
    if meridiem == "pm" and hour < 12:
        hour += 12
    elif meridiem == "am" and hour == 12:
        hour = 0
    elif not meridiem and 1 <= hour <= 6:
        hour += 12  # "after 3" at a plumber means 3 pm
    return time(min(hour, 23), min(minute, 59))


def parse_preference(text: str, *, today: date | None = None) -> Preference | None:
    """Read "mornings", "after 3pm", "before 10", "on Thursday", "tomorrow", "weekend"; None when nothing is said."""
    lowered = text.lower()
    earliest: time | None = None
    latest: time | None = None
    if re.search(r"\bmornings?\b", lowered):
        latest = time(12)
    if re.search(r"\bafternoons?\b", lowered):
        earliest, latest = time(12), time(17)
    if re.search(r"\b(evenings?|tonight)\b", lowered):
        earliest = time(17)
    if after := _AFTER.search(lowered):
        earliest = _clock(after)
    if before := _BEFORE.search(lowered):
        latest = _clock(before)

    weekdays = {day for day, pattern in _WEEKDAY_PATTERNS.items() if re.search(rf"\b{pattern}\b", lowered)}
    if re.search(r"\bweekends?\b", lowered):
        weekdays |= {5, 6}
    if re.search(r"\bweekdays?\b", lowered):
        weekdays |= {0, 1, 2, 3, 4}
    dates: set[date] = set()
    if today is not None:
        if re.search(r"\btoday\b", lowered) or "tonight" in lowered:
            dates.add(today)
        if re.search(r"\btomorrow\b", lowered):
            dates.add(today + timedelta(days=1))
    if earliest is None and latest is None and not weekdays and not dates:
        return None
    return Preference(
        earliest_local=earliest,
        latest_local=latest,
        weekdays=frozenset(weekdays) or None,
        dates=frozenset(dates) or None,
    )


def describe_slot(slot: Slot, timezone: str) -> str:
    """Human wording for an SMS, e.g. "Thu Mar 12, 3:00 PM"."""
    local = slot.starts_at.astimezone(ZoneInfo(timezone))
    return local.strftime("%a %b %-d, %-I:%M %p")
