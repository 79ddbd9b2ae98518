"""`nmc bench api`: the staff app's inbox and thread under a busy tenant, and how fast a caller's text shows up live.

Seeds the demo tenant (with its OWNER) in a scratch database (``<DATABASE_URL name>_bench_api``, dropped
afterwards), then bulk-inserts CONVERSATIONS conversations (60 % closed, 20 % open, 10 % with staff, 10 % blocked)
and MESSAGES messages among them with ``generate_series`` (one statement each). A whole system runs on it (sandbox,
ingress, dispatcher, worker) and the owner, signed in through the sandbox's Clerk stand-in, requests over HTTP:

* the inbox (``GET /app?view=…``, rotating open / needs attention / all / a number search) and a thread
  (``GET /app/conversations/{id}``, a random conversation with its messages): P50/P95/P99, target P95 ≤ 50 ms;
* caller text → visible: an open ``/app/events`` stream, a text through the sandbox (signed webhook → ingress →
  outbox → dispatcher → worker → ``conv_messages`` → NOTIFY), the time until the stream says so and the list the
  page then fetches (``/app/inbox/list``) shows the caller; target P95 ≤ 1 s.
"""

from __future__ import annotations

import queue
import random
import threading
import time
import uuid
from typing import Any

import click
import httpx

from db.engine import make_engine, make_session_factory, transaction
from ops.context import echo_json, get_settings
from ops.harness.database import drop_database, drop_namespace, scratch_database
from ops.harness.report import summarize_ms, write_report
from ops.sandbox.client import SandboxClient
from ops.stack import LocalStack
from ops.tenants import DEMO_NUMBER, seed_demo

TARGET_REQUEST_P95_MS = 50.0
TARGET_LIVE_P95_MS = 1000.0
INBOX_VIEWS = ("view=open", "view=attention", "view=all", "view=open&q=4155")

SEED_CONVERSATIONS = """
INSERT INTO conv_conversations (id, tenant_id, caller, state, opened_at, updated_at, closed_at)
SELECT gen_random_uuid(), :tenant, '+1415' || lpad(n::text, 7, '0'),
       CASE WHEN n % 10 < 6 THEN 'closed' WHEN n % 10 < 8 THEN 'open' WHEN n % 10 < 9 THEN 'human' ELSE 'blocked' END,
       now() - make_interval(mins => n), now() - make_interval(mins => n),
       CASE WHEN n % 10 < 6 OR n % 10 = 9 THEN now() - make_interval(mins => n) END
FROM generate_series(1, :count) AS n
"""
# Messages in one statement, spread evenly over the conversations, alternating caller and AI; the trigger of
# migration 0010 sets each conversation's last_message_seq.
SEED_MESSAGES = """
WITH c AS (SELECT id, caller, row_number() OVER (ORDER BY opened_at) - 1 AS k
           FROM conv_conversations WHERE tenant_id = :tenant AND caller LIKE '+1415%')
INSERT INTO conv_messages (id, tenant_id, conversation_id, direction, purpose, from_number, to_number, body, status,
                           created_at, updated_at)
SELECT gen_random_uuid(), :tenant, c.id, CASE WHEN n % 2 = 0 THEN 'in' ELSE 'out' END,
       CASE WHEN n % 2 = 0 THEN NULL ELSE 'ai_reply' END,
       CASE WHEN n % 2 = 0 THEN c.caller ELSE :number END, CASE WHEN n % 2 = 0 THEN :number ELSE c.caller END,
       'Message ' || n || ': how much is a drain cleaning, and could someone come tomorrow morning?',
       CASE WHEN n % 2 = 0 THEN 'received' ELSE 'delivered' END,
       now() - make_interval(secs => :count - n), now() - make_interval(secs => :count - n)
FROM generate_series(0, :count - 1) AS n JOIN c ON c.k = n % :conversations
"""


