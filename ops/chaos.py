"""`nmc chaos`: missed calls and caller replies through a whole local system while its parts are killed.

A scratch system (its own database, a PRIVATE `redis-server`, real `nmc sandbox|ingress|dispatcher|worker`
processes on free ports) takes a seeded stream of missed calls, some callers texting back, while a seeded schedule
SIGKILLs a Dramatiq worker process, the dispatcher and a gunicorn worker, restarts Redis, cuts Postgres off, and
arms provider faults (transient 500s, slow sends, permanent refusals, failed final statuses, duplicated and
reordered callbacks). When the system has settled, the invariants are checked against the provider's own record
(the sandbox) and the database.

Why not restart the real servers: this machine's Postgres and Redis are shared with other people's tests. Redis is
therefore a private server this run starts, kills and restarts; the Postgres outage is simulated on the run's own
database only (``ALLOW_CONNECTIONS false`` plus terminating every backend of it, repeatedly, for a few seconds),
which is what the processes see of a restart: every connection dropped, new ones refused, then service resumed.
"""

from __future__ import annotations

import json
import os
import random
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from db.settings import Settings
from ops.harness.callers import BOOKING, QUESTION, STOP, CallerOutcome, CallerPlan, World, drive
from ops.harness.report import write_report
from ops.harness.scratch import ScratchSystem, scratch_system
from ops.processes import children as child_processes

PERMANENT_SEND_CODE = 21211  # Twilio "invalid To number": never retried, the message is failed
FINAL_FAILURE_CODE = 30007  # "message filtered": accepted by the provider, then failed
POSTGRES_OUTAGE_SECONDS = 3.0
REDIS_DOWN_SECONDS = 1.0
RABBITMQ_DOWN_SECONDS = 1.0
CALLBACK_FAULT_SECONDS = 2.0
# How long the injector is busy with a fault (the others take a few milliseconds). A RabbitMQ node takes 10-30 s to
# boot on this 2-core machine; the injector waits for it before the next fault.
FAULT_SECONDS = {
    "postgres_outage": POSTGRES_OUTAGE_SECONDS + 0.3,
    "restart_redis": REDIS_DOWN_SECONDS + 0.3,
    "restart_rabbitmq": RABBITMQ_DOWN_SECONDS + 25.0,
}
BROKER_NOTES = {"redis": "Redis", "rabbitmq": "a private RabbitMQ node (killed and restarted on its data directory)"}
BROKERS = tuple(BROKER_NOTES)


