"""How money and times are written in replies; the guard parses the same shapes back."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from domain.conversations.engine.ports import SlotOption


def money(cents: int, currency: str = "USD") -> str:
    """``$149`` for whole dollars, ``$149.50`` otherwise (the only currency in the MVP is USD)."""
    dollars, rest = divmod(cents, 100)
    text = f"${dollars:,}" if rest == 0 else f"${dollars:,}.{rest:02d}"
    return text if currency == "USD" else f"{text} {currency}"


def clock(moment: datetime) -> str:
    hour = moment.hour % 12 or 12
    return f"{hour}:{moment.minute:02d} {'AM' if moment.hour < 12 else 'PM'}"


def slot_label(starts_at: datetime, tz: str, today: date | None = None) -> str:
    """``Thu 9:00 AM`` in the tenant's zone; a date is added when the day is a week or more away."""
    local = starts_at.astimezone(ZoneInfo(tz))
    if today is not None and (local.date() - today).days >= 6:
        return f"{local:%a} {local.month}/{local.day} {clock(local)}"
    return f"{local:%a} {clock(local)}"


def join_options(labels: list[str]) -> str:
    if len(labels) <= 1:
        return "".join(labels)
    return ", ".join(labels[:-1]) + " or " + labels[-1]


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
