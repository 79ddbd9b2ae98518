"""`nmc bench availability`: how long finding open slots takes on a busy tenant, end to end through Postgres.

Seeds a tenant in a scratch database (``<DATABASE_URL name>_bench_availability``, dropped afterwards): 10 resources
(America/New_York, Mon-Fri 8-17 + Saturday morning, 15 minute buffer), 500 external busy blocks on their calendars
and 200 booked appointments spread over the next 14 days, plus a few active holds. Each sample is one ``find_slots``
call over the whole 14-day window for a 60-minute service across every resource (the four queries and the pure
computation, all slots, no limit), in its own transaction.
"""

from __future__ import annotations

import random
import time as clock
import uuid
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import click
from sqlalchemy.orm import Session, sessionmaker

from db.engine import make_engine, make_session_factory
from ops.context import echo_json, get_settings
from ops.harness.database import drop_database, scratch_database
from ops.harness.report import summarize_ms, write_report

TZ = "America/New_York"
TARGET_P95_MS = 20.0


def _seed(
    sessions: sessionmaker[Session], *, resources: int, days: int, busy_blocks: int, appointments: int, seed: int
) -> tuple[uuid.UUID, uuid.UUID, datetime]:
    from domain.scheduling import bulk, service
    from domain.scheduling.availability import Shift
    from domain.scheduling.sync import BusyBlock

    rng = random.Random(seed)
    zone = ZoneInfo(TZ)
    tenant_id, service_item_id = uuid.uuid4(), uuid.uuid4()
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    start_day = now.astimezone(zone).date()
    shifts = [*(Shift(day, time(8), time(17)) for day in range(5)), Shift(5, time(8), time(12))]
    with sessions() as session, session.begin():
        ids, calendars = [], []
        for n in range(resources):
            resource = service.create_resource(
                session,
                tenant_id=tenant_id,
                name=f"Tech {n:02d}",
                timezone=TZ,
                buffer_minutes=15,
                min_lead_minutes=60,
                slot_step_minutes=30,
            )
            service.set_working_hours(session, tenant_id=tenant_id, resource_id=resource.id, shifts=shifts)
            calendar = service.add_calendar(
                session, tenant_id=tenant_id, resource_id=resource.id, provider="internal", external_ref=f"tech-{n}"
            )
            ids.append(resource.id)
            calendars.append(calendar.id)
        busy: list[list[BusyBlock]] = [[] for _ in range(resources)]
        for index in range(busy_blocks):
            begins = now + timedelta(minutes=rng.randrange(0, days * 24 * 60, 15))
            busy[index % resources].append(
                BusyBlock(
                    begins,
                    begins + timedelta(minutes=rng.choice([30, 60, 90, 120, 180])),
                    external_ref=f"bench-{index}",
                )
            )
        for which, blocks in enumerate(busy):
            bulk.load_external_busy(
                session, tenant_id=tenant_id, calendar_id=calendars[which], resource_id=ids[which], blocks=blocks
            )
        taken: set[tuple[int, int, int]] = set()
        booked: list[service.SlotRequest] = []
        while len(booked) < appointments:
            which, day, hour = rng.randrange(resources), rng.randrange(1, days), rng.randrange(8, 16)
            local_day = start_day + timedelta(days=day)
            if local_day.weekday() > 4 or (which, day, hour) in taken:
                continue
            taken.add((which, day, hour))
            begins = datetime.combine(local_day, time(hour), tzinfo=zone).astimezone(UTC)
            booked.append(
                service.SlotRequest(
                    ids[which],
                    service_item_id,
                    begins,
                    begins + timedelta(minutes=60),
                    customer_phone=f"+1310555{len(booked):04d}",
                )
            )
        bulk.load_appointments(session, tenant_id=tenant_id, slots=booked, price_cents=14900, currency="USD")
        hold_day = datetime.combine(start_day + timedelta(days=1), time(7), tzinfo=zone).astimezone(UTC)
        bulk.load_holds(
            session,
            tenant_id=tenant_id,
            slots=[
                service.SlotRequest(ids[n], service_item_id, hold_day, hold_day + timedelta(minutes=60))
                for n in range(resources)
            ],
            expires_at=now + timedelta(minutes=15),
        )
    return tenant_id, service_item_id, now