# --- the plan -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChaosPlan:
    calls: int = 2000
    duration_seconds: float = 300.0
    seed: int = 1
    tenants: int = 5
    concurrency: int = 64
    settle_seconds: float = 180.0
    patience_seconds: float = 30.0  # how long a caller waits for an answer before giving up on the script
    kills_each: int = 0  # 0: one of each kill per 1,000 calls, at least one
    permanent_send_faults: int = 3
    final_status_faults: int = 3
    broker: str = "redis"  # rabbitmq: the queues on a private RabbitMQ node, which is restarted too

    @property
    def kills(self) -> int:
        return self.kills_each or max(1, self.calls // 1000)


@dataclass
class Fault:
    kind: str
    planned_at: float
    at: float | None = None
    detail: str = ""
    error: str | None = None


@dataclass
class Invariant:
    name: str
    passed: bool
    detail: str
    evidence: dict[str, Any] = field(default_factory=dict)


def caller_plans(plan: ChaosPlan, numbers: Sequence[str]) -> list[CallerPlan]:
    """Who calls which tenant, and what each caller texts back: a pure function of the seed."""
    rng = random.Random(plan.seed)
    plans = []
    for index in range(plan.calls):
        draw = rng.random()
        script: tuple[str, ...] = ()
        if draw < 0.20:
            script = QUESTION
        elif draw < 0.40:
            script = BOOKING
        elif draw < 0.45:
            script = STOP
        if index >= 0.8 * plan.calls:
            script = ()  # the last callers only call, so the load ends close to the planned duration
        plans.append(CallerPlan(caller=f"+1415{2_000_000 + index:07d}", number=rng.choice(numbers), script=script))
    return plans


def fault_schedule(plan: ChaosPlan) -> list[Fault]:
    """When each fault strikes (seconds after the load starts): a pure function of the seed.

    Faults land between 10 % and 75 % of the load, one at a time, so each one hits traffic and the system has load
    left afterwards to show it recovered.
    """
    rng = random.Random(plan.seed * 7919 + 1)
    kinds = [
        *["kill_worker_process"] * plan.kills,
        *["kill_dispatcher"] * plan.kills,
        *["kill_gunicorn_worker"] * plan.kills,
        "restart_redis",
        *(["restart_rabbitmq"] if plan.broker == "rabbitmq" else []),
        "postgres_outage",
        "send_transient_500",
        "send_slow",
        "send_permanent_400",
        "final_status_failed",
        "callbacks_duplicate",
        "callbacks_reorder",
    ]
    rng.shuffle(kinds)
    low, high = 0.10 * plan.duration_seconds, 0.75 * plan.duration_seconds
    times = sorted(rng.uniform(low, high) for _ in kinds)
    spaced: list[float] = []
    for index, moment in enumerate(times):
        if spaced:
            # The injector strikes one fault at a time: leave the previous one time to finish first.
            moment = max(moment, spaced[-1] + FAULT_SECONDS.get(kinds[index - 1], 0.0) + 0.5)
        spaced.append(moment)
    return [Fault(kind=kind, planned_at=round(moment, 2)) for kind, moment in zip(kinds, spaced, strict=True)]


# --- faults ---------------------------------------------------------------------------------------------------------


def postgres_outage(admin_url: str, database: str, seconds: float) -> int:
    """Refuse new connections to ``database`` and terminate every backend of it, repeatedly, for ``seconds``.

    Returns how many backends were terminated. Only this run's database is touched: the shared cluster keeps
    serving everyone else.
    """
    terminated = 0
    name = sql.Identifier(database)
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS false").format(name))
        try:
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                rows = admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = %s AND pid <> pg_backend_pid()",
                    (database,),
                ).fetchall()
                terminated += sum(1 for (done,) in rows if done)
                time.sleep(0.2)
        finally:
            admin.execute(sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS true").format(name))
    return terminated


class Injector:
    """Runs the fault schedule against a scratch system on its own thread, recording what it did and when."""

    def __init__(self, system: ScratchSystem, world: World, plan: ChaosPlan, faults: list[Fault]) -> None:
        self._system = system
        self._world = world
        self._plan = plan
        self.faults = faults
        self._rng = random.Random(plan.seed * 31 + 3)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="chaos-injector", daemon=True)
        self._started = 0.0
        self.armed: Counter[str] = Counter()
        self._timers: list[threading.Timer] = []

    def start(self, started: float) -> None:
        self._started = started
        self._thread.start()

    def join(self) -> None:
        self._thread.join()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        for timer in self._timers:
            timer.join()

    def _run(self) -> None:
        for fault in self.faults:
            if self._stop.wait(max(0.0, self._started + fault.planned_at - time.monotonic())):
                return
            fault.at = round(time.monotonic() - self._started, 2)
            try:
                fault.detail = self._strike(fault.kind)
            except Exception as error:  # a fault that could not be injected is reported, not fatal
                fault.error = f"{type(error).__name__}: {error}"

    def _kill_child(self, name: str) -> str:
        parent = self._system.stack.processes[name].pid
        children = child_processes(parent)
        if not children:
            raise RuntimeError(f"`nmc {name}` (pid {parent}) has no child process to kill")
        victim = self._rng.choice(children)
        os.kill(victim, signal.SIGKILL)
        return (
            f"SIGKILL pid {victim} (one of {len(children)} children of `nmc {name}` pid {parent}); parent replaces it"
        )

    def _strike(self, kind: str) -> str:
        stack, world = self._system.stack, self._world
        if kind == "kill_worker_process":
            return self._kill_child("worker")
        if kind == "kill_gunicorn_worker":
            return self._kill_child("ingress")
        if kind == "kill_dispatcher":
            old = stack.processes["dispatcher"].pid
            stack.kill("dispatcher")
            new = stack.start_process("dispatcher").pid
            return f"SIGKILL process group {old} (`nmc dispatcher`); restarted as pid {new}"
        if kind == "restart_redis":
            self._system.redis.kill()
            time.sleep(1.0)
            self._system.redis.start()
            return (
                f"SIGKILL private redis-server :{self._system.redis.port}, down 1.0 s, restarted empty (no persistence)"
            )
        if kind == "restart_rabbitmq":
            node = self._system.rabbitmq
            if node is None:
                raise RuntimeError("this run's broker is not a private RabbitMQ node")
            node.kill()
            time.sleep(RABBITMQ_DOWN_SECONDS)
            began = time.monotonic()
            node.start()
            return (
                f"SIGKILL private RabbitMQ node :{node.port}, down {RABBITMQ_DOWN_SECONDS} s, restarted on its data"
                f" directory (up again {time.monotonic() - began:.1f} s later)"
            )
        if kind == "postgres_outage":
            seconds = POSTGRES_OUTAGE_SECONDS
            terminated = postgres_outage(self._system.admin_url, self._system.database, seconds)
            return (
                f"database {self._system.database}: ALLOW_CONNECTIONS false and every backend terminated every 0.2 s"
                f" for {seconds} s ({terminated} backends killed), then connections allowed again"
            )
        if kind == "send_transient_500":
            world.arm({"send": {"http_status": 500, "count": 3}})
            self.armed["send_transient_500"] += 3
            return "next 3 sends answered HTTP 500 (retryable)"
        if kind == "send_slow":
            world.arm({"send": {"latency_ms": 1500, "count": 2}})
            return "next 2 sends held 1.5 s, then accepted"
        if kind == "send_permanent_400":
            count = self._plan.permanent_send_faults
            world.arm(
                {
                    "send": {
                        "http_status": 400,
                        "code": PERMANENT_SEND_CODE,
                        "message": "Invalid 'To' Phone Number",
                        "count": count,
                    }
                }
            )
            self.armed["send_permanent_400"] += count
            return f"next {count} sends refused: HTTP 400 code {PERMANENT_SEND_CODE} (permanent)"
        if kind == "final_status_failed":
            count = self._plan.final_status_faults
            world.arm({"final_status": "failed", "error_code": FINAL_FAILURE_CODE, "count": count})
            self.armed["final_status_failed"] += count
            return f"next {count} accepted messages end failed with code {FINAL_FAILURE_CODE}"
        if kind in ("callbacks_duplicate", "callbacks_reorder"):
            mode = kind.split("_", 1)[1]
            world.arm({"callbacks": mode})
            # Back to normal later, off this thread, so the next fault is not held up.
            timer = threading.Timer(CALLBACK_FAULT_SECONDS, world.arm, args=({"callbacks": "normal"},))
            timer.start()
            self._timers.append(timer)
            return f"status callbacks {mode} for {CALLBACK_FAULT_SECONDS} s"
        raise ValueError(f"unknown fault {kind}")


