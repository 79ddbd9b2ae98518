"""The outbox → dispatcher → delivery pipeline on the real Postgres and Redis, in one process.

Process-killing tests live in tests/acceptance/test_pipeline_faults.py.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import dramatiq
import pytest
import redis
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from db.settings import Settings
from domain.events import outbox
from domain.events.catalog import EventValidationError, TenantCreated
from tests.support.draining import run_delivery
from tests.support.pipeline_handlers import CREATE_EFFECTS_TABLE
from tests.support.recording_broker import RecordingBroker, recording_dispatcher
from tests.support.waiting import wait_until
from workers.bootstrap import Runtime, build_dispatcher, build_worker_runtime
from workers.delivery import DeliveryRunner
from workers.dispatcher import Dispatcher, DispatcherLoop
from workers.dlq import list_dead_letters, replay
from workers.retry import backoff_seconds


class FixedRandom:
    def __init__(self, value: float) -> None:
        self.value = value
        self.calls = 0

    def __call__(self) -> float:
        self.calls += 1
        return self.value


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2030, 1, 1, 12, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Pipeline:
    runtime: Runtime
    runner: DeliveryRunner
    dispatcher: Dispatcher
    sessions: sessionmaker[Session]
    clock: Clock
    rng: FixedRandom

    def publish(self, script: str, count: int = 1) -> list[uuid.UUID]:
        ids = []
        with self.sessions() as session, session.begin():
            for _ in range(count):
                event = TenantCreated(name=script, phone_number="+13105550100", timezone="America/New_York")
                ids.append(outbox.append(session, event, tenant_id=uuid.uuid4()).event_id)
        return ids

    def deliveries(self) -> list[tuple[uuid.UUID, str]]:
        with self.sessions() as session:
            rows = session.execute(text("SELECT id, handler FROM outbox_deliveries ORDER BY handler")).all()
        return [(row.id, row.handler) for row in rows]

    def run_delivery(self, delivery_id: uuid.UUID) -> str:
        """What the middleware and actor do for one message, without Redis in the way."""
        return run_delivery(self.runner, delivery_id).outcome

    def use_max_attempts(self, attempts: int) -> None:
        self.runner = DeliveryRunner(
            self.runtime.engine,
            self.sessions,
            self.runtime.registry,
            max_attempts=attempts,
            lease_seconds=60,
            clock=self.clock,
            rng=self.rng,
        )

    def effects(self, handler: str | None = None) -> int:
        with self.sessions() as session:
            query = "SELECT count(*) FROM test_effects" + (" WHERE handler = :h" if handler else "")
            return int(session.execute(text(query), {"h": handler}).scalar_one())

    def delivery(self, delivery_id: uuid.UUID) -> dict[str, object]:
        with self.sessions() as session:
            row = session.execute(text("SELECT * FROM outbox_deliveries WHERE id = :id"), {"id": delivery_id}).one()
        return dict(row._mapping)


@pytest.fixture
def pipeline(settings: Settings, engine: Engine) -> Iterator[Pipeline]:
    with engine.begin() as conn:
        conn.execute(text(CREATE_EFFECTS_TABLE))
    test_settings = settings.model_copy(update={"handler_modules": ("tests.support.pipeline_handlers",)})
    clock, rng = Clock(), FixedRandom(1.0)
    runtime, runner = build_worker_runtime(test_settings, clock=clock, rng=rng)
    dispatcher = build_dispatcher(runtime, clock=clock, rng=rng)
    yield Pipeline(runtime, runner, dispatcher, runtime.sessions, clock, rng)
    runtime.broker.close()
    runtime.engine.dispose()


def test_backoff_is_full_jitter_capped_at_thirty_seconds() -> None:
    assert [backoff_seconds(a, rng=lambda: 1.0) for a in range(1, 7)] == [2, 4, 8, 16, 30, 30]
    assert backoff_seconds(3, rng=lambda: 0.0) == 0
    assert backoff_seconds(2, rng=lambda: 0.5) == 2


def test_an_event_fans_out_to_every_subscribed_handler_once(pipeline: Pipeline) -> None:
    pipeline.publish("ok")
    assert pipeline.dispatcher.dispatch_batch() == 1
    assert pipeline.dispatcher.dispatch_batch() == 0
    handlers = [handler for _, handler in pipeline.deliveries()]
    assert handlers == ["testing.count_once", "testing.follow_script"]


def test_a_redelivered_message_has_no_second_effect(pipeline: Pipeline) -> None:
    pipeline.publish("ok")
    pipeline.dispatcher.dispatch_batch()
    delivery_id, _ = pipeline.deliveries()[0]
    assert pipeline.run_delivery(delivery_id) == "done"
    assert pipeline.run_delivery(delivery_id) == "skipped"
    # Even if the status were somehow reset, the processed marker stops a second effect.
    with pipeline.sessions() as session, session.begin():
        session.execute(text("UPDATE outbox_deliveries SET status = 'enqueued' WHERE id = :id"), {"id": delivery_id})
    assert pipeline.runner.claim(delivery_id) is not None
    assert pipeline.runner.process(delivery_id) is False
    assert pipeline.effects("testing.count_once") == 1


def test_failures_are_retried_with_delays_inside_the_formula_then_dead_lettered(pipeline: Pipeline) -> None:
    pipeline.publish("fail:always")
    pipeline.dispatcher.dispatch_batch()
    delivery_id = next(d for d, h in pipeline.deliveries() if h == "testing.follow_script")
    delays = []
    for attempt in range(1, 7):
        before = pipeline.clock.now
        outcome = pipeline.run_delivery(delivery_id)
        row = pipeline.delivery(delivery_id)
        assert row["attempts"] == attempt
        if attempt < 6:
            assert outcome == "retry"
            delay = (row["next_attempt_at"] - before).total_seconds()  # type: ignore[operator]
            assert 0 <= delay <= min(30, 2**attempt)
            delays.append(delay)
            # Not due yet: the redriver leaves it alone.
            pipeline.dispatcher.redrive()
            assert pipeline.delivery(delivery_id)["status"] == "retrying"
            pipeline.clock.now = row["next_attempt_at"]  # type: ignore[assignment]
            pipeline.dispatcher.redrive()
            assert pipeline.delivery(delivery_id)["status"] == "enqueued"
        else:
            assert outcome == "dead"
    assert delays == [2, 4, 8, 16, 30]  # rng pinned to its upper bound
    assert pipeline.delivery(delivery_id)["status"] == "dead"
    with pipeline.sessions() as session:
        letters = list_dead_letters(session)
    assert len(letters) == 1
    letter = letters[0]
    assert letter.attempts == 6
    assert letter.handler == "testing.follow_script"
    assert "scripted failure on attempt 6" in letter.last_error
    assert "RuntimeError" in letter.traceback


def test_the_jitter_uses_the_injected_random_source(pipeline: Pipeline) -> None:
    pipeline.rng.value = 0.25
    pipeline.publish("fail:1")
    pipeline.dispatcher.dispatch_batch()
    delivery_id = next(d for d, h in pipeline.deliveries() if h == "testing.follow_script")
    start = pipeline.clock.now
    assert pipeline.run_delivery(delivery_id) == "retry"
    assert (pipeline.delivery(delivery_id)["next_attempt_at"] - start) == timedelta(seconds=0.5)  # type: ignore[operator]


def test_a_lost_worker_lease_counts_the_attempt_and_schedules_a_retry(pipeline: Pipeline) -> None:
    pipeline.publish("ok")
    pipeline.dispatcher.dispatch_batch()
    delivery_id, _ = pipeline.deliveries()[0]
    assert pipeline.runner.claim(delivery_id) is not None  # ...and the worker dies here
    pipeline.clock.now += timedelta(seconds=pipeline.runtime.settings.delivery_lease_seconds + 1)
    pipeline.dispatcher.redrive()
    row = pipeline.delivery(delivery_id)
    assert (row["status"], row["attempts"]) == ("retrying", 1)
    assert row["last_error"] == "worker lost mid-handler (lease expired)"


def test_the_redriver_resends_a_lost_message_but_not_one_still_waiting_in_its_queue(pipeline: Pipeline) -> None:
    broker = pipeline.runtime.broker
    (queue,) = pipeline.runtime.registry.queues
    queue_key = f"{broker.namespace}:{queue}"
    redrive_after = timedelta(seconds=pipeline.runtime.settings.delivery_redrive_after_seconds)
    pipeline.publish("ok")
    pipeline.dispatcher.dispatch_batch()
    lost = {delivery_id for delivery_id, _ in pipeline.deliveries()}
    broker.client.delete(queue_key)  # Redis lost the first batch's message
    pipeline.clock.now += timedelta(seconds=10)
    pipeline.publish("ok")
    pipeline.dispatcher.dispatch_batch()
    waiting = {delivery_id for delivery_id, _ in pipeline.deliveries()} - lost
    assert broker.oldest_waiting_at(queue) == pipeline.clock.now
    # Both batches are older than the redrive age now; only the first is older than the queue's head.
    pipeline.clock.now += redrive_after + timedelta(seconds=1)
    pipeline.dispatcher.redrive()
    assert pipeline.dispatcher.stats.redriven == len(lost) == 2
    messages = [broker.client.hget(f"{queue_key}.msgs", mid) for mid in broker.client.lrange(queue_key, 0, -1)]
    sent = [set(dramatiq.Message.decode(m).args[0].split(",")) for m in messages if m]
    assert sent[0] == {str(d) for d in waiting}  # the waiting batch's message, untouched
    assert set().union(*sent[1:]) == {str(d) for d in lost}  # re-sent one by one, behind it
    # Nothing waits once the queue is empty: whatever is still 'enqueued' past the redrive age (all four) was lost.
    broker.client.delete(queue_key)
    assert broker.oldest_waiting_at(queue) is None
    pipeline.clock.now += redrive_after + timedelta(seconds=1)
    pipeline.dispatcher.redrive()
    assert pipeline.dispatcher.stats.redriven == 2 + 4


def test_replay_revalidates_and_delivers_exactly_once(pipeline: Pipeline) -> None:
    pipeline.use_max_attempts(1)
    with pipeline.sessions() as session, session.begin():
        session.execute(text("INSERT INTO test_broken VALUES ('a bug')"))
    pipeline.publish("fail:while-broken")
    pipeline.dispatcher.dispatch_batch()
    delivery_id = next(d for d, h in pipeline.deliveries() if h == "testing.follow_script")
    assert pipeline.run_delivery(delivery_id) == "dead"
    with pipeline.sessions() as session, session.begin():
        session.execute(text("DELETE FROM test_broken"))  # the operator fixes the bug, then replays
    with pipeline.sessions() as session:
        (letter,) = list_dead_letters(session)

    results = []
    barrier = threading.Barrier(4)

    def replay_once() -> None:
        barrier.wait()
        results.append(replay(pipeline.sessions, pipeline.runtime.broker, [letter.id]))

    threads = [threading.Thread(target=replay_once) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    replayed = [r for result in results for r in result if r.status == "replayed"]
    assert len(replayed) == 1
    assert pipeline.delivery(delivery_id)["status"] == "enqueued"
    assert pipeline.run_delivery(delivery_id) == "done"
    assert pipeline.run_delivery(delivery_id) == "skipped"
    assert pipeline.effects("testing.follow_script") == 1  # the failed attempt rolled back its effect
    with pipeline.sessions() as session:
        (after,) = list_dead_letters(session, include_replayed=True)
    assert after.replayed_at is not None


def test_replay_refuses_an_envelope_the_catalog_no_longer_accepts(pipeline: Pipeline) -> None:
    pipeline.use_max_attempts(1)
    pipeline.publish("fail:always")
    pipeline.dispatcher.dispatch_batch()
    delivery_id = next(d for d, h in pipeline.deliveries() if h == "testing.follow_script")
    pipeline.run_delivery(delivery_id)
    with pipeline.sessions() as session, session.begin():
        session.execute(
            text("UPDATE dead_letters SET envelope = jsonb_set(envelope, '{payload,phone_number}', '\"555\"')")
        )
    with pipeline.sessions() as session:
        (letter,) = list_dead_letters(session)
    (result,) = replay(pipeline.sessions, pipeline.runtime.broker, [letter.id])
    assert result.status == "invalid"
    assert "phone_number" in (result.detail or "")
    assert pipeline.delivery(delivery_id)["status"] == "dead"


def test_an_invalid_event_is_refused_at_append(pipeline: Pipeline) -> None:
    with pytest.raises(EventValidationError), pipeline.sessions() as session:
        outbox.append(session, object(), tenant_id=None)
    with pytest.raises(ValueError, match="phone_number"):
        TenantCreated(name="x", phone_number="555-0100", timezone="UTC")


def test_a_dispatcher_killed_between_claim_and_commit_loses_nothing(pipeline: Pipeline, engine: Engine) -> None:
    pipeline.publish("ok", count=20)
    # A dispatcher claims the batch and its connection dies before COMMIT (what SIGKILL looks like to Postgres).
    doomed = engine.connect()
    doomed.execute(text("SELECT event_id FROM outbox_events WHERE dispatched_at IS NULL FOR UPDATE SKIP LOCKED"))
    doomed.execute(text("UPDATE outbox_events SET dispatched_at = now()"))
    assert pipeline.dispatcher.dispatch_batch() == 0  # everything is locked by the doomed claim
    pid = doomed.execute(text("SELECT pg_backend_pid()")).scalar_one()
    with engine.begin() as conn:
        # With a timeout, pg_terminate_backend waits until the backend is gone and its locks released; without one
        # it only signals, and on a busy machine the next claim could still find the rows locked.
        assert conn.execute(text("SELECT pg_terminate_backend(:pid, 10000)"), {"pid": pid}).scalar_one()
    doomed.invalidate()
    assert pipeline.dispatcher.dispatch_batch() == 20
    assert len(pipeline.deliveries()) == 40


def test_four_dispatchers_draining_ten_thousand_events_deliver_each_exactly_once(pipeline: Pipeline) -> None:
    with pipeline.sessions() as session, session.begin():
        session.execute(
            text(
                "INSERT INTO outbox_events (event_id, event_name, schema_version, tenant_id, occurred_at,"
                " correlation_id, payload)"
                " SELECT id, 'nmc.identity.TenantCreated', 1, NULL, now(), id,"
                " jsonb_build_object('name', 'ok', 'phone_number', '+13105550100', 'timezone', 'UTC')"
                " FROM (SELECT gen_random_uuid() AS id FROM generate_series(1, 10000)) AS ids"
            )
        )
    broker = RecordingBroker()  # shared: each message is recorded whichever dispatcher sent it
    dispatchers = [recording_dispatcher(pipeline.runtime, broker, delivery_batch_size=1) for _ in range(4)]
    claimed = [0] * 4

    def drain(index: int) -> None:
        while (n := dispatchers[index].dispatch_batch()) > 0:
            claimed[index] += n

    threads = [threading.Thread(target=drain, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(claimed) == 10_000
    assert sum(1 for c in claimed if c > 0) >= 2  # they really shared the work
    assert len(broker.sent) == 20_000
    assert len({delivery_id for (delivery_id,) in broker.sent}) == 20_000
    with pipeline.sessions() as session:
        per_pair = session.execute(
            text("SELECT count(*), count(DISTINCT (event_id, handler)) FROM outbox_deliveries")
        ).one()
        undispatched = session.execute(text("SELECT count(*) FROM outbox_events WHERE dispatched_at IS NULL")).scalar()
    assert tuple(per_pair) == (20_000, 20_000)
    assert undispatched == 0


def test_the_dlq_cli_lists_shows_and_replays(pipeline: Pipeline) -> None:
    from click.testing import CliRunner

    from ops.cli import _register, cli

    _register()
    pipeline.use_max_attempts(1)
    pipeline.publish("fail:always")
    pipeline.dispatcher.dispatch_batch()
    delivery_id = next(d for d, h in pipeline.deliveries() if h == "testing.follow_script")
    assert pipeline.run_delivery(delivery_id) == "dead"
    settings = pipeline.runtime.settings
    env = {
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
        "DRAMATIQ_NAMESPACE": settings.dramatiq_namespace,
    }
    runner = CliRunner(env=env)

    listed = runner.invoke(cli, ["dlq", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    (letter,) = json.loads(listed.output)
    assert (letter["handler"], letter["attempts"]) == ("testing.follow_script", 1)
    assert runner.invoke(cli, ["dlq", "list", "--handler", "nobody"]).output.strip() == "no dead letters"

    shown = runner.invoke(cli, ["dlq", "show", letter["id"], "--json"])
    assert shown.exit_code == 0
    assert json.loads(shown.output)["envelope"]["event_name"] == "nmc.identity.TenantCreated"

    dry = runner.invoke(cli, ["dlq", "replay", "--all", "--dry-run"])
    assert dry.exit_code == 0
    assert "would_replay" in dry.output
    assert pipeline.delivery(delivery_id)["status"] == "dead"

    replayed = runner.invoke(cli, ["dlq", "replay", letter["id"]])
    assert replayed.exit_code == 0
    assert "1 replayed" in replayed.output
    again = runner.invoke(cli, ["dlq", "replay", letter["id"]])
    assert "already_replayed" in again.output
    assert pipeline.delivery(delivery_id)["status"] == "enqueued"

    missing = runner.invoke(cli, ["dlq", "show", str(uuid.uuid4())])
    assert missing.exit_code != 0
    assert "no dead letter" in missing.output
    bad = runner.invoke(cli, ["dlq", "show", "not-a-uuid"])
    assert bad.exit_code != 0


def test_one_dispatcher_listens_the_others_poll_and_a_standby_takes_over_when_the_listener_stops(
    pipeline: Pipeline,
) -> None:
    settings = pipeline.runtime.settings
    loops = [
        DispatcherLoop(build_dispatcher(pipeline.runtime), settings.database_url, poll_interval_ms=200)
        for _ in range(2)
    ]
    threads = [threading.Thread(target=loop.run) for loop in loops]

    def undispatched() -> int:
        with pipeline.sessions() as session:
            return int(
                session.execute(text("SELECT count(*) FROM outbox_events WHERE dispatched_at IS NULL")).scalar_one()
            )

    try:
        threads[0].start()
        wait_until(lambda: loops[0].listening, 5, "the first dispatcher to listen")
        threads[1].start()
        time.sleep(0.5)  # several of the standby's polls: it never takes the listener lock while the first holds it
        assert (loops[0].listening, loops[1].listening) == (True, False)
        pipeline.publish("ok")
        wait_until(lambda: undispatched() == 0, 5, "the event to be dispatched")
        loops[0].stopping.set()
        threads[0].join()
        wait_until(lambda: loops[1].listening, 5, "the standby to take over listening")
        pipeline.publish("ok")
        wait_until(lambda: undispatched() == 0, 5, "the second event to be dispatched")
        assert len(pipeline.deliveries()) == 4
    finally:
        for loop in loops:
            loop.stopping.set()
        for thread in threads:
            if thread.is_alive():
                thread.join()


def test_fresh_deliveries_travel_in_batches_and_a_failure_stays_with_its_own_delivery(pipeline: Pipeline) -> None:
    broker = RecordingBroker()
    batching = recording_dispatcher(pipeline.runtime, broker, delivery_batch_size=3)
    pipeline.publish("ok", count=2)
    pipeline.publish("fail:always")
    assert batching.dispatch_batch() == 3
    # 6 deliveries of one queue, 3 per message.
    assert [len(batch) for batch in broker.sent] == [3, 3]
    claims = pipeline.runner.claim_many([delivery_id for batch in broker.sent for delivery_id in batch])
    assert len(claims) == 6
    results = pipeline.runner.run_claimed(claims)
    assert sorted(r.outcome for r in results) == ["done"] * 5 + ["retry"]
    assert pipeline.effects() == 5  # the failed handler's writes rolled back alone
    # Claiming the same batch again claims nothing: a duplicated message is skipped.
    assert pipeline.runner.claim_many([claim.delivery_id for claim in claims]) == []


def test_the_outbox_notify_carries_the_newest_seq_and_an_empty_insert_sends_none(
    settings: Settings, sessions: sessionmaker[Session]
) -> None:
    import psycopg

    with psycopg.connect(settings.database_url, autocommit=True) as listener:
        listener.execute("LISTEN outbox")
        with sessions() as session, session.begin():
            envelopes = [outbox.build_envelope(_tenant_created(), tenant_id=None) for _ in range(3)]
            outbox.append_envelopes(session, envelopes)
        seqs = {
            seq for (seq,) in _rows(sessions, "SELECT seq FROM outbox_events WHERE event_id = ANY(:ids)", envelopes)
        }
        # One notification per INSERT statement (SQLAlchemy may send one per row), each naming its newest seq.
        payloads = [int(notification.payload) for notification in listener.notifies(timeout=1)]
        assert payloads
        assert set(payloads) <= seqs
        assert max(payloads) == max(seqs)
        # A duplicate webhook's statement inserts no event rows: no wake-up for the dispatchers.
        with sessions() as session, session.begin():
            session.execute(
                text("INSERT INTO outbox_events OVERRIDING SYSTEM VALUE SELECT * FROM outbox_events WHERE false")
            )
        assert [n.payload for n in listener.notifies(timeout=0.5)] == []


def _tenant_created() -> TenantCreated:
    return TenantCreated(name="notify", phone_number="+13105550100", timezone="UTC")


def _rows(sessions: sessionmaker[Session], sql: str, envelopes: list[outbox.Envelope]) -> list[tuple[int]]:
    with sessions() as session:
        return [tuple(row) for row in session.execute(text(sql), {"ids": [e.event_id for e in envelopes]})]


class _FlakyDispatcher:
    """A dispatcher whose broker is down for its first ``failures`` cycles (what the loop sees when Redis restarts)."""

    batch_size = 500
    newest_claimed_seq = 0

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls = 0

    def dispatch_batch(self) -> int:
        self.calls += 1
        if self.calls <= self.failures:
            raise redis.ConnectionError("Error 111 connecting to 127.0.0.1:6399. Connection refused.")
        return 0

    def redrive(self) -> int:
        return 0


def test_a_dispatcher_logs_an_outage_s_traceback_once_then_one_line_a_second_then_its_recovery(
    pipeline: Pipeline, caplog: pytest.LogCaptureFixture
) -> None:
    flaky = _FlakyDispatcher(failures=3)
    loop = DispatcherLoop(flaky, pipeline.runtime.settings.database_url, poll_interval_ms=50)  # type: ignore[arg-type]
    thread = threading.Thread(target=loop.run)
    with caplog.at_level(logging.INFO, logger="nmc.dispatcher"):
        thread.start()
        try:
            wait_until(lambda: flaky.calls > 4, 10, "the broker to come back")
        finally:
            loop.stopping.set()
            thread.join()
    records = [r for r in caplog.records if r.name == "nmc.dispatcher" and "dispatch cycle" in r.getMessage()]
    assert [(r.levelno, r.exc_info is not None) for r in records] == [
        (logging.ERROR, True),
        (logging.WARNING, False),
        (logging.WARNING, False),
        (logging.INFO, False),
    ]
    assert "still failing: Error 111" in records[1].getMessage()


def test_a_race_the_handler_expects_is_logged_as_information_until_it_is_dead_lettered(
    pipeline: Pipeline, caplog: pytest.LogCaptureFixture
) -> None:
    # A status callback that beats the commit recording its message is retried as designed; a warning per attempt
    # read like a fault to an operator. If the race never resolves, the dead letter is still an error.
    pipeline.use_max_attempts(3)
    pipeline.publish("early:always")
    pipeline.dispatcher.dispatch_batch()
    delivery_id = next(d for d, h in pipeline.deliveries() if h == "testing.follow_script")
    with caplog.at_level(logging.INFO, logger="nmc.worker"):
        outcomes = []
        for _ in range(3):
            claims = pipeline.runner.claim_many([delivery_id])  # as the worker's actor does
            outcomes += [result.outcome for result in pipeline.runner.run_claimed(claims)]
            pipeline.clock.now = pipeline.delivery(delivery_id)["next_attempt_at"] or pipeline.clock.now  # type: ignore[assignment]
            pipeline.dispatcher.redrive()
    assert outcomes == ["retry", "retry", "dead"]
    levels = [r.levelname for r in caplog.records if "failed on attempt" in r.getMessage()]
    assert levels == ["INFO", "INFO", "ERROR"]