def _seed(settings: Any, conversations: int, messages: int) -> tuple[uuid.UUID, list[str]]:
    from sqlalchemy import text

    engine = make_engine(settings, pool_size=1, max_overflow=0, application_name="nmc-bench-api-seed")
    try:
        with transaction(make_session_factory(engine)) as session:
            tenant_id = uuid.UUID(seed_demo(session, settings)["id"])
            session.execute(text(SEED_CONVERSATIONS), {"tenant": tenant_id, "count": conversations})
            session.execute(
                text(SEED_MESSAGES),
                {"tenant": tenant_id, "count": messages, "number": DEMO_NUMBER, "conversations": conversations},
            )
        with engine.connect() as conn:
            conn.execute(text("ANALYZE conv_conversations, conv_messages"))
            conn.commit()  # statistics are transactional: uncommitted, the planner would never see them
            ids = [
                str(row[0])
                for row in conn.execute(
                    text("SELECT id FROM conv_conversations WHERE tenant_id = :t ORDER BY random() LIMIT 500"),
                    {"t": tenant_id},
                )
            ]
    finally:
        engine.dispose()
    return tenant_id, ids


def _timed(client: httpx.Client, path: str) -> float:
    started = time.perf_counter()
    response = client.get(path)
    elapsed = time.perf_counter() - started
    if response.status_code != 200:
        raise click.ClickException(f"GET {path} answered {response.status_code}")
    return elapsed


def _listen(url: str, cookie: str, events: queue.Queue[float], stop: threading.Event) -> None:
    """Read the SSE stream, reconnecting when it ends; each ``event: inbox`` puts its arrival time on the queue."""
    with httpx.Client(timeout=httpx.Timeout(5.0, read=30.0), cookies={"__session": cookie}) as client:
        while not stop.is_set():
            try:
                with client.stream("GET", url) as response:
                    for line in response.iter_lines():
                        if line.startswith("event: inbox"):
                            events.put(time.perf_counter())
                        if stop.is_set():
                            return
            except httpx.HTTPError:
                time.sleep(0.2)


