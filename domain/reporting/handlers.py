"""Reporting projects events into per-tenant daily figures; it reads nothing but the events themselves."""

from __future__ import annotations

from datetime import datetime

from domain.events.catalog import (
    AppointmentBooked,
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
    # Recovered revenue: the booked service's price (MVP currency is USD only).
    _bump(ctx, "bookings", revenue_cents=event.price.amount_cents)


@subscriptions.on(OptOutRecorded, db_only=True)
def count_opt_out(event: OptOutRecorded, ctx: HandlerContext) -> None:
    _bump(ctx, "opt_outs")


@subscriptions.on(HumanTakeoverRequested, db_only=True)
def count_takeover(event: HumanTakeoverRequested, ctx: HandlerContext) -> None:
    _bump(ctx, "takeovers")
