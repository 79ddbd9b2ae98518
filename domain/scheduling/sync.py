"""The external busy shadow: mirroring Google / Jobber / internal calendars into ``sched_external_busy``.

Webhook first (a ``CalendarChangeNotified`` triggers a re-sync), polling when the provider failed or the mirror is
stale. Each sync replaces its window atomically and is idempotent: the same busy blocks leave the rows untouched and
emit nothing.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, Protocol

import structlog
from sqlalchemy import delete, insert, or_, select, update
from sqlalchemy.dialects.postgresql import Range
from sqlalchemy.orm import Session

from domain.events.catalog import ExternalBusyChanged
from domain.events.sink import EventSink
from domain.scheduling.errors import CalendarNotFound, CalendarUnavailable
from domain.scheduling.models import ExternalBusy, Resource, ResourceCalendar

log = structlog.get_logger(__name__)

Provider = Literal["google", "jobber", "internal"]


@dataclass(frozen=True)
class BusyBlock:
    starts_at: datetime
    ends_at: datetime
    all_day: bool = False
    external_ref: str | None = None


@dataclass(frozen=True)
class CalendarRef:
    """What an adapter needs to fetch one calendar's busy time (``timezone`` turns all-day events into instants)."""

    id: uuid.UUID
    tenant_id: uuid.UUID
    resource_id: uuid.UUID
    provider: Provider
    external_ref: str
    timezone: str


class BusySource(Protocol):
    """Fetches busy blocks from a provider; raises CalendarUnavailable on failure or rate limiting."""

    window_days: int

    def fetch_busy(self, calendar: CalendarRef, window_start: datetime, window_end: datetime) -> list[BusyBlock]: ...


def calendar_ref(session: Session, *, tenant_id: uuid.UUID, calendar_id: uuid.UUID) -> CalendarRef:
    row = session.execute(
        select(ResourceCalendar, Resource.timezone)
        .join(Resource, Resource.id == ResourceCalendar.resource_id)
        .where(ResourceCalendar.id == calendar_id, ResourceCalendar.tenant_id == tenant_id)
    ).one_or_none()
    if row is None:
        raise CalendarNotFound(calendar_id)
    calendar, timezone = row
    provider: Provider = calendar.provider  # type: ignore[assignment]  # the CHECK constraint guarantees it
    return CalendarRef(calendar.id, calendar.tenant_id, calendar.resource_id, provider, calendar.external_ref, timezone)


def replace_busy_window(
    session: Session,
    *,
    calendar: CalendarRef,
    blocks: list[BusyBlock],
    window_start: datetime,
    window_end: datetime,
    now: datetime,
    events: EventSink,
) -> bool:
    """Make the shadow of ``calendar`` over the window equal ``blocks``; True (and an event) when it changed."""
    sink = events
    window = Range(window_start, window_end, bounds="[)")
    wanted = {
        (block.starts_at, block.ends_at, block.all_day, block.external_ref)
        for block in blocks
        if block.ends_at > block.starts_at and block.ends_at > window_start and block.starts_at < window_end
    }
    with session.begin_nested():
        # Lock the calendar row so two concurrent syncs of one calendar apply one after the other.
        session.execute(select(ResourceCalendar.id).where(ResourceCalendar.id == calendar.id).with_for_update()).one()
        current = session.execute(
            select(ExternalBusy.timeslot, ExternalBusy.all_day, ExternalBusy.external_ref).where(
                ExternalBusy.calendar_id == calendar.id, ExternalBusy.timeslot.overlaps(window)
            )
        ).all()
        existing = {(row[0].lower, row[0].upper, row[1], row[2]) for row in current}
        changed = existing != wanted
        if changed:
            session.execute(
                delete(ExternalBusy).where(
                    ExternalBusy.calendar_id == calendar.id, ExternalBusy.timeslot.overlaps(window)
                )
            )
            if wanted:
                session.execute(
                    insert(ExternalBusy),
                    [
                        {
                            "tenant_id": calendar.tenant_id,
                            "calendar_id": calendar.id,
                            "resource_id": calendar.resource_id,
                            "timeslot": Range(start, end, bounds="[)"),
                            "all_day": all_day,
                            "external_ref": ref,
                            "synced_at": now,
                        }
                        for start, end, all_day, ref in sorted(wanted, key=lambda item: item[0])
                    ],
                )
            sink.emit(
                ExternalBusyChanged(
                    resource_calendar_id=calendar.id,
                    provider=calendar.provider,
                    window_start=window_start,
                    window_end=window_end,
                    busy_blocks=len(wanted),
                ),
                tenant_id=calendar.tenant_id,
                occurred_at=now,
            )
        session.execute(
            update(ResourceCalendar)
            .where(ResourceCalendar.id == calendar.id)
            .values(last_synced_at=now, last_sync_attempt_at=now, last_sync_error=None)
        )
    return changed


def sync_calendar(
    session: Session,
    *,
    tenant_id: uuid.UUID,
    calendar_id: uuid.UUID,
    source: BusySource,
    now: datetime,
    window_days: int | None = None,
    events: EventSink,
) -> bool:
    """Fetch one calendar's busy time and replace its shadow window. Raises CalendarUnavailable (recorded first)."""
    sink = events
    calendar = calendar_ref(session, tenant_id=tenant_id, calendar_id=calendar_id)
    # Start at the top of the hour so back-to-back syncs cover identical windows (idempotent replace).
    window_start = now.replace(minute=0, second=0, microsecond=0)
    window_end = window_start + timedelta(days=window_days or source.window_days)
    if calendar.provider == "internal":
        # Internal busy blocks are written here directly (set_internal_busy); there is nothing to fetch.
        session.execute(
            update(ResourceCalendar)
            .where(ResourceCalendar.id == calendar.id)
            .values(last_synced_at=now, last_sync_attempt_at=now, last_sync_error=None)
        )
        return False
    try:
        blocks = source.fetch_busy(calendar, window_start, window_end)
    except CalendarUnavailable as error:
        session.execute(
            update(ResourceCalendar)
            .where(ResourceCalendar.id == calendar.id)
            .values(last_sync_attempt_at=now, last_sync_error=str(error)[:500])
        )
        raise
    return replace_busy_window(
        session,
        events=sink,
        calendar=calendar,
        blocks=blocks,
        window_start=window_start,
        window_end=window_end,
        now=now,
    )