# --- settling and the invariants --------------------------------------------------------------------------------

_BACKLOG = """
SELECT (SELECT count(*) FROM outbox_events WHERE dispatched_at IS NULL)
     + (SELECT count(*) FROM outbox_deliveries WHERE status IN ('enqueued', 'processing', 'retrying'))
     + (SELECT count(*) FROM conv_messages WHERE direction = 'out' AND status = 'pending')
"""


def wait_settled(database_url: str, timeout: float) -> tuple[bool, float]:
    """Until nothing is left to dispatch, deliver, retry or send, twice in a row 1 s apart (bounded)."""
    began = time.monotonic()
    quiet = 0
    while time.monotonic() - began < timeout:
        try:
            with psycopg.connect(database_url, connect_timeout=5) as conn:
                backlog = conn.execute(_BACKLOG).fetchone()
            quiet = quiet + 1 if backlog is not None and backlog[0] == 0 else 0
        except psycopg.OperationalError:
            quiet = 0
        if quiet >= 2:
            return True, round(time.monotonic() - began, 1)
        time.sleep(1.0)
    return False, round(time.monotonic() - began, 1)


_WEBHOOKS_VS_EVENTS = """
WITH hooks AS (
    SELECT CASE kind WHEN 'voice-status' THEN 'nmc.telephony.CallMissed'
                     WHEN 'sms' THEN 'nmc.conversations.MessageReceived'
                     ELSE 'nmc.telephony.MessageStatusReported' END AS event_name,
           CASE kind WHEN 'voice-status' THEN split_part(provider_ref, ':', 1) ELSE provider_ref END AS key
      FROM webhook_events
     WHERE provider = 'twilio' AND outcome = 'accepted'
       AND (kind IN ('sms', 'sms-status') OR (kind = 'voice-status' AND provider_ref LIKE '%:missed'))
), events AS (
    SELECT event_name,
           CASE event_name WHEN 'nmc.telephony.CallMissed' THEN payload->>'call_sid'
                           WHEN 'nmc.conversations.MessageReceived' THEN payload->>'message_sid'
                           ELSE (payload->>'message_sid') || ':' || (payload->>'status') END AS key
      FROM outbox_events
     WHERE event_name IN ('nmc.telephony.CallMissed', 'nmc.conversations.MessageReceived',
                          'nmc.telephony.MessageStatusReported')
), h AS (SELECT event_name, key, count(*) AS n FROM hooks GROUP BY 1, 2),
   e AS (SELECT event_name, key, count(*) AS n FROM events GROUP BY 1, 2)
SELECT count(*) AS webhooks,
       count(*) FILTER (WHERE e.n IS NULL) AS without_event,
       count(*) FILTER (WHERE h.n IS NULL) AS without_webhook,
       count(*) FILTER (WHERE e.n > 1 OR h.n > 1) AS duplicated,
       coalesce(array_agg(key) FILTER (WHERE e.n IS NULL OR h.n IS NULL OR e.n > 1 OR h.n > 1), '{}') AS bad
  FROM h FULL JOIN e USING (event_name, key)
"""

