"""Reminders through whole processes (`nmc scheduler`, `nmc dispatcher`, `nmc worker`) on the real Postgres and
Redis and the sandbox over HTTP, while the scheduler and the worker are SIGKILLed around the sends: each reminder
reaches its caller once."""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from db.settings import Settings
from ops.bench.reminders import PREFIXES, seed_appointments
from ops.harness.scratch import seed_tenants
from ops.sandbox.client import SandboxClient
from ops.stack import LocalStack
from tests.support.sandbox_world import World, sandbox_key_path, world  # noqa: F401
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow

APPOINTMENTS = 48
SPREAD_SECONDS = 12.0  # their reminders come due over this long, a few each scheduler poll
KILLS_EACH = 3
# The provider answers a send after this long (and takes the message whether or not its sender is still there to
# hear it): a worker killed with sends in flight leaves texts the provider carried but the database never recorded.
SEND_LATENCY_MS = 250
# A UK mobile after the US zones: between about 11:00 and 13:00 UTC no US number is inside the 8 am - 9 pm window.
CALLER_PREFIXES = (*PREFIXES, "+44770")
ACCEPTED = ("queued", "sent", "delivered")
PROGRESS = text(
    "SELECT (SELECT count(*) FROM sched_reminders) AS claimed,"
    " (SELECT count(*) FROM conv_messages WHERE purpose = 'reminder' AND status IN ('queued', 'sent', 'delivered'))"
    " AS accepted"
)
UNFINISHED = text(
    "SELECT (SELECT count(*) FROM outbox_events WHERE dispatched_at IS NULL)"
    " + (SELECT count(*) FROM outbox_deliveries WHERE status IN ('enqueued', 'processing', 'retrying'))"
)
REMINDERS = text(
    "SELECT a.customer_phone, m.to_number, m.status FROM sched_appointments a"
    " JOIN sched_reminders r ON r.appointment_id = a.id LEFT JOIN conv_messages m ON m.id = r.message_id"
)
# Each reminder message with its send delivery: how many attempts it took and when the last one started.
SENDS = text(
    "SELECT m.to_number, m.provider_ref, d.attempts, d.started_at, d.status AS delivery FROM conv_messages m"
    " JOIN outbox_events e ON e.event_name = 'nmc.conversations.OutboundMessageRequested'"
    " AND e.payload->>'message_id' = m.id::text"
    " JOIN outbox_deliveries d ON d.event_id = e.event_id AND d.handler = 'conversations.send_message'"
    " WHERE m.purpose = 'reminder'"
)


@pytest.fixture
def stack(settings: Settings, world: World, tmp_path: Path) -> Iterator[LocalStack]:  # noqa: F811
    running = LocalStack(
        database_url=settings.database_url,
        redis_url=settings.redis_url,
        namespace=settings.dramatiq_namespace,
        log_dir=tmp_path,
        extra_env={
            "TWILIO_API_BASE_URL": world.url,
            "PUBLIC_BASE_URL": world.ingress.base_url,  # the sandbox's status callbacks, answered 200
            "REMINDER_POLL_SECONDS": "1",
            "OUTBOX_POLL_INTERVAL_MS": "100",
            # A killed worker's claimed deliveries come back after their lease, its prefetched ones after the
            # redrive age: seconds here, minutes in production.
            "DELIVERY_LEASE_SECONDS": "3",
            "DELIVERY_REDRIVE_AFTER_SECONDS": "3",
            "WORKER_PROCESSES": "1",
            "WORKER_THREADS": "4",
            "STATUS_POLL_AFTER_SECONDS": "3600",
            "LOG_FORMAT": "console",
        },
    )
    yield running
    running.stop()


