"""`nmc bench e2e`: missed calls and caller texts through the whole system, measured end to end.

A scratch database (``<DATABASE_URL name>_bench_e2e``, migrated, N tenants bulk-seeded) and a real stack of `nmc
sandbox | ingress | dispatcher | worker` processes (``ops.stack.LocalStack``) in its own Redis namespace. A bounded
pool of caller threads keeps ``--concurrency`` conversations in flight: each is a missed call through the sandbox
(which plays Twilio's signed voice webhooks against the ingress), the first SMS, a pause, a price question by SMS
and the AI's reply; with ``--rate`` the calls start at a fixed rate instead (open loop), which measures latency at
a given load rather than the backlog of a saturated system. Latencies come from the sandbox's own timestamps (what a
caller's phone would see) and from the database (``first_response_latency_ms``, and the outbox/delivery timestamps
for where the time goes).

``--nodes 2`` runs two complete nodes instead (``ops.harness.nodes.NodeCluster``: ingress, dispatcher and worker
pool each, as on two machines, behind a round-robin balancer) on the same database and broker; the report then says
how the deliveries and webhooks were shared between them. The broker is the one ``BROKER_URL`` names.
"""

from __future__ import annotations

import json
import os
import random
import resource
import shlex
import shutil
import tempfile
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click
import httpx
import redis
from sqlalchemy import Engine, text

from db.engine import make_engine
from db.settings import Settings
from ops.bench.e2e_support import (
    STAGES,
    breakdown,
    cpu_delta,
    describe_ms,
    histogram_png,
    postgres_backends,
    require_plotting,
    sample_cpu,
    seed_tenants,
)
from ops.context import get_settings
from ops.harness.database import checkpoint, drop_database, drop_namespace, scratch_database
from ops.harness.nodes import NodeCluster
from ops.harness.report import RESULTS_DIR, write_report
from ops.processes import descendants
from ops.sandbox.client import SandboxClient
from ops.stack import LocalStack

TARGETS_MS = {"P95": 150.0, "P99": 400.0}
SLO_MS = 5000.0
QUESTIONS = (
    "hi how much is it to clear a clogged drain?",
    # Not "water heater repair": the catalog matcher finds "no water" (Emergency call-out) nearly as close, and the
    # engine rightly asks which one is meant instead of quoting.
    "my pilot light is out, what does that cost?",
    "how much for a leak repair under the sink",
    "price for an AC tune-up?",
    "How much is an emergency call-out?",
)


# --- what the caller's phone sees ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Received:
    sid: str
    at: float  # epoch seconds, the sandbox's created_at (the moment the provider accepted the message)
    body: str


class Inbox:
    """One poller for every caller: reads the sandbox's new outbound messages and wakes whoever waits for them.

    One request every ``interval`` instead of one per waiting conversation keeps the driver's own load off the
    two cores it shares with the system under test; the poll interval never shows in the figures, which use the
    sandbox's timestamps.
    """

    def __init__(self, client: SandboxClient, interval: float = 0.05) -> None:
        self._client = client
        self._interval = interval
        self._by_caller: dict[str, list[Received]] = defaultdict(list)
        self._seen: set[str] = set()
        self._cursor: datetime | None = None
        self._changed = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-inbox", daemon=True)
        self.errors = 0

    def __enter__(self) -> Inbox:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll()
            except (httpx.HTTPError, ValueError, KeyError):
                self.errors += 1
            self._stop.wait(self._interval)

    def poll(self) -> None:
        since = None if self._cursor is None else self._cursor.isoformat()
        fresh: list[tuple[str, Received]] = []
        newest = self._cursor
        for message in self._client.messages(since=since):
            created = datetime.fromisoformat(message["created_at"])
            newest = created if newest is None or created > newest else newest
            if message["direction"] != "outbound-api" or message["sid"] in self._seen:
                continue
            self._seen.add(message["sid"])
            fresh.append((message["to"], Received(message["sid"], created.timestamp(), message["body"])))
        if newest is not None:
            # A message stamped just before the newest one may be stored a moment after it: look back a little.
            self._cursor = newest - timedelta(seconds=2)
        if fresh:
            with self._changed:
                for caller, received in fresh:
                    self._by_caller[caller].append(received)
                    self._by_caller[caller].sort(key=lambda item: item.at)
                self._changed.notify_all()

    def wait(self, caller: str, count: int, timeout: float) -> Received | None:
        """The caller's ``count``-th message from the business, once it has arrived (None after ``timeout``)."""
        with self._changed:
            arrived = self._changed.wait_for(lambda: len(self._by_caller[caller]) >= count, timeout)
            return self._by_caller[caller][count - 1] if arrived else None

    def outbound(self) -> int:
        with self._changed:
            return sum(len(messages) for messages in self._by_caller.values())


