"""How the stand-in decides one step: read the caller's latest text against what the conversation shows so far,
then either ask for the tool calls it needs or write the reply.

The decision is re-derived from the transcript on every request. :meth:`_Desk.tool` returns a result already in this
turn's messages or stops the decision with :class:`NeedTools`, which becomes the response's ``tool_calls``; the
client runs them and asks again with the results appended, and the same reading goes one step further. So the
model "remembers" only what a real one would: the texts, its own replies and the tool results it was sent.

What it knows of the world it reads there too: the slot ids and labels ``find_slots`` returned, the ``hold_id`` of
``place_hold``, names and prices from ``list_services``. Prices and times in a reply are copied from this turn's tool
results, never made up. Its reading of a text is the project's own (:func:`intents.read`, :func:`dates.parse_when`,
:func:`matching.rank`), and its wording the built-in engine's phrase book, so replies read like the office's.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from domain.conversations.engine.dates import WEEKDAYS, find_clock, find_weekday, parse_when
from domain.conversations.engine.formatting import hours_in, join_options
from domain.conversations.engine.intents import Signals, choice_index, normalize, read
from domain.conversations.engine.matching import kinds_in, rank, service_kind, words
from domain.conversations.engine.phrases import phrase
from domain.conversations.engine.ports import ServiceOption, SlotPreference
from domain.conversations.engine.replies import CHANGE_OF_MIND, DATE_SAID, ORDINAL_DAY, only_reply_words
from domain.conversations.messaging import count_segments
from ops.sandbox.chat_model.transcript import Exchange, Transcript

CONFIDENT = 0.75  # a match this sure, with no close second, is taken without asking
PLAUSIBLE = 0.5
MARGIN = 0.1
STICKY = 0.9  # mid-booking, only a match this sure (or "actually ...") switches the service
MAX_REPLY = 300  # what the system prompt asks for; a reply needing UCS-2 also stays within three segments
MAX_SEGMENTS = 3

_LABEL_CLOCK = re.compile(r"(\d{1,2}):(\d{2}) ?(AM|PM|a\. m\.|p\. m\.)")
_READ_ONLY = frozenset({"list_services", "match_services", "business_hours"})
_SPANISH_DAYS = {"lunes": 0, "martes": 1, "miercoles": 2, "jueves": 3, "viernes": 4, "sabado": 5, "domingo": 6}


class ToolNotOffered(Exception):
    """The decision needs a tool the request did not offer."""


class NeedTools(Exception):
    """Not a failure: the model's answer this round is "call these tools first"."""

    def __init__(self, calls: list[tuple[str, dict[str, Any]]]) -> None:
        super().__init__(", ".join(name for name, _ in calls))
        self.calls = calls


@dataclass
class Situation:
    """Where the conversation stands after the model's last reply."""

    stage: str = "idle"  # idle | offered | held | booked | clarify | offer_booking | confirm_cancel | ask_time
    offered: list[dict[str, str]] = field(default_factory=list)  # {"slot_id", "label"} as find_slots gave them
    hold: dict[str, Any] | None = None
    candidates: list[dict[str, Any]] = field(default_factory=list)  # services the last question named, in order
    appointment: dict[str, Any] | None = None
    focus: str | None = None  # the service_id being booked or quoted
    reschedule_of: str | None = None  # the appointment a booking replaces
    asked_price: bool = False  # the question was asked while the caller wanted a price


def _pref(text: str, transcript: Transcript) -> SlotPreference | None:
    """The time wish in ``text``; an ordinal that picks an option is not a day of the month."""
    folded = normalize(text)
    if choice_index(folded) is not None and not DATE_SAID.search(folded):
        folded = ORDINAL_DAY.sub(" ", folded)
    return parse_when(folded, transcript.now, transcript.tz)


def _label_time(label: str) -> tuple[int | None, int, int] | None:
    """(weekday, hour, minute) of a slot label such as "Thu 9:00 AM" or "jueves 20 de marzo, 9:00 a. m."."""
    match = _LABEL_CLOCK.search(label)
    if not match:
        return None
    hour = int(match.group(1)) % 12 + (12 if match.group(3).lower().startswith("p") else 0)
    first = normalize(label).split(" ")[0]
    weekday = WEEKDAYS.get(first, _SPANISH_DAYS.get(first))
    return weekday, hour, int(match.group(2))


