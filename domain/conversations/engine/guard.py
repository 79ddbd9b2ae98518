"""The grounded-claims guard: no outbound text may state a price, a time, a hold, a booking or a cancellation that
the booking tools did not produce in the same turn.

:class:`GuardedEngine` wraps any engine: it hands the engine a :class:`RecordingTools` so the record of what the
tools returned is the guard's own (an engine cannot vouch for itself), checks the reply against it, and replaces an
ungrounded reply with a safe one, flagging the result.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from zoneinfo import ZoneInfo

from domain.conversations.engine.dates import MONTHS, WEEKDAYS
from domain.conversations.engine.formatting import MONTHS_ES
from domain.conversations.engine.gsm import plain
from domain.conversations.engine.language import conversation_language, remembered_language
from domain.conversations.engine.ports import (
    AppointmentFound,
    BookingAttempt,
    BookingTools,
    Cancellation,
    ConversationEngine,
    DomainResult,
    HoldAttempt,
    HoursGiven,
    Quoted,
    SlotOption,
    SlotsFound,
    Turn,
    TurnResult,
)
from domain.conversations.engine.recording import RecordingTools

_PRICE = re.compile(
    r"\$\s?(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d{1,2}))?|\b(\d+)(?:\.(\d{2}))?\s*(?:dollars|bucks|usd)\b", re.IGNORECASE
)
_TIME = re.compile(
    r"\b(\d{1,2})(?::(\d{2}))?\s*([ap])\.?\s?m\b\.?|\b(\d{1,2}):(\d{2})\b|\b(noon|midday)\b", re.IGNORECASE
)
# Day words in either language a reply is written in; Spanish ones are read without their accents.
_SPANISH_DAYS = {
    "lunes": 0, "martes": 1, "miercoles": 2, "jueves": 3, "viernes": 4, "sabado": 5, "domingo": 6,
}  # fmt: skip
_SPANISH_MONTHS = {name: index for index, name in enumerate(MONTHS_ES, start=1)}
_DAY_WORDS = "|".join(
    sorted([*WEEKDAYS, *_SPANISH_DAYS, "today", "tonight", "tomorrow", "tmrw", "hoy", "manana"], key=len, reverse=True)
)
_DAY = re.compile(
    rf"\b(?:({_DAY_WORDS})\b\.?,?(?:\s+(?:the\s+)?(?:(\d{{1,2}})/(\d{{1,2}})|"
    rf"({'|'.join(MONTHS)})\.?\s+(\d{{1,2}})|(\d{{1,2}}) de ({'|'.join(MONTHS_ES)})))?|(\d{{1,2}})/(\d{{1,2}}))",
    re.IGNORECASE,
)
# Claims are read on the reply as written: Spanish past tenses carry their accent ("reservé", "cancelé"), which is
# what tells them from a question ("¿Quiere que la cancele?") or the English verb ("reserve").
_BOOKED = re.compile(
    r"\b(?:booked|confirmed|scheduled|(?:you'?re|you are) all set|locked (?:it |you )?in|appointment is set|"
    r"reservé|reservad[oa]s?|agendé|agendad[oa]s?|confirmad[oa]s?|su cita (?:es|queda|quedó))(?!\w)",
    re.I,
)
_HELD = re.compile(
    r"\b(?:holding|held|on hold|reserved|saved (?:it|that|the|you)|aparto|apartad[oa]|le guardo|guardad[oa])\b",
    re.IGNORECASE,
)
_CANCELLED = re.compile(r"\b(?:cancell?ed|cancelé|cancelad[oa]s?)(?!\w)", re.IGNORECASE)
_SENTENCE = re.compile(r"[.!?\n]")

SAFE_REPLY = "Sorry, I couldn't get that sorted just now. What do you need help with, and what day and time work best?"
SAFE_REPLY_ES = "Disculpe, no pude resolverlo ahora. ¿Qué necesita, y qué fecha y hora le quedan mejor?"


@dataclass(frozen=True)
class Verdict:
    ok: bool
    reason: str | None = None


@dataclass(frozen=True)
class _Mention:
    hour: int
    minute: int
    meridiem: str | None
    weekday: int | None
    on: date | None
    text: str

    def matches(self, moment: datetime, *, any_day: bool = False) -> bool:
        if moment.minute != self.minute:
            return False
        if self.meridiem is not None:
            if moment.hour != self.hour % 12 + (12 if self.meridiem == "p" else 0):
                return False
        elif moment.hour % 12 != self.hour % 12:
            return False
        if any_day:
            return True
        if self.on is not None and moment.date() != self.on:
            return False
        return self.weekday is None or moment.weekday() == self.weekday


def _prices(text: str) -> list[int]:
    cents = []
    for match in _PRICE.finditer(text):
        whole = match.group(1) or match.group(3)
        fraction = match.group(2) or match.group(4) or "0"
        cents.append(int(whole.replace(",", "")) * 100 + int(fraction.ljust(2, "0")))
    return cents


def _unaccented(text: str) -> str:
    """Accents off, one character for one ("sábado" → "sabado"), so positions stay those of the text."""
    return "".join(unicodedata.normalize("NFD", ch)[0] for ch in text)


def _mentions(text: str, zone: ZoneInfo, now: datetime) -> list[_Mention]:
    text = _unaccented(text)
    today = now.astimezone(zone).date()
    found = []
    for match in _TIME.finditer(text):
        if match.group(6):
            hour, minute, meridiem = 12, 0, "p"
        elif match.group(1):
            hour, minute, meridiem = int(match.group(1)), int(match.group(2) or 0), match.group(3).lower()
        else:
            hour, minute, meridiem = int(match.group(4)), int(match.group(5)), None
        # The day a time belongs to is the nearest day word before it in the same sentence.
        start = max((m.end() for m in _SENTENCE.finditer(text, 0, match.start())), default=0)
        weekday: int | None = None
        on: date | None = None
        for day in _DAY.finditer(text, start, match.start()):
            word = (day.group(1) or "").lower()
            weekday, on = None, None
            if word in ("today", "tonight", "hoy"):
                on = today
            elif word in ("tomorrow", "tmrw", "manana"):
                on = date.fromordinal(today.toordinal() + 1)
            elif word:
                weekday = WEEKDAYS.get(word, _SPANISH_DAYS.get(word))
            month_text, day_text = day.group(2) or day.group(8), day.group(3) or day.group(9)
            if day.group(4):
                month_text, day_text = str(MONTHS[day.group(4).lower()]), day.group(5)
            elif day.group(7):
                month_text, day_text = str(_SPANISH_MONTHS[day.group(7).lower()]), day.group(6)
            if month_text and day_text:
                on = _month_day(int(month_text), int(day_text), today)
        found.append(_Mention(hour, minute, meridiem, weekday, on, match.group(0)))
    return found


def _month_day(month: int, day: int, today: date) -> date | None:
    for year in (today.year, today.year + 1):
        try:
            candidate = date(year, month, day)
        except ValueError:
            return None
        if candidate >= today:
            return candidate
    return None


def _local(slots: Iterable[SlotOption], zone: ZoneInfo) -> list[datetime]:
    moments = []
    for slot in slots:
        moments += [slot.starts_at.astimezone(zone), slot.ends_at.astimezone(zone)]
    return moments


def check(text: str, results: Sequence[DomainResult], tz: str, now: datetime) -> Verdict:
    """Whether every claim in ``text`` (English or Spanish) is backed by one of this turn's domain results."""
    written, text = text, _unaccented(text)
    zone = ZoneInfo(tz)
    prices: set[int] = set()
    times: list[datetime] = []
    hours_mentions: list[_Mention] = []
    held: list[SlotOption] = []
    booked: list[SlotOption] = []
    cancelled = False
    for result in results:
        if isinstance(result, Quoted):
            prices.update(option.price_cents for option in result.services)
        elif isinstance(result, SlotsFound):
            times += _local(result.slots, zone)
        elif isinstance(result, HoldAttempt):
            times += _local([result.slot, *result.result.alternatives], zone)
            if result.result.hold is not None:
                held.append(result.result.hold.slot)
                times += _local([result.result.hold.slot], zone)
        elif isinstance(result, BookingAttempt):
            times += _local(result.result.alternatives, zone)
            if result.result.appointment is not None:
                booked.append(result.result.appointment.slot)
                times += _local([result.result.appointment.slot], zone)
        elif isinstance(result, AppointmentFound) and result.appointment is not None:
            times += _local([result.appointment.slot], zone)
        elif isinstance(result, Cancellation):
            cancelled = cancelled or result.cancelled
        elif isinstance(result, HoursGiven) and result.text:
            hours_mentions += _mentions(result.text, zone, now)

    for cents in _prices(text):
        if cents not in prices:
            return Verdict(False, f"price ${cents / 100:.2f} was not quoted by the catalog this turn")
    mentions = _mentions(text, zone, now)
    for mention in mentions:
        grounded = any(mention.matches(moment) for moment in times) or any(
            (hm.hour % 12, hm.minute) == (mention.hour % 12, mention.minute) for hm in hours_mentions
        )
        if not grounded:
            return Verdict(False, f"time {mention.text!r} was not returned by the scheduler this turn")
    if _BOOKED.search(written):
        if not booked:
            return Verdict(False, "booking claim without a booking this turn")
        if mentions and not any(m.matches(slot.starts_at.astimezone(zone)) for m in mentions for slot in booked):
            return Verdict(False, "booking claim names a time other than the booked one")
    if _HELD.search(written):
        if not held and not booked:
            return Verdict(False, "hold claim without a hold this turn")
        starts = [slot.starts_at.astimezone(zone) for slot in held + booked]
        if mentions and not any(m.matches(moment) for m in mentions for moment in starts):
            return Verdict(False, "hold claim names a time other than the held one")
    if _CANCELLED.search(written) and not cancelled:
        return Verdict(False, "cancellation claim without a cancellation this turn")
    return Verdict(True)


class GuardedEngine:
    """Any engine, with every reply checked against what the tools returned in the same turn."""

    def __init__(
        self, inner: ConversationEngine, safe_reply: str = SAFE_REPLY, safe_reply_es: str = SAFE_REPLY_ES
    ) -> None:
        self.inner = inner
        self.safe_reply = safe_reply
        self.safe_reply_es = safe_reply_es

    def respond(self, turn: Turn, tools: BookingTools) -> TurnResult:
        recorder = RecordingTools(tools)
        result = self.inner.respond(turn, recorder)
        results = tuple(recorder.results)
        if result.reply is None:
            return replace(result, results=results)
        # Every engine's text (a model's above all) leaves in GSM-7 unless it really needs Unicode.
        reply = plain(result.reply)
        result = replace(result, reply=reply)
        verdict = check(reply, results, turn.timezone, turn.now)
        if verdict.ok:
            return replace(result, results=results)
        spanish = conversation_language(turn.text, remembered_language(turn.state)) == "es"
        safe = self.safe_reply_es if spanish else self.safe_reply
        return replace(result, reply=safe, results=results, guard_blocked=True, guard_reason=verdict.reason)
