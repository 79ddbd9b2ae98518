"""SMS-style date and time phrases ("tmrw at 3", "thu morning", "next week", "asap", "after 5") resolved into a
:class:`SlotPreference` in the tenant's time zone.

Arithmetic is done on local calendar dates and wall-clock times, then converted to UTC, so "tomorrow at 3" is 3 PM
local on the next calendar day even across a DST change. A phrase without a day means the next time that window
is still ahead of ``now``; the earliest bound is never in the past.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Literal
from zoneinfo import ZoneInfo

from rapidfuzz.distance import DamerauLevenshtein

from domain.conversations.engine.ports import PartOfDay, SlotPreference

WEEKDAYS: dict[str, int] = {
    "mon": 0, "monday": 0, "mondays": 0,
    "tue": 1, "tues": 1, "tuesday": 1, "tuesdays": 1,
    "wed": 2, "weds": 2, "wednesday": 2, "wednesdays": 2, "wensday": 2, "wedensday": 2,
    "thu": 3, "thur": 3, "thurs": 3, "thursday": 3, "thursdays": 3, "thrusday": 3,
    "fri": 4, "friday": 4, "fridays": 4, "firday": 4,
    "sat": 5, "saturday": 5, "saturdays": 5,
    "sun": 6, "sunday": 6, "sundays": 6,
}  # fmt: skip
MONTHS: dict[str, int] = {
    "jan": 1, "january": 1, "feb": 2, "february": 2, "mar": 3, "march": 3, "apr": 4, "april": 4, "may": 5,
    "jun": 6, "june": 6, "jul": 7, "july": 7, "aug": 8, "august": 8, "sep": 9, "sept": 9, "september": 9,
    "oct": 10, "october": 10, "nov": 11, "november": 11, "dec": 12, "december": 12,
}  # fmt: skip
PARTS: dict[PartOfDay, tuple[int, int]] = {"morning": (0, 12), "afternoon": (12, 17), "evening": (17, 24)}

_TOMORROW = r"(?:tomorrow|tmrw|tmr|tmrow|tmro|tomorow|tommorow|tommorrow|tomorro|2morrow|2moro|2mrw|tmw)"
_WEEKDAY = "|".join(sorted(WEEKDAYS, key=len, reverse=True))
_MONTH = "|".join(sorted(MONTHS, key=len, reverse=True))

_ASAP = re.compile(
    r"\b(?:asap|a\.s\.a\.p|as soon as (?:possible|you can|u can)|right away|right now|immediately|soonest|"
    r"earliest|first available|next available|emergency|urgent|whenever|any ?time|any day)\b"
)
_DAY_AFTER = re.compile(rf"\bday after {_TOMORROW}\b")
_TOMORROW_RE = re.compile(rf"\b{_TOMORROW}\b")
_TODAY = re.compile(r"\b(?:today|tonight|tonite|this (?:morning|afternoon|evening)|later today)\b")
_NEXT_WEEK = re.compile(r"\bnext week\b")
_THIS_WEEK = re.compile(r"\b(?:this week|later this week)\b")
_WEEKEND = re.compile(r"\b(?:(next|this) )?(?:weekend|wknd)\b")
_WEEKDAY_RE = re.compile(rf"\b(?:(next|this|on|coming) )?({_WEEKDAY})\b")
_WEEKDAY_OR = re.compile(rf"\b({_WEEKDAY}) (?:or|and|/) ({_WEEKDAY})\b")
_NUMERIC_DATE = re.compile(r"\b(\d{1,2})/(\d{1,2})\b")
_MONTH_DATE = re.compile(rf"\b({_MONTH})\.? (\d{{1,2}})(?:st|nd|rd|th)?\b")
_ORDINAL_DAY = re.compile(r"\bthe (\d{1,2})(?:st|nd|rd|th)\b")
_DAY_OF_MONTH = re.compile(rf"\b(\d{{1,2}})(?:st|nd|rd|th)? of ({_MONTH})\b")
_IN_DAYS = re.compile(r"\bin (\d|a couple(?: of)?|a few|two|three) days?\b")
_CLOCK = re.compile(
    r"(?:\b(after|before|by|around|about|at|@)\s*|\b)"
    r"(\d{1,2})(?::(\d{2}))?\s*(a\.?m\.?|p\.?m\.?|a|p)?(?![\w/:$])"
)
_NOON = re.compile(r"\b(?:(after|before|by|around|at) )?(noon|midday|lunch ?time|lunch)\b")
_PART = re.compile(
    r"\b(morning|mornings|am|afternoon|afternoons|arvo|evening|evenings|tonight|tonite|night|first thing)\b"
)

Relation = Literal["at", "after", "before"]

# Spanish time phrases, rewritten into the English ones the parser reads (on folded text: "mañana" is "manana").
# "mañana" is both "tomorrow" and "morning": after "la", "esta" or "de la" it is the part of the day.
_ES_WEEKDAYS = {
    "lunes": "monday", "martes": "tuesday", "miercoles": "wednesday", "jueves": "thursday", "viernes": "friday",
    "sabado": "saturday", "domingo": "sunday",
}  # fmt: skip
_ES_MONTHS = {
    "enero": "january", "febrero": "february", "marzo": "march", "abril": "april", "mayo": "may", "junio": "june",
    "julio": "july", "agosto": "august", "septiembre": "september", "setiembre": "september", "octubre": "october",
    "noviembre": "november", "diciembre": "december",
}  # fmt: skip
_ES_NUMBERS = {"una": "1", "dos": "2", "tres": "3", "cuatro": "4", "cinco": "5", "seis": "6", "siete": "7",
               "ocho": "8", "nueve": "9", "diez": "10", "once": "11", "doce": "12"}  # fmt: skip
_ES_COUNTS = {"un": "a", "una": "a", "dos": "two", "tres": "three", "unos": "a few", "unas": "a few",
              "varios": "several", "varias": "several"}  # fmt: skip
_ES_DAY = "|".join(_ES_WEEKDAYS)
_ES_NUMBER = "|".join(_ES_NUMBERS)
_SPANISH: tuple[tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]], ...] = tuple(
    (re.compile(pattern), replacement)
    for pattern, replacement in (
        # when the problem started ("desde ayer", "hace dos dias") is not a wish
        (r"\bdesde hace\b", "for"),
        (
            r"\bhace (\d+|un|una|dos|tres|unos|unas|varios|varias) (dias?|horas?|semanas?|meses|mes)\b",
            lambda m: f"for {_ES_COUNTS.get(m.group(1), m.group(1))} {m.group(2)}",
        ),
        (r"\bdesde\b", "since"),
        (r"\bayer\b", "yesterday"),
        (r"\bdias\b", "days"),
        (r"\bdia\b", "day"),
        (r"\bhoras\b", "hours"),
        (r"\bsemanas\b", "weeks"),
        # as soon as possible
        (
            r"\b(?:lo (?:mas )?(?:antes|pronto|temprano) (?:posible|que (?:se )?pueda)|cuanto antes|lo mas pronto|"
            r"ya mismo|ahorita|ahora mismo|de inmediato|inmediatamente|la primera (?:hora |cita )?disponible|"
            r"cuando sea|cuando puedan|cualquier (?:dia|hora|momento)|urgente|emergencia)\b",
            "asap",
        ),
        # clock words: "a las 3 de la tarde", "despues de las 5", "no antes de las 10", "mediodia"
        (
            rf"\b({_ES_NUMBER})\b(?= (?:de la (?:manana|tarde|noche)|y media|en punto))",
            lambda m: _ES_NUMBERS[m.group(1)],
        ),
        (rf"\b(?:a|de|para) las? ({_ES_NUMBER})\b", lambda m: "at " + _ES_NUMBERS[m.group(1)]),
        (r"\b(\d{1,2}) y media\b", r"\1:30"),
        (r"\b(\d{1,2}) y cuarto\b", r"\1:15"),
        (r"\ben punto\b", ""),
        (r"\b(\d{1,2}(?::\d{2})?) de la (?:manana|madrugada)\b", r"\1 am"),
        (r"\b(\d{1,2}(?::\d{2})?) de la (?:tarde|noche)\b", r"\1 pm"),
        (r"\b(?:al |a )?medio ?dia\b", "noon"),
        (r"\b(?:(no) )?antes (?:de |del )(?:las? )?(?=\d|noon)", r"\1 before "),
        (r"\b(?:(no) )?(?:despues|mas tarde) (?:de |del )(?:las? )?(?=\d|noon)", r"\1 after "),
        (r"\b(?:como a|alrededor de|tipo|como) las? (?=\d)", "around "),
        (r"\b(?:a|para|de) las? (?=\d)", "at "),
        (r"\b(\d{1,2}(?::\d{2})?) (a|p)\.? ?m\b\.?", r"\1 \2m"),
        # days
        (r"\bpasado manana\b", "day after tomorrow"),
        (r"\besta manana\b", "this morning"),
        (r"\besta tarde\b", "this afternoon"),
        (r"\besta noche\b", "tonight"),
        (r"\b(?:por|en|de|a) la manana\b|\bla manana\b|\btemprano\b|\bprimera hora\b", "morning"),
        (r"\b(?:por|en|de|a) la tarde\b|\bla tarde\b", "afternoon"),
        (r"\b(?:por|en|de|a) la noche\b|\bla noche\b", "evening"),
        (r"\bmanana\b", "tomorrow"),
        (r"\bhoy\b", "today"),
        (
            rf"\b(?:el |este )?(?:proximo|siguiente) ({_ES_DAY})\b"
            rf"|\b(?:el )?({_ES_DAY}) (?:que viene|proximo|siguiente)\b",
            lambda m: "next " + _ES_WEEKDAYS[m.group(1) or m.group(2)],
        ),
        (rf"\b(?:este|el|los|para el|para este) ({_ES_DAY})\b", lambda m: "on " + _ES_WEEKDAYS[m.group(1)]),
        (
            rf"\b({_ES_DAY}) (?:o|y) ({_ES_DAY})\b",
            lambda m: f"{_ES_WEEKDAYS[m.group(1)]} or {_ES_WEEKDAYS[m.group(2)]}",
        ),
        (rf"\b({_ES_DAY})\b", lambda m: _ES_WEEKDAYS[m.group(1)]),
        (r"\b(?:la |el )?(?:(?:proxima|siguiente) semana|semana (?:que viene|proxima|siguiente))\b", "next week"),
        (r"\b(?:(?:el |este )?fin de semana (?:que viene|proximo)|(?:el )?proximo fin de semana)\b", "next weekend"),
        (r"\b(?:este |el )?fin de semana\b|\bfinde\b", "weekend"),
        (r"\besta semana\b", "this week"),
        (r"\ben (\d|un par de|unos|dos|tres) (?:days?)\b", r"in \1 days"),
        (rf"\b(?:el )?(\d{{1,2}}) de ({'|'.join(_ES_MONTHS)})\b", lambda m: f"{_ES_MONTHS[m.group(2)]} {m.group(1)}"),
    )
)
_HAS_SPANISH = re.compile(
    rf"\b(?:manana|hoy|tarde|noche|medio ?dia|mediodia|{_ES_DAY}|semana|las?|desde|hace|ayer|antes|despues|"
    r"posible|pronto|ahorita|ahora|cuando|cualquier|urgente|emergencia|temprano|primera|fin de|\d (?:a|p)\.|"
    rf"{'|'.join(_ES_MONTHS)})"
)


# The words of a time wish a caller may mistype ("aftrnoon", "mornin", "wensday"): each is read as the word it is one
# slip away from (two in a long word), with the first letter right. Shorter words ("noon", "today") are left alone.
_TIME_WORDS = (
    "morning", "afternoon", "evening", "tonight", "tomorrow", "weekend",
    "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday",
)  # fmt: skip
_KNOWN_WORDS = frozenset(WEEKDAYS) | frozenset(_TIME_WORDS) | {"money", "mourning", "fridge", "sundae", "evenly"}
_LETTERS = re.compile(r"[a-z]{5,}")


@lru_cache(maxsize=8_192)
def _time_word(word: str) -> str:
    if word in _KNOWN_WORDS:
        return word
    for ours in _TIME_WORDS:
        allowed = 1 if len(ours) <= 7 else 2
        if (
            word[0] == ours[0]
            and abs(len(word) - len(ours)) <= allowed
            and DamerauLevenshtein.distance(word, ours, score_cutoff=allowed) <= allowed
        ):
            return ours
    return word


def fix_time_typos(text: str) -> str:
    """``text`` with mistyped day and part-of-day words spelled right ("tmrw aftrnoon" → "tmrw afternoon")."""
    return _LETTERS.sub(lambda match: _time_word(match.group(0)), text)


def canonical(text: str) -> str:
    """``text`` (lowercase, unaccented) with Spanish time phrases in English words: "mañana por la tarde" is read
    like "tomorrow afternoon", "no antes de las 10" like "not before 10"; mistyped English time words are fixed."""
    text = fix_time_typos(text)
    if not _HAS_SPANISH.search(text):
        return text
    for pattern, replacement in _SPANISH:
        text = pattern.sub(replacement, text)
    return re.sub(r"\s+", " ", text).strip()


@dataclass(frozen=True)
class ClockTime:
    hour: int
    minute: int
    relation: Relation


def _local(day: date, at: time, zone: ZoneInfo) -> datetime:
    # Round-tripping through UTC normalises wall times that do not exist (the spring-forward gap).
    return datetime.combine(day, at, tzinfo=zone).astimezone(UTC)


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return _local(day, time(0, 0), zone)


def find_clock(text: str) -> ClockTime | None:
    """A time of day the caller named ("at 3", "3pm", "10:30", "after 5", "noon", "a las 3"), if any."""
    text = without_onset(canonical(text))
    noon = _NOON.search(text)
    for match in _CLOCK.finditer(text):
        word, hour_text, minute_text, meridiem = match.groups()
        if not (word or minute_text or meridiem):
            continue  # a bare number is a choice or a quantity, not a time
        hour, minute = int(hour_text), int(minute_text or 0)
        if hour > 23 or minute > 59 or (meridiem and not 1 <= hour <= 12):
            continue
        if meridiem in ("a", "p") and not (word or minute_text):
            continue  # "2 a" is too thin to be a time
        if meridiem:
            pm = meridiem.startswith("p")
            hour = hour % 12 + (12 if pm else 0)
        elif hour <= 12:
            # Without am/pm, business-hours reading: 7-11 are mornings, 12 is noon, 1-6 afternoons.
            hour = hour if 7 <= hour <= 12 else hour + 12 if 1 <= hour <= 6 else hour
        relation: Relation = "at"
        if word == "after":
            relation = "after"
        elif word in ("before", "by"):
            relation = "before"
        return ClockTime(hour, minute, relation)
    if noon:
        word = noon.group(1)
        relation = "after" if word == "after" else "before" if word in ("before", "by") else "at"
        return ClockTime(12, 0, relation)
    return None


def find_weekday(text: str) -> int | None:
    text = canonical(text)
    match = _WEEKDAY_RE.search(text)
    return WEEKDAYS[match.group(2)] if match else None


def find_part_of_day(text: str) -> PartOfDay | None:
    match = _PART.search(text)
    if not match:
        return None
    word = match.group(1)
    if word.startswith("morning") or word in ("first thing", "am"):
        # A lone "am" is only a part of day when it is not "i am".
        if word == "am" and re.search(r"\b(?:i|we) am\b", text):
            return None
        return "morning"
    if word.startswith("afternoon") or word == "arvo":
        return "afternoon"
    return "evening"


def _explicit_day(text: str, today: date) -> tuple[date | None, tuple[date, date] | None, bool]:
    """(single day, multi-day range [start, end), was-a-weekday-name)."""
    if _DAY_AFTER.search(text):
        return today + timedelta(days=2), None, False
    if _TOMORROW_RE.search(text):
        return today + timedelta(days=1), None, False
    if _TODAY.search(text):
        return today, None, False
    if match := _IN_DAYS.search(text):
        count = {"a couple": 2, "a couple of": 2, "a few": 3, "two": 2, "three": 3}.get(match.group(1))
        return today + timedelta(days=count or int(match.group(1))), None, False
    if match := _NUMERIC_DATE.search(text):
        day = _resolve_month_day(int(match.group(1)), int(match.group(2)), today)
        if day:
            return day, None, False
    if match := _MONTH_DATE.search(text):
        day = _resolve_month_day(MONTHS[match.group(1)], int(match.group(2)), today)
        if day:
            return day, None, False
    if match := _DAY_OF_MONTH.search(text):
        day = _resolve_month_day(MONTHS[match.group(2)], int(match.group(1)), today)
        if day:
            return day, None, False
    if match := _WEEKDAY_OR.search(text):
        # "monday or tuesday": both days, the nearer first.
        first = today + timedelta(days=(WEEKDAYS[match.group(1)] - today.weekday()) % 7)
        second = first + timedelta(days=(WEEKDAYS[match.group(2)] - first.weekday()) % 7)
        if second > first:
            return None, (first, second + timedelta(days=1)), False
    if match := _WEEKDAY_RE.search(text):
        qualifier, name = match.groups()
        ahead = (WEEKDAYS[name] - today.weekday()) % 7
        if qualifier == "next" and ahead == 0:
            ahead = 7
        return today + timedelta(days=ahead), None, True
    if _NEXT_WEEK.search(text):
        start = today + timedelta(days=7 - today.weekday())
        return None, (start, start + timedelta(days=7)), False
    if _THIS_WEEK.search(text):
        return None, (today, today + timedelta(days=7 - today.weekday())), False
    if match := _WEEKEND.search(text):
        saturday = today + timedelta(days=(5 - today.weekday()) % 7)
        if today.weekday() == 6:
            saturday = today - timedelta(days=1)  # on Sunday "this weekend" is what is left of it
        if match.group(1) == "next":
            saturday += timedelta(days=7)
        return None, (max(saturday, today), saturday + timedelta(days=2)), False
    if match := _ORDINAL_DAY.search(text):
        number = int(match.group(1))
        for months_ahead in range(3):
            year, month = today.year + (today.month - 1 + months_ahead) // 12, (today.month - 1 + months_ahead) % 12 + 1
            try:
                candidate = date(year, month, number)
            except ValueError:
                continue
            if candidate >= today:
                return candidate, None, False
    return None, None, False


def _resolve_month_day(month: int, day: int, today: date) -> date | None:
    for year in (today.year, today.year + 1):
        try:
            candidate = date(year, month, day)
        except ValueError:
            return None
        if candidate >= today:
            return candidate
    return None


# When the problem started is not when the caller wants us: "since this morning", "for two days", "came on today".
_ONSET = re.compile(
    r"\b(?:since|ever since)\s+(?:this |last |yesterday|today|[a-z]+day\b|\d)[^,.!?;]*"
    r"|\bfor (?:the )?(?:past |last )?(?:\d+|a|an|one|two|three|four|five|a few|a couple(?: of)?|several) "
    r"(?:hours?|days?|weeks?|months?)\b"
    r"|\b(?:came on|started|began|happened|broke|stopped working|went out|been \w+ing)\s+"
    r"(?:this (?:morning|afternoon|evening)|last night|yesterday|today|earlier(?: today)?)\b"
    r"|\b(?:this morning|last night|yesterday|earlier today) (?:it )?(?:started|began|broke|came on|went out)\b"
)
# Negated bounds say the opposite bound: "not before 10" is "after 10", "no later than 3" is "before 3".
_NEGATED = (
    (re.compile(r"\b(?:not|no) (?:before|earlier than)\b"), "after"),
    (re.compile(r"\b(?:not|no) (?:after|later than)\b"), "before"),
)


def without_onset(text: str) -> str:
    text = _ONSET.sub(" ", text)
    for pattern, replacement in _NEGATED:
        text = pattern.sub(replacement, text)
    return text


def parse_when(text: str, now: datetime, tz: str) -> SlotPreference | None:
    """The caller's timing wish in ``text`` (lowercase SMS words), or None when the text names no time at all."""
    zone = ZoneInfo(tz)
    text = without_onset(canonical(text.lower()))
    local_now = now.astimezone(zone)
    today = local_now.date()
    asap = bool(_ASAP.search(text))
    day, span, by_weekday = _explicit_day(text, today)
    clock = find_clock(text)
    part = find_part_of_day(text)
    if re.search(r"\b(?:tonight|tonite)\b", text):
        part = "evening"
    if day is None and span is None and clock is None and part is None:
        return SlotPreference(earliest=now, asap=True) if asap else None

    if span is not None:
        earliest, latest = _midnight(span[0], zone), _midnight(span[1], zone)
        if clock is not None and clock.relation == "after" and clock.hour >= 17 and part is None:
            part = "evening"
        return SlotPreference(earliest=max(earliest, now), latest=latest, part_of_day=part, asap=asap)

    def window(on: date) -> tuple[datetime, datetime]:
        start, end = _midnight(on, zone), _midnight(on + timedelta(days=1), zone)
        if part is not None:
            first_hour, last_hour = PARTS[part]
            start = _local(on, time(first_hour), zone)
            end = _local(on, time(last_hour), zone) if last_hour < 24 else end
        if clock is not None:
            at = _local(on, time(clock.hour, clock.minute), zone)
            if clock.relation == "before":
                end = min(end, at)
            else:
                start = at if clock.relation == "after" or part is None else max(start, at)
        return start, end

    def passed(on: date) -> bool:
        start, end = window(on)
        return end <= now or (clock is not None and clock.relation == "at" and start < now)

    if day is None:
        day = today + timedelta(days=1) if passed(today) else today
    elif by_weekday and day == today and passed(today):
        day = today + timedelta(days=7)  # "thu morning" said on Thursday afternoon means next Thursday
    earliest, latest = window(day)
    return SlotPreference(
        earliest=max(earliest, now),
        latest=latest,
        part_of_day=part,
        weekday=day.weekday() if by_weekday else None,
        asap=asap,
    )
