"""Pieces of `nmc bench e2e`: bulk tenant seeding, CPU accounting from /proc, the per-stage latency breakdown read
back from the outbox tables, and the histogram image."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
from sqlalchemy import Connection, text

from domain.catalog.demo import DEMO_CATALOG
from domain.scheduling.demo import demo_shifts
from ops.harness.report import percentile
from ops.processes import cpu_seconds

TIMEZONES = ("America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles", "America/Phoenix")
TENANT_NUMBER_BASE = 16_462_000_000  # +1 646 200 0000 onwards: one Twilio number per bench tenant
FORWARD_TO_BASE = 12_122_000_000

# --- seeding ---------------------------------------------------------------------------------------------------

# Set-based: every table is one INSERT … SELECT over generate_series, so 5,000 tenants take seconds. The rows are
# what identity.create_tenant, compliance (approved campaign), seed_demo_catalog and seed_demo_schedule write; the
# set-up events they would append (TenantCreated, ServiceItemChanged, …) are left out on purpose, so the pipeline
# starts the run empty instead of chewing through tens of thousands of seeding events.
_SEED_STATEMENTS = (
    """
    CREATE TEMP TABLE bench_seed ON COMMIT DROP AS
    SELECT i, gen_random_uuid() AS tenant_id,
           '+' || (CAST(:number_base AS bigint) + i) AS number,
           '+' || (CAST(:forward_base AS bigint) + i) AS forward_to,
           (CAST(:zones AS text[]))[1 + i % cardinality(CAST(:zones AS text[]))] AS timezone
      FROM generate_series(0, :tenants - 1) AS i
    """,
    """
    INSERT INTO id_tenants (id, name, timezone, forward_to)
    SELECT tenant_id, 'Bench Plumbing & HVAC ' || i, timezone, forward_to FROM bench_seed
    """,
    "INSERT INTO id_phone_numbers (id, tenant_id, e164) SELECT gen_random_uuid(), tenant_id, number FROM bench_seed",
    """
    INSERT INTO id_feature_gates (tenant_id, plan, subscription_status, gates)
    SELECT s.tenant_id, p.code, 'active', p.gates FROM bench_seed s JOIN id_plans p ON p.code = 'pro'
    """,
    """
    INSERT INTO comp_campaigns (id, tenant_id, status)
    SELECT gen_random_uuid(), tenant_id, 'approved' FROM bench_seed
    """,
    """
    INSERT INTO catalog_service_items (id, tenant_id, name, description, duration_minutes, price_cents, currency)
    SELECT gen_random_uuid(), s.tenant_id, c.name, c.description, c.duration, c.price, 'USD'
      FROM bench_seed s
     CROSS JOIN jsonb_to_recordset(CAST(:catalog AS jsonb)) AS c(name text, description text, duration int, price int)
    """,
    """
    INSERT INTO catalog_aliases (id, tenant_id, service_item_id, alias)
    SELECT gen_random_uuid(), item.tenant_id, item.id, a.alias
      FROM catalog_service_items item
      JOIN bench_seed s ON s.tenant_id = item.tenant_id
      JOIN (SELECT c.name, jsonb_array_elements_text(c.aliases) AS alias
              FROM jsonb_to_recordset(CAST(:catalog AS jsonb)) AS c(name text, aliases jsonb)) a ON a.name = item.name
    """,
    """
    INSERT INTO sched_resources (id, tenant_id, name, timezone, buffer_minutes, min_lead_minutes, slot_step_minutes)
    SELECT gen_random_uuid(), tenant_id, 'Mike (lead plumber)', timezone, 15, 60, 30 FROM bench_seed
    """,
    """
    INSERT INTO sched_working_hours (id, tenant_id, resource_id, weekday, starts_local, ends_local)
    SELECT gen_random_uuid(), r.tenant_id, r.id, h.weekday, h.starts, h.ends
      FROM sched_resources r
      JOIN bench_seed s ON s.tenant_id = r.tenant_id
     CROSS JOIN jsonb_to_recordset(CAST(:shifts AS jsonb)) AS h(weekday int, starts time, ends time)
    """,
)


def seed_tenants(conn: Connection, tenants: int) -> list[str]:
    """N tenants ready to text (number, approved campaign, pro gates, catalog, one resource with hours), in the
    caller's transaction. Returns their numbers in order."""
    catalog = [
        {"name": name, "duration": duration, "price": price, "aliases": list(aliases), "description": description}
        for name, duration, price, aliases, description in DEMO_CATALOG
    ]
    shifts = [
        {"weekday": shift.weekday, "starts": shift.starts_local.isoformat(), "ends": shift.ends_local.isoformat()}
        for shift in demo_shifts()
    ]
    params = {
        "tenants": tenants,
        "number_base": TENANT_NUMBER_BASE,
        "forward_base": FORWARD_TO_BASE,
        "zones": list(TIMEZONES),
        "catalog": json.dumps(catalog),
        "shifts": json.dumps(shifts),
    }
    for statement in _SEED_STATEMENTS:
        conn.execute(text(statement), params)
    return [f"+{TENANT_NUMBER_BASE + index}" for index in range(tenants)]


