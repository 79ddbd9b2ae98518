"""A booking that could not be written to the technician's external calendar becomes an operator task: the slot was
taken there (a person decides: move it, or clear the other event), or the calendar's credentials were refused
(relink them). The caller is sent nothing: their appointment stands in our calendar, which is what they were told."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from domain.conversations.flows.common import profile, subscriptions
from domain.conversations.ports import TenantDirectory
from domain.conversations.store import StoreFactory
from domain.events.catalog import AppointmentWriteBackFailed
from domain.events.handling import HandlerContext

TASK_KINDS = {"conflict": "calendar_conflict", "credentials_refused": "calendar_credentials"}


@subscriptions.on(AppointmentWriteBackFailed, db_only=True)
def open_write_back_task(
    event: AppointmentWriteBackFailed,
    ctx: HandlerContext,
    *,
    directory: TenantDirectory,
    conversation_store: StoreFactory,
    clock: Callable[[], datetime],
) -> None:
    assert ctx.tenant_id is not None
    tenant = profile(ctx, directory, clock())
    when = event.starts_at.astimezone(ZoneInfo(tenant.timezone)).strftime("%a %b %-d %-I:%M %p")
    if event.reason == "conflict":
        note = (
            f"The appointment with {event.customer_phone} on {when} is booked here, but the technician's "
            f"{event.provider.title()} calendar is busy then ({event.detail}). Move one of them; the caller has "
            "been told nothing new."
        )
    else:
        note = (
            f"The appointment with {event.customer_phone} on {when} could not be written to the technician's "
            f"{event.provider.title()} calendar: the provider refused its credentials ({event.detail}). Link the "
            "calendar again (nmc calendar link, or Settings → Technicians)."
        )
    conversation_store(ctx.session).add_task(
        tenant_id=ctx.tenant_id,
        kind=TASK_KINDS[event.reason],
        conversation_id=event.conversation_id,
        phone=event.customer_phone,
        note=note,
    )