def set_internal_busy(
    session: Session,
    *,
    tenant_id: uuid.UUID,
    calendar_id: uuid.UUID,
    blocks: list[BusyBlock],
    window_start: datetime,
    window_end: datetime,
    now: datetime,
    events: EventSink,
) -> bool:
    """An operator's own busy time for a resource (an ``internal`` calendar), replacing that window."""
    sink = events
    calendar = calendar_ref(session, tenant_id=tenant_id, calendar_id=calendar_id)
    return replace_busy_window(
        session,
        events=sink,
        calendar=calendar,
        blocks=blocks,
        window_start=window_start,
        window_end=window_end,
        now=now,
    )


def stale_calendar_ids(
    session: Session,
    *,
    now: datetime,
    max_age_seconds: int,
    tenant_id: uuid.UUID | None = None,
    resource_id: uuid.UUID | None = None,
    limit: int = 500,
) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """(tenant_id, calendar_id) of provider calendars whose mirror is older than the bound (or never synced)."""
    cutoff = now - timedelta(seconds=max_age_seconds)
    query = (
        select(ResourceCalendar.tenant_id, ResourceCalendar.id)
        .where(
            ResourceCalendar.provider != "internal",
            or_(ResourceCalendar.last_synced_at.is_(None), ResourceCalendar.last_synced_at < cutoff),
        )
        .order_by(ResourceCalendar.last_synced_at.asc().nulls_first())
        .limit(limit)
    )
    if tenant_id is not None:
        query = query.where(ResourceCalendar.tenant_id == tenant_id)
    if resource_id is not None:
        query = query.where(ResourceCalendar.resource_id == resource_id)
    return [(row[0], row[1]) for row in session.execute(query)]


def refresh_stale_mirrors(
    session: Session,
    *,
    tenant_id: uuid.UUID,
    resource_id: uuid.UUID,
    source: BusySource,
    now: datetime,
    max_age_seconds: int,
    events: EventSink,
) -> int:
    """Re-sync a resource's stale calendars before it is held; a provider failure leaves the old mirror in use."""
    sink = events
    synced = 0
    for calendar_tenant, calendar_id in stale_calendar_ids(
        session, now=now, max_age_seconds=max_age_seconds, tenant_id=tenant_id, resource_id=resource_id
    ):
        try:
            sync_calendar(
                session, tenant_id=calendar_tenant, calendar_id=calendar_id, source=source, now=now, events=sink
            )
            synced += 1
        except CalendarUnavailable as error:
            # The caller is waiting on an SMS: book against the last good mirror; the poll retries the provider.
            log.warning("calendar_refresh_failed", calendar_id=str(calendar_id), error=str(error))
    return synced


def resync_stale_calendars(
    session: Session,
    *,
    source: BusySource,
    now: datetime,
    max_age_seconds: int,
    limit: int = 100,
    events: EventSink,
) -> tuple[int, int]:
    """The periodic poll: re-sync every stale mirror; returns (synced, failed)."""
    sink = events
    synced = failed = 0
    for tenant_id, calendar_id in stale_calendar_ids(session, now=now, max_age_seconds=max_age_seconds, limit=limit):
        try:
            sync_calendar(session, tenant_id=tenant_id, calendar_id=calendar_id, source=source, now=now, events=sink)
            synced += 1
        except CalendarUnavailable as error:
            failed += 1
            log.warning("calendar_poll_failed", calendar_id=str(calendar_id), error=str(error))
    return synced, failed


@dataclass(frozen=True)
class WebhookCalendar:
    """Where a calendar webhook belongs: the calendar, its tenant, and the push channel's token (Google's only)."""

    id: uuid.UUID
    tenant_id: uuid.UUID
    external_ref: str
    channel_token: str | None


def _webhook_calendar(row: ResourceCalendar) -> WebhookCalendar:
    return WebhookCalendar(row.id, row.tenant_id, row.external_ref, row.channel_token)


def calendar_by_channel(session: Session, *, channel_id: str) -> WebhookCalendar | None:
    """The Google calendar whose push channel this is (webhook routing: the channel id is global)."""
    row = session.scalars(
        select(ResourceCalendar).where(ResourceCalendar.provider == "google", ResourceCalendar.channel_id == channel_id)
    ).one_or_none()
    return None if row is None else _webhook_calendar(row)


def calendars_for_jobber_account(session: Session, *, account_id: str) -> list[WebhookCalendar]:
    """Jobber calendars of an account: ``external_ref`` is ``<accountId>`` or ``<accountId>/<userId>``."""
    rows = session.scalars(
        select(ResourceCalendar).where(
            ResourceCalendar.provider == "jobber",
            or_(
                ResourceCalendar.external_ref == account_id,
                ResourceCalendar.external_ref.startswith(f"{account_id}/", autoescape=True),
            ),
        )
    )
    return [_webhook_calendar(row) for row in rows]
