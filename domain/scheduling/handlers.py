"""Scheduling's subscriptions, declared beside the handlers. Dependencies arrive by keyword from the bootstrap."""

from __future__ import annotations

from sqlalchemy import or_, select

from domain.events.catalog import CalendarChangeNotified
from domain.events.envelope import utcnow
from domain.events.handling import HandlerContext, Subscriptions
from domain.scheduling.models import ResourceCalendar
from domain.scheduling.sync import BusySource, sync_calendar

subscriptions = Subscriptions("scheduling")


@subscriptions.on(CalendarChangeNotified)
def resync_calendar(event: CalendarChangeNotified, ctx: HandlerContext, *, calendars: BusySource) -> None:
    """A provider said a mirrored calendar changed: replace its shadow window now.

    A provider failure raises CalendarUnavailable, so the delivery is retried with backoff (and the periodic poll
    covers a provider that stays down).
    """
    tenant_id = ctx.tenant_id
    if tenant_id is None:
        return
    query = select(ResourceCalendar.id).where(
        ResourceCalendar.tenant_id == tenant_id, ResourceCalendar.provider == event.provider
    )
    if event.resource_calendar_id is not None:
        query = query.where(ResourceCalendar.id == event.resource_calendar_id)
    else:
        query = query.where(
            or_(
                ResourceCalendar.external_ref == event.external_ref,
                ResourceCalendar.external_ref.startswith(f"{event.external_ref}/", autoescape=True),
            )
        )
    now = utcnow()
    for calendar_id in ctx.session.scalars(query):
        sync_calendar(ctx.session, tenant_id=tenant_id, calendar_id=calendar_id, source=calendars, now=now, events=ctx)
