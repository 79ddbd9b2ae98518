"""Quiet hours by the recipient's state: when an automated message that is not an immediate reply may reach a caller.

The rules are data (``RULES``, each with an id and a version, recorded with every send decision): the federal
window (TCPA, 47 CFR § 64.1200(c)(1): not before 8 am or after 9 pm at the called party's location), and the state
"mini-TCPA" laws that narrow it to 8 am–8 pm and cap such messages at three per 24 hours — Florida (FTSA,
Fla. Stat. § 501.059(8), 2021, as amended 2023), Oklahoma (OTSA, 15 O.S. § 775C, in force 1 Nov 2022) and Maryland
(Stop the Spam Calls Act of 2023, Md. Code Com. Law § 14-4502, in force 1 Jan 2024). A changed rule is a new
version of its row, never an edit of the old one, so a decision recorded under version 1 still says what it used.

Where the recipient is comes from the number (``phonenumbers``: its state and its time zones) and, when known, from
the booking address. Every candidate place counts: a message goes only when it is inside the window of every rule
of every candidate state, in every candidate time zone (an area code that spans two zones gets the narrower
window), and under every cap. A message outside them is deferred to the earliest moment that satisfies them all,
never dropped.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import phonenumbers
from phonenumbers import geocoder
from phonenumbers import timezone as number_timezones


@dataclass(frozen=True)
class QuietHoursRule:
    id: str
    version: int
    # None: applies everywhere in the US; otherwise the USPS code of the state whose law it is.
    state: str | None
    earliest: time
    latest: time  # the window is [earliest, latest) in the recipient's local time
    max_per_24h: int | None
    source: str


RULES: tuple[QuietHoursRule, ...] = (
    QuietHoursRule("us-tcpa", 1, None, time(8), time(21), None, "47 CFR 64.1200(c)(1)"),
    QuietHoursRule("us-fl-ftsa", 1, "FL", time(8), time(20), 3, "Fla. Stat. 501.059(8) (2021, amended 2023)"),
    QuietHoursRule("us-ok-otsa", 1, "OK", time(8), time(20), 3, "15 O.S. 775C.1-775C.5 (2022)"),
    QuietHoursRule("us-md-stsca", 1, "MD", time(8), time(20), 3, "Md. Code Com. Law 14-4502 (2024)"),
)

US_STATES = {
    "Alabama": "AL", "Alaska": "AK", "Arizona": "AZ", "Arkansas": "AR", "California": "CA", "Colorado": "CO",
    "Connecticut": "CT", "Delaware": "DE", "District of Columbia": "DC", "Washington D.C.": "DC", "Florida": "FL",
    "Georgia": "GA", "Hawaii": "HI", "Idaho": "ID", "Illinois": "IL", "Indiana": "IN", "Iowa": "IA", "Kansas": "KS",
    "Kentucky": "KY", "Louisiana": "LA", "Maine": "ME", "Maryland": "MD", "Massachusetts": "MA", "Michigan": "MI",
    "Minnesota": "MN", "Mississippi": "MS", "Missouri": "MO", "Montana": "MT", "Nebraska": "NE", "Nevada": "NV",
    "New Hampshire": "NH", "New Jersey": "NJ", "New Mexico": "NM", "New York": "NY", "North Carolina": "NC",
    "North Dakota": "ND", "Ohio": "OH", "Oklahoma": "OK", "Oregon": "OR", "Pennsylvania": "PA", "Rhode Island": "RI",
    "South Carolina": "SC", "South Dakota": "SD", "Tennessee": "TN", "Texas": "TX", "Utah": "UT", "Vermont": "VT",
    "Virginia": "VA", "Washington": "WA", "West Virginia": "WV", "Wisconsin": "WI", "Wyoming": "WY",
}  # fmt: skip
_STATE_CODES = frozenset(US_STATES.values())
# A day of wrong guesses cannot loop for ever: each step moves forward to a window's start or a cap's end.
_MAX_STEPS = 64


@dataclass(frozen=True)
class Whereabouts:
    """Where the recipient may be: candidate states (USPS codes) and IANA time zones."""

    states: frozenset[str]
    zones: tuple[str, ...]

    def merged(self, other: Whereabouts) -> Whereabouts:
        return Whereabouts(self.states | other.states, tuple(dict.fromkeys(self.zones + other.zones)))


@dataclass(frozen=True)
class Verdict:
    send_now: bool
    not_before: datetime  # ``now`` when it may go now
    rule_id: str  # the rule that deferred it, or the strictest that applied
    rule_version: int
    reason: str | None  # "quiet_hours" | "daily_cap" | None


@lru_cache(maxsize=8192)
def whereabouts_of_number(number: str) -> Whereabouts:
    """The state and time zones ``phonenumbers`` gives for a number's area code (a US number only has a state)."""
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return Whereabouts(frozenset(), ())
    zones = tuple(zone for zone in number_timezones.time_zones_for_number(parsed) if zone != "Etc/Unknown")
    states: frozenset[str] = frozenset()
    if phonenumbers.region_code_for_number(parsed) == "US":
        state = state_code(geocoder.description_for_number(parsed, "en"))
        states = frozenset({state}) if state else frozenset()
    return Whereabouts(states, zones)


