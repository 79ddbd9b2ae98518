"""How money and times are written in replies, in English or Spanish; the guard parses the same shapes back.

Spanish follows the usual US-Spanish SMS forms: "martes 9:00 a. m.", "sábado 16 de marzo, 2:30 p. m.", prices as
"$149.50". Of the accents, é and ñ are GSM-7 but á (sábado) is not: a Saturday makes a Spanish reply UCS-2, which
is right (the word needs it) and the engine keeps such replies inside the segment budget.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from zoneinfo import ZoneInfo

from domain.conversations.engine.language import Language
from domain.conversations.engine.ports import SlotOption

WEEKDAYS_ES = ("lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo")
MONTHS_ES = (
    "enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre", "octubre", "noviembre",
    "diciembre",
)  # fmt: skip


def money(cents: int, currency: str = "USD") -> str:
    """``$149`` for whole dollars, ``$149.50`` otherwise (the only currency in the MVP is USD)."""
    dollars, rest = divmod(cents, 100)
    text = f"${dollars:,}" if rest == 0 else f"${dollars:,}.{rest:02d}"
    return text if currency == "USD" else f"{text} {currency}"


def clock(moment: datetime, language: Language = "en") -> str:
    hour = moment.hour % 12 or 12
    if language == "es":
        return f"{hour}:{moment.minute:02d} {'a. m.' if moment.hour < 12 else 'p. m.'}"
    return f"{hour}:{moment.minute:02d} {'AM' if moment.hour < 12 else 'PM'}"


def slot_label(starts_at: datetime, tz: str, today: date | None = None, language: Language = "en") -> str:
    """``Thu 9:00 AM`` (``jueves 9:00 a. m.``) in the tenant's zone; a date is added when the day is a week or more
    away (``Thu 3/20 9:00 AM``, ``jueves 20 de marzo, 9:00 a. m.``)."""
    local = starts_at.astimezone(ZoneInfo(tz))
    far = today is not None and (local.date() - today).days >= 6
    if language == "es":
        day = WEEKDAYS_ES[local.weekday()]
        if far:
            return f"{day} {local.day} de {MONTHS_ES[local.month - 1]}, {clock(local, 'es')}"
        return f"{day} {clock(local, 'es')}"
    if far:
        return f"{local:%a} {local.month}/{local.day} {clock(local)}"
    return f"{local:%a} {clock(local)}"


def join_options(labels: list[str], language: Language = "en") -> str:
    if len(labels) <= 1:
        return "".join(labels)
    # Spanish "o" becomes "u" before an o- sound ("siete u ocho"); a label never starts with one here.
    last = " o " if language == "es" else " or "
    separator = "; " if language == "es" and any("," in label for label in labels) else ", "
    return separator.join(labels[:-1]) + last + labels[-1]


_HOURS_DAYS_ES = {"Mon": "lun", "Tue": "mar", "Wed": "mié", "Thu": "jue", "Fri": "vie", "Sat": "sáb", "Sun": "dom"}
_HOURS_CLOCK = re.compile(r"\b(\d{1,2}(?::\d{2})?)\s?(am|pm|AM|PM)\b")


def hours_in(text: str, language: Language) -> str:
    """The business's hours text ("Mon-Fri 8am-5pm and Sat 9am-1pm") as a Spanish reader writes it
    ("lun-vie 8 a. m.-5 p. m. y sáb 9 a. m.-1 p. m.")."""
    if language != "es":
        return text
    text = re.sub(r"\b(Mon|Tue|Wed|Thu|Fri|Sat|Sun)\b", lambda m: _HOURS_DAYS_ES[m.group(1)], text)
    text = _HOURS_CLOCK.sub(lambda m: f"{m.group(1)} {'a. m.' if m.group(2).lower() == 'am' else 'p. m.'}", text)
    return text.replace(" and ", " y ").replace("by appointment", "con cita previa")


def slot_to_json(slot: SlotOption) -> dict[str, str]:
    return {
        "resource_id": str(slot.resource_id),
        "starts_at": slot.starts_at.isoformat(),
        "ends_at": slot.ends_at.isoformat(),
    }


def slot_from_json(data: dict[str, str]) -> SlotOption:
    from uuid import UUID

    return SlotOption(
        resource_id=UUID(data["resource_id"]),
        starts_at=datetime.fromisoformat(data["starts_at"]),
        ends_at=datetime.fromisoformat(data["ends_at"]),
    )