# --- CPU -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CpuSample:
    by_group: dict[str, dict[int, float]]  # group name → pid → CPU seconds so far


def sample_cpu(groups: Mapping[str, Iterable[int]]) -> CpuSample:
    sample: dict[str, dict[int, float]] = {}
    for name, pids in groups.items():
        readings: dict[int, float] = {}
        for pid in pids:
            seconds = cpu_seconds(pid)
            if seconds is not None:
                readings[pid] = seconds
        sample[name] = readings
    return CpuSample(sample)


def cpu_delta(before: CpuSample, after: CpuSample) -> dict[str, dict[str, float]]:
    """CPU seconds spent per group between the samples. A process born in between counts from zero; one that died
    in between is lost (none should, in a run without faults)."""
    result: dict[str, dict[str, float]] = {}
    for name, readings in after.by_group.items():
        earlier = before.by_group.get(name, {})
        spent = sum(max(0.0, seconds - earlier.get(pid, 0.0)) for pid, seconds in readings.items())
        result[name] = {"cpu_seconds": round(spent, 2), "processes": len(readings)}
    return result


def postgres_backends(conn: Connection, database: str) -> dict[str, list[int]]:
    """The Postgres server processes serving this database, grouped by the client's application_name."""
    rows = conn.execute(
        text(
            "SELECT pid, coalesce(nullif(application_name, ''), backend_type) AS app FROM pg_stat_activity"
            " WHERE datname = :db AND pid <> pg_backend_pid()"
        ),
        {"db": database},
    ).all()
    groups: dict[str, list[int]] = {}
    for row in rows:
        groups.setdefault(f"postgres ({row.app})", []).append(int(row.pid))
    return groups


# --- where the time goes ---------------------------------------------------------------------------------------

STAGES = ("ingress", "outbox_wait", "queue_wait", "handler", "provider_call")

# One row per reply: the root event the ingress wrote, its handler's delivery, the OutboundMessageRequested that
# handler emitted (same correlation, caused by the root), the send delivery and the message it queued. Every
# timestamp is on this machine's one clock (Python's in the processes, Postgres's now()), so differences are exact.
_CHAIN = text(
    """
    SELECT CAST(root.payload->>:received_key AS timestamptz) AS t0,
           root.created_at AS t1, root.dispatched_at AS t2,
           d1.started_at AS t3, d1.completed_at AS t4,
           request.dispatched_at AS t5, d2.started_at AS t6,
           message.send_attempted_at AS t7a, message.queued_at AS t7,
           message.to_number AS caller
      FROM outbox_events root
      JOIN outbox_deliveries d1 ON d1.event_id = root.event_id AND d1.handler = :first_handler
      JOIN outbox_events request ON request.causation_id = root.event_id
                                AND request.correlation_id = root.correlation_id
                                AND request.event_name = 'nmc.conversations.OutboundMessageRequested'
                                AND request.payload->>'purpose' = :purpose
      JOIN outbox_deliveries d2 ON d2.event_id = request.event_id AND d2.handler = 'conversations.send_message'
      JOIN conv_messages message ON message.id = CAST(request.payload->>'message_id' AS uuid)
     WHERE root.event_name = :root_event AND message.queued_at IS NOT NULL AND message.to_number = ANY(:callers)
    """
)

FLOWS = {
    "first_sms": {
        "root_event": "nmc.telephony.CallMissed",
        "received_key": "missed_at",
        "first_handler": "conversations.greet_missed_caller",
        "purpose": "first_response",
    },
    "ai_reply": {
        "root_event": "nmc.conversations.MessageReceived",
        "received_key": "received_at",
        "first_handler": "conversations.reply_to_caller",
        "purpose": "ai_reply",
    },
}


def _ms(later: Any, earlier: Any) -> float:
    return float((later - earlier).total_seconds() * 1000)