def test_a_scheduler_and_a_worker_sigkilled_around_the_sends_send_each_reminder_once(
    stack: LocalStack,
    settings: Settings,
    engine: Engine,
    world: World,  # noqa: F811
) -> None:
    def progress() -> tuple[int, int]:
        with engine.connect() as conn:
            row = conn.execute(PROGRESS).one()
        return int(row.claimed), int(row.accepted)

    def unfinished() -> int:
        with engine.connect() as conn:
            return int(conn.execute(UNFINISHED).scalar_one())

    def reminders_job_ran() -> bool:
        with engine.connect() as conn:
            query = "SELECT count(*) FROM scheduler_runs WHERE job = 'send_due_reminders'"
            return bool(conn.execute(text(query)).scalar_one())

    seed_tenants(settings, 1)
    for name in ("dispatcher", "worker", "scheduler"):
        stack.start_process(name)
    # Every process is working before the reminders come due: the tenant's events are handled, the job has run.
    wait_until(lambda: unfinished() == 0 and reminders_job_ran(), 30, "the processes to start")
    SandboxClient(world.url).arm({"send": {"latency_ms": SEND_LATENCY_MS, "count": 100_000}})
    seed_appointments(
        settings, tenants=1, count=APPOINTMENTS, spread=SPREAD_SECONDS, lead=0.5, prefixes=CALLER_PREFIXES
    )

    # Each is killed at a random moment once it has done some of the work since it (re)started, and restarted: the
    # scheduler while reminders are still coming due, the worker while claimed reminders wait to be sent.
    chance = random.Random(18)
    mark = {"scheduler": 0, "worker": 0}
    kill_at: dict[str, float | None] = dict.fromkeys(mark)
    kills: dict[str, list[tuple[int, int]]] = {name: [] for name in mark}  # (claimed, accepted) at each kill
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        claimed, accepted = progress()
        if accepted == APPOINTMENTS:
            break
        working = {"scheduler": (claimed, claimed < APPOINTMENTS, 0.6), "worker": (accepted, accepted < claimed, 0.3)}
        for name, (done, busy, within) in working.items():
            if len(kills[name]) == KILLS_EACH or not busy:
                continue
            if kill_at[name] is None and done > mark[name]:
                kill_at[name] = time.monotonic() + chance.uniform(0.0, within)
            due = kill_at[name]
            if due is not None and time.monotonic() >= due:
                kills[name].append((claimed, accepted))
                stack.kill(name)
                stack.start_process(name)
                mark[name] = progress()[0 if name == "scheduler" else 1]
                kill_at[name] = None
        time.sleep(0.05)
    wait_until(lambda: progress()[1] == APPOINTMENTS, 60, "every reminder to be accepted")
    # Nothing is left to run (no retry, no redriven delivery) that could still send a second text.
    wait_until(lambda: unfinished() == 0, 60, "the outbox to drain")

    with engine.connect() as conn:
        numbers = set(conn.execute(text("SELECT customer_phone FROM sched_appointments")).scalars())
        reminders = conn.execute(REMINDERS).all()
        sends = conn.execute(SENDS).all()
        dead = conn.execute(text("SELECT count(*) FROM outbox_deliveries WHERE status = 'dead'")).scalar_one()
    carried = [m for m in SandboxClient(world.url).messages() if m["body"].startswith("Reminder")]
    assert len(numbers) == APPOINTMENTS
    assert len(reminders) == APPOINTMENTS  # one claim per appointment
    assert all(row.to_number == row.customer_phone and row.status in ACCEPTED for row in reminders)
    assert Counter(send.to_number for send in sends) == Counter(numbers)  # one message, sent by one delivery
    assert Counter(m["to"] for m in carried) == Counter(numbers)  # one text at the provider: none lost, none twice
    # Each message records the one text the provider carried for it (a retry that found it took its sid).
    assert {send.provider_ref: send.to_number for send in sends} == {m["sid"]: m["to"] for m in carried}
    assert dead == 0
    # Each kill fell while there was work of its victim's left (the loop kills only then).
    assert len(kills["scheduler"]) >= 2, kills
    assert len(kills["worker"]) >= 2, kills
    # Some sends died after the provider had taken their text: it was created before the attempt that recorded it.
    created = {m["sid"]: datetime.fromisoformat(m["created_at"]) for m in carried}
    taken_by_a_dead_attempt = [s for s in sends if s.attempts > 1 and created[s.provider_ref] < s.started_at]
    assert taken_by_a_dead_attempt, kills