def state_code(place: str | None) -> str | None:
    """``Florida`` → FL, ``Miami, FL`` → FL, ``FL`` → FL; None for anything else."""
    if not place:
        return None
    place = place.strip()
    if place in US_STATES:
        return US_STATES[place]
    tail = place.rsplit(",", 1)[-1].strip().upper()
    return tail if tail in _STATE_CODES else None


def whereabouts(number: str, *, address_state: str | None = None, address_zone: str | None = None) -> Whereabouts:
    """The number's place, widened by the booking address's state and time zone when known."""
    found = whereabouts_of_number(number)
    state = state_code(address_state)
    extra = Whereabouts(frozenset({state}) if state else frozenset(), (address_zone,) if address_zone else ())
    return found.merged(extra)


def rules_for(states: Iterable[str], rules: Sequence[QuietHoursRule] = RULES) -> list[QuietHoursRule]:
    wanted = set(states)
    return [rule for rule in rules if rule.state is None or rule.state in wanted]


def assess(
    place: Whereabouts,
    *,
    now: datetime,
    recent: Sequence[datetime] = (),
    fallback_zone: str = "America/New_York",
    rules: Sequence[QuietHoursRule] = RULES,
) -> Verdict:
    """May such a message go to someone at ``place`` at ``now``, given when the ones before it went (``recent``)?

    ``fallback_zone`` (the tenant's) stands in when the number names no zone.
    """
    # Strictest first, so that when two rules defer to the same moment the record names the narrower one.
    applicable = sorted(rules_for(place.states, rules), key=_strictness)
    zones = [ZoneInfo(name) for name in (place.zones or (fallback_zone,))]
    strictest = applicable[0]
    at, binding, reason = now, strictest, None
    for _ in range(_MAX_STEPS):
        moved = False
        for rule in applicable:
            for zone in zones:
                start = _window_start(at, rule, zone)
                if start > at:
                    at, binding, reason, moved = start, rule, "quiet_hours", True
            if rule.max_per_24h is not None:
                free = _cap_frees_at(at, recent, rule.max_per_24h)
                if free > at:
                    at, binding, reason, moved = free, rule, "daily_cap", True
        if not moved:
            break
    if at == now:
        return Verdict(True, now, strictest.id, strictest.version, None)
    return Verdict(False, at, binding.id, binding.version, reason)


def _strictness(rule: QuietHoursRule) -> tuple[object, ...]:
    return (rule.latest, rule.max_per_24h or 10**6, -rule.earliest.hour, rule.id)


def _window_start(at: datetime, rule: QuietHoursRule, zone: ZoneInfo) -> datetime:
    """``at`` if it is inside the rule's local window in ``zone``, else the window's next start."""
    local = at.astimezone(zone)
    if rule.earliest <= local.time() < rule.latest:
        return at
    day = local.date() if local.time() < rule.earliest else local.date() + timedelta(days=1)
    # Wall-clock 8 am exists on every day (US changes clocks at 2 am); zoneinfo gives its offset on that day.
    return datetime.combine(day, rule.earliest, tzinfo=zone).astimezone(at.tzinfo)


def _cap_frees_at(at: datetime, recent: Sequence[datetime], cap: int) -> datetime:
    """The earliest moment from ``at`` on when fewer than ``cap`` messages went in the 24 hours before it."""
    inside = sorted(sent for sent in recent if at - timedelta(hours=24) < sent <= at)
    if len(inside) < cap:
        return at
    return inside[len(inside) - cap] + timedelta(hours=24)
