"""`nmc bench reminders`: appointments due tomorrow across many tenants → every reminder sent once.

A scratch system (its own database, a private Redis, the real sandbox, ingress, dispatcher and worker processes)
gets ``--tenants`` tenants like the demo one and ``--appointments`` appointments spread over them, each on a resource
of its own, starting 24 hours after a moment spread over ``--spread`` seconds from now: so their 24-hour reminders
come due over that spread. Then the real `nmc scheduler` starts and the run waits until every reminder's message has
been accepted by the provider (the sandbox). Figures: due → accepted latency (P50/P95/P99), the drain time (the first
reminder due → the last accepted), CPU seconds per reminder over every process of the system, and the checks that
each appointment got exactly one reminder: one claimed row, one message, one text at the provider.

The callers' numbers are in a zone where it is daytime now (Boston, Honolulu or Guam), so quiet hours do not defer
them: this measures the pipeline, the quiet-hours rules have their own tests.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click
from sqlalchemy import text

from db.engine import make_engine, make_session_factory, transaction
from db.settings import Settings
from domain.compliance import quiet_hours
from ops.context import get_settings
from ops.harness.report import summarize_ms, write_report
from ops.harness.scratch import scratch_system
from ops.processes import cpu_seconds, descendants
from ops.sandbox.client import SandboxClient

PREFIXES = ("+1617", "+1808", "+1671")
# Each appointment on a resource of its own, so that none overlaps another (the exclusion constraint holds).
_RESOURCES = text(
    "INSERT INTO sched_resources (id, tenant_id, name) SELECT gen_random_uuid(), t.id, 'Bench ' || g"
    " FROM id_tenants t CROSS JOIN generate_series(1, :per_tenant) g"
)
_APPOINTMENTS = text(
    """
    WITH r AS (
        SELECT r.id AS resource_id, r.tenant_id, row_number() OVER (ORDER BY r.tenant_id, r.id) - 1 AS n,
               (SELECT i.id FROM catalog_service_items i WHERE i.tenant_id = r.tenant_id ORDER BY i.name LIMIT 1)
                   AS service_item_id
        FROM sched_resources r WHERE r.name LIKE 'Bench %'
    )
    INSERT INTO sched_appointments (id, tenant_id, resource_id, service_item_id, timeslot, status, customer_phone,
                                    price_cents, currency, timeslot_set_at)
    SELECT gen_random_uuid(), r.tenant_id, r.resource_id, r.service_item_id,
           tstzrange(s.starts_at, s.starts_at + interval '1 hour', '[)'), 'booked',
           :prefix || lpad((2000000 + r.n)::text, 7, '0'), 10000, 'USD', :booked_at
    FROM r CROSS JOIN LATERAL (SELECT :first_due + interval '24 hours'
                               + make_interval(secs => :spread * r.n / :count) AS starts_at) s
    WHERE r.n < :count
    """
)
_RESULTS = text(
    "SELECT r.appointment_id, r.due_at, r.claimed_at, m.id AS message_id, m.status, m.queued_at, m.to_number"
    " FROM sched_reminders r LEFT JOIN conv_messages m ON m.id = r.message_id"
)
_PROGRESS = text(
    "SELECT count(*) FILTER (WHERE status IN ('queued', 'sent', 'delivered')) AS accepted,"
    " count(*) AS written FROM conv_messages WHERE purpose = 'reminder'"
)


def daytime_prefix(now: datetime, until: datetime, prefixes: Sequence[str] = PREFIXES) -> str:
    for prefix in prefixes:
        place = quiet_hours.whereabouts(prefix + "5550100")
        if all(quiet_hours.assess(place, now=moment).send_now for moment in (now, until)):
            return prefix
    raise click.ClickException("no US zone is in daytime for the whole run; try again in an hour")


def seed_appointments(
    settings: Settings, *, tenants: int, count: int, spread: float, lead: float, prefixes: Sequence[str] = PREFIXES
) -> datetime:
    per_tenant = -(-count // tenants)
    now = datetime.now(UTC)
    first_due = now + timedelta(seconds=lead)
    prefix = daytime_prefix(now, first_due + timedelta(seconds=spread + 600), prefixes)
    engine = make_engine(settings, pool_size=1, max_overflow=0, application_name="nmc-bench-reminders")
    try:
        with transaction(make_session_factory(engine)) as session:
            session.execute(_RESOURCES, {"per_tenant": per_tenant})
            session.execute(
                _APPOINTMENTS,
                {
                    "prefix": prefix,
                    "booked_at": now - timedelta(days=2),
                    "first_due": first_due,
                    "spread": spread,
                    "count": count,
                },
            )
    finally:
        engine.dispose()
    return first_due


def system_cpu(pids: list[int]) -> float:
    every = {pid for root in pids for pid in (root, *descendants(root))}
    return sum(cpu_seconds(pid) or 0.0 for pid in every)


def run(
    settings: Settings, *, appointments: int, tenants: int, spread: float, timeout: float, log_dir: Path
) -> dict[str, Any]:
    extra = {"REMINDER_POLL_SECONDS": "2", "STATUS_POLL_AFTER_SECONDS": "3600"}
    seeding = time.monotonic()
    with scratch_system(settings, tenants=tenants, log_dir=log_dir, extra_env=extra, prefix="nmc_bench_rem") as system:
        scratch = settings.model_copy(update={"database_url": system.database_url})
        first_due = seed_appointments(scratch, tenants=tenants, count=appointments, spread=spread, lead=5.0)
        seeded_in = time.monotonic() - seeding
        roots = [process.pid for process in system.stack.processes.values()]
        scheduler = system.stack.start_process("scheduler")
        roots.append(scheduler.pid)
        cpu_before = system_cpu(roots)
        engine = make_engine(scratch, pool_size=1, max_overflow=0, application_name="nmc-bench-reminders")
        deadline = time.monotonic() + timeout
        accepted = 0
        try:
            while time.monotonic() < deadline:
                with engine.connect() as conn:
                    accepted = int(conn.execute(_PROGRESS).one().accepted)
                if accepted >= appointments:
                    break
                time.sleep(0.5)
            # Callbacks and late duplicates would show by now.
            time.sleep(2.0)
            cpu_used = system_cpu(roots) - cpu_before
            with engine.connect() as conn:
                rows = conn.execute(_RESULTS).all()
                booked = int(conn.execute(text("SELECT count(*) FROM sched_appointments")).scalar_one())
        finally:
            engine.dispose()
        with SandboxClient(system.stack.sandbox_url, timeout=60) as sandbox:
            carried = [m for m in sandbox.messages() if m["body"].startswith("Reminder")]
    latencies = [(row.queued_at - row.due_at).total_seconds() for row in rows if row.queued_at is not None]
    claims = [(row.claimed_at - row.due_at).total_seconds() for row in rows]
    sent = [row for row in rows if row.queued_at is not None]
    texts_per_number = Counter(m["to"] for m in carried)
    reminders_per_appointment = Counter(row.appointment_id for row in rows)
    drain = (max(row.queued_at for row in sent) - first_due).total_seconds() if sent else float("nan")
    return {
        "appointments": booked,
        "tenants": tenants,
        "spread_seconds": spread,
        "seed_seconds": round(seeded_in, 1),
        "reminders_claimed": len(rows),
        "reminders_accepted": len(sent),
        "appointments_with_more_than_one_reminder": sum(1 for n in reminders_per_appointment.values() if n > 1),
        "texts_at_provider": len(carried),
        "numbers_texted_twice": sum(1 for n in texts_per_number.values() if n > 1),
        "due_to_accepted": summarize_ms(latencies),
        "due_to_claimed": summarize_ms(claims),
        "drain_seconds": round(drain, 2),
        "cpu_seconds_total": round(cpu_used, 2),
        "cpu_ms_per_reminder": round(1000 * cpu_used / max(1, len(sent)), 2),
        "timed_out": accepted < appointments,
    }


def markdown(result: dict[str, Any]) -> str:
    latency = result["due_to_accepted"]
    return "\n".join(
        [
            "# nmc bench reminders",
            "",
            f"{result['appointments']} appointments due tomorrow across {result['tenants']} tenants, their 24-hour "
            f"reminders coming due over {result['spread_seconds']:.0f} s; real scheduler, dispatcher, worker and "
            "sandbox processes.",
            "",
            "| figure | value |",
            "|---|---|",
            f"| reminders claimed / accepted by the provider | {result['reminders_claimed']} / "
            f"{result['reminders_accepted']} |",
            f"| texts at the provider | {result['texts_at_provider']} |",
            f"| appointments with more than one reminder | {result['appointments_with_more_than_one_reminder']} |",
            f"| numbers texted twice | {result['numbers_texted_twice']} |",
            f"| due → accepted P50 / P95 / P99 | {latency['p50_ms']:.0f} / {latency['p95_ms']:.0f} / "
            f"{latency['p99_ms']:.0f} ms |",
            f"| of which due → claimed by the scheduler P50 / P95 | {result['due_to_claimed']['p50_ms']:.0f} / "
            f"{result['due_to_claimed']['p95_ms']:.0f} ms |",
            f"| drain (first due → last accepted) | {result['drain_seconds']} s |",
            f"| CPU per reminder (every process) | {result['cpu_ms_per_reminder']} ms |",
            "",
        ]
    )


@click.command()
@click.option("--appointments", default=10_000, show_default=True, type=click.IntRange(1, 200_000))
@click.option("--tenants", default=1_000, show_default=True, type=click.IntRange(1, 10_000))
@click.option("--spread", default=60.0, show_default=True, type=click.FloatRange(0, 3600), help="seconds")
@click.option("--timeout", default=900.0, show_default=True, type=click.FloatRange(10, 7200), help="seconds")
@click.option("--json", "as_json", is_flag=True, help="print the result as JSON")
@click.pass_context
def command(ctx: click.Context, appointments: int, tenants: int, spread: float, timeout: float, as_json: bool) -> None:
    """Appointments due tomorrow across tenants: every reminder sent once, due → sent P95, drain time, CPU."""
    import json

    settings = get_settings(ctx)
    log_dir = Path("bench/results") / f"reminders-logs-{uuid.uuid4().hex[:8]}"
    result = run(settings, appointments=appointments, tenants=tenants, spread=spread, timeout=timeout, log_dir=log_dir)
    report = write_report("reminders", result, markdown(result))
    if as_json:
        click.echo(json.dumps(result, indent=2, default=str))
    else:
        click.echo(markdown(result))
        click.echo(f"report: {report}")
    if result["timed_out"] or result["numbers_texted_twice"] or result["appointments_with_more_than_one_reminder"]:
        raise SystemExit(1)