@dataclass
class Conversation:
    index: int
    caller: str
    tenant_number: str
    question: str
    call_posted: float | None = None
    first_sms: Received | None = None
    text_posted: float | None = None
    reply: Received | None = None
    error: str | None = None
    finished: float | None = None
    scheduled: float | None = None  # when an open-loop run meant the call to start

    @property
    def first_sms_ms(self) -> float | None:
        if self.first_sms is None or self.call_posted is None:
            return None
        return (self.first_sms.at - self.call_posted) * 1000

    @property
    def reply_ms(self) -> float | None:
        if self.reply is None or self.text_posted is None:
            return None
        return (self.reply.at - self.text_posted) * 1000


def converse(
    client: SandboxClient, inbox: Inbox, conversation: Conversation, *, think_seconds: float, timeout: float
) -> Conversation:
    """Missed call → first SMS → (the caller reads and types) → price question → the AI's reply."""
    try:
        conversation.call_posted = time.time()
        call = client.call(conversation.caller, conversation.tenant_number)
        if call.status_code != 200 or call.json().get("webhook_status") != [200, 200]:
            conversation.error = f"call: {call.status_code} {call.text[:200]}"
            return conversation
        conversation.first_sms = inbox.wait(conversation.caller, 1, timeout)
        if conversation.first_sms is None:
            conversation.error = "no first SMS"
            return conversation
        if think_seconds:
            time.sleep(think_seconds * random.uniform(0.5, 1.5))
        conversation.text_posted = time.time()
        sms = client.sms(conversation.caller, conversation.tenant_number, conversation.question)
        if sms.status_code != 200 or sms.json().get("webhook_status") != 200:
            conversation.error = f"sms: {sms.status_code} {sms.text[:200]}"
            return conversation
        conversation.reply = inbox.wait(conversation.caller, 2, timeout)
        if conversation.reply is None:
            conversation.error = "no AI reply"
    except httpx.HTTPError as error:
        conversation.error = f"{type(error).__name__}: {error}"
    finally:
        conversation.finished = time.time()
    return conversation


def in_flight(conversations: list[Conversation]) -> dict[str, float]:
    """Conversations actually in flight (call posted → last reply), measured, not configured: the time-weighted
    mean over the busy span and the peak."""
    spans = [(c.call_posted, c.finished) for c in conversations if c.call_posted is not None and c.finished is not None]
    edges = sorted([(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans])
    if not edges:
        return {"mean": 0.0, "peak": 0}
    level = peak = 0
    weighted = 0.0
    previous = edges[0][0]
    for at, step in edges:
        weighted += level * (at - previous)
        previous = at
        level += step
        peak = max(peak, level)
    span = edges[-1][0] - edges[0][0]
    return {"mean": round(weighted / span, 1) if span else float(peak), "peak": peak}


def drive(
    client: SandboxClient,
    inbox: Inbox,
    conversations: list[Conversation],
    *,
    concurrency: int,
    think_seconds: float,
    timeout: float,
    rate: float = 0.0,
) -> float:
    """Run every conversation with at most ``concurrency`` in flight; returns the wall-clock seconds taken.

    ``rate`` > 0 starts missed calls at that many per second (open loop, still capped by ``concurrency``: a call
    that finds every slot busy starts late, which ``start_lag`` shows); 0 starts the next one as soon as a slot
    frees (closed loop, which saturates the system and measures its backlog rather than its latency)."""
    started = time.time()
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="bench-caller") as pool:
        futures = []
        for index, conversation in enumerate(conversations):
            if rate:
                conversation.scheduled = started + index / rate
                delay = conversation.scheduled - time.time()
                if delay > 0:
                    time.sleep(delay)
            futures.append(
                pool.submit(converse, client, inbox, conversation, think_seconds=think_seconds, timeout=timeout)
            )
        for future in futures:
            future.result()
    return time.time() - started


# --- the run ---------------------------------------------------------------------------------------------------


@dataclass
class Options:
    tenants: int
    conversations: int
    concurrency: int
    warmup: int
    worker_processes: int
    worker_threads: int
    ingress_workers: int
    ingress_threads: int
    think_seconds: float
    timeout: float
    rate: float
    results_dir: Path
    keep_database: bool
    seed: int
    nodes: int = 1
    command_line: str = field(default="")