def _services(result: Any) -> list[dict[str, Any]]:
    return [s for s in (result or {}).get("services") or [] if isinstance(s, dict)] if isinstance(result, dict) else []


def _option(service: dict[str, Any]) -> ServiceOption:
    try:
        key = uuid.UUID(str(service["service_id"]))
    except ValueError:
        key = uuid.uuid5(uuid.NAMESPACE_URL, str(service["service_id"]))
    return ServiceOption(key, str(service["name"]), 60, 0, confidence=float(service.get("confidence") or 1.0))


def _slots_listed(exchange: Exchange) -> list[dict[str, str]]:
    """The slots an exchange's reply offered: those its tool results listed whose label the reply repeats."""
    listed: list[dict[str, str]] = []
    for step in exchange.steps:
        if isinstance(step.result, dict):
            listed += [s for s in step.result.get("slots") or step.result.get("alternatives") or [] if "label" in s]
    reply = exchange.reply or ""
    return [slot for slot in listed if slot["label"] in reply]


class Decision:
    """One request's decision: :meth:`reply` returns the text or raises :class:`NeedTools`."""

    def __init__(self, transcript: Transcript, offered_tools: set[str]) -> None:
        self.t = transcript
        self.offered_tools = offered_tools
        self.lang = transcript.language
        self.parts: list[str] = []
        self.shorter: dict[int, str] = {}  # a part's shorter form, used when the whole reply would run long
        self.catalog_cache: list[dict[str, Any]] | None = None

    # -- the conversation so far ---------------------------------------------------------------------------------

    def tool(self, name: str, **args: Any) -> Any:
        for step in self.t.current.steps:
            if step.name == name and step.args == args:
                return step.result
        if name not in self.offered_tools:
            raise ToolNotOffered(name)
        raise NeedTools([(name, args)])

    def tools(self, *calls: tuple[str, dict[str, Any]]) -> list[Any]:
        """Several independent calls, asked for together (parallel tool calls) when any is missing."""
        missing = [(name, args) for name, args in calls if not self._has(name, args)]
        if missing:
            for name, _ in missing:
                if name not in self.offered_tools:
                    raise ToolNotOffered(name)
            raise NeedTools(missing)
        return [self.tool(name, **args) for name, args in calls]

    def _has(self, name: str, args: dict[str, Any]) -> bool:
        return any(step.name == name and step.args == args for step in self.t.current.steps)

    def say(self, key: str, **values: str) -> None:
        self.parts.append(phrase(self.lang, key, **values))

    def text(self) -> str:
        parts = list(self.parts)
        if _too_long(parts):
            parts = [self.shorter.get(index, part) for index, part in enumerate(parts)]
        while len(parts) > 1 and _too_long(parts):
            parts.pop(0)
        return " ".join(parts)

    def catalog(self) -> list[dict[str, Any]]:
        if self.catalog_cache is None:
            self.catalog_cache = _services(self.tool("list_services"))
        return self.catalog_cache

    def service(self, service_id: str | None) -> dict[str, Any] | None:
        return next((s for s in self.catalog() if s.get("service_id") == service_id), None)

    def situation(self) -> Situation:
        """Read back from the newest exchange: the question the model last asked, and what it was about."""
        sit = Situation()
        past = self.t.past
        for exchange in reversed(past):  # the service in focus: the last one slots were sought or a price given for
            sought = exchange.results("find_slots")
            if sought:
                sit.focus = str(sought[-1][0].get("service_id"))
                break
            quoted = self._quoted(exchange)
            if quoted is not None:
                sit.focus = quoted
                break
        for exchange in reversed(past):
            if exchange.results("confirm_hold") and exchange.results("confirm_hold")[-1][1].get("ok"):
                break
            found = [r.get("appointment") for _, r in exchange.results("upcoming_appointment")]
            signals = read(exchange.text)
            if found and found[-1] and (signals.reschedule or (signals.cancel and _pref(exchange.text, self.t))):
                sit.reschedule_of = str(found[-1]["appointment_id"])
                break
        # The newest exchange that acted sets the stage; replies that only nudged keep it.
        for exchange in reversed(past):
            if self._nudged(exchange):
                continue
            self._stage_of(exchange, sit)
            break
        return sit

    def _nudged(self, exchange: Exchange) -> bool:
        acted = [step for step in exchange.steps if step.name not in _READ_ONLY]
        return not acted and exchange.reply in (
            phrase(self.lang, "nudge_offered"),
            phrase(self.lang, "nudge_held"),
        )

    def _quoted(self, exchange: Exchange) -> str | None:
        """The service whose price the reply gave (and no times), if any."""
        if exchange.results("find_slots"):
            return None
        reply = exchange.reply or ""
        for _, result in exchange.results("list_services") + exchange.results("match_services"):
            for service in _services(result):
                if service["name"] in reply and str(service.get("price")) in reply:
                    return str(service["service_id"])
        return None

    def _stage_of(self, exchange: Exchange, sit: Situation) -> None:
        reply = exchange.reply or ""
        confirmed = exchange.results("confirm_hold")
        holds = exchange.results("place_hold")
        offered = _slots_listed(exchange)
        if confirmed and confirmed[-1][1].get("ok"):
            sit.stage = "booked"
        elif holds and holds[-1][1].get("ok"):
            sit.stage, sit.hold = "held", {**holds[-1][1], "slot_id": holds[-1][0].get("slot_id")}
            sit.offered = self._offered_before(exchange)
        elif offered:
            sit.stage, sit.offered = "offered", offered
        elif reply in (phrase(self.lang, "reject_offered"), phrase(self.lang, "reject_held")):
            sit.stage = "ask_time"
        elif exchange.results("upcoming_appointment") and not exchange.results("cancel_appointment"):
            appointment = exchange.results("upcoming_appointment")[-1][1].get("appointment")
            if appointment and read(exchange.text).reschedule:
                sit.stage = "ask_time"
            elif appointment:
                sit.stage, sit.appointment = "confirm_cancel", appointment
        elif self._quoted(exchange) is not None and "?" in reply:
            sit.stage = "offer_booking"
        elif "?" in reply:
            named = self._named(exchange)
            if named:
                sit.stage, sit.candidates = "clarify", named
                sit.asked_price = read(exchange.text).price
            elif sit.focus:
                sit.stage = "ask_time"

    def _offered_before(self, held_in: Exchange) -> list[dict[str, str]]:
        position = next(index for index, exchange in enumerate(self.t.past) if exchange is held_in)
        for exchange in reversed(self.t.past[:position]):
            if _slots_listed(exchange):
                return _slots_listed(exchange)
        return []

    def _named(self, exchange: Exchange) -> list[dict[str, Any]]:
        """The services the reply named, in the order it named them."""
        reply = exchange.reply or ""
        known: dict[str, dict[str, Any]] = {}
        for _, result in exchange.results("list_services") + exchange.results("match_services"):
            for service in _services(result):
                known.setdefault(str(service["name"]), service)
        found = [(reply.find(name), service) for name, service in known.items() if name in reply]
        return [service for _, service in sorted(found, key=lambda pair: pair[0])]

    def wish(self) -> str | None:
        """The caller's latest text that said when (kept across a change of service or a question)."""
        for exchange in [self.t.current, *reversed(self.t.past)]:
            if _pref(exchange.text, self.t) is not None:
                return exchange.text
        return None

    # -- the decision --------------------------------------------------------------------------------------------

    def reply(self) -> str:
        text = self.t.current.text
        signals = read(text)
        if DATE_SAID.search(signals.text) and signals.choice is not None:
            signals = _replace_choice(signals, choice_index(DATE_SAID.sub(" ", signals.text)))
        business = self.t.business
        if not signals.text:
            self.say("empty", business=business)
            return self.text()
        if signals.stop or signals.handoff:
            self.tool("handoff", reason="caller asked to stop" if signals.stop else "caller asked for a person",
                      urgent=signals.urgent)  # fmt: skip
            self.say("stop" if signals.stop else "handoff", business=business)
            return self.text()
        sit = self.situation()
        pref = _pref(text, self.t)
        if self.appointment_asked(signals, sit, pref):
            return self.text()
        if signals.hours:
            hours = self.tool("business_hours")
            self.say(
                "open_hours" if hours.get("open_now") else "closed_hours", hours=hours_in(hours["hours"], self.lang)
            )
        changed, asked = self.resolve_service(signals, sit)
        if asked:
            return self.text()
        if signals.urgent:
            hours = self.tool("business_hours")
            self.parts.insert(0, phrase(self.lang, "urgent_open" if hours.get("open_now") else "urgent_closed"))
        wants_price = signals.price or (changed and sit.asked_price)
        if wants_price and not self.quote(sit):
            return self.text()
        if not changed and self.continue_booking(signals, sit, pref):
            return self.text()
        self.maybe_offer(signals, sit, pref, changed, wants_price)
        if not self.parts:
            self.nudge(signals, sit)
        return self.text()

    def appointment_asked(self, signals: Signals, sit: Situation, pref: SlotPreference | None) -> bool:
        if sit.stage == "confirm_cancel" and sit.appointment and not signals.reschedule:
            if signals.yes or signals.cancel:
                done = self.tool("cancel_appointment", appointment_id=sit.appointment["appointment_id"])
                self.say("cancelled" if done.get("cancelled") else "cancel_failed")
                return True
            if signals.no:
                self.say("kept")
                return True
        if not (signals.cancel or signals.reschedule):
            return False
        appointment = self.tool("upcoming_appointment").get("appointment")
        if appointment is None:
            if signals.reschedule and not signals.cancel:
                self.say("no_upcoming_rebook")
                return False
            in_booking = sit.stage in ("offered", "held", "ask_time", "offer_booking")
            self.say("nothing_booked" if in_booking else "no_upcoming", business=self.t.business)
            return True
        if signals.reschedule or (signals.cancel and pref is not None):
            self.say("move", service=appointment["service"], when=appointment["label"])
            service = next((s for s in self.catalog() if s["name"] == appointment["service"]), None)
            if pref is not None and service is not None:
                self.offer(service, self.t.current.text, pref)
            else:
                self.say("which_time")
            return True
        self.say("confirm_cancel", service=appointment["service"], when=appointment["label"])
        return True

    def resolve_service(self, signals: Signals, sit: Situation) -> tuple[bool, bool]:
        """(the service changed this turn, a question was asked)."""
        if sit.stage == "clarify":
            chosen = _answer(signals, sit.candidates)
            if chosen is not None:
                sit.focus = str(chosen["service_id"])
                return True, False
            if len(sit.candidates) == 1 and signals.no:
                self.ask_service(phrase(self.lang, "sorry_what"))
                return False, True
        if _only_reply_words(signals):
            return False, False
        changing = bool(CHANGE_OF_MIND.search(signals.text))
        if sit.stage in ("offered", "held") and not changing and _answers_booking(signals, sit):
            return False, False
        catalog, matched = self.tools(("list_services", {}), ("match_services", {"text": self.t.current.text}))
        self.catalog_cache = _services(catalog)
        options = {_option(s).id: s for s in self.catalog_cache}
        reading = rank(signals.text, [_option(s) for s in self.catalog_cache], [_option(s) for s in _services(matched)])
        if reading.not_offered:
            names = join_options([s["name"] for s in self.catalog_cache[:4]], self.lang)
            self.parts = [p for p in self.parts if "urgent" not in p]  # someone else's emergency is not ours
            self.say("not_offered", business=self.t.business, names=names)
            return False, True
        plausible = [o for o in reading.options if o.confidence >= PLAUSIBLE]
        if not plausible:
            return False, False
        top = plausible[0]
        close = [o for o in plausible[1:] if o.confidence > top.confidence - MARGIN]
        top_id = str(options[top.id]["service_id"])
        if sit.focus and sit.stage in ("offered", "held") and not changing and top.confidence < STICKY:
            return False, False
        if top.confidence >= CONFIDENT and not close:
            if sit.focus != top_id:
                sit.focus = top_id
                return True, False
            return False, False
        pair = [top, *close][:2]
        if sit.focus in {str(options[o.id]["service_id"]) for o in pair}:
            return False, False
        if len(pair) == 2:
            self.say("clarify_two", first=pair[0].name, second=pair[1].name)
        else:
            self.say("clarify_one", first=pair[0].name)
        return False, True

    def ask_service(self, lead: str) -> None:
        names = [s["name"] for s in self.catalog()[:4]]
        if names:
            self.shorter[len(self.parts)] = lead
            self.parts.append(phrase(self.lang, "we_do", lead=lead, names=join_options(names, self.lang)))
        else:
            self.parts.append(lead)

    def quote(self, sit: Situation) -> bool:
        """The price of the service in focus; False when the caller must first say which service."""
        if sit.focus is None:
            if sit.stage == "clarify" and len(sit.candidates) == 2:
                first, second = (c["name"] for c in sit.candidates)
                self.say("price_clarify", first=first, second=second)
            else:
                self.ask_service(phrase(self.lang, "price_which"))
            return False
        service = self.service(sit.focus)
        if service is None:
            self.say("what_help")
            return False
        self.say("price", service=service["name"], price=str(service["price"]))
        return True

    def continue_booking(self, signals: Signals, sit: Situation, pref: SlotPreference | None) -> bool:
        """Answers that only make sense after the last question: a pick, a yes, a no."""
        if sit.stage == "offered":
            slot = _pick(signals, sit.offered)
            if slot is not None:
                return self.hold(slot, sit)
            if (signals.reject or signals.no) and pref is None:
                self.say("reject_offered")
                return True
            if signals.yes and pref is None and sit.offered:
                return self.hold(sit.offered[0], sit)
        elif sit.stage == "held" and sit.hold:
            if signals.yes and pref is None and signals.choice is None:
                return self.confirm(sit)
            slot = _pick(signals, sit.offered)
            if slot is not None and slot["slot_id"] != sit.hold.get("slot_id"):
                return self.hold(slot, sit)
            if (signals.no or signals.reject) and pref is None:
                self.say("reject_held")
                return True
        elif sit.stage == "offer_booking":
            if signals.yes:
                service = self.service(sit.focus)
                if service is not None:
                    return self.offer(service, self.t.current.text if pref else "", pref)
            if signals.no:
                self.say("no_booking")
                return True
        elif sit.stage == "booked" and (signals.thanks or signals.yes) and pref is None and not signals.book:
            self.say("welcome_booked")
            return True
        return False

    def hold(self, slot: dict[str, str], sit: Situation) -> bool:
        result = self.tool("place_hold", slot_id=slot["slot_id"])
        service = self.service(sit.focus) or {"name": ""}
        if result.get("ok"):
            self.say("holding", when=result["label"], service=service["name"])
        else:
            self.alternatives(result)
        return True

    def confirm(self, sit: Situation) -> bool:
        assert sit.hold is not None
        result = self.tool("confirm_hold", hold_id=sit.hold["hold_id"])
        if not result.get("ok"):
            self.alternatives(result)
            return True
        self.say("booked", service=result["service"], when=result["label"])
        if sit.reschedule_of and self.tool("cancel_appointment", appointment_id=sit.reschedule_of).get("cancelled"):
            self.say("old_cancelled")
        self.say("thanks_choosing", business=self.t.business)
        return True

    def alternatives(self, result: dict[str, Any]) -> None:
        labels = [slot["label"] for slot in result.get("alternatives") or []][:3]
        lead = phrase(self.lang, "taken")
        if labels:
            self.say("alternatives", lead=lead, labels=join_options(labels, self.lang))
        else:
            self.say("other_time", lead=lead)

    def maybe_offer(
        self, signals: Signals, sit: Situation, pref: SlotPreference | None, changed: bool, priced: bool
    ) -> None:
        when = self.t.current.text if pref is not None else (self.wish() if changed else None)
        wants_time = (
            when is not None or signals.book or changed or signals.urgent or sit.stage in ("ask_time", "clarify")
        )
        service = self.service(sit.focus) if sit.focus else None
        if service is None:
            if sit.stage == "clarify" and (signals.thanks or signals.no) and not signals.book:
                self.say("no_booking")  # "no thanks" to "can I help with one of those?" is a goodbye
                return
            if wants_time and (signals.book or pref is not None or sit.stage == "clarify"):
                self.ask_service(phrase(self.lang, "what_help" if self.parts else "what_done"))
            return
        if priced and pref is None and not signals.book and not signals.urgent:
            self.say("find_time")
            return
        if wants_time:
            if when is None and signals.urgent:
                when = "asap"
            self.offer(service, when or "", _pref(when, self.t) if when else None)

    def offer(self, service: dict[str, Any], when: str, pref: SlotPreference | None) -> bool:
        asap = bool(pref and pref.asap)
        slots = list(self.tool("find_slots", service_id=service["service_id"], when=when).get("slots") or [])
        lead = "soonest" if asap else "have"
        if not slots and not asap and pref is not None and pref.earliest is not None:
            # Nothing in the window asked for: the soonest of the next few days after it (asked together), never
            # a time before what the caller asked for.
            day = pref.earliest.astimezone(ZoneInfo(self.t.tz)).date()
            days = [day + timedelta(days=ahead) for ahead in (1, 2, 3)]
            calls = [("find_slots", {"service_id": service["service_id"], "when": f"{d.month}/{d.day}"}) for d in days]
            found = [r.get("slots") or [] for r in self.tools(*calls) if isinstance(r, dict)]
            slots = next((listed for listed in found if listed), [])
            if slots:
                self.say("nothing_then")
                lead = "soonest_after"
        if not slots:
            self.say("nothing_open")
            return True
        labels = [slot["label"] for slot in (slots[:1] if asap else slots[:3])]
        named = any(service["name"] in part for part in self.parts)
        for_service = "" if named else phrase(self.lang, "for_service", service=service["name"])
        opener = phrase(self.lang, lead)
        if len(labels) == 1:
            self.say("offer_one", opener=opener, label=labels[0], for_service=for_service)
        else:
            self.say("offer_many", opener=opener, labels=join_options(labels, self.lang), for_service=for_service)
        return True

    def nudge(self, signals: Signals, sit: Situation) -> None:
        business = self.t.business
        if sit.stage == "offered":
            self.say("nudge_offered")
        elif sit.stage == "held":
            self.say("nudge_held")
        elif sit.stage == "booked" and signals.thanks:
            self.say("welcome_booked")
        elif signals.thanks:
            self.say("welcome", business=business)
        elif sit.stage == "clarify":
            self.ask_service(phrase(self.lang, "didnt_catch"))
        elif sit.stage == "ask_time":
            self.say("ask_time")
        elif signals.greeting:
            self.say("greeting", business=business)
        else:
            self.say("default", business=business)