_OVERLAPS = """
SELECT a.id, b.id FROM sched_appointments a JOIN sched_appointments b
    ON a.resource_id = b.resource_id AND a.id < b.id AND a.timeslot && b.timeslot
 WHERE a.status = 'booked' AND b.status = 'booked'
"""


def check_invariants(
    database_url: str,
    world: World,
    outcomes: Sequence[CallerOutcome],
    armed: Counter[str],
    settled: bool,
    settle_seconds: float,
) -> tuple[list[Invariant], dict[str, Any]]:
    invariants = [
        Invariant(
            "system settled",
            settled,
            f"outbox, deliveries and pending sends drained {'in' if settled else 'NOT within'} {settle_seconds} s",
        )
    ]
    messages = [m for m in world.all_messages() if m["direction"] == "outbound-api"]
    pending_faults = world.faults()
    with psycopg.connect(database_url, connect_timeout=10) as conn:
        first = conn.execute(
            "SELECT to_number, body, status, error_code, provider_ref FROM conv_messages"
            " WHERE purpose = 'first_response'"
        ).fetchall()
        refused = conn.execute(
            "SELECT id, to_number, purpose FROM conv_messages WHERE direction = 'out' AND error_code = %s",
            (PERMANENT_SEND_CODE,),
        ).fetchall()
        webhooks = conn.execute(_WEBHOOKS_VS_EVENTS).fetchone()
        overlaps = conn.execute(_OVERLAPS).fetchall()
        booked = conn.execute("SELECT count(*) FROM sched_appointments WHERE status = 'booked'").fetchone()
        dead = conn.execute(
            "SELECT event_name, handler, last_error FROM dead_letters WHERE replayed_at IS NULL"
        ).fetchall()
        statuses: dict[str, int] = dict(
            conn.execute("SELECT status, count(*) FROM conv_messages WHERE direction = 'out' GROUP BY 1").fetchall()
        )

    # Exactly one first SMS at the provider per caller, or none when an injected permanent refusal hit it.
    first_rows: dict[str, list[Any]] = {}
    for row in first:
        first_rows.setdefault(row[0], []).append(row)
    at_provider = Counter((m["to"], m["body"]) for m in messages)
    excused = {row[0] for row in first if row[3] == PERMANENT_SEND_CODE and row[2] == "failed"}
    lost, duplicated, extra_rows = [], [], []
    for outcome in outcomes:
        rows = first_rows.get(outcome.caller, [])
        if len(rows) > 1:
            extra_rows.append(outcome.caller)
        sent = sum(at_provider[(outcome.caller, row[1])] for row in rows[:1])
        if sent > 1:
            duplicated.append(outcome.caller)
        elif sent == 0 and outcome.accepted and outcome.caller not in excused:
            lost.append(outcome.caller)
    accepted = sum(1 for o in outcomes if o.accepted)
    invariants.append(
        Invariant(
            "every missed call has exactly one first SMS at the provider",
            not lost and not duplicated and not extra_rows,
            f"{accepted} accepted calls: {len(lost)} lost, {len(duplicated)} duplicated at the provider, "
            f"{len(extra_rows)} callers with more than one first-response row; "
            f"{len(excused)} excused (first SMS refused by an injected permanent fault)",
            {
                "lost": lost[:50],
                "duplicated": duplicated[:50],
                "extra_rows": extra_rows[:50],
                "excused": sorted(excused),
            },
        )
    )
    invariants.append(
        Invariant(
            "permanent send refusals hit only as many messages as were injected",
            len(refused) <= armed["send_permanent_400"],
            f"{armed['send_permanent_400']} armed, {len(refused)} messages failed with code {PERMANENT_SEND_CODE}"
            f" ({pending_faults.get('send_pending', 0)} send faults still armed at the end)",
            {"messages": [{"id": str(r[0]), "to": r[1], "purpose": r[2]} for r in refused]},
        )
    )
    assert webhooks is not None
    invariants.append(
        Invariant(
            "every webhook exactly one event",
            webhooks[1] == 0 and webhooks[2] == 0 and webhooks[3] == 0,
            f"{webhooks[0]} accepted Twilio webhooks (missed-call verdicts, inbound SMS, status callbacks):"
            f" {webhooks[1]} without an event, {webhooks[2]} events without a webhook, {webhooks[3]} duplicated",
            {"mismatched_refs": list(webhooks[4])[:50]},
        )
    )
    invariants.append(
        Invariant(
            "no two booked appointments overlap",
            not overlaps,
            f"{booked[0] if booked else 0} booked appointments, {len(overlaps)} overlapping pairs",
            {"pairs": [[str(a), str(b)] for a, b in overlaps[:20]]},
        )
    )
    invariants.append(
        Invariant(
            "the DLQ holds only what injected permanent faults put there",
            not dead,
            f"{len(dead)} dead letters (injected permanent faults are terminal outcomes, not retries: none expected)",
            {"dead_letters": [{"event": r[0], "handler": r[1], "error": r[2][:300]} for r in dead[:20]]},
        )
    )
    final_failed = [m for m in messages if m.get("error_code") == FINAL_FAILURE_CODE]
    stats = {
        "calls_planned": len(outcomes),
        "calls_accepted": accepted,
        "calls_rung_again": sum(1 for o in outcomes if o.ring_attempts > 1),
        "callers_texting": sum(1 for o in outcomes if o.script),
        "texts_sent": sum(o.texts_sent for o in outcomes),
        "scripts_cut_short": Counter(o.gave_up for o in outcomes if o.gave_up),
        "outbound_at_provider": len(messages),
        "first_sms_at_provider": sum(at_provider[(caller, rows[0][1])] for caller, rows in first_rows.items() if rows),
        "outbound_statuses": statuses,
        "appointments_booked": booked[0] if booked else 0,
        "permanent_refusals_hit": [{"id": str(r[0]), "to": r[1], "purpose": r[2]} for r in refused],
        "final_failures_hit": [{"sid": m["sid"], "to": m["to"]} for m in final_failed],
        "sandbox_faults_left": pending_faults,
    }
    return invariants, stats