def _seed(engine: Engine, tenants: int) -> tuple[list[str], float]:
    started = time.monotonic()
    with engine.begin() as conn:
        numbers = seed_tenants(conn, tenants)
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("ANALYZE"))
    return numbers, time.monotonic() - started


def _settle(engine: Engine, timeout: float = 20.0) -> bool:
    """Wait until the pipeline has nothing left to do (status callbacks land after the last reply)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            busy = conn.execute(
                text(
                    "SELECT (SELECT count(*) FROM outbox_events WHERE dispatched_at IS NULL)"
                    " + (SELECT count(*) FROM outbox_deliveries WHERE status IN ('enqueued', 'processing'))"
                )
            ).scalar_one()
        if busy == 0:
            return True
        time.sleep(0.2)
    return False


def _cpu_groups(stack: LocalStack | NodeCluster, engine: Engine, database: str) -> dict[str, list[int]]:
    groups = {name: descendants(process.pid) for name, process in stack.processes.items()}
    with engine.connect() as conn:
        groups.update(postgres_backends(conn, database))
    return groups


def _redis_cpu(client: redis.Redis) -> float:
    info: dict[str, Any] = client.info("cpu")
    return float(info["used_cpu_sys"]) + float(info["used_cpu_user"])


def _self_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _database_figures(engine: Engine, callers: list[str], since: datetime) -> dict[str, Any]:
    with engine.connect() as conn:
        latencies = (
            conn.execute(
                text(
                    "SELECT first_response_latency_ms FROM conv_messages WHERE purpose = 'first_response'"
                    " AND to_number = ANY(:callers) AND first_response_latency_ms IS NOT NULL"
                ),
                {"callers": callers},
            )
            .scalars()
            .all()
        )
        statuses: dict[str, int] = dict(
            conn.execute(
                text(
                    "SELECT purpose || ':' || status, count(*) FROM conv_messages"
                    " WHERE direction = 'out' AND to_number = ANY(:callers) GROUP BY 1 ORDER BY 1"
                ),
                {"callers": callers},
            ).all()
        )
        dead = conn.execute(text("SELECT count(*) FROM dead_letters")).scalar_one()
        retried = conn.execute(text("SELECT count(*) FROM outbox_deliveries WHERE attempts > 1")).scalar_one()
        flows = {flow: breakdown(conn, flow, callers) for flow in ("first_sms", "ai_reply")}
        # What the workers spent their time on during the measured run: every delivery, not only the two flows.
        handlers = [
            {
                "handler": row.handler,
                "deliveries": row.deliveries,
                "mean_ms": round(float(row.mean_ms), 1),
                "total_s": round(float(row.total_s), 2),
                "mean_queue_wait_ms": round(float(row.wait_ms), 1),
            }
            for row in conn.execute(
                text(
                    "SELECT handler, count(*) AS deliveries,"
                    " avg(extract(epoch FROM completed_at - started_at)) * 1000 AS mean_ms,"
                    " sum(extract(epoch FROM completed_at - started_at)) AS total_s,"
                    " avg(extract(epoch FROM started_at - enqueued_at)) * 1000 AS wait_ms"
                    " FROM outbox_deliveries WHERE started_at >= :since AND completed_at IS NOT NULL"
                    " GROUP BY handler ORDER BY total_s DESC"
                ),
                {"since": since},
            )
        ]
    return {
        "first_sms_db": describe_ms([float(value) for value in latencies]),
        "first_sms_db_samples": [float(value) for value in latencies],
        "message_statuses": statuses,
        "dead_letters": dead,
        "deliveries_retried": retried,
        "breakdown": flows,
        "handlers": handlers,
    }


def run(settings: Settings, options: Options) -> dict[str, Any]:
    rng = random.Random(options.seed)
    scratch = scratch_database(settings, "bench_e2e")
    engine = make_engine(scratch, pool_size=2, max_overflow=2, application_name="nmc-bench")
    stack: LocalStack | NodeCluster | None = None
    succeeded = False
    try:
        click.echo(f"seeding {options.tenants} tenants into {scratch.database_name}…", err=True)
        numbers, seed_seconds = _seed(engine, options.tenants)
        click.echo(f"  seeded in {seed_seconds:.2f} s", err=True)
        stack_env = {
            "INGRESS_WORKERS": str(options.ingress_workers),
            "INGRESS_THREADS": str(options.ingress_threads),
            "WORKER_PROCESSES": str(options.worker_processes),
            "WORKER_THREADS": str(options.worker_threads),
            # Every in-flight call holds a sandbox thread while it plays the webhooks against the ingress.
            "SANDBOX_THREADS": str(min(256, options.concurrency + 32)),
            "LOG_LEVEL": "WARNING",
            "BROKER_URL": scratch.broker_url,
        }
        if options.nodes == 1:
            stack = LocalStack(
                database_url=scratch.database_url,
                redis_url=scratch.redis_url,
                namespace=scratch.dramatiq_namespace,
                extra_env=stack_env,
            )
        else:
            stack = NodeCluster(
                database_url=scratch.database_url,
                redis_url=scratch.redis_url,
                namespace=scratch.dramatiq_namespace,
                log_dir=Path(tempfile.mkdtemp(prefix="nmc-nodes-")),
                nodes=options.nodes,
                extra_env=stack_env,
            )
        click.echo(
            f"starting {options.nodes} node(s), each: ingress {options.ingress_workers}×{options.ingress_threads},"
            f" 1 dispatcher, workers {options.worker_processes}×{options.worker_threads}…",
            err=True,
        )
        stack.start(timeout=120)  # a loaded 2-core machine can take a while to import and fork everything
        total = options.warmup + options.conversations
        conversations = [
            Conversation(
                index=index,
                caller=f"+1415{2_000_000 + index:07d}",
                tenant_number=rng.choice(numbers),
                question=rng.choice(QUESTIONS),
            )
            for index in range(total)
        ]
        warmup, measured = conversations[: options.warmup], conversations[options.warmup :]
        redis_client = redis.Redis.from_url(scratch.redis_url)
        limits = httpx.Limits(
            max_connections=options.concurrency + 8, max_keepalive_connections=options.concurrency + 8
        )
        with (
            SandboxClient(stack.sandbox_url, http=httpx.Client(timeout=options.timeout, limits=limits)) as client,
            Inbox(client) as inbox,
        ):
            if warmup:
                click.echo(f"warming up with {len(warmup)} conversations…", err=True)
                drive(
                    client,
                    inbox,
                    warmup,
                    concurrency=min(options.concurrency, len(warmup)),
                    think_seconds=0.0,
                    timeout=options.timeout,
                )
                _settle(engine)
            refused = checkpoint(scratch)  # the seeding's WAL must not be flushed in the middle of the run
            if refused:
                click.echo(f"warning: no CHECKPOINT before the run ({refused})", err=True)
            cpu_before = sample_cpu(_cpu_groups(stack, engine, scratch.database_name))
            redis_before, self_before = _redis_cpu(redis_client), _self_cpu()
            measured_from = datetime.now(UTC)
            click.echo(
                f"driving {len(measured)} conversations, {options.concurrency} at a time, over "
                f"{options.tenants} tenants…",
                err=True,
            )
            wall = drive(
                client,
                inbox,
                measured,
                concurrency=options.concurrency,
                think_seconds=options.think_seconds,
                timeout=options.timeout,
                rate=options.rate,
            )
            settled = _settle(engine)
            # Backends opened during the run count from zero; the "before" sample only knows the old ones.
            cpu_after = sample_cpu(_cpu_groups(stack, engine, scratch.database_name))
            redis_after, self_after = _redis_cpu(redis_client), _self_cpu()
            poll_errors = inbox.errors
        redis_client.close()
        callers = [c.caller for c in measured]
        database = _database_figures(engine, callers, measured_from)
        cpu = cpu_delta(cpu_before, cpu_after)
        cpu["redis-server (whole server, shared)"] = {
            "cpu_seconds": round(redis_after - redis_before, 2),
            "processes": 1,
        }
        cpu["bench driver (this process)"] = {"cpu_seconds": round(self_after - self_before, 2), "processes": 1}
        result = _figures(options, measured, wall, database, cpu, settled, poll_errors, seed_seconds)
        result["broker"] = "rabbitmq" if scratch.broker_is_rabbitmq else "redis"
        if isinstance(stack, NodeCluster):
            result["nodes"] = [
                {"node": index + 1, "deliveries": deliveries, "webhooks": webhooks}
                for index, (deliveries, webhooks) in enumerate(
                    zip(stack.deliveries_by_node(), stack.webhooks_by_node(), strict=True)
                )
            ]
        result["stack_logs"] = str(stack.log_dir)
        succeeded = not result["failures"]
        return result
    finally:
        if stack is not None:
            stack.stop()
            drop_namespace(scratch, queues=_handler_queues())
            if succeeded:
                shutil.rmtree(stack.log_dir, ignore_errors=True)
        engine.dispose()
        if not options.keep_database:
            drop_database(scratch)


def _handler_queues() -> list[str]:
    from workers.registry import DOMAIN_HANDLER_MODULES, load_subscriptions

    return sorted({source.module for source in load_subscriptions(DOMAIN_HANDLER_MODULES)})


def _figures(
    options: Options,
    measured: list[Conversation],
    wall: float,
    database: dict[str, Any],
    cpu: dict[str, dict[str, float]],
    settled: bool,
    poll_errors: int,
    seed_seconds: float,
) -> dict[str, Any]:
    first = [c.first_sms_ms for c in measured if c.first_sms_ms is not None]
    reply = [c.reply_ms for c in measured if c.reply_ms is not None]
    completed = [c for c in measured if c.error is None]
    failures: dict[str, int] = defaultdict(int)
    for conversation in measured:
        if conversation.error:
            failures[conversation.error.split(":")[0]] += 1
    lags = [(c.call_posted - c.scheduled) * 1000 for c in measured if c.scheduled and c.call_posted]
    priced = sum(1 for c in completed if c.reply is not None and "$" in c.reply.body)
    unpriced = sorted(
        {(c.question, c.reply.body) for c in completed if c.reply is not None and "$" not in c.reply.body}
    )
    # SMS a conversation exchanged: the first SMS, the caller's text and the AI's reply.
    messages = sum((c.first_sms is not None) + (c.text_posted is not None) + (c.reply is not None) for c in measured)
    busy_cpu = sum(value["cpu_seconds"] for name, value in cpu.items() if not name.startswith(("redis", "bench")))
    # The sandbox plays Twilio, Stripe, Clerk and the calendars: in production that CPU is theirs, not ours.
    system_cpu = busy_cpu - cpu.get("sandbox", {}).get("cpu_seconds", 0.0)
    return {
        "options": {key: str(value) if isinstance(value, Path) else value for key, value in vars(options).items()},
        "machine": {"cpus": os.cpu_count(), "load_average_after": os.getloadavg()},
        "seed_seconds": round(seed_seconds, 2),
        "wall_seconds": round(wall, 2),
        "conversations": len(measured),
        "completed": len(completed),
        "failures": dict(failures),
        "in_flight": in_flight(measured),
        "pipeline_settled": settled,
        "inbox_poll_errors": poll_errors,
        "replies_quoting_a_price": priced,
        "replies_without_a_price": [{"question": question, "reply": reply} for question, reply in unpriced[:10]],
        "throughput": {
            "conversations_per_s": round(len(completed) / wall, 2) if wall else 0.0,
            "messages_per_s": round(messages / wall, 2) if wall else 0.0,
            "note": "messages = first SMS + caller text + AI reply (status callbacks and webhooks not counted)",
        },
        "offered": {
            "rate_per_s": options.rate or None,
            "mode": "open loop" if options.rate else "closed loop",
            "start_lag": describe_ms(lags) if lags else None,
        },
        "first_sms_sandbox": describe_ms(first),
        "ai_reply_sandbox": describe_ms(reply),
        "targets_ms": {"first_sms": TARGETS_MS, "slo": SLO_MS},
        "cpu": cpu,
        "cpu_ms_per_conversation": round(busy_cpu * 1000 / len(completed), 1) if completed else None,
        "system_cpu_ms_per_conversation": round(system_cpu * 1000 / len(completed), 1) if completed else None,
        **database,
        "samples": {"first_sms_sandbox_ms": first, "ai_reply_sandbox_ms": reply},
    }


# --- the report ------------------------------------------------------------------------------------------------


def _verdict(value: float, target: float) -> str:
    return "met" if value <= target else "MISSED"


def _load_text(result: dict[str, Any]) -> str:
    offered = result["offered"]
    if offered["mode"] == "closed loop":
        return (
            "closed loop (a new conversation as soon as one ends): this saturates the system, so latency there is "
            "mostly backlog"
        )
    lag = offered["start_lag"] or {}
    return f"open loop, {offered['rate_per_s']} missed calls/s offered (call start lag P99 {lag.get('p99_ms')} ms)"


def _nodes_text(result: dict[str, Any]) -> str:
    """ ", on each of 2 nodes (node 1: 812 deliveries done, 950 webhooks; node 2: …)" for a multi-node run."""
    nodes = result.get("nodes")
    if not nodes:
        return ""
    shares = "; ".join(
        f"node {node['node']}: {node['deliveries'].get('done', 0):.0f} deliveries done, {node['webhooks']:.0f} webhooks"
        for node in nodes
    )
    return f", on each of {len(nodes)} nodes behind a round-robin balancer ({shares})"


def render_markdown(result: dict[str, Any], image_name: str) -> str:
    options = result["options"]
    db_first, sandbox_first, reply = result["first_sms_db"], result["first_sms_sandbox"], result["ai_reply_sandbox"]
    lines = [
        "# End-to-end benchmark: missed call → first SMS, caller text → AI reply",
        "",
        f"Command: `{options['command_line']}`",
        "",
        f"Machine: {result['machine']['cpus']} cores, shared (load average after the run "
        f"{', '.join(f'{x:.2f}' for x in result['machine']['load_average_after'])}). "
        f"{options['tenants']} tenants (seeded in {result['seed_seconds']} s), {result['conversations']} conversations "
        f"({options['warmup']} more as warm-up, not counted), at most {options['concurrency']} in flight (measured: "
        f"{result['in_flight']['mean']} on average, peak {result['in_flight']['peak']}), caller think time "
        f"{options['think_seconds']} s ±50 %. Ingress {options['ingress_workers']} workers × "
        f"{options['ingress_threads']} threads, 1 dispatcher, workers {options['worker_processes']} processes × "
        f"{options['worker_threads']} threads{_nodes_text(result)}. Broker: {result.get('broker', 'redis')}."
        f" Load: {_load_text(result)}.",
        "",
        f"Completed {result['completed']}/{result['conversations']} in {result['wall_seconds']} s; failures: "
        f"{result['failures'] or 'none'}; dead letters: {result['dead_letters']}; deliveries retried: "
        f"{result['deliveries_retried']}; AI replies quoting a price: {result['replies_quoting_a_price']}.",
        "",
        "## Latency",
        "",
        "| measure | n | P50 ms | P95 ms | P99 ms | max ms | target |",
        "|---|---|---|---|---|---|---|",
        f"| first SMS, missed call → Twilio 201 (`first_response_latency_ms`) | {db_first['count']} "
        f"| {db_first['p50_ms']} | {db_first['p95_ms']} | {db_first['p99_ms']} | {db_first['max_ms']} "
        f"| P95 ≤ {TARGETS_MS['P95']:.0f} ({_verdict(db_first['p95_ms'], TARGETS_MS['P95'])}), "
        f"P99 ≤ {TARGETS_MS['P99']:.0f} ({_verdict(db_first['p99_ms'], TARGETS_MS['P99'])}); SLO 5 s |",
        f"| first SMS at the sandbox, call posted → message created | {sandbox_first['count']} "
        f"| {sandbox_first['p50_ms']} | {sandbox_first['p95_ms']} | {sandbox_first['p99_ms']} "
        f"| {sandbox_first['max_ms']} | (includes the ring webhook) |",
        f"| caller text → AI reply at the sandbox | {reply['count']} | {reply['p50_ms']} | {reply['p95_ms']} "
        f"| {reply['p99_ms']} | {reply['max_ms']} | |",
        "",
        f"Throughput: {result['throughput']['conversations_per_s']} conversations/s, "
        f"{result['throughput']['messages_per_s']} messages/s ({result['throughput']['note']}).",
        "",
        f"![latency histogram]({image_name})",
        "",
        "## Where the time goes",
        "",
        "From `outbox_events` / `outbox_deliveries` / `conv_messages` timestamps, per message, both hops of each "
        "flow (root event → handler → OutboundMessageRequested → send_message → Twilio 201). Ingress: webhook "
        "verdict → event row; outbox wait: event row → dispatcher claim (includes the writer's commit and the "
        "NOTIFY wake-up); queue wait: dispatcher claim → worker claim (Redis + Dramatiq); handler: the flow's "
        "handler plus send_message up to the provider call; provider call: intent recorded → 201 queued.",
        "",
    ]
    for flow, title in (("first_sms", "First SMS"), ("ai_reply", "AI reply")):
        data = result["breakdown"][flow]
        lines += [
            f"### {title} (n={data['count']})",
            "",
            "| stage | P50 ms | P95 ms | P99 ms | mean ms | share of mean |",
            "|---|---|---|---|---|---|",
        ]
        for stage in (*STAGES, "total"):
            s = data["stages"][stage]
            lines.append(
                f"| {stage} | {s['p50_ms']} | {s['p95_ms']} | {s['p99_ms']} | {s['mean_ms']} "
                f"| {s['share_of_mean'] * 100:.0f} % |"
            )
        lines += [
            "",
            f"Dispatcher stamps earlier than the event they claimed (clamped to the event): "
            f"{data['dispatch_stamps_before_event']} of {2 * data['count']} hops.",
            "",
        ]
    lines += [
        "### Worker time by handler (every delivery of the measured run)",
        "",
        "| handler | deliveries | mean ms in handler | total s | mean queue wait ms |",
        "|---|---|---|---|---|",
        *(
            f"| {h['handler']} | {h['deliveries']} | {h['mean_ms']} | {h['total_s']} | {h['mean_queue_wait_ms']} |"
            for h in result["handlers"]
        ),
        "",
        "## CPU during the measured run",
        "",
        f"Wall {result['wall_seconds']} s × {result['machine']['cpus']} cores = "
        f"{result['wall_seconds'] * (result['machine']['cpus'] or 1):.1f} CPU-seconds available; "
        f"{result['cpu_ms_per_conversation']} CPU-ms per conversation (stack + its Postgres backends); "
        f"{result['system_cpu_ms_per_conversation']} without the sandbox (the providers' stand-in).",
        "",
        "| process | processes | CPU seconds |",
        "|---|---|---|",
    ]
    for name, value in sorted(result["cpu"].items(), key=lambda item: -item[1]["cpu_seconds"]):
        lines.append(f"| {name} | {value['processes']} | {value['cpu_seconds']} |")
    lines += ["", f"Outbound message statuses: {json.dumps(result['message_statuses'])}", ""]
    return "\n".join(lines)


def save(result: dict[str, Any], directory: Path) -> tuple[Path, Path, Path]:
    """Markdown + JSON via write_report, and the histogram PNG beside them (same name)."""
    data = {key: value for key, value in result.items() if key != "first_sms_db_samples"}
    data["samples"] = {**result["samples"], "first_sms_db_ms": result["first_sms_db_samples"]}
    placeholder = "__IMAGE__"
    markdown_path = write_report("e2e", data, render_markdown(result, placeholder), directory)
    image = markdown_path.with_suffix(".png")
    histogram_png(
        image,
        [
            (
                "Missed call → first SMS",
                {
                    "missed → Twilio 201 (DB)": result["first_sms_db_samples"],
                    "call posted → SMS at sandbox": result["samples"]["first_sms_sandbox_ms"],
                },
            ),
            ("Caller text → AI reply", {"text posted → reply at sandbox": result["samples"]["ai_reply_sandbox_ms"]}),
        ],
        dict(TARGETS_MS),
        f"nmc bench e2e: {result['conversations']} conversations, {result['options']['concurrency']} concurrent, "
        f"{result['options']['tenants']} tenants",
    )
    markdown_path.write_text(markdown_path.read_text().replace(placeholder, image.name))
    json_path = markdown_path.with_suffix(".json")
    stored = json.loads(json_path.read_text())
    stored["histogram"] = image.name
    json_path.write_text(json.dumps(stored, indent=2, default=str))
    return markdown_path, json_path, image


def _echo_summary(result: dict[str, Any]) -> None:
    db_first, sandbox_first, reply = result["first_sms_db"], result["first_sms_sandbox"], result["ai_reply_sandbox"]
    click.echo(
        f"conversations: {result['completed']}/{result['conversations']} completed in {result['wall_seconds']} s"
        f"  failures: {result['failures'] or 'none'}  in flight: {result['in_flight']['mean']} on average, "
        f"peak {result['in_flight']['peak']}"
    )
    click.echo(
        f"first SMS (DB, missed → 201):    P50 {db_first['p50_ms']} ms  P95 {db_first['p95_ms']} ms "
        f"(target ≤ {TARGETS_MS['P95']:.0f}: {_verdict(db_first['p95_ms'], TARGETS_MS['P95'])})  "
        f"P99 {db_first['p99_ms']} ms (target ≤ {TARGETS_MS['P99']:.0f}: "
        f"{_verdict(db_first['p99_ms'], TARGETS_MS['P99'])})"
    )
    click.echo(
        f"first SMS (sandbox, call → SMS): P50 {sandbox_first['p50_ms']} ms  P95 {sandbox_first['p95_ms']} ms  "
        f"P99 {sandbox_first['p99_ms']} ms"
    )
    click.echo(
        f"caller text → AI reply:          P50 {reply['p50_ms']} ms  P95 {reply['p95_ms']} ms  P99 {reply['p99_ms']} ms"
    )
    throughput = result["throughput"]
    click.echo(
        f"throughput: {throughput['conversations_per_s']} conversations/s, {throughput['messages_per_s']} messages/s"
    )
    for flow in ("first_sms", "ai_reply"):
        stages = result["breakdown"][flow]["stages"]
        parts = "  ".join(f"{stage} {stages[stage]['p50_ms']}/{stages[stage]['p95_ms']}" for stage in STAGES)
        click.echo(f"where the time goes, {flow} (P50/P95 ms): {parts}")
    cpu = "  ".join(
        f"{name} {value['cpu_seconds']} s"
        for name, value in sorted(result["cpu"].items(), key=lambda item: -item[1]["cpu_seconds"])
    )
    click.echo(f"CPU: {cpu}")
    click.echo(
        f"CPU per conversation: {result['cpu_ms_per_conversation']} ms (stack + its Postgres backends), "
        f"{result['system_cpu_ms_per_conversation']} ms without the sandbox"
    )
    if result.get("nodes"):
        click.echo(f"nodes{_nodes_text(result)}")


@click.command()
@click.option("--tenants", default=5000, show_default=True, type=click.IntRange(1, 1_000_000))
@click.option(
    "--conversations",
    default=1000,
    show_default=True,
    type=click.IntRange(1, 100_000),
    help="Measured conversations in total (after the warm-up).",
)
@click.option(
    "--concurrency",
    default=100,
    show_default=True,
    type=click.IntRange(1, 500),
    help="Conversations in flight at once.",
)
@click.option(
    "--warmup",
    default=20,
    show_default=True,
    type=click.IntRange(0, 10_000),
    help="Conversations run first and left out of the figures (connections, imports, caches).",
)
@click.option("--worker-processes", default=2, show_default=True, type=click.IntRange(1, 64))
@click.option("--worker-threads", default=8, show_default=True, type=click.IntRange(1, 256))
@click.option("--ingress-workers", default=2, show_default=True, type=click.IntRange(1, 64))
@click.option("--ingress-threads", default=16, show_default=True, type=click.IntRange(1, 256))
@click.option(
    "--think-seconds",
    default=1.0,
    show_default=True,
    type=click.FloatRange(0, 60),
    help="The caller's pause between reading the first SMS and texting back (±50 %).",
)
@click.option(
    "--rate",
    default=0.0,
    show_default=True,
    type=click.FloatRange(0, 10_000),
    help="Missed calls started per second (open loop, capped by --concurrency); 0: closed loop, a new conversation "
    "as soon as one ends.",
)
@click.option(
    "--timeout",
    default=30.0,
    show_default=True,
    type=click.FloatRange(1, 600),
    help="Seconds to wait for each reply before the conversation counts as failed.",
)
@click.option("--results-dir", default=str(RESULTS_DIR), show_default=True, type=click.Path(file_okay=False))
@click.option("--keep-database", is_flag=True, help="Keep the scratch database for inspection.")
@click.option("--seed", default=1, show_default=True, help="Random seed for tenants and questions.")
@click.option(
    "--nodes",
    default=1,
    show_default=True,
    type=click.IntRange(1, 4),
    help="Complete nodes (ingress, dispatcher, workers each, as on separate machines) behind a round-robin balancer.",
)
@click.pass_context
def command(
    ctx: click.Context,
    tenants: int,
    conversations: int,
    concurrency: int,
    warmup: int,
    worker_processes: int,
    worker_threads: int,
    ingress_workers: int,
    ingress_threads: int,
    think_seconds: float,
    rate: float,
    timeout: float,
    results_dir: str,
    keep_database: bool,
    seed: int,
    nodes: int,
) -> None:
    """Missed call → first SMS and caller text → AI reply through the real stack: P50/P95/P99, throughput, CPU per
    process and where the time goes; a Markdown + JSON report and a histogram under bench/results/."""
    require_plotting()
    settings = get_settings(ctx)
    options = Options(
        tenants=tenants,
        conversations=conversations,
        concurrency=concurrency,
        warmup=warmup,
        worker_processes=worker_processes,
        worker_threads=worker_threads,
        ingress_workers=ingress_workers,
        ingress_threads=ingress_threads,
        think_seconds=think_seconds,
        timeout=timeout,
        rate=rate,
        results_dir=Path(results_dir),
        keep_database=keep_database,
        seed=seed,
        nodes=nodes,
    )
    options.command_line = "nmc bench e2e " + " ".join(shlex.quote(part) for part in _given_options(ctx))
    result = run(settings, options)
    _echo_summary(result)
    markdown, data, image = save(result, Path(results_dir))
    click.echo(f"report: {markdown}\n        {data}\n        {image}")
    if result["failures"]:
        raise click.ClickException(f"{sum(result['failures'].values())} conversations failed: {result['failures']}")


def _given_options(ctx: click.Context) -> list[str]:
    """The options as the command would be typed again (defaults spelled out, so the run can be repeated)."""
    parts: list[str] = []
    for param in ctx.command.params:
        if not isinstance(param, click.Option) or param.name is None:
            continue
        value = ctx.params.get(param.name)
        flag = param.opts[0]
        if param.is_flag:
            if value:
                parts.append(flag)
        else:
            parts += [flag, str(value)]
    return parts
