"""Drive every scripted conversation through an engine against the in-memory booking tools, and judge it.

The runner plays the part of the conversation flow: a text after a handoff reaches no engine (a person has the
conversation), one minute passes before each text, and every reply is checked for what a caller would notice:
it arrived, it fits the segment budget, it stays GSM-7 unless it must not, and it passed the grounded-claims guard
(a blocked reply is an ungrounded claim, counted on its own).
"""

from __future__ import annotations

import itertools
import re
import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from domain.conversations.engine.eval.fake import Business, MemoryBookingTools
from domain.conversations.engine.eval.suite import Conversation, Expect, Window, local_start
from domain.conversations.engine.ports import ConversationEngine, SlotPreference, Turn, TurnResult
from domain.conversations.messaging import count_segments

SEGMENT_BUDGET = 3
PASS_TARGET = 0.95
CALLER = "+15550001111"
_PARTS = {"morning": (0, 12), "afternoon": (12, 17), "evening": (17, 24)}
_DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


@dataclass
class Outcome:
    id: str
    passed: bool
    failures: list[str]
    transcript: list[tuple[str, str | None]]
    ungrounded: int
    texts_to_booking: int | None
    turns: int = 0
    fallback_turns: int = 0  # turns the engine handed to its built-in fallback (a model that failed or timed out)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "passed": self.passed,
            "failures": self.failures,
            "ungrounded": self.ungrounded,
            "texts_to_booking": self.texts_to_booking,
            "fallback_turns": self.fallback_turns,
            "transcript": [{"caller": text, "reply": reply} for text, reply in self.transcript],
        }


@dataclass
class Report:
    engine: str
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.outcomes)

    @property
    def passed(self) -> int:
        return sum(outcome.passed for outcome in self.outcomes)

    @property
    def pass_rate(self) -> float:
        return self.passed / self.total if self.total else 0.0

    @property
    def ungrounded(self) -> int:
        return sum(outcome.ungrounded for outcome in self.outcomes)

    @property
    def turns(self) -> int:
        return sum(outcome.turns for outcome in self.outcomes)

    @property
    def fallback_turns(self) -> int:
        """Turns another engine's fallback answered: the figures of ``--engine openai`` are the model's only when
        this is 0 (with nothing listening at AI_BASE_URL every turn is the built-in engine's)."""
        return sum(outcome.fallback_turns for outcome in self.outcomes)

    @property
    def median_texts_to_booking(self) -> float | None:
        counts = [o.texts_to_booking for o in self.outcomes if o.texts_to_booking is not None]
        return statistics.median(counts) if counts else None

    def failures(self) -> list[Outcome]:
        return [outcome for outcome in self.outcomes if not outcome.passed]

    def to_json(self, *, details: bool = False) -> dict[str, Any]:
        data: dict[str, Any] = {
            "engine": self.engine,
            "conversations": self.total,
            "passed": self.passed,
            "pass_rate": round(self.pass_rate, 4),
            "ungrounded_claims": self.ungrounded,
            "turns": self.turns,
            "fallback_turns": self.fallback_turns,
            "median_texts_to_booking": self.median_texts_to_booking,
            "failed": [outcome.to_json() for outcome in self.failures()],
        }
        if details:
            data["outcomes"] = [outcome.to_json() for outcome in self.outcomes]
        return data


def run(engine: ConversationEngine, conversations: Iterable[Conversation], name: str = "builtin") -> Report:
    report = Report(engine=name)
    for conversation in conversations:
        report.outcomes.append(run_one(engine, conversation))
    return report


def _business(conversation: Conversation) -> Business:
    business = conversation.catalog.build(conversation.tz)
    for existing in conversation.existing:
        starts = local_start(existing.starts, conversation.tz)
        business.book_directly(CALLER, business.service(existing.service), starts.astimezone(ZoneInfo("UTC")))
    return business


def run_one(engine: ConversationEngine, conversation: Conversation) -> Outcome:
    business = _business(conversation)
    expect = conversation.expect
    before = {appointment.id for appointment in business.appointments_of(CALLER)}
    # What the calendar offered before the caller said anything: the reference for ``rank``.
    opening = _open_starts(business, conversation)
    now = conversation.start
    state: dict[str, Any] = {}
    transcript: list[tuple[str, str | None]] = []
    results: list[TurnResult] = []
    failures: list[str] = []
    ungrounded = 0
    handed_off: str | None = None
    texts_to_booking: int | None = None
    fallback_turns = 0
    for index, text in enumerate(conversation.texts, start=1):
        now += timedelta(minutes=1)
        if handed_off is not None:
            transcript.append((text, None))  # a person has the conversation: the AI is not asked
            continue
        turn = Turn(
            text=text,
            now=now,
            timezone=conversation.tz,
            business_name=conversation.catalog.business,
            state=dict(state),
            caller=CALLER,
            spanish=conversation.spanish,
        )
        result = engine.respond(turn, business.tools_for(CALLER, now))
        results.append(result)
        fallback_turns += result.fallback_reason is not None
        state = result.state
        transcript.append((text, result.reply))
        if result.guard_blocked:
            ungrounded += 1
            failures.append(f"text {index}: guard blocked an ungrounded claim ({result.guard_reason})")
        if result.reply is None or not result.reply.strip():
            failures.append(f"text {index}: the caller heard nothing")
        else:
            segments = count_segments(result.reply)
            if segments.count > SEGMENT_BUDGET:
                failures.append(f"text {index}: reply is {segments.count} segments")
            if segments.encoding != "GSM-7" and expect.language == "en":
                failures.append(f"text {index}: reply is UCS-2: {result.reply!r}")
        if result.handoff:
            handed_off = result.handoff_reason or "handoff"
        booked_now = [a for a in business.appointments_of(CALLER) if a.id not in before]
        if texts_to_booking is None and booked_now:
            texts_to_booking = index
    # ``state`` names a stage of the built-in engine's state machine: judged when that engine answered last.
    stage_of = state if results and results[-1].engine == "builtin" else {}
    failures += _judge(expect, business, conversation, transcript, stage_of, handed_off, before, opening)
    return Outcome(
        id=conversation.id,
        passed=not failures,
        failures=failures,
        transcript=transcript,
        ungrounded=ungrounded,
        texts_to_booking=texts_to_booking if expect.booked else None,
        turns=len(results),
        fallback_turns=fallback_turns,
    )