@click.command("availability")
@click.option("--iterations", default=300, show_default=True, help="Timed find_slots calls.")
@click.option("--warmup", default=20, show_default=True, help="Untimed calls first (connections, caches).")
@click.option("--resources", default=10, show_default=True)
@click.option("--days", default=14, show_default=True)
@click.option("--busy-blocks", default=500, show_default=True)
@click.option("--appointments", default=200, show_default=True)
@click.option("--seed", default=7, show_default=True, help="Random seed for the generated schedule.")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
@click.pass_context
def command(
    ctx: click.Context,
    iterations: int,
    warmup: int,
    resources: int,
    days: int,
    busy_blocks: int,
    appointments: int,
    seed: int,
    as_json: bool,
) -> None:
    """P50/P95/P99 of availability over DAYS x RESOURCES with BUSY_BLOCKS busy blocks and APPOINTMENTS bookings."""
    from domain.scheduling.service import SlotSearch, find_slots

    settings = scratch_database(get_settings(ctx), "bench_availability")
    engine = make_engine(settings, pool_size=2, max_overflow=0, application_name="nmc-bench-availability")
    sessions = make_session_factory(engine)
    tenant_id, service_item_id, now = _seed(
        sessions, resources=resources, days=days, busy_blocks=busy_blocks, appointments=appointments, seed=seed
    )
    samples: list[float] = []
    slot_counts: list[int] = []
    try:
        for index in range(warmup + iterations):
            started = clock.perf_counter()
            with sessions() as session, session.begin():
                slots = find_slots(
                    session,
                    SlotSearch(
                        service_item_id=service_item_id,
                        duration_minutes=60,
                        window_start=now,
                        window_end=now + timedelta(days=days),
                        limit=None,
                    ),
                    tenant_id=tenant_id,
                    now=now,
                )
            elapsed = clock.perf_counter() - started
            if index >= warmup:
                samples.append(elapsed)
                slot_counts.append(len(slots))
    finally:
        engine.dispose()
        drop_database(settings)

    figures = summarize_ms(samples)
    data = {
        "scenario": {
            "resources": resources,
            "days": days,
            "busy_blocks": busy_blocks,
            "appointments": appointments,
            "duration_minutes": 60,
            "timezone": TZ,
        },
        "slots_found": slot_counts[0] if slot_counts else 0,
        "figures": figures,
        "target_p95_ms": TARGET_P95_MS,
        "meets_target": figures["p95_ms"] <= TARGET_P95_MS,
    }
    markdown = (
        f"# nmc bench availability\n\n{days} days x {resources} resources, {busy_blocks} busy blocks, "
        f"{appointments} appointments; {data['slots_found']} open slots per call.\n\n"
        f"| samples | P50 ms | P95 ms | P99 ms | max ms | target P95 |\n|---|---|---|---|---|---|\n"
        f"| {figures['count']} | {figures['p50_ms']} | {figures['p95_ms']} | {figures['p99_ms']} | "
        f"{figures['max_ms']} | <= {TARGET_P95_MS} ms ({'met' if data['meets_target'] else 'MISSED'}) |\n"
    )
    path = write_report("availability", data, markdown)
    if as_json:
        echo_json({**data, "report": str(path)})
    else:
        click.echo(
            f"availability: {figures['count']} calls, {data['slots_found']} slots each: P50 {figures['p50_ms']} ms, "
            f"P95 {figures['p95_ms']} ms, P99 {figures['p99_ms']} ms (target P95 <= {TARGET_P95_MS} ms: "
            f"{'met' if data['meets_target'] else 'MISSED'}); report {path}"
        )
