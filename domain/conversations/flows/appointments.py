"""Booked or moved → a confirmation to the customer that invites a reply to confirm, reschedule or cancel.

A booking made in the caller's own conversation is confirmed by the engine's reply there, so only bookings made by
staff (the staff app, the API) get one here; every reschedule does, whoever made it (the caller's own is a reply,
which quiet hours let through at once; one made by staff at night waits for the morning).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from domain.conversations.flows.common import open_or_get_conversation, queue_outbound, subscriptions
from domain.conversations.ports import AppointmentTexts
from domain.conversations.store import StoreFactory
from domain.events.catalog import AppointmentBooked, AppointmentConfirmationRequested, AppointmentRescheduled
from domain.events.handling import HandlerContext


@subscriptions.on(AppointmentBooked, AppointmentRescheduled)
def confirm_appointment(
    event: AppointmentBooked | AppointmentRescheduled,
    ctx: HandlerContext,
    *,
    appointment_texts: AppointmentTexts,
    conversation_store: StoreFactory,
    clock: Callable[[], datetime],
) -> None:
    assert ctx.tenant_id is not None
    moved = isinstance(event, AppointmentRescheduled) or hasattr(event, "previous_starts_at")
    if not moved and getattr(event, "conversation_id", None) is not None:
        return
    now = clock()
    text = appointment_texts.confirmation(
        ctx.session, tenant_id=ctx.tenant_id, appointment_id=event.appointment_id, now=now, moved=moved
    )
    if text is None:
        return
    store = conversation_store(ctx.session)
    conversation_id, _ = open_or_get_conversation(ctx, store, caller=text.to_number, trigger="operator")
    context: dict[str, object] = {"appointment_id": str(event.appointment_id), "stage": "confirmation"}
    earlier = store.appointment_context(conversation_id)
    if earlier and earlier.get("appointment_id") == str(event.appointment_id) and earlier.get("outcome"):
        # What the caller last did with this appointment (rescheduled it, say) stays for staff to see.
        context |= {key: earlier[key] for key in ("outcome", "at", "moved_to") if key in earlier}
    store.set_appointment_context(conversation_id, context)
    message_id = queue_outbound(
        ctx,
        store,
        conversation_id=conversation_id,
        to_number=text.to_number,
        from_number=text.from_number,
        body=text.body,
        purpose="confirmation",
    )
    ctx.emit(
        AppointmentConfirmationRequested(
            appointment_id=event.appointment_id,
            message_id=message_id,
            starts_at=text.starts_at,
            kind="rescheduled" if moved else "booked",
        )
    )
