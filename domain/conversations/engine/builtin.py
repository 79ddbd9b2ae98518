"""The built-in conversation engine: deterministic, offline, and grounded in what the booking tools return.

One turn reads the caller's text (:mod:`intents`, :mod:`dates`), advances a small state machine kept in the
conversation's engine state, and writes a short friendly reply in the caller's language (:mod:`language`,
:mod:`phrases`: English, or Spanish unless the tenant turned it off, when a Spanish caller goes to a person).
Prices, times and bookings in a reply always come from a tool call made in the same turn, so the guard never has
to stop this engine.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from domain.conversations.engine.dates import find_clock, find_weekday, parse_when
from domain.conversations.engine.formatting import (
    hours_in,
    join_options,
    money,
    slot_from_json,
    slot_label,
    slot_to_json,
)
from domain.conversations.engine.intents import Signals, choice_index, read
from domain.conversations.engine.language import Language, content_words, conversation_language, remembered_language
from domain.conversations.engine.matching import gloss, kinds_in, service_kind, words
from domain.conversations.engine.matching import rank as rank_services
from domain.conversations.engine.phrases import phrase
from domain.conversations.engine.ports import (
    BookingTools,
    HandoffReason,
    ServiceOption,
    SlotOption,
    SlotPreference,
    Turn,
    TurnResult,
)
from domain.conversations.engine.replies import (
    CHANGE_OF_MIND,
    CLEAR_DATE,
    DATE_SAID,
    ORDINAL_DAY,
    only_reply_words,
)
from domain.conversations.messaging import count_segments

STATE_KEY = "builtin"
CONFIDENT = 0.75
PLAUSIBLE = 0.5
MARGIN = 0.1
MAX_REPLY = 300
MAX_SEGMENTS = 3  # a reply that needs UCS-2 (a Spanish "sábado") is held to the same three-segment budget


def _too_long(parts: list[str]) -> bool:
    whole = " ".join(parts)
    return len(whole) > MAX_REPLY or count_segments(whole).count > MAX_SEGMENTS


@dataclass
class _Reply:
    parts: list[str] = field(default_factory=list)
    shorter: dict[int, str] = field(default_factory=dict)

    def add(self, text: str, shorter: str | None = None) -> None:
        if shorter is not None:
            self.shorter[len(self.parts)] = shorter
        self.parts.append(text)

    def text(self) -> str | None:
        if not self.parts:
            return None
        # When the whole would not fit in two SMS segments (three for UCS-2), parts first give up what they can
        # spare (the list of services after a question), then optional lead-ins go, first to last.
        parts = list(self.parts)
        if _too_long(parts):
            parts = [self.shorter.get(index, part) for index, part in enumerate(parts)]
        while len(parts) > 1 and _too_long(parts):
            parts.pop(0)
        return " ".join(parts)


def _pref_to_json(pref: SlotPreference) -> dict[str, Any]:
    return {
        "earliest": pref.earliest.isoformat() if pref.earliest else None,
        "latest": pref.latest.isoformat() if pref.latest else None,
        "part_of_day": pref.part_of_day,
        "weekday": pref.weekday,
        "asap": pref.asap,
    }


def _pref_from_json(data: dict[str, Any] | None, now: datetime) -> SlotPreference | None:
    if not data:
        return None
    latest = datetime.fromisoformat(data["latest"]) if data.get("latest") else None
    if latest is not None and latest <= now:
        return None  # a wish for a time that has passed is no wish at all
    earliest = datetime.fromisoformat(data["earliest"]) if data.get("earliest") else now
    return SlotPreference(
        earliest=max(earliest, now),
        latest=latest,
        part_of_day=data.get("part_of_day"),
        weekday=data.get("weekday"),
        asap=bool(data.get("asap")),
    )


class BuiltinEngine:
    """Deterministic rule-based engine (the default, ``AI_PROVIDER=builtin``)."""

    name = "builtin"

    def respond(self, turn: Turn, tools: BookingTools) -> TurnResult:
        return _TurnRun(turn, tools).run()


class _TurnRun:
    def __init__(self, turn: Turn, tools: BookingTools) -> None:
        self.turn = turn
        self.tools = tools
        self.tz = turn.timezone
        self.now = turn.now
        self.today = turn.now.astimezone(ZoneInfo(turn.timezone)).date()
        self.state: dict[str, Any] = dict(turn.state.get(STATE_KEY) or {})
        self.state.setdefault("stage", "idle")
        self.reply = _Reply()
        self.urgent = False
        self.handoff: HandoffReason | None = None
        self.price_asked = False
        self.lang: Language = conversation_language(turn.text, remembered_language(turn.state))
        self.state["lang"] = self.lang

    # -- plumbing -------------------------------------------------------------------------------------------------

    @property
    def stage(self) -> str:
        return str(self.state["stage"])

    def go(self, stage: str) -> None:
        self.state["stage"] = stage

    def label(self, slot: SlotOption) -> str:
        return slot_label(slot.starts_at, self.tz, self.today, self.lang)

    def say(self, key: str, **values: str) -> None:
        self.reply.add(self.t(key, **values))

    def t(self, key: str, **values: str) -> str:
        return phrase(self.lang, key, **values)

    def join(self, labels: list[str]) -> str:
        return join_options(labels, self.lang)

    def service(self) -> dict[str, str] | None:
        service = self.state.get("service")
        return service if isinstance(service, dict) else None

    def set_service(self, option: ServiceOption) -> None:
        self.state["service"] = {"id": str(option.id), "name": option.name}

    def offered(self) -> list[SlotOption]:
        return [slot_from_json(item) for item in self.state.get("offered") or []]

    def finish(self) -> TurnResult:
        reply = self.reply.text()
        if reply is not None and reply == self.state.get("last_reply") and self.stage in ("ask_service", "clarify"):
            # Never the same question twice in a row: a caller who did not follow it once will not the second time.
            reply = self.t("said_again", business=self.turn.business_name)
        if reply is not None:
            self.state["last_reply"] = reply
        new_state = {**self.turn.state, STATE_KEY: self.state}
        return TurnResult(
            reply=reply,
            state=new_state,
            handoff=self.handoff is not None,
            urgent=self.urgent,
            handoff_reason=self.handoff,
            engine="builtin",
        )

    # -- the turn -------------------------------------------------------------------------------------------------

    def run(self) -> TurnResult:
        signals = _without_date_ordinal(read(self.turn.text))
        business = self.turn.business_name
        if not signals.text:
            self.say("empty", business=business)
            return self.finish()
        if signals.stop:
            self.go("handed_off")
            self.handoff = "stop_requested"
            self.say("stop", business=business)
            return self.finish()
        if self.lang == "es" and not self.turn.spanish:
            # The tenant answers Spanish callers itself: one acknowledgement in Spanish, then a person.
            self.go("handed_off")
            self.handoff = "language"
            self.urgent = signals.urgent or bool(self.state.get("urgent"))
            self.say("spanish_off", business=business)
            return self.finish()
        if signals.handoff:
            self.go("handed_off")
            self.handoff = "person_requested"
            self.urgent = signals.urgent or bool(self.state.get("urgent"))
            self.say("handoff", business=business)
            return self.finish()
        if self.stage == "handed_off":
            self.go("idle")  # the conversation came back to the AI

        pref = self.time_wish(signals)
        if signals.urgent:
            self.urgent = True
            self.state["urgent"] = True
            open_now = self.tools.is_open_now()
            self.say("urgent_open" if open_now else "urgent_closed")
            if pref is None:
                pref = SlotPreference(earliest=self.now, asap=True)  # an emergency wants the soonest

        if self.handle_appointment(signals, pref):
            return self.finish()
        if signals.hours:
            self.tell_hours()

        changed, asked = self.resolve_service(signals)
        if asked:
            if pref is not None:
                self.state["pending_pref"] = _pref_to_json(pref)
            return self.finish()
        wants_price = signals.price or (changed and bool(self.state.pop("pending_price", False)))
        self.price_asked = wants_price
        if wants_price and not self.quote(changed):
            return self.finish()
        if not changed and self.continue_flow(signals, pref):
            return self.finish()
        self.maybe_offer(signals, pref, changed)
        if not self.reply.parts:
            self.nudge(signals)
        return self.finish()

    # -- pieces ---------------------------------------------------------------------------------------------------

    def time_wish(self, signals: Signals) -> SlotPreference | None:
        """When the caller would like to be seen, if this text says so. After a list of times, "the 2nd" picks the
        second time, not the 2nd of the month (unless the text is clearly a date); the wish is remembered so a
        change of service keeps it."""
        text = signals.text
        if self.stage in ("offered", "held") and signals.choice is not None and not CLEAR_DATE.search(text):
            text = ORDINAL_DAY.sub(" ", text)
        pref = parse_when(text, self.now, self.tz)
        if pref is not None:
            self.state["wish"] = _pref_to_json(pref)
        return pref

    def handle_appointment(self, signals: Signals, pref: SlotPreference | None) -> bool:
        """Cancel and reschedule of an existing appointment; True when the turn is fully answered."""
        if self.stage == "confirm_cancel" and not signals.reschedule:
            appointment_id = UUID(str(self.state.get("appointment_id")))
            if signals.yes or signals.cancel:
                self.say("cancelled" if self.tools.cancel_appointment(appointment_id) else "cancel_failed")
                self.state.pop("appointment_id", None)
                self.go("idle")
                return True
            if signals.no:
                self.say("kept")
                self.go("idle")
                return True
        if not (signals.cancel or signals.reschedule):
            return False
        in_flow = self.stage in ("offered", "held", "ask_time", "offer_booking")
        appointment = self.tools.upcoming_appointment()
        if appointment is None:
            if signals.reschedule and not signals.cancel:
                self.say("no_upcoming_rebook")
                return False
            if in_flow:
                self.say("nothing_booked")
                for key in ("offered", "hold", "service"):
                    self.state.pop(key, None)
                self.go("idle")
                return True
            self.say("no_upcoming", business=self.turn.business_name)
            return True
        when = self.label(appointment.slot)
        if signals.reschedule or (signals.cancel and pref is not None):
            self.state["reschedule_of"] = str(appointment.id)
            self.state["service"] = {"id": str(appointment.service_id), "name": appointment.service_name}
            for key in ("offered", "hold"):
                self.state.pop(key, None)
            self.say("move", service=appointment.service_name, when=when)
            if pref is not None and self.offer(pref):
                return True
            if pref is None:
                self.say("which_time")
            self.go("ask_time")
            return True
        self.state["appointment_id"] = str(appointment.id)
        self.go("confirm_cancel")
        self.say("confirm_cancel", service=appointment.service_name, when=when)
        return True

    def tell_hours(self) -> None:
        open_now = self.tools.is_open_now()
        hours = hours_in(self.tools.hours_text(), self.lang)
        self.say("open_hours" if open_now else "closed_hours", hours=hours)

    def resolve_service(self, signals: Signals) -> tuple[bool, bool]:
        """(the service changed this turn, a question was asked)."""
        current = self.service()
        if self.stage in ("clarify", "ask_service"):
            candidates = self.state.get("candidates") or []
            chosen = _answer_to_choice(signals, candidates, yes_means_first=self.stage == "clarify")
            if chosen is not None:
                self.state["service"] = chosen
                self.state.pop("candidates", None)
                return True, False
            if len(candidates) == 1 and signals.no:
                self.state.pop("candidates", None)
                self.ask_service(self.t("sorry_what"))
                return False, True
        if only_reply_words(signals.text):
            return False, False
        changing = bool(CHANGE_OF_MIND.search(signals.text))
        if self.stage in ("offered", "held") and not changing and self.answers_booking(signals):
            # While times are offered or a hold waits, a short reply is a choice or a confirmation, never a new
            # service request ("9am is good, it's the kitchen sink" keeps the faucet repair).
            return False, False
        catalog = self.tools.list_services()
        query = signals.text
        if self.lang == "es":
            # The tenant's names and aliases are mostly English: the subjects in the vocabulary's English words,
            # and the Spanish text without its small words ("a", "el", "que" look like "a/c" to a fuzzy search).
            query = f"{content_words(query)} {gloss(query)}"
        reading = rank_services(signals.text, catalog, self.tools.match_services(query))
        if reading.not_offered:
            self.not_offered(catalog)
            return False, True
        options = [option for option in reading.options if option.confidence >= PLAUSIBLE]
        if not options:
            return False, False
        top = options[0]
        close = [option for option in options[1:] if option.confidence > top.confidence - MARGIN]
        if current is not None and self.stage in ("offered", "held") and not changing and top.confidence < 0.9:
            return False, False  # a weak match mid-booking does not switch the service
        if top.confidence >= CONFIDENT and not close:
            self.state["quote"] = {"id": str(top.id)}
            if current is None or current["id"] != str(top.id):
                self.set_service(top)
                for key in ("offered", "hold", "candidates"):
                    self.state.pop(key, None)
                return True, False
            return False, False
        pair = [top, *close][:2]
        if current is not None and any(str(option.id) == current["id"] for option in pair):
            return False, False
        self.state["candidates"] = [{"id": str(option.id), "name": option.name} for option in pair]
        self.state["pending_price"] = signals.price
        self.go("clarify")
        if len(pair) == 2:
            self.say("clarify_two", first=pair[0].name, second=pair[1].name)
        else:
            self.say("clarify_one", first=pair[0].name)
        return False, True

    def answers_booking(self, signals: Signals) -> bool:
        """The text picks an offered time, confirms, refuses or asks for another time."""
        return (
            self.pick(signals) is not None
            or signals.yes
            or signals.no
            or signals.reject
            or signals.choice is not None
            or find_clock(signals.text) is not None
        )

    def not_offered(self, catalog: list[ServiceOption]) -> None:
        """A job this business does not do: say so plainly, say what it does, never offer an unrelated item."""
        listed = catalog[:4]
        if self.urgent:
            # Someone else's emergency (overflowing gutters at a plumber's): not flagged to this team as ours.
            urgent_lines = {self.t("urgent_open"), self.t("urgent_closed")}
            self.reply.parts = [part for part in self.reply.parts if part not in urgent_lines]
            self.urgent = False
            self.state.pop("urgent", None)
        self.state["candidates"] = [{"id": str(option.id), "name": option.name} for option in listed]
        for key in ("offered", "hold", "service"):
            self.state.pop(key, None)
        self.go("ask_service")
        names = self.join([option.name for option in listed])
        self.say("not_offered", business=self.turn.business_name, names=names)

    def ask_service(self, lead: str) -> None:
        listed = self.tools.list_services()[:4]
        names = [option.name for option in listed]
        # "the first one" may answer this list, so it is remembered like the choices of a clarifying question.
        self.state["candidates"] = [{"id": str(option.id), "name": option.name} for option in listed]
        self.go("ask_service")
        if names:
            self.reply.add(self.t("we_do", lead=lead, names=self.join(names)), shorter=lead)
        else:
            self.reply.add(lead)

    def quote(self, changed: bool) -> bool:
        """Add the price of the current service; False when the caller must first say which service."""
        service = self.service()
        if service is None:
            self.state["pending_price"] = True
            candidates = self.state.get("candidates") or []
            if self.stage == "clarify" and len(candidates) == 2:
                self.say("price_clarify", first=candidates[0]["name"], second=candidates[1]["name"])
                return False
            self.ask_service(self.t("price_which"))
            return False
        option = next((o for o in self.tools.list_services() if str(o.id) == service["id"]), None)
        if option is None:
            self.say("not_offering", service=service["name"])
            self.state.pop("service", None)
            self.go("idle")
            return False
        self.say("price", service=option.name, price=money(option.price_cents, option.currency))
        return True

    def continue_flow(self, signals: Signals, pref: SlotPreference | None) -> bool:
        """Answers that only make sense at the current stage (picking a slot, yes to a hold, ...)."""
        stage = self.stage
        if stage == "offered":
            slot = self.pick(signals)
            if slot is not None:
                self.hold(slot)
                return True
            if (signals.reject or signals.no) and pref is None:
                self.say("reject_offered")
                self.go("ask_time")
                return True
            offered = self.offered()
            if signals.yes and pref is None and offered:
                # "ok", "sure", 👍 after several times: take the first and confirm it back, never ask again.
                self.hold(offered[0])
                return True
        elif stage == "held":
            hold = self.state.get("hold") or {}
            if signals.yes and pref is None and signals.choice is None:
                self.confirm(UUID(hold["id"]))
                return True
            slot = self.pick(signals)
            if slot is not None and slot_to_json(slot) != hold.get("slot"):
                self.hold(slot)
                return True
            if (signals.no or signals.reject) and pref is None:
                self.say("reject_held")
                self.state.pop("hold", None)
                self.go("ask_time")
                return True
        elif stage == "offer_booking":
            if signals.yes:
                return self.offer(pref or SlotPreference(earliest=self.now))
            if signals.no:
                self.say("no_booking")
                self.go("idle")
                return True
        elif stage == "booked" and (signals.thanks or signals.yes) and pref is None and not signals.book:
            self.say("welcome_booked")
            return True
        return False

    def pick(self, signals: Signals) -> SlotOption | None:
        """The offered slot the caller chose, by position, by time of day or by weekday (only when unique)."""
        offered = self.offered()
        if not offered:
            return None
        if signals.choice is not None and -len(offered) <= signals.choice < len(offered):
            return offered[signals.choice]
        zone = ZoneInfo(self.tz)
        clock = find_clock(signals.text)
        weekday = find_weekday(signals.text)
        matches = offered
        if clock is not None and clock.relation == "at":
            matches = [
                s
                for s in matches
                if (s.starts_at.astimezone(zone).hour, s.starts_at.astimezone(zone).minute)
                == (clock.hour, clock.minute)
            ]
        if weekday is not None:
            matches = [s for s in matches if s.starts_at.astimezone(zone).weekday() == weekday]
        if (clock is not None or weekday is not None) and len(matches) == 1:
            return matches[0]
        if len(offered) == 1 and signals.yes:
            return offered[0]
        return None

    def hold(self, slot: SlotOption) -> None:
        service = self.service()
        assert service is not None  # a slot is only ever offered for a chosen service
        result = self.tools.place_hold(UUID(service["id"]), slot)
        if result.hold is not None:
            self.state["hold"] = {"id": str(result.hold.id), "slot": slot_to_json(result.hold.slot)}
            self.go("held")
            self.say("holding", when=self.label(result.hold.slot), service=service["name"])
            return
        self.offer_alternatives(self.t("taken"), list(result.alternatives))

    def confirm(self, hold_id: UUID) -> None:
        result = self.tools.confirm_hold(hold_id)
        if result.appointment is None:
            self.state.pop("hold", None)
            self.offer_alternatives(self.t("taken"), list(result.alternatives))
            return
        appointment = result.appointment
        self.state.pop("hold", None)
        self.state.pop("offered", None)
        self.go("booked")
        self.say("booked", service=appointment.service_name, when=self.label(appointment.slot))
        old = self.state.pop("reschedule_of", None)
        if old and self.tools.cancel_appointment(UUID(old)):
            self.say("old_cancelled")
        self.say("thanks_choosing", business=self.turn.business_name)

    def offer_alternatives(self, lead: str, alternatives: list[SlotOption]) -> None:
        if alternatives:
            self.state["offered"] = [slot_to_json(slot) for slot in alternatives[:3]]
            self.go("offered")
            labels = [self.label(slot) for slot in alternatives[:3]]
            self.say("alternatives", lead=lead, labels=self.join(labels))
        else:
            self.state.pop("offered", None)
            self.go("ask_time")
            self.say("other_time", lead=lead)

    def maybe_offer(self, signals: Signals, pref: SlotPreference | None, changed: bool) -> None:
        service = self.service()
        pending = _pref_from_json(self.state.pop("pending_pref", None), self.now)
        pref = pref or pending
        if pref is None and changed:
            pref = _pref_from_json(self.state.get("wish"), self.now)  # a new service keeps the time wish given
        wants_time = (
            pref is not None
            or signals.book
            or changed
            or self.urgent
            or self.stage in ("ask_time", "ask_service", "clarify")
        )
        if service is None:
            if self.stage in ("ask_service", "clarify") and (signals.thanks or signals.no) and not signals.book:
                # "no thanks" to "can I help with one of those?": a goodbye, not the question again.
                self.state.pop("candidates", None)
                self.go("idle")
                self.say("no_booking")
                return
            candidates = self.state.get("candidates") or []
            if self.stage == "clarify" and len(candidates) == 2 and signals.yes and pref is None:
                # "yes" to "A or B?" says neither: ask which, keeping the two (the whole list lost the choice).
                self.say("clarify_which", first=candidates[0]["name"], second=candidates[1]["name"])
                return
            if wants_time and (signals.book or pref is not None or self.stage in ("ask_service", "clarify")):
                if pref is not None:
                    self.state["pending_pref"] = _pref_to_json(pref)
                lead = self.t("what_help") if self.reply.parts else self.t("what_done")
                self.ask_service(lead)
            return
        if self.quoted_only(signals, pref):
            self.say("find_time")
            self.go("offer_booking")
            return
        if wants_time:
            self.offer(pref or SlotPreference(earliest=self.now))

    def quoted_only(self, signals: Signals, pref: SlotPreference | None) -> bool:
        """The caller asked what it costs, not when it can be done: answer and offer to find a time."""
        return self.price_asked and pref is None and not signals.book and not self.urgent

    def offer(self, pref: SlotPreference) -> bool:
        service = self.service()
        if service is None:
            return False
        # Asked for the earliest: the one earliest time, to confirm; otherwise a few to choose from.
        limit = 1 if pref.asap else 3
        slots = self.tools.find_slots(UUID(service["id"]), pref, limit)
        lead = self.t("soonest") if pref.asap else self.t("have")
        if not slots and not pref.asap:
            # Nothing in the window asked for (a closed day, a full morning): the soonest after it, not a dead end.
            slots = self.tools.find_slots(UUID(service["id"]), SlotPreference(earliest=pref.earliest, asap=True), limit)
            if slots:
                self.say("nothing_then")
                lead = self.t("soonest_after")
        if not slots:
            self.state.pop("offered", None)
            self.go("ask_time")
            self.say("nothing_open")
            return True
        self.state["offered"] = [slot_to_json(slot) for slot in slots]
        self.state.pop("hold", None)
        self.go("offered")
        labels = [self.label(slot) for slot in slots]
        if len(slots) == 1:
            opener = self.t("soonest") if pref.asap else self.t("have")
            self.say("offer_one", opener=opener, label=labels[0], for_service=self.for_service(service))
        else:
            self.say("offer_many", opener=lead, labels=self.join(labels), for_service=self.for_service(service))
        return True

    def for_service(self, service: dict[str, str]) -> str:
        """for your X" unless the reply already names the service."""
        named = any(service["name"] in part for part in self.reply.parts)
        return "" if named else self.t("for_service", service=service["name"])

    def nudge(self, signals: Signals) -> None:
        business = self.turn.business_name
        stage = self.stage
        if stage == "offered":
            self.say("nudge_offered")
        elif stage == "held":
            self.say("nudge_held")
        elif stage == "booked" and signals.thanks:
            self.say("welcome_booked")
        elif signals.thanks:
            self.say("welcome", business=business)
        elif stage in ("ask_service", "clarify"):
            self.ask_service(self.t("didnt_catch"))
        elif stage == "ask_time":
            self.say("ask_time")
        elif signals.greeting:
            self.say("greeting", business=business)
        else:
            self.say("default", business=business)


