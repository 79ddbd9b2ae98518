"""The scripted caller conversations: loaded from the YAML files beside this module, one :class:`Conversation` per
script and starting time.

A script names a catalog (``catalogs.yaml``), the local times it starts at (``Thu 10:20`` is in the fixed week of
Monday 2025-03-10, so nothing depends on today's date; ``2025-11-03 09:00`` names a day outright), the caller's
texts, and what must come of them (see :class:`Expect`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from importlib import resources
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from domain.conversations.engine.eval.fake import Business, Service

BASE_MONDAY = date(2025, 3, 10)
_DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
_AT = re.compile(r"^(?:(mon|tue|wed|thu|fri|sat|sun)|(\d{4}-\d{2}-\d{2})) (\d{1,2}):(\d{2})$", re.IGNORECASE)


class SuiteError(Exception):
    """A conversation file that does not say what it must (a bad catalog name, time or expectation)."""


@dataclass(frozen=True)
class Catalog:
    key: str
    business: str
    tz: str
    hours: dict[int, tuple[int, int]]
    services: tuple[dict[str, Any], ...]

    def build(self, tz: str | None = None) -> Business:
        services = [
            Service(
                name=item["name"],
                price_cents=int(item["price"]),
                duration_minutes=int(item.get("minutes", 60)),
                aliases=tuple(item.get("aliases") or ()),
                active=bool(item.get("active", True)),
            )
            for item in self.services
        ]
        return Business(tz=tz or self.tz, services=services, hours=dict(self.hours))


@dataclass(frozen=True)
class Window:
    """Where the booked start must fall, in the business's zone. ``rank`` n: the booking is the n-th open start that
    satisfies the rest of the window, as the calendar stood when the conversation began (1 = the earliest)."""

    day: str | None = None  # today | tomorrow | mon..sun
    part: str | None = None  # morning | afternoon | evening
    after: time | None = None
    before: time | None = None
    at: time | None = None
    rank: int | None = None


@dataclass(frozen=True)
class Expect:
    booked: str | None = None  # the service booked; None: nothing may be booked
    window: Window | None = None
    quoted: tuple[str, ...] = ()  # each must appear in some reply
    state: str | None = None  # the engine's final stage
    handoff: str | None = None  # person_requested | stop_requested | language
    replies: int | None = None  # replies sent, exactly
    said: tuple[str, ...] = ()  # regular expressions some reply must match (case-insensitive)
    never: tuple[str, ...] = ()  # regular expressions no reply may match
    last: str | None = None  # a regular expression the last reply must match
    language: str = "en"


@dataclass(frozen=True)
class Existing:
    service: str
    starts: str  # like ``at``


@dataclass(frozen=True)
class Conversation:
    id: str
    catalog: Catalog
    tz: str
    start: datetime  # aware UTC, one minute before the first text
    texts: tuple[str, ...]
    expect: Expect
    existing: tuple[Existing, ...] = field(default_factory=tuple)
    spanish: bool = True  # the tenant lets the engine answer in Spanish


def _time(value: object) -> time:
    text = str(value)
    match = re.fullmatch(r"(\d{1,2}):(\d{2})", text)
    if not match:
        raise SuiteError(f"not a time of day: {text!r}")
    return time(int(match.group(1)), int(match.group(2)))


def local_start(at: str, tz: str) -> datetime:
    match = _AT.match(at.strip())
    if not match:
        raise SuiteError(f"not a start time: {at!r} (want e.g. 'Thu 10:20' or '2025-11-03 09:00')")
    weekday, day_text, hour, minute = match.groups()
    day = date.fromisoformat(day_text) if day_text else BASE_MONDAY + timedelta(days=_DAYS.index(weekday.lower()))
    return datetime.combine(day, time(int(hour), int(minute)), tzinfo=ZoneInfo(tz))


def _expect(data: dict[str, Any], where: str) -> Expect:
    known = set(Expect.__dataclass_fields__)
    unknown = set(data) - known
    if unknown:
        raise SuiteError(f"{where}: unknown expectation {sorted(unknown)}")
    window = None
    if data.get("window"):
        raw = dict(data["window"])
        if set(raw) - set(Window.__dataclass_fields__):
            raise SuiteError(f"{where}: unknown window key {sorted(set(raw) - set(Window.__dataclass_fields__))}")
        window = Window(
            day=raw.get("day"),
            part=raw.get("part"),
            after=_time(raw["after"]) if "after" in raw else None,
            before=_time(raw["before"]) if "before" in raw else None,
            at=_time(raw["at"]) if "at" in raw else None,
            rank=int(raw["rank"]) if "rank" in raw else None,
        )

    def strings(key: str) -> tuple[str, ...]:
        value = data.get(key) or ()
        return (value,) if isinstance(value, str) else tuple(str(item) for item in value)

    return Expect(
        booked=data.get("booked"),
        window=window,
        quoted=strings("quoted"),
        state=data.get("state"),
        handoff=data.get("handoff"),
        replies=data.get("replies"),
        said=strings("said"),
        never=strings("never"),
        last=data.get("last"),
        language=str(data.get("language", "en")),
    )


def load_catalogs() -> dict[str, Catalog]:
    raw = yaml.safe_load(resources.files(__package__).joinpath("catalogs.yaml").read_text(encoding="utf-8"))
    return {
        key: Catalog(
            key=key,
            business=value["business"],
            tz=value["tz"],
            hours={int(day): (int(span[0]), int(span[1])) for day, span in value["hours"].items()},
            services=tuple(value["services"]),
        )
        for key, value in raw.items()
    }


def load() -> list[Conversation]:
    """Every conversation in every file under ``conversations/``, in file and script order."""
    catalogs = load_catalogs()
    found: list[Conversation] = []
    folder = resources.files(__package__).joinpath("conversations")
    for entry in sorted(folder.iterdir(), key=lambda item: item.name):
        if not entry.name.endswith(".yaml"):
            continue
        document = yaml.safe_load(entry.read_text(encoding="utf-8")) or {}
        default_catalog = document.get("catalog")
        for script in document.get("conversations") or []:
            where = f"{entry.name}:{script.get('id')}"
            catalog_key = script.get("catalog", default_catalog)
            if catalog_key not in catalogs:
                raise SuiteError(f"{where}: unknown catalog {catalog_key!r}")
            catalog = catalogs[catalog_key]
            tz = script.get("tz", catalog.tz)
            texts = script.get("texts") or []
            if not texts:
                raise SuiteError(f"{where}: no texts")
            expect = _expect(script.get("expect") or {}, where)
            existing = tuple(Existing(item["service"], item["at"]) for item in script.get("existing") or [])
            starts = script.get("at") or ["Thu 10:20"]
            for at in [starts] if isinstance(starts, str) else starts:
                start = local_start(str(at), tz).astimezone(UTC) - timedelta(minutes=1)
                found.append(
                    Conversation(
                        id=f"{catalog_key}/{script['id']}@{at}",
                        catalog=catalog,
                        tz=tz,
                        start=start,
                        texts=tuple(str(text) for text in texts),
                        expect=expect,
                        existing=existing,
                        spanish=bool(script.get("spanish", True)),
                    )
                )
    ids = [conversation.id for conversation in found]
    duplicates = sorted({item for item in ids if ids.count(item) > 1})
    if duplicates:
        raise SuiteError(f"duplicate conversation ids: {duplicates}")
    return found