def breakdown(conn: Connection, flow: str, callers: Sequence[str]) -> dict[str, Any]:
    """Per-stage latency of one flow (webhook handled → provider's 201), P50/P95/P99/mean and share of the mean.

    ingress: webhook verdict → event row (the request's own work before its transaction writes);
    outbox_wait: → dispatcher claim, for both hops (includes each writer's commit and the NOTIFY wake-up);
    queue_wait: dispatcher claim → worker claim (Redis and Dramatiq), both hops;
    handler: the flow's handler, plus the send handler up to the provider call (preflight, intent commit);
    provider_call: intent recorded → Twilio's 201 queued (the SDK's HTTP round trip to the sandbox).
    """
    rows = conn.execute(_CHAIN, {**FLOWS[flow], "callers": list(callers)}).all()
    samples: dict[str, list[float]] = {stage: [] for stage in (*STAGES, "total")}
    hops: dict[str, list[float]] = {
        name: []
        for name in (
            "event_written_to_dispatched",
            "dispatched_to_handler_start",
            "first_handler",
            "handler_done_to_send_dispatched",
            "send_dispatched_to_send_start",
            "send_start_to_provider_call",
        )
    }
    early_stamps = 0
    for row in rows:
        # The dispatcher stamps dispatched_at with the clock it read *before* its claim query, so a batch that began
        # before the writer committed can carry a time earlier than the event itself. Clamped to the event's own
        # time, the stamp can only move time from outbox wait to queue wait; the stages still add up to the total.
        t2, t5 = max(row.t2, row.t1), max(row.t5, row.t4)
        early_stamps += (row.t2 < row.t1) + (row.t5 < row.t4)
        values = {
            "ingress": _ms(row.t1, row.t0),
            "outbox_wait": _ms(t2, row.t1) + _ms(t5, row.t4),
            "queue_wait": _ms(row.t3, t2) + _ms(row.t6, t5),
            "handler": _ms(row.t4, row.t3) + _ms(row.t7a, row.t6),
            "provider_call": _ms(row.t7, row.t7a),
            "total": _ms(row.t7, row.t0),
        }
        for stage, value in values.items():
            samples[stage].append(value)
        hops["event_written_to_dispatched"].append(_ms(t2, row.t1))
        hops["dispatched_to_handler_start"].append(_ms(row.t3, t2))
        hops["first_handler"].append(_ms(row.t4, row.t3))
        hops["handler_done_to_send_dispatched"].append(_ms(t5, row.t4))
        hops["send_dispatched_to_send_start"].append(_ms(row.t6, t5))
        hops["send_start_to_provider_call"].append(_ms(row.t7a, row.t6))
    total_mean = _mean(samples["total"])
    stages = {
        stage: {
            **describe_ms(values),
            "share_of_mean": round(_mean(values) / total_mean, 3) if total_mean else math.nan,
        }
        for stage, values in samples.items()
    }
    return {
        "count": len(rows),
        "stages": stages,
        "hops": {name: describe_ms(values) for name, values in hops.items()},
        "dispatch_stamps_before_event": early_stamps,
    }


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else math.nan


def describe_ms(samples_ms: Sequence[float]) -> dict[str, float]:
    """P50/P95/P99/max/mean of samples already in milliseconds."""
    return {
        "count": len(samples_ms),
        "p50_ms": round(percentile(samples_ms, 50), 1),
        "p95_ms": round(percentile(samples_ms, 95), 1),
        "p99_ms": round(percentile(samples_ms, 99), 1),
        "max_ms": round(max(samples_ms), 1) if samples_ms else math.nan,
        "mean_ms": round(_mean(samples_ms), 1),
    }


# --- histogram -------------------------------------------------------------------------------------------------


PLOTS_HINT = "nmc bench e2e draws its histogram with matplotlib: pip install -c constraints.txt -e '.[plots]'"


def require_plotting() -> None:
    """Fail in one line, before minutes of benchmarking, when the optional ``plots`` extra is not installed."""
    import importlib.util

    if importlib.util.find_spec("matplotlib") is None:
        raise click.ClickException(PLOTS_HINT)


def histogram_png(
    path: Path,
    panels: Sequence[tuple[str, Mapping[str, Sequence[float]]]],
    targets: Mapping[str, float],
    title: str,
) -> Path:
    """One panel per flow, each overlaying its latency series (ms), with P95/P99 marks and the first panel's
    targets. Agg backend: no display needed."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    figure, axes = pyplot.subplots(len(panels), 1, figsize=(10, 4 * len(panels)), squeeze=False)
    for index, (name, series) in enumerate(panels):
        axis = axes[index][0]
        everything = [value for values in series.values() for value in values]
        if everything:
            top = max(percentile(everything, 99.5) * 1.2, 1.0)
            bins = [top * step / 60 for step in range(61)]
            for label, values in series.items():
                if values:
                    p95, p99 = percentile(values, 95), percentile(values, 99)
                    axis.hist(
                        [min(value, top) for value in values],
                        bins=bins,
                        alpha=0.55,
                        label=f"{label} (n={len(values)}, P50 {percentile(values, 50):.0f}, P95 {p95:.0f}, "
                        f"P99 {p99:.0f} ms)",
                    )
        if index == 0:
            for label, value in targets.items():
                axis.axvline(value, linestyle="--", color="red", linewidth=1)
                axis.text(value, axis.get_ylim()[1] * 0.95, f" target {label} {value:.0f} ms", color="red", fontsize=8)
        axis.set_title(name)
        axis.set_xlabel("latency (ms); the last bin holds everything above it")
        axis.set_ylabel("messages")
        axis.legend(fontsize=8)
    figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    pyplot.close(figure)
    return path
