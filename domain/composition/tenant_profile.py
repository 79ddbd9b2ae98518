"""The tenant as the conversations module sees it: identity's tenant and texts, scheduling's opening hours."""

from __future__ import annotations

import uuid
from datetime import datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from domain.conversations.ports import StaffMember, TenantProfile
from domain.identity import service as identity
from domain.scheduling import opening_hours

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def is_open_at(session: Session, tenant_id: uuid.UUID, local: datetime) -> bool:
    return opening_hours.is_working_at(session, tenant_id=tenant_id, local=local)


def hours_text(session: Session, tenant_id: uuid.UUID) -> str:
    """The weekly hours as a caller reads them in an SMS: "Mon 8am–5pm, Sat 9am–12pm"."""
    days = opening_hours.weekly_hours(session, tenant_id=tenant_id)
    if not days:
        return "by appointment"
    return ", ".join(f"{WEEKDAYS[day.weekday]} {_clock(day.opens)}–{_clock(day.closes)}" for day in days)


def _clock(value: time) -> str:
    hour = value.hour % 12 or 12
    suffix = "am" if value.hour < 12 else "pm"
    return f"{hour}{suffix}" if value.minute == 0 else f"{hour}:{value.minute:02d}{suffix}"


def tenant_profile(session: Session, tenant_id: uuid.UUID, now: datetime) -> TenantProfile | None:
    """None for a tenant that is gone or has no number yet (nothing can be sent from it)."""
    card = identity.tenant_card(session, tenant_id)
    if card is None or card.tenant.phone_number is None:
        return None
    record, texts, number = card.tenant, card.messaging, card.tenant.phone_number
    return TenantProfile(
        id=tenant_id,
        name=record.name,
        timezone=record.timezone,
        number=number,
        owner_mobile=texts.owner_mobile,
        first_message_template=texts.first_message,
        after_hours_template=texts.after_hours,
        help_text=texts.help_text,
        callback_grace_seconds=card.callback_grace_seconds,
        open_now=is_open_at(session, tenant_id, now.astimezone(ZoneInfo(record.timezone))),
        staff=tuple(
            StaffMember(phone=staff.phone, role=staff.role, user_id=staff.user_id, name=staff.name)
            for staff in card.staff
        ),
        spanish_replies=texts.spanish_replies,
    )


class TenantDirectoryAdapter:
    """The conversations module's ``TenantDirectory`` port."""

    def profile(self, session: Session, tenant_id: uuid.UUID, now: datetime) -> TenantProfile | None:
        return tenant_profile(session, tenant_id, now)