# --- the run --------------------------------------------------------------------------------------------------------


@dataclass
class ChaosResult:
    plan: ChaosPlan
    faults: list[Fault]
    invariants: list[Invariant]
    stats: dict[str, Any]
    seconds: dict[str, float]
    report_path: Path | None = None

    @property
    def passed(self) -> bool:
        return all(invariant.passed for invariant in self.invariants) and all(f.error is None for f in self.faults)

    def as_json(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "plan": asdict(self.plan),
            "faults": [asdict(fault) for fault in self.faults],
            "invariants": [asdict(invariant) for invariant in self.invariants],
            "stats": json.loads(json.dumps(self.stats, default=str)),
            "seconds": self.seconds,
        }


def run_chaos(
    settings: Settings,
    plan: ChaosPlan,
    *,
    log_dir: Path,
    template: str | None = None,
    results_dir: Path | None = None,
    keep: bool = False,
    progress: Callable[[str], None] = lambda line: None,
) -> ChaosResult:
    began = time.monotonic()
    faults = fault_schedule(plan)
    if plan.broker not in BROKERS:
        raise ValueError(f"unknown broker {plan.broker!r}: one of {', '.join(BROKERS)}")
    with scratch_system(
        settings, tenants=plan.tenants, log_dir=log_dir, template=template, keep=keep, broker=plan.broker
    ) as system:
        ready = time.monotonic()
        node = f", private RabbitMQ :{system.rabbitmq.port}" if system.rabbitmq is not None else ""
        progress(
            f"system up in {ready - began:.1f} s (database {system.database}, private redis :{system.redis.port}{node})"
        )
        world = World(system.stack.sandbox_url)
        plans = caller_plans(plan, system.numbers)
        injector = Injector(system, world, plan, faults)
        started = time.monotonic()
        injector.start(started)
        try:
            try:
                outcomes = drive(
                    world, plans, plan.duration_seconds, plan.concurrency, started, patience=plan.patience_seconds
                )
            finally:
                injector.stop()
            load_done = time.monotonic()
            progress(f"{len(outcomes)} callers played in {load_done - started:.1f} s; {len(faults)} faults injected")
            settled, settle_seconds = wait_settled(system.database_url, plan.settle_seconds)
            progress(f"settled: {settled} after {settle_seconds} s")
            invariants, stats = check_invariants(
                system.database_url, world, outcomes, injector.armed, settled, settle_seconds
            )
        finally:
            world.close()
        restarts = dict(system.stack.restarts)
    stats["stack_restarts"] = restarts
    seconds = {
        "start_up": round(ready - began, 1),
        "load": round(load_done - started, 1),
        "settle": settle_seconds,
        "total": round(time.monotonic() - began, 1),
    }
    result = ChaosResult(plan, faults, invariants, stats, seconds)
    if results_dir is not None:
        result.report_path = write_report("chaos", result.as_json(), markdown(result), directory=results_dir)
    return result


