"""A tenant's appointment-lifecycle settings: when reminders go before an appointment, whether (and when) a caller
who never answered the first SMS gets one follow-up, and whether a first SMS that falls in quiet hours waits.

Each value is checked here (``InvalidField`` names the field), so the staff app, the operator API and the CLI refuse
the same things with the same words.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain.identity.models import Tenant
from domain.identity.service import InvalidField, NotFound

FirstSmsChoice = Literal["send", "defer"]
FIRST_SMS_CHOICES: tuple[FirstSmsChoice, ...] = ("send", "defer")
DEFAULT_OFFSETS = (1440, 120)
# Five minutes to a week before the start, at most four reminders; the table's check says the same.
MIN_OFFSET, MAX_OFFSET, MAX_OFFSETS = 5, 10080, 4
MIN_FOLLOW_UP, MAX_FOLLOW_UP = 15, 10080


@dataclass(frozen=True)
class LifecycleSettings:
    reminder_offsets_minutes: tuple[int, ...]
    follow_up_delay_minutes: int | None
    first_sms_quiet_hours: FirstSmsChoice


def check_offsets(values: Iterable[object]) -> tuple[int, ...]:
    offsets: list[int] = []
    for value in values:
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidField("reminder_offsets_minutes", "each offset is a whole number of minutes")
        if not MIN_OFFSET <= value <= MAX_OFFSET:
            raise InvalidField(
                "reminder_offsets_minutes", f"each offset is {MIN_OFFSET} to {MAX_OFFSET} minutes before the start"
            )
        offsets.append(value)
    if len(offsets) > MAX_OFFSETS:
        raise InvalidField("reminder_offsets_minutes", f"at most {MAX_OFFSETS} reminders")
    if len(set(offsets)) != len(offsets):
        raise InvalidField("reminder_offsets_minutes", "each offset once")
    return tuple(sorted(offsets, reverse=True))


def check_follow_up(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not MIN_FOLLOW_UP <= value <= MAX_FOLLOW_UP:
        raise InvalidField(
            "follow_up_delay_minutes", f"off (empty), or {MIN_FOLLOW_UP} to {MAX_FOLLOW_UP} minutes after the first SMS"
        )
    return value


def check_first_sms(value: object) -> FirstSmsChoice:
    if value not in FIRST_SMS_CHOICES:
        raise InvalidField("first_sms_quiet_hours", "send (at once, the default) or defer (to the allowed hours)")
    return value


def lifecycle_settings(session: Session, tenant_id: uuid.UUID) -> LifecycleSettings | None:
    # Three columns, not the whole tenant row through the ORM: every automated send reads them.
    row = session.execute(
        select(Tenant.reminder_offsets_minutes, Tenant.follow_up_delay_minutes, Tenant.first_sms_quiet_hours).where(
            Tenant.id == tenant_id
        )
    ).one_or_none()
    if row is None:
        return None
    return _settings(*row)


def _record(tenant: Tenant) -> LifecycleSettings:
    return _settings(tenant.reminder_offsets_minutes, tenant.follow_up_delay_minutes, tenant.first_sms_quiet_hours)


def _settings(offsets: list[int], follow_up_delay: int | None, first_sms_quiet_hours: str) -> LifecycleSettings:
    return LifecycleSettings(tuple(offsets), follow_up_delay, check_first_sms(first_sms_quiet_hours))


def update_lifecycle_settings(
    session: Session,
    *,
    tenant_id: uuid.UUID,
    reminder_offsets_minutes: Iterable[object] | None = None,
    follow_up_delay_minutes: object = ...,
    first_sms_quiet_hours: object = None,
) -> LifecycleSettings:
    """Change what is given (``follow_up_delay_minutes=None`` turns the follow-up off; leaving it out keeps it)."""
    tenant = session.get(Tenant, tenant_id, with_for_update=True)
    if tenant is None:
        raise NotFound(f"tenant {tenant_id} not found")
    if reminder_offsets_minutes is not None:
        tenant.reminder_offsets_minutes = list(check_offsets(reminder_offsets_minutes))
    if follow_up_delay_minutes is not ...:
        tenant.follow_up_delay_minutes = check_follow_up(follow_up_delay_minutes)
    if first_sms_quiet_hours is not None:
        tenant.first_sms_quiet_hours = check_first_sms(first_sms_quiet_hours)
    session.flush()
    return _record(tenant)


def reminder_offsets_by_tenant(session: Session) -> dict[uuid.UUID, tuple[int, ...]]:
    """Every tenant's reminder offsets (the scheduler's reminder job reads them once a run)."""
    rows = session.execute(select(Tenant.id, Tenant.reminder_offsets_minutes))
    return {row.id: tuple(row.reminder_offsets_minutes) for row in rows if row.reminder_offsets_minutes}


def follow_up_delays(session: Session) -> dict[uuid.UUID, int]:
    """The tenants that follow up, and after how many minutes."""
    rows = session.execute(
        select(Tenant.id, Tenant.follow_up_delay_minutes).where(Tenant.follow_up_delay_minutes.is_not(None))
    )
    return {row.id: int(row.follow_up_delay_minutes) for row in rows}
