"""The grounded-claims guard, tested with engines that lie and with replies checked against real tool results."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from domain.conversations.engine.eval.fake import Business
from domain.conversations.engine.guard import SAFE_REPLY, GuardedEngine, check
from domain.conversations.engine.ports import (
    BookingTools,
    HoursGiven,
    Quoted,
    SlotPreference,
    Turn,
    TurnResult,
)

NY = ZoneInfo("America/New_York")
NOW = datetime(2025, 3, 6, 10, 0, tzinfo=NY).astimezone(UTC)  # Thursday
TZ = "America/New_York"


class LyingEngine:
    """Calls the tools it is told to, then says whatever it likes."""

    def __init__(self, reply: str | None, work: Callable[[BookingTools], object] | None = None) -> None:
        self.reply = reply
        self.work = work

    def respond(self, turn: Turn, tools: BookingTools) -> TurnResult:
        if self.work is not None:
            self.work(tools)
        return TurnResult(reply=self.reply, state={"lied": True}, engine="liar")


def run(reply: str | None, work: Callable[[BookingTools], object] | None = None) -> TurnResult:
    business = Business()
    turn = Turn("hi", NOW, TZ, "Acme Plumbing", {}, "+15550001111")
    return GuardedEngine(LyingEngine(reply, work)).respond(turn, business.tools_for("+15550001111", NOW))


def drain(tools: BookingTools) -> object:
    return tools.match_services("drain cleaning")


def slots_tomorrow(tools: BookingTools) -> object:
    option = tools.match_services("drain cleaning")[0]
    tomorrow = datetime(2025, 3, 7, 0, 0, tzinfo=NY).astimezone(UTC)
    return tools.find_slots(option.id, SlotPreference(earliest=tomorrow), 3)


def hold_first(tools: BookingTools) -> object:
    option = tools.match_services("drain cleaning")[0]
    slot = tools.find_slots(option.id, SlotPreference(earliest=NOW), 3)[0]
    return tools.place_hold(option.id, slot)


def book_first(tools: BookingTools) -> object:
    option = tools.match_services("drain cleaning")[0]
    slot = tools.find_slots(option.id, SlotPreference(earliest=NOW), 3)[0]
    hold = tools.place_hold(option.id, slot).hold
    assert hold is not None
    return tools.confirm_hold(hold.id)


@pytest.mark.parametrize(
    ("reply", "work", "reason"),
    [
        ("A drain cleaning is $99.", drain, "price"),
        ("A drain cleaning is $149.50.", drain, "price"),
        ("That'll be about 120 dollars.", drain, "price"),
        ("Our drain cleaning is $149.", None, "price"),
        ("I have Fri 4:30 PM open.", slots_tomorrow, "time"),
        ("I have Sat 8:00 AM open.", slots_tomorrow, "time"),
        ("How about Thu 8:00 AM?", slots_tomorrow, "time"),
        ("You're booked for Thu 11:00 AM!", hold_first, "booking claim"),
        ("Your appointment is confirmed.", None, "booking claim"),
        ("All scheduled, see you then.", drain, "booking claim"),
        ("I'm holding Thu 11:00 AM for you.", slots_tomorrow, "time"),
        ("I've held a spot for you.", drain, "hold claim"),
        ("I'm holding Thu 12:00 PM for you.", lambda t: (slots_tomorrow(t), hold_first(t)), "hold claim names"),
        ("You're booked for Thu 12:00 PM.", lambda t: (book_first(t), slots_tomorrow(t), drain(t)), "booking"),
        ("Your appointment is cancelled.", None, "cancellation"),
    ],
)
def test_lies_are_replaced_by_the_safe_reply(
    reply: str, work: Callable[[BookingTools], object] | None, reason: str
) -> None:
    result = run(reply, work)
    assert result.guard_blocked
    assert result.reply == SAFE_REPLY
    assert reason in (result.guard_reason or "")
    assert result.state == {"lied": True}


@pytest.mark.parametrize(
    ("reply", "work"),
    [
        ("A drain cleaning is $149. Want a time?", drain),
        ("I have Fri 8:00 AM, Fri 9:00 AM or Fri 10:00 AM. Which works?", slots_tomorrow),
        ("I'm holding Thu 11:00 AM for you. Reply YES to book it.", hold_first),
        ("You're all set! Booked for Thu 11:00 AM.", book_first),
        ("Hi! How can we help today?", None),
        ("Sorry, that time was just taken. Anything else?", None),
    ],
)
def test_grounded_replies_pass(reply: str, work: Callable[[BookingTools], object] | None) -> None:
    result = run(reply, work)
    assert not result.guard_blocked, result.guard_reason
    assert result.reply == reply


def test_results_come_from_the_tools_not_from_the_engine() -> None:
    class Forger(LyingEngine):
        def respond(self, turn: Turn, tools: BookingTools) -> TurnResult:
            fake = tools.match_services("drain cleaning")[0]
            forged = Quoted((fake.__class__(fake.id, fake.name, 60, 999, "USD", 1.0),))
            return TurnResult(reply="It's $9.99!", state={}, results=(forged,))

    business = Business()
    turn = Turn("hi", NOW, TZ, "Acme", {}, "+15550001111")
    result = GuardedEngine(Forger("")).respond(turn, business.tools_for("+15550001111", NOW))
    assert result.guard_blocked
    assert all(not (isinstance(r, Quoted) and r.services[0].price_cents == 999) for r in result.results)


def test_no_reply_stays_silent() -> None:
    result = run(None, drain)
    assert result.reply is None
    assert not result.guard_blocked
    assert isinstance(result.results[0], Quoted)


def test_hours_times_are_grounded_by_the_hours_text() -> None:
    results = [HoursGiven("Mon-Fri 8:00 AM-5:00 PM")]
    assert check("We open at 8:00 AM and close at 5:00 PM.", results, TZ, NOW).ok
    assert not check("We open at 7:00 AM.", results, TZ, NOW).ok


def test_prices_with_thousands_and_cents() -> None:
    business = Business()
    business.services[0].price_cents = 124_950
    tools = business.tools_for("+1555", NOW)
    results = [Quoted(tuple(tools.list_services()))]
    assert check("That's $1,249.50.", results, TZ, NOW).ok
    assert not check("That's $1,249.", results, TZ, NOW).ok


def test_dated_labels_must_match_the_date() -> None:
    business = Business()
    tools = business.tools_for("+1555", NOW)
    option = tools.list_services()[0]
    monday_next = datetime(2025, 3, 17, 0, 0, tzinfo=NY).astimezone(UTC)
    results = [Quoted((option,))]
    from domain.conversations.engine.ports import SlotsFound

    results.append(SlotsFound(tuple(tools.find_slots(option.id, SlotPreference(earliest=monday_next), 1))))
    assert check("How about Mon 3/17 8:00 AM?", results, TZ, NOW).ok
    assert not check("How about Mon 3/10 8:00 AM?", results, TZ, NOW).ok
    assert not check("How about tomorrow at 8:00 AM?", results, TZ, NOW).ok