def markdown(result: ChaosResult) -> str:
    plan = result.plan
    lines = [
        "# Chaos run",
        "",
        f"**{'PASS' if result.passed else 'FAIL'}** — {plan.calls} missed calls over {plan.duration_seconds:.0f} s"
        f" to {plan.tenants} tenants (seed {plan.seed}), {result.stats['callers_texting']} callers texting back;"
        f" start-up {result.seconds['start_up']} s, load {result.seconds['load']} s,"
        f" settle {result.seconds['settle']} s.",
        "",
        f"The Dramatiq broker is {BROKER_NOTES[plan.broker]}."
        " Redis is a private `redis-server` started for the run (killed and restarted empty). Postgres is the shared"
        " server, so its restart is simulated on the run's own database: `ALLOW_CONNECTIONS false` and every backend"
        " terminated every 0.2 s for 3 s, then connections allowed again.",
        "",
        "## Faults injected",
        "",
        "| at s | fault | what was done |",
        "|---|---|---|",
    ]
    for fault in result.faults:
        what = fault.detail if fault.error is None else f"NOT INJECTED: {fault.error}"
        at = "—" if fault.at is None else f"{fault.at:.2f}"
        lines.append(f"| {at} | {fault.kind} | {what} |")
    lines += ["", "## Invariants", "", "| invariant | result | detail |", "|---|---|---|"]
    for invariant in result.invariants:
        lines.append(f"| {invariant.name} | {'pass' if invariant.passed else 'FAIL'} | {invariant.detail} |")
    stats = result.stats
    lines += [
        "",
        "## Traffic",
        "",
        f"- calls accepted: {stats['calls_accepted']} of {stats['calls_planned']}"
        f" ({stats['calls_rung_again']} callers had to ring again while something was down)",
        f"- texts sent by callers: {stats['texts_sent']}; outbound messages at the provider:"
        f" {stats['outbound_at_provider']} (first SMS: {stats['first_sms_at_provider']})",
        f"- outbound statuses: {stats['outbound_statuses']}",
        f"- appointments booked: {stats['appointments_booked']}",
        f"- scripts cut short (callers who gave up waiting): {dict(stats['scripts_cut_short']) or 'none'}",
        f"- permanent refusals hit: {stats['permanent_refusals_hit']}",
        f"- failed final statuses hit: {stats['final_failures_hit']}",
        "",
    ]
    return "\n".join(lines)