def _without_date_ordinal(signals: Signals) -> Signals:
    """The caller's pick by position, read without the numbers of a date the text names ("can you do the 2nd of
    april instead?" picks nothing; "the first one, april 2nd" still picks the first)."""
    if signals.choice is None or not DATE_SAID.search(signals.text):
        return signals
    return replace(signals, choice=choice_index(DATE_SAID.sub(" ", signals.text)))


def _answer_to_choice(
    signals: Signals, candidates: list[dict[str, str]], *, yes_means_first: bool
) -> dict[str, str] | None:
    """Which of the options the engine just listed the caller's text picks: by position ("the first", "2"), by a
    word of its name that the others lack ("the repair one"), or by the kind of job ("fix it", "a new one")."""
    if not candidates or signals.no:
        return None
    if signals.choice is not None and -len(candidates) <= signals.choice < len(candidates):
        return candidates[signals.choice]
    if len(candidates) == 1 and signals.yes and yes_means_first:
        return candidates[0]
    said = set(words(signals.text))
    names = [
        set(words(candidate["name"].replace("-", " "))) | set(words(candidate["name"])) for candidate in candidates
    ]
    shared = set.intersection(*names) if len(names) > 1 else set()
    by_word = [c for c, name in zip(candidates, names, strict=True) if (name - shared) & said]
    if len(by_word) == 1:
        return by_word[0]
    kinds = kinds_in(words(signals.text))
    by_kind = [c for c in candidates if service_kind(c["name"]) in kinds]
    if len(by_kind) == 1:
        return by_kind[0]
    return None