@click.command("api")
@click.option("--conversations", default=10_000, show_default=True)
@click.option("--messages", default=200_000, show_default=True)
@click.option("--iterations", default=300, show_default=True, help="Timed requests of each kind (inbox, thread).")
@click.option("--warmup", default=20, show_default=True)
@click.option("--live-samples", default=40, show_default=True, help="Caller texts timed until the stream shows them.")
@click.option("--seed", default=7, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
@click.pass_context
def command(
    ctx: click.Context,
    conversations: int,
    messages: int,
    iterations: int,
    warmup: int,
    live_samples: int,
    seed: int,
    as_json: bool,
) -> None:
    """Inbox and thread P50/P95/P99 for a tenant with CONVERSATIONS conversations and MESSAGES messages, and caller
    text → visible in an open inbox's live stream."""
    if conversations < 1 or messages < 1:
        raise click.UsageError("--conversations and --messages must be at least 1")
    rng = random.Random(seed)
    settings = scratch_database(get_settings(ctx), "bench_api")
    stack: LocalStack | None = None
    try:
        seeding = time.perf_counter()
        _tenant_id, conversation_ids = _seed(settings, conversations, messages)
        seed_seconds = time.perf_counter() - seeding
        stack = LocalStack(
            database_url=settings.database_url,
            redis_url=settings.redis_url,
            namespace=settings.dramatiq_namespace,
            extra_env={"STAFF_STREAM_SECONDS": "300", "SANDBOX_CALLBACK_DELAY_MS": "5", "WORKER_PROCESSES": "1"},
        )
        stack.extra_env = {**stack.extra_env, "CLERK_AUTHORIZED_PARTIES": stack.ingress_url}
        stack.start(timeout=60)
        minted = httpx.post(
            f"{stack.sandbox_url}/sandbox/clerk/token",
            json={
                "sub": "user_demo_owner",
                "azp": stack.ingress_url,
                "claims": {"email": "owner@ace-plumbing.example", "email_verified": True},
            },
            timeout=10,
        ).json()["token"]
        inbox_samples: list[float] = []
        thread_samples: list[float] = []
        with httpx.Client(base_url=stack.ingress_url, cookies={"__session": minted}, timeout=10) as client:
            for index in range(warmup + iterations):
                inbox = _timed(client, f"/app?{INBOX_VIEWS[index % len(INBOX_VIEWS)]}")
                thread = _timed(client, f"/app/conversations/{rng.choice(conversation_ids)}")
                if index >= warmup:
                    inbox_samples.append(inbox)
                    thread_samples.append(thread)
        live = _live(stack, minted, live_samples)
    finally:
        if stack is not None:
            stack.stop()
        drop_database(settings)
        drop_namespace(settings)

    inbox_figures, thread_figures, live_figures = summarize_ms(inbox_samples), summarize_ms(thread_samples), live
    data = {
        "scenario": {"conversations": conversations, "messages": messages, "seed_seconds": round(seed_seconds, 1)},
        "inbox": inbox_figures,
        "thread": thread_figures,
        "text_to_visible": live_figures,
        "targets": {"request_p95_ms": TARGET_REQUEST_P95_MS, "text_to_visible_p95_ms": TARGET_LIVE_P95_MS},
        "meets_targets": inbox_figures["p95_ms"] <= TARGET_REQUEST_P95_MS
        and thread_figures["p95_ms"] <= TARGET_REQUEST_P95_MS
        and live_figures["p95_ms"] <= TARGET_LIVE_P95_MS,
    }
    rows = "".join(
        f"| {label} | {f['count']} | {f['p50_ms']} | {f['p95_ms']} | {f['p99_ms']} | {f['max_ms']} | ≤ {target} ms |\n"
        for label, f, target in (
            ("inbox (GET /app)", inbox_figures, TARGET_REQUEST_P95_MS),
            ("thread (GET /app/conversations/{id})", thread_figures, TARGET_REQUEST_P95_MS),
            ("caller text → visible in the open inbox", live_figures, TARGET_LIVE_P95_MS),
        )
    )
    markdown = (
        f"# nmc bench api\n\n{conversations} conversations, {messages} messages in one tenant "
        f"(seeded in {seed_seconds:.1f} s); the owner signed in over HTTP against a running system.\n\n"
        "| what | samples | P50 ms | P95 ms | P99 ms | max ms | target P95 |\n|---|---|---|---|---|---|---|\n"
        f"{rows}\nTargets {'met' if data['meets_targets'] else 'MISSED'}.\n"
    )
    path = write_report("api", data, markdown)
    if as_json:
        echo_json({**data, "report": str(path)})
        return
    click.echo(markdown)
    click.echo(f"report: {path}")


def _live(stack: LocalStack, cookie: str, samples: int) -> dict[str, float]:
    """Caller text → visible, as an open inbox sees it: the stream's event, then the list fragment the page's script
    fetches on it (``/app/inbox/list``), timed until a fetched list shows the caller's number."""
    events: queue.Queue[float] = queue.Queue()
    stop = threading.Event()
    listener = threading.Thread(
        target=_listen, args=(f"{stack.ingress_url}/app/events", cookie, events, stop), daemon=True
    )
    listener.start()
    sandbox = SandboxClient(stack.sandbox_url)
    latencies: list[float] = []
    try:
        with httpx.Client(base_url=stack.ingress_url, cookies={"__session": cookie}, timeout=10) as client:
            time.sleep(1.0)  # the stream is open and its LISTEN connection up
            for n in range(samples):
                _drain(events, quiet=0.5)  # the previous text's AI reply and delivery updates
                caller = f"+1628555{n:04d}"
                sent = time.perf_counter()
                response = sandbox.sms(caller, DEMO_NUMBER, "Hi, how much is a drain cleaning?")
                if response.status_code != 200:
                    raise click.ClickException(f"the sandbox refused a text: {response.status_code}")
                latencies.append(_until_listed(client, events, caller, sent))
    finally:
        stop.set()
        sandbox.close()
    return summarize_ms(latencies)


def _until_listed(client: httpx.Client, events: queue.Queue[float], caller: str, sent: float) -> float:
    """Seconds from ``sent`` until the inbox list, fetched on each stream event as the page does, shows ``caller``."""
    deadline = sent + 10.0
    while True:
        try:
            events.get(timeout=max(deadline - time.perf_counter(), 0.01))
        except queue.Empty:
            raise click.ClickException("a caller's text never showed up in the open inbox") from None
        listed = client.get("/app/inbox/list?view=open")
        if listed.status_code != 200:
            raise click.ClickException(f"GET /app/inbox/list answered {listed.status_code}")
        if caller in listed.text:
            return max(time.perf_counter() - sent, 0.0)


def _drain(events: queue.Queue[float], *, quiet: float) -> None:
    """Empty the queue, waiting until no event has come for ``quiet`` seconds."""
    while True:
        try:
            events.get(timeout=quiet)
        except queue.Empty:
            return
