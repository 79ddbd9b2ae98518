"""Reporting projects events into per-tenant daily figures; it reads nothing but the events themselves."""

from __future__ import annotations

from datetime import datetime

from domain.events.catalog import (
    AppointmentBooked,
    AppointmentCancelled,
    CallMissed,
    ConversationOpened,
    HumanTakeoverRequested,
    MessageQueued,
    OptOutRecorded,
    StaffCallRecognised,
)
from domain.events.handling import HandlerContext, Subscriptions
from domain.reporting import projections

subscriptions = Subscriptions("reporting")


def _bump(
    ctx: HandlerContext, counter: str, *, at: datetime | None = None, amount: int = 1, revenue_cents: int = 0
) -> None:
    """Count in the UTC day and the quarter hour of ``at``: the event's own moment unless it tells of an earlier one."""
    if ctx.tenant_id is None:
        return  # a fact about no tenant has no row to count in
    moment = at or ctx.envelope.occurred_at
    projections.add_to_day_and_quarter_hour(
        ctx.session, ctx.tenant_id, moment, counter=counter, amount=amount, revenue_cents=revenue_cents
    )


@subscriptions.on(CallMissed, db_only=True)
def count_missed_call(event: CallMissed, ctx: HandlerContext) -> None:
    _bump(ctx, "missed_calls")


@subscriptions.on(StaffCallRecognised, db_only=True)
def uncount_staff_call(event: StaffCallRecognised, ctx: HandlerContext) -> None:
    # A staff member calling the business line missed no customer: take back the missed call counted above, from the
    # local-day report's quarter hours as well as from the UTC day.
    _bump(ctx, "missed_calls", at=event.call_occurred_at, amount=-1)


@subscriptions.on(ConversationOpened, db_only=True)
def count_conversation(event: ConversationOpened, ctx: HandlerContext) -> None:
    _bump(ctx, "conversations")


@subscriptions.on(MessageQueued, db_only=True)
def record_first_response(event: MessageQueued, ctx: HandlerContext) -> None:
    if ctx.tenant_id is None or event.purpose != "first_response" or event.first_response_latency_ms is None:
        return
    projections.record_first_response(
        ctx.session, ctx.tenant_id, event.message_id, ctx.envelope.occurred_at, event.first_response_latency_ms
    )


@subscriptions.on(AppointmentBooked, db_only=True)
def count_booking(event: AppointmentBooked, ctx: HandlerContext) -> None:
    """A booking the product recovered (made in a conversation) counts, with its price as recovered revenue (MVP
    currency is USD only), on the day of the booking; one staff made from the calendar does not. Once per
    appointment: a second delivery, or a booking whose cancellation was recorded first, counts nothing."""
    if ctx.tenant_id is None or event.conversation_id is None:
        return
    moment = ctx.envelope.occurred_at
    price = event.price.amount_cents
    if projections.count_booking(
        ctx.session, ctx.tenant_id, event.appointment_id, counted_at=moment, price_cents=price
    ):
        _bump(ctx, "bookings", at=moment, revenue_cents=price)


@subscriptions.on(AppointmentCancelled, db_only=True)
def uncount_cancelled_booking(event: AppointmentCancelled, ctx: HandlerContext) -> None:
    """A counted booking cancelled: its count and price taken back from the day (and quarter hour) it was counted on,
    once; the cancellation of a booking never counted changes no figure."""
    if ctx.tenant_id is None:
        return
    counted = projections.uncount_booking(
        ctx.session, ctx.tenant_id, event.appointment_id, cancelled_at=ctx.envelope.occurred_at
    )
    if counted is not None:
        _bump(ctx, "bookings", at=counted.counted_at, amount=-1, revenue_cents=-counted.price_cents)


@subscriptions.on(OptOutRecorded, db_only=True)
def count_opt_out(event: OptOutRecorded, ctx: HandlerContext) -> None:
    _bump(ctx, "opt_outs")


@subscriptions.on(HumanTakeoverRequested, db_only=True)
def count_takeover(event: HumanTakeoverRequested, ctx: HandlerContext) -> None:
    _bump(ctx, "takeovers")
