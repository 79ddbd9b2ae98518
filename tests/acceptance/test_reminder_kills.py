"""Reminders through whole processes (`nmc scheduler`, `nmc dispatcher`, `nmc worker`) on the real Postgres and
Redis and the sandbox over HTTP, while the scheduler and the worker are SIGKILLed around the sends: each reminder
reaches its caller once."""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Iterator
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

APPOINTMENTS = 40
SPREAD_SECONDS = 10.0
KILLS_EACH = 3
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
    started = time.monotonic()

    def progress() -> tuple[int, int]:
        with engine.connect() as conn:
            row = conn.execute(PROGRESS).one()
        return int(row.claimed), int(row.accepted)

    def unfinished() -> int:
        with engine.connect() as conn:
            return int(conn.execute(UNFINISHED).scalar_one())

    def scheduler_ran() -> bool:
        with engine.connect() as conn:
            query = "SELECT count(*) FROM scheduler_runs WHERE job = 'send_due_reminders'"
            return bool(conn.execute(text(query)).scalar_one())

    seed_tenants(settings, 1)
    for name in ("dispatcher", "worker", "scheduler"):
        stack.start_process(name)
    # Every process is working before the reminders come due: the tenant's events are handled, the job has run.
    wait_until(lambda: unfinished() == 0 and scheduler_ran(), 30, "the processes to start")
    seed_appointments(
        settings, tenants=1, count=APPOINTMENTS, spread=SPREAD_SECONDS, lead=0.5, prefixes=CALLER_PREFIXES
    )

    # Each victim is killed at a random moment after it has done some of the work since it (re)started: the
    # scheduler after claiming reminders, the worker after the provider accepted some.
    chance = random.Random(18)
    measure = {"scheduler": 0, "worker": 1}
    mark = dict.fromkeys(measure, 0)
    kill_at: dict[str, float | None] = dict.fromkeys(measure)
    kills: dict[str, list[tuple[int, int]]] = {name: [] for name in measure}
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        counts = progress()
        claimed, accepted = counts
        if accepted == APPOINTMENTS:
            break
        for name, index in measure.items():
            if len(kills[name]) >= KILLS_EACH or claimed == 0:
                continue
            if kill_at[name] is None and counts[index] > mark[name]:
                kill_at[name] = time.monotonic() + chance.uniform(0.05, 0.6)
            due = kill_at[name]
            if due is not None and time.monotonic() >= due:
                kills[name].append(progress())
                stack.kill(name)
                stack.start_process(name)
                mark[name], kill_at[name] = progress()[index], None
        time.sleep(0.05)
    wait_until(lambda: progress()[1] == APPOINTMENTS, 60, "every reminder to be accepted")
    # Nothing is left to run (no retry, no redriven delivery) that could still send a second text.
    wait_until(lambda: unfinished() == 0, 60, "the outbox to drain")

    with engine.connect() as conn:
        reminders = conn.execute(
            text(
                "SELECT a.customer_phone, m.to_number, m.status FROM sched_appointments a"
                " JOIN sched_reminders r ON r.appointment_id = a.id LEFT JOIN conv_messages m ON m.id = r.message_id"
            )
        ).all()
        messages = conn.execute(text("SELECT to_number FROM conv_messages WHERE purpose = 'reminder'")).scalars().all()
        dead = conn.execute(text("SELECT count(*) FROM outbox_deliveries WHERE status = 'dead'")).scalar_one()
        numbers = set(conn.execute(text("SELECT customer_phone FROM sched_appointments")).scalars())
    carried = [m["to"] for m in SandboxClient(world.url).messages() if m["body"].startswith("Reminder")]
    assert len(numbers) == APPOINTMENTS
    assert len(reminders) == APPOINTMENTS  # one claim per appointment
    assert all(row.to_number == row.customer_phone and row.status in ACCEPTED for row in reminders)
    assert Counter(messages) == Counter(numbers)  # one reminder message per caller
    assert Counter(carried) == Counter(numbers)  # and one text at the provider: none lost, none twice
    assert dead == 0
    # The kills fell while reminders were being sent: some claimed, not all accepted yet.
    during = {name: [k for k in done if k[0] > 0 and k[1] < APPOINTMENTS] for name, done in kills.items()}
    assert len(during["scheduler"]) >= 2, kills
    assert len(during["worker"]) >= 2, kills
    print(f"kills (claimed, accepted): {kills}; {time.monotonic() - started:.1f} s")
