"""Scripted caller conversations against the built-in engine (under the guard) and the in-memory BookingTools.

The clock starts on Thursday 2025-03-06 at 10:00 in New York; the business is open Mon-Fri 8-17 and Sat 9-13
with two technicians and hourly slots. Every reply must pass the guard and fit in two SMS segments.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from db.settings import Settings
from domain.conversations.engine import make_engine
from domain.conversations.engine.eval.fake import Business, Chat, Service
from domain.conversations.engine.ports import HoldAttempt, TurnResult

NY = ZoneInfo("America/New_York")
THU_10AM = datetime(2025, 3, 6, 10, 0, tzinfo=NY).astimezone(UTC)


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """A local New York time in March 2025 as UTC."""
    return datetime(2025, 3, day, hour, minute, tzinfo=NY).astimezone(UTC)


class Script(Chat):
    def say(self, text: str, after: timedelta = timedelta(minutes=1)) -> TurnResult:
        result = super().say(text, after)
        assert not result.guard_blocked, (result.guard_reason, result.reply)
        assert result.reply is None or len(result.reply) <= 300, result.reply
        return result


@pytest.fixture
def business() -> Business:
    return Business()


def chat(business: Business, now: datetime = THU_10AM, caller: str = "+15550001111") -> Script:
    engine = make_engine(Settings(ai_provider="builtin"))
    # The clock moves one minute before each text.
    return Script(business, engine, now - timedelta(minutes=1), caller=caller)


def booked_starts(convo: Chat) -> list[datetime]:
    return [appointment.slot.starts_at for appointment in convo.appointments()]


# -- booking --


def test_price_and_time_in_one_text_then_pick_and_yes_books(business: Business) -> None:
    convo = chat(business)
    first = convo.say("How much for a drain cleaning & can u come tmrw at 3?")
    assert "$149" in (first.reply or "")
    assert "Fri 3:00 PM" in (first.reply or "")
    assert "holding" in (convo.say("the first one").reply or "")
    done = convo.say("yes")
    assert "booked" in (done.reply or "")
    assert "Fri 3:00 PM" in (done.reply or "")
    assert booked_starts(convo) == [at(7, 15)]
    assert business.service("Drain cleaning").id == convo.appointments()[0].service_id


@pytest.mark.parametrize("yes", ["yep", "sure", "ok", "👍", "Yes please!", "sounds good", "YES", "yeah go ahead"])
def test_every_way_of_saying_yes_books_the_hold(business: Business, yes: str) -> None:
    convo = chat(business)
    convo.say("need a drain cleaning tomorrow morning")
    convo.say("2")
    assert convo.stage == "held"
    convo.say(yes)
    assert booked_starts(convo) == [at(7, 9)]


def test_lowercase_typos_are_understood(business: Business) -> None:
    convo = chat(business)
    offered = convo.say("my tolet keeps runing can u come tmrw morning")
    assert "Toilet repair" in (offered.reply or "")
    assert "Fri 8:00 AM" in (offered.reply or "")
    convo.say("2nd one pls")
    convo.say("yup")
    assert booked_starts(convo) == [at(7, 9)]


def test_shouting_in_capitals(business: Business) -> None:
    convo = chat(business)
    reply = convo.say("DRAIN CLEANING TOMORROW MORNING PLS").reply or ""
    assert "Fri 8:00 AM" in reply


def test_a_closed_day_asked_for_gets_the_soonest_times_after_it_and_books_one(business: Business) -> None:
    convo = chat(business, now=at(8, 18))  # Saturday evening; closed on Sundays
    reply = convo.say("drain cleaning tomorrow morning please").reply or ""
    assert "nothing's open then" in reply
    assert "Mon 8:00 AM" in reply
    assert "holding" in (convo.say("the first one").reply or "")
    convo.say("yes")
    assert booked_starts(convo) == [at(10, 8)]


def test_nope_at_the_hold_books_nothing_and_asks_for_another_time(business: Business) -> None:
    convo = chat(business)
    convo.say("drain cleaning tomorrow")
    convo.say("1")
    reply = convo.say("nope").reply or ""
    assert "another day or time" in reply
    assert convo.appointments() == []
    assert convo.stage == "ask_time"


def test_none_of_those_work_then_another_day(business: Business) -> None:
    convo = chat(business)
    convo.say("drain cleaning tomorrow morning")
    assert "what day or time" in (convo.say("none of those work").reply or "").lower()
    offered = convo.say("monday afternoon").reply or ""
    assert "Mon 12:00 PM" in offered
    assert "Mon 2:00 PM" in offered
    assert "Mon 2:00 PM" in (convo.say("the last one").reply or "")
    convo.say("ok")
    assert booked_starts(convo) == [at(10, 14)]


def test_pick_by_naming_the_time(business: Business) -> None:
    convo = chat(business)
    convo.say("drain cleaning tomorrow morning")
    assert "Fri 10:00 AM" in (convo.say("10am works").reply or "")
    convo.say("yes")
    assert booked_starts(convo) == [at(7, 10)]


def test_pick_by_naming_the_day_when_it_is_unique(business: Business) -> None:
    for hour in (11, 12, 13, 14, 15):
        for resource in (0, 1):
            business.book_directly("+15559990000", business.service("Toilet repair"), at(6, hour), resource)
    convo = chat(business)
    offered = convo.say("drain cleaning thursday or friday").reply or ""
    assert "Thu 4:00 PM" in offered
    assert "Fri 8:00 AM" in offered
    assert "Thu 4:00 PM" in (convo.say("thursday works").reply or "")


def test_single_slot_offer_accepts_a_plain_yes(business: Business) -> None:
    convo = chat(business)
    offered = convo.say("drain cleaning today after 4").reply or ""
    assert "Thu 4:00 PM" in offered
    assert "Does that work" in offered
    assert "holding" in (convo.say("yes").reply or "")
    convo.say("yes")
    assert booked_starts(convo) == [at(6, 16)]


@pytest.mark.parametrize("answer", ["sure", "ok", "that works", "that one", "👍", "yes please"])
def test_a_plain_yes_to_three_offers_takes_the_first_and_confirms_it_back(business: Business, answer: str) -> None:
    convo = chat(business)
    convo.say("drain cleaning tomorrow")
    reply = convo.say(answer).reply or ""
    assert "Fri 8:00 AM" in reply
    assert "book it" in reply
    assert convo.stage == "held"
    assert "Fri 8:00 AM" in (convo.say("yes").reply or "")
    assert convo.stage == "booked"


def test_asap_offers_the_soonest_slot_to_confirm(business: Business) -> None:
    convo = chat(business)
    reply = convo.say("need a drain cleaning asap").reply or ""
    assert reply == "The soonest I have is Thu 11:00 AM for your Drain cleaning. Does that work?"


def test_next_week_offers_monday(business: Business) -> None:
    reply = chat(business).say("can you do a furnace tune up next week").reply or ""
    assert "Mon 3/10 8:00 AM" in reply or "Mon 8:00 AM" in reply


def test_friday_10am(business: Business) -> None:
    reply = chat(business).say("drain cleaning friday 10am").reply or ""
    assert "Fri 10:00 AM" in reply.split(",")[0]


def test_after_5_when_closing_at_5_says_so_and_offers_the_soonest_after_it(business: Business) -> None:
    convo = chat(business)
    reply = convo.say("drain cleaning tomorrow after 5").reply or ""
    assert "nothing's open then" in reply
    assert "Sat 9:00 AM" in reply
    assert convo.stage == "offered"
    assert "Mon 8:00 AM" in (convo.say("monday then").reply or "")


def test_nothing_open_at_all_asks_for_another_day(business: Business) -> None:
    business.hours.clear()  # closed every day
    convo = chat(business)
    reply = convo.say("drain cleaning tomorrow after 5").reply or ""
    assert "don't have anything open" in reply
    assert convo.stage == "ask_time"


def test_saturday_morning_hours(business: Business) -> None:
    reply = chat(business).say("toilet repair saturday morning").reply or ""
    assert "Sat 9:00 AM" in reply


def test_thanks_after_booking(business: Business) -> None:
    convo = chat(business)
    convo.say("drain cleaning tmrw at 3")
    convo.say("1")
    convo.say("yes")
    assert "welcome" in (convo.say("thanks!! 🙏").reply or "").lower()


def test_price_question_only_then_yes_offers_times(business: Business) -> None:
    convo = chat(business)
    reply = convo.say("how much is a furnace tune up?").reply or ""
    assert "$99" in reply
    assert "Want me to find you a time?" in reply
    assert convo.stage == "offer_booking"
    assert "I have Thu 11:00 AM, Thu 12:00 PM or Thu 1:00 PM" in (convo.say("yes pls").reply or "")


def test_price_question_then_nah(business: Business) -> None:
    convo = chat(business)
    convo.say("whats the price for drain cleaning")
    assert "whenever" in (convo.say("nah").reply or "")
    assert convo.stage == "idle"


def test_price_with_cents_is_exact(business: Business) -> None:
    assert "$189.50" in (chat(business).say("how much to install a new faucet").reply or "")


def test_inactive_service_is_never_quoted(business: Business) -> None:
    reply = chat(business).say("how much for a sewer line inspection?").reply or ""
    assert "$349" not in reply
    assert "we don't do that" in reply


def test_price_without_a_service_asks_which(business: Business) -> None:
    convo = chat(business)
    reply = convo.say("how much do you charge").reply or ""
    assert "Which service" in reply
    assert "$" not in reply
    assert "$129.50" in (convo.say("toilet repair").reply or "")


# -- unsure: one short question --


def test_low_confidence_asks_x_or_y(business: Business) -> None:
    convo = chat(business)
    question = convo.say("my faucet is acting up").reply or ""
    assert "Is that for Faucet repair or Faucet install?" in question
    offered = convo.say("the first").reply or ""
    assert "Faucet repair" in offered
    assert "Thu 11:00 AM" in offered


def test_clarifying_answer_by_word_and_pending_price(business: Business) -> None:
    convo = chat(business)
    assert "or" in (convo.say("how much for faucet work?").reply or "")
    reply = convo.say("install").reply or ""
    assert "$189.50" in reply


def test_unknown_service_lists_what_we_do_and_keeps_the_time(business: Business) -> None:
    convo = chat(business)
    reply = convo.say("can you come fix my roof tmrw morning").reply or ""
    assert "We do" in reply
    assert "Drain cleaning" in reply
    assert "Fri 8:00 AM" in (convo.say("drain cleaning then").reply or "")


def test_single_candidate_no_asks_again(business: Business) -> None:
    business.services = [Service("Faucet repair", 11900, 60, ("kitchen spout",))]
    convo = chat(business)
    # Only a weak match (half a tenant alias) to a single item: one short question.
    assert "Just to check, is that for Faucet repair?" in (convo.say("the spout").reply or "")
    assert "What do you need help with?" in (convo.say("no").reply or "")


# -- changes of mind --


def test_changes_service_mid_flow(business: Business) -> None:
    convo = chat(business)
    convo.say("need drain cleaning tomorrow")
    reply = convo.say("actually make that a toilet repair").reply or ""
    assert "Toilet repair" in reply
    convo.say("1")
    convo.say("yes")
    assert convo.appointments()[0].service_id == business.service("Toilet repair").id


def test_changes_day_mid_flow(business: Business) -> None:
    convo = chat(business)
    convo.say("drain cleaning tomorrow morning")
    reply = convo.say("actually can you do monday instead").reply or ""
    assert "Mon 8:00 AM" in reply
    assert "Fri" not in reply


def test_changes_time_after_the_hold(business: Business) -> None:
    convo = chat(business)
    convo.say("drain cleaning tomorrow")
    convo.say("1")
    reply = convo.say("hmm how about tomorrow afternoon instead").reply or ""
    assert "Fri 12:00 PM" in reply
    convo.say("the first one")
    convo.say("yes")
    assert booked_starts(convo) == [at(7, 12)]


def test_picks_another_offered_slot_while_holding(business: Business) -> None:
    convo = chat(business)
    convo.say("drain cleaning tomorrow morning")
    convo.say("1")
    assert "Fri 10:00 AM" in (convo.say("actually the third one").reply or "")
    convo.say("yes")
    assert booked_starts(convo) == [at(7, 10)]
    assert len(business.holds) == 0


def test_cancels_the_booking_in_progress(business: Business) -> None:
    convo = chat(business)
    convo.say("drain cleaning tomorrow")
    assert "won't book anything" in (convo.say("cancel").reply or "")
    assert convo.stage == "idle"


# -- holds are real: races and a caller who never answers --


def test_slot_taken_by_another_caller_offers_alternatives(business: Business) -> None:
    alice, bob = chat(business, caller="+15550000001"), chat(business, caller="+15550000002")
    for convo in (alice, bob):
        convo.say("drain cleaning tmrw at 3")
    bob.say("1")
    business.book_directly("+15550000003", business.service("Drain cleaning"), at(7, 15), resource=1)
    reply = alice.say("1").reply or ""
    assert "just taken" in reply
    assert "Fri 4:00 PM" in reply
    alice.say("1")
    alice.say("yes")
    assert booked_starts(alice) == [at(7, 16)]


def test_caller_who_never_answers_loses_the_hold_to_someone_else(business: Business) -> None:
    business.resources = business.resources[:1]
    quiet = chat(business, caller="+15550000001")
    quiet.say("drain cleaning tmrw at 3")
    quiet.say("1")
    assert quiet.stage == "held"
    # No reply for 20 minutes: the hold lapses and never blocks the next caller.
    other = chat(business, now=quiet.now + timedelta(minutes=20), caller="+15550000002")
    other.say("drain cleaning tmrw at 3")
    other.say("1")
    other.say("yes")
    assert booked_starts(other) == [at(7, 15)]
    late = quiet.say("yes", after=timedelta(minutes=30)).reply or ""
    assert "just taken" in late
    assert quiet.appointments() == []


def test_caller_who_never_answers_makes_no_booking(business: Business) -> None:
    convo = chat(business)
    convo.say("drain cleaning tomorrow")
    # Nothing more arrives; the engine does nothing on its own.
    assert convo.appointments() == []
    assert not business.holds


def test_an_expired_hold_of_my_own_still_books_when_free(business: Business) -> None:
    convo = chat(business)
    convo.say("drain cleaning tmrw at 3")
    convo.say("1")
    convo.say("yes", after=timedelta(minutes=40))
    assert booked_starts(convo) == [at(7, 15)]


# -- information, urgency, people --


def test_hours_question_while_open(business: Business) -> None:
    reply = chat(business).say("what r ur hrs").reply or ""
    assert "We're open now" in reply
    assert "8:00 AM-5:00 PM" in reply


def test_hours_question_after_hours(business: Business) -> None:
    reply = chat(business, now=at(6, 21)).say("are you open?").reply or ""
    assert "closed right now" in reply
    assert "Mon-Fri 8:00 AM-5:00 PM" in reply


def test_hours_and_price_in_one_text(business: Business) -> None:
    reply = chat(business).say("hi! what are your hours and how much is a furnace tune up").reply or ""
    assert "Our hours are" in reply
    assert "$99" in reply


@pytest.mark.parametrize(
    ("text", "service"),
    [("HELP water everywhere in my basement!!", "Emergency leak repair"), ("pipe burst, leaking bad", None)],
)
def test_urgency_is_flagged_and_soonest_offered(business: Business, text: str, service: str | None) -> None:
    result = chat(business).say(text)
    assert result.urgent
    assert "urgent" in (result.reply or "")
    if service:
        assert service in (result.reply or "")
        assert "Thu 11:00 AM" in (result.reply or "")


def test_no_heat_after_hours(business: Business) -> None:
    result = chat(business, now=at(6, 22)).say("no heat and its freezing")
    assert result.urgent
    reply = result.reply or ""
    assert "closed right now" in reply
    assert "Furnace tune-up" in reply
    assert "Fri 8:00 AM" in reply


def test_urgent_without_a_known_service_asks_instead_of_guessing(business: Business) -> None:
    convo = chat(business)
    result = convo.say("emergency!! please come")
    assert result.urgent
    assert "What do you need help with?" in (result.reply or "")
    assert not business.holds


@pytest.mark.parametrize(
    "text", ["can i talk to a real person", "I want to speak with the owner", "are you a bot?", "call me please"]
)
def test_asking_for_a_person_hands_off(business: Business, text: str) -> None:
    result = chat(business).say(text)
    assert result.handoff
    assert result.handoff_reason == "person_requested"
    assert "someone will reach out" in (result.reply or "")


@pytest.mark.parametrize("text", ["Please stop texting me", "dont text me", "wrong number"])
def test_stop_texting_hands_off(business: Business, text: str) -> None:
    convo = chat(business)
    convo.say("drain cleaning tomorrow")
    result = convo.say(text)
    assert result.handoff
    assert result.handoff_reason == "stop_requested"
    assert convo.appointments() == []
    assert not business.holds


def test_urgent_person_request_is_urgent(business: Business) -> None:
    result = chat(business).say("water everywhere!! let me talk to a human")
    assert result.handoff
    assert result.urgent


def test_conversation_returned_from_a_human_starts_fresh(business: Business) -> None:
    convo = chat(business)
    convo.say("talk to a person")
    reply = convo.say("drain cleaning tmrw at 3").reply or ""
    assert "Fri 3:00 PM" in reply


# -- cancel and reschedule --


def test_cancel_existing_appointment(business: Business) -> None:
    convo = chat(business)
    business.book_directly(convo.caller, business.service("Drain cleaning"), at(7, 9))
    ask = convo.say("I need to cancle my appt").reply or ""
    assert "Drain cleaning on Fri 9:00 AM" in ask
    assert "cancel it?" in ask
    assert "cancelled" in (convo.say("yes").reply or "")
    assert convo.appointments() == []


def test_cancel_then_no_keeps_it(business: Business) -> None:
    convo = chat(business)
    business.book_directly(convo.caller, business.service("Drain cleaning"), at(7, 9))
    convo.say("cancel my appointment")
    assert "stays" in (convo.say("no").reply or "")
    assert booked_starts(convo) == [at(7, 9)]


def test_cancel_without_an_appointment(business: Business) -> None:
    reply = chat(business).say("cancel my appointment").reply or ""
    assert "don't see an upcoming appointment" in reply


def test_someone_elses_appointment_is_not_theirs_to_cancel(business: Business) -> None:
    business.book_directly("+15550009999", business.service("Drain cleaning"), at(7, 9))
    convo = chat(business)
    assert "don't see" in (convo.say("cancel my appointment").reply or "")
    assert len(business.appointments) == 1


def test_reschedule_with_a_time_moves_the_appointment(business: Business) -> None:
    convo = chat(business)
    business.book_directly(convo.caller, business.service("Drain cleaning"), at(7, 9))
    reply = convo.say("can i reschedule to monday morning?").reply or ""
    assert "Fri 9:00 AM" in reply
    assert "Mon 8:00 AM" in reply
    convo.say("1")
    done = convo.say("yes").reply or ""
    assert "Mon 8:00 AM" in done
    assert "cancelled your old time" in done
    assert booked_starts(convo) == [at(10, 8)]


def test_reschedule_without_a_time_asks_for_one(business: Business) -> None:
    convo = chat(business)
    business.book_directly(convo.caller, business.service("Toilet repair"), at(7, 9))
    assert "What day or time works better" in (convo.say("need to move my appointment").reply or "")
    reply = convo.say("tuesday after 2").reply or ""
    assert "Tue 2:00 PM" in reply
    assert "Tue 3:00 PM" in reply


def test_reschedule_with_no_appointment_books_a_new_one(business: Business) -> None:
    reply = chat(business).say("reschedule my drain cleaning to friday 10am").reply or ""
    assert "don't see an upcoming appointment" in reply
    assert "Fri 10:00 AM" in reply


# -- small talk --


def test_greeting(business: Business) -> None:
    assert "How can we help" in (chat(business).say("hi").reply or "")


def test_emoji_only(business: Business) -> None:
    assert "Acme Plumbing" in (chat(business).say("😊").reply or "")


def test_gibberish_at_an_offer_nudges(business: Business) -> None:
    convo = chat(business)
    convo.say("drain cleaning tomorrow")
    assert "Which of those times" in (convo.say("hmm let me think").reply or "")


def test_every_claim_was_grounded_in_a_tool_result(business: Business) -> None:
    convo = chat(business)
    convo.say("drain cleaning tmrw at 3")
    held = convo.say("1")
    assert any(isinstance(result, HoldAttempt) and result.result.ok for result in held.results)


def test_price_question_while_clarifying_keeps_the_choices(business: Business) -> None:
    convo = chat(business)
    convo.say("my faucet is acting up")
    assert "Faucet repair or Faucet install" in (convo.say("how much?").reply or "")
    assert "$119" in (convo.say("the first").reply or "")


def test_picking_from_the_list_of_services(business: Business) -> None:
    convo = chat(business)
    assert "We do Drain cleaning" in (convo.say("can you come out tomorrow morning?").reply or "")
    reply = convo.say("the first one").reply or ""
    assert "Drain cleaning" in reply
    assert "Fri 8:00 AM" in reply