def _open_starts(business: Business, conversation: Conversation) -> dict[str, list[datetime]]:
    """Per active service, every open start in the next three weeks, as the calendar stands now."""
    now = conversation.start + timedelta(minutes=1)
    tools = MemoryBookingTools(business, CALLER, now)
    found: dict[str, list[datetime]] = {}
    for service in business.services:
        if not service.active:
            continue
        slots = tools.find_slots(
            service.id, SlotPreference(earliest=now, latest=now + timedelta(days=21), asap=True), 500
        )
        found[service.name] = [slot.starts_at for slot in slots]
    business.calls.clear()
    return found


def _in_window(moment: datetime, window: Window, conversation: Conversation) -> bool:
    zone = ZoneInfo(conversation.tz)
    local = moment.astimezone(zone)
    today = (conversation.start + timedelta(minutes=1)).astimezone(zone).date()
    if window.day == "today" and local.date() != today:
        return False
    if window.day == "tomorrow" and local.date() != today + timedelta(days=1):
        return False
    if window.day in _DAYS and local.weekday() != _DAYS.index(window.day):
        return False
    if window.part is not None:
        first, last = _PARTS[window.part]
        if not first <= local.hour < last:
            return False
    if window.after is not None and local.time() < window.after:
        return False
    if window.before is not None and local.time() >= window.before:
        return False
    return window.at is None or local.time() == window.at


def _judge(
    expect: Expect,
    business: Business,
    conversation: Conversation,
    transcript: list[tuple[str, str | None]],
    state: dict[str, Any],
    handed_off: str | None,
    before: set[Any],
    opening: dict[str, list[datetime]],
) -> list[str]:
    failures: list[str] = []
    replies = [reply for _text, reply in transcript if reply]
    booked = [a for a in business.appointments_of(CALLER) if a.id not in before]
    names = {service.id: service.name for service in business.services}
    if expect.booked is None:
        if booked:
            failures.append(f"booked {names[booked[0].service_id]} but nothing should be booked")
    elif len(booked) != 1:
        failures.append(f"expected {expect.booked} booked, got {len(booked)} bookings")
    else:
        appointment = booked[0]
        if names[appointment.service_id] != expect.booked:
            failures.append(f"booked {names[appointment.service_id]}, expected {expect.booked}")
        window = expect.window
        label = appointment.slot.starts_at.astimezone(ZoneInfo(conversation.tz)).strftime("%a %H:%M")
        if window is not None and not _in_window(appointment.slot.starts_at, window, conversation):
            failures.append(f"booked {label}, outside the expected window {window}")
        elif window is not None and window.rank is not None:
            candidates = [m for m in opening.get(expect.booked, []) if _in_window(m, window, conversation)]
            wanted = candidates[window.rank - 1] if len(candidates) >= window.rank else None
            if wanted != appointment.slot.starts_at:
                failures.append(f"booked {label}, expected open start #{window.rank} of the window")
    for price in expect.quoted:
        if not any(price in reply for reply in replies):
            failures.append(f"price {price} never quoted")
    stage = (state.get("builtin") or {}).get("stage") if isinstance(state.get("builtin"), dict) else None
    if expect.state is not None and state and stage != expect.state:
        failures.append(f"final state {stage}, expected {expect.state}")
    if expect.handoff != handed_off:
        failures.append(f"handoff {handed_off}, expected {expect.handoff}")
    if expect.replies is not None and len(replies) != expect.replies:
        failures.append(f"{len(replies)} replies, expected {expect.replies}")
    for pattern in expect.said:
        if not any(re.search(pattern, reply, re.IGNORECASE) for reply in replies):
            failures.append(f"no reply matched /{pattern}/")
    for pattern in expect.never:
        for reply in replies:
            if re.search(pattern, reply, re.IGNORECASE):
                failures.append(f"a reply matched /{pattern}/: {reply!r}")
                break
    if expect.last is not None and not (replies and re.search(expect.last, replies[-1], re.IGNORECASE)):
        failures.append(f"last reply did not match /{expect.last}/")
    # Every conversation, whatever it expects: never the same reply twice in a row (a question asked again word for
    # word, to a caller who did not follow it the first time).
    for (_, earlier), (text, later) in itertools.pairwise(transcript):
        if earlier and earlier == later:
            failures.append(f"the same reply twice in a row, the second to {text!r}: {later!r}")
            break
    return failures