def _replace_choice(signals: Signals, choice: int | None) -> Signals:
    return replace(signals, choice=choice)


def _too_long(parts: list[str]) -> bool:
    whole = " ".join(parts)
    return len(whole) > MAX_REPLY or count_segments(whole).count > MAX_SEGMENTS


def _only_reply_words(signals: Signals) -> bool:
    return only_reply_words(signals.text)


def _answers_booking(signals: Signals, sit: Situation) -> bool:
    return (
        _pick(signals, sit.offered) is not None
        or signals.yes
        or signals.no
        or signals.reject
        or signals.choice is not None
        or find_clock(signals.text) is not None
    )


def _pick(signals: Signals, offered: list[dict[str, str]]) -> dict[str, str] | None:
    """The offered slot the caller chose: by position, or by the time or day its label says (when only one fits)."""
    if not offered:
        return None
    if signals.choice is not None and -len(offered) <= signals.choice < len(offered):
        return offered[signals.choice]
    clock = find_clock(signals.text)
    weekday = find_weekday(signals.text)
    matches = offered
    if clock is not None and clock.relation == "at":
        matches = [s for s in matches if (_label_time(s["label"]) or (None, -1, -1))[1:] == (clock.hour, clock.minute)]
    if weekday is not None:
        matches = [s for s in matches if (_label_time(s["label"]) or (None, 0, 0))[0] == weekday]
    if (clock is not None or weekday is not None) and len(matches) == 1:
        return matches[0]
    if len(offered) == 1 and signals.yes:
        return offered[0]
    return None


def _answer(signals: Signals, candidates: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Which of the services the last question named the text picks: by position, by a word of its name the others
    lack ("the repair one"), by the kind of job ("fix it"), or "yes" when one was named."""
    if not candidates or signals.no:
        return None
    if signals.choice is not None and -len(candidates) <= signals.choice < len(candidates):
        return candidates[signals.choice]
    if len(candidates) == 1 and signals.yes:
        return candidates[0]
    said = set(words(signals.text))
    names = [set(words(str(c["name"]).replace("-", " "))) | set(words(str(c["name"]))) for c in candidates]
    shared = set.intersection(*names) if len(names) > 1 else set()
    by_word = [c for c, name in zip(candidates, names, strict=True) if (name - shared) & said]
    if len(by_word) == 1:
        return by_word[0]
    kinds = kinds_in(words(signals.text))
    by_kind = [c for c in candidates if service_kind(str(c["name"])) in kinds]
    return by_kind[0] if len(by_kind) == 1 else None
