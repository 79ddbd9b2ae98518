"""``db_only`` deliveries of one message share one transaction; a failure sends each back to a transaction of its own.

Real Postgres and Redis; the handlers (tests/support/grouped_handlers.py) record the transaction each effect was
written in.
"""

from __future__ import annotations

import random
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from db.metrics import DELIVERY_GROUP_FALLBACKS
from db.settings import Settings
from domain.events import outbox
from domain.events.catalog import CallMissed, TenantCreated
from tests.support.grouped_handlers import COMMITTED, CREATE_GROUP_EFFECTS_TABLE
from tests.support.recording_broker import RecordingBroker, recording_dispatcher
from workers.bootstrap import Runtime, build_worker_runtime
from workers.delivery import Claim, DeliveryRunner
from workers.dispatcher import Dispatcher

DB_ONLY = ("grouped.project", "grouped.count")


@dataclass
class Groups:
    runtime: Runtime
    runner: DeliveryRunner
    dispatcher: Dispatcher
    broker: RecordingBroker
    sessions: sessionmaker[Session]
    handler_of: dict[uuid.UUID, str] = field(default_factory=dict)

    def publish(self, *scripts: tuple[str, uuid.UUID]) -> list[uuid.UUID]:
        with self.sessions() as session, session.begin():
            return [
                outbox.append(
                    session, TenantCreated(name=script, phone_number="+13105550100", timezone="UTC"), tenant_id=tenant
                ).event_id
                for script, tenant in scripts
            ]

    def dispatch(self) -> list[uuid.UUID]:
        """Fan out everything published; the one message's delivery ids, in the message's order."""
        self.dispatcher.dispatch_batch()
        (message,) = self.broker.sent
        self.broker.sent.clear()
        with self.sessions() as session:
            rows = session.execute(text("SELECT id, handler FROM outbox_deliveries")).all()
        self.handler_of.update({row.id: row.handler for row in rows})
        return message

    def db_only(self, ids: list[uuid.UUID]) -> list[uuid.UUID]:
        return [delivery_id for delivery_id in ids if self.handler_of[delivery_id] in DB_ONLY]

    def effects(self) -> list[tuple[uuid.UUID, uuid.UUID, str, int]]:
        with self.sessions() as session:
            rows = session.execute(
                text("SELECT event_id, tenant_id, handler, txid FROM test_group_effects ORDER BY seq")
            ).all()
        return [(row.event_id, row.tenant_id, row.handler, row.txid) for row in rows]

    def statuses(self, ids: list[uuid.UUID]) -> list[tuple[str, int]]:
        with self.sessions() as session:
            rows = session.execute(
                text("SELECT id, status, attempts FROM outbox_deliveries WHERE id = ANY(:ids)"), {"ids": ids}
            ).all()
        by_id = {row.id: (row.status, row.attempts) for row in rows}
        return [by_id[delivery_id] for delivery_id in ids]


@pytest.fixture
def groups(settings: Settings, engine: Engine) -> Iterator[Groups]:
    with engine.begin() as conn:
        conn.execute(text(CREATE_GROUP_EFFECTS_TABLE))
    test_settings = settings.model_copy(update={"handler_modules": ("tests.support.grouped_handlers",)})
    runtime, runner = build_worker_runtime(test_settings)
    broker = RecordingBroker()
    dispatcher = recording_dispatcher(runtime, broker, delivery_batch_size=100)
    yield Groups(runtime, runner, dispatcher, broker, runtime.sessions)
    runtime.broker.close()
    runtime.engine.dispose()


def test_db_only_deliveries_of_a_message_commit_in_one_transaction_tenant_by_tenant(groups: Groups) -> None:
    low, high = uuid.UUID(int=1), uuid.UUID(int=2)
    first, second, third = groups.publish(("ok", high), ("ok", low), ("ok", high))
    message = groups.dispatch()
    assert len(message) == 9  # 3 events x 3 handlers
    # The db_only deliveries first, then the one that is not: one group of six, then three alone.
    ordered = groups.db_only(message) + [d for d in message if d not in groups.db_only(message)]
    results = groups.runner.run_claimed(groups.runner.claim_many(ordered))

    assert [result.outcome for result in results] == ["done"] * 9
    assert groups.statuses(ordered) == [("done", 1)] * 9
    effects = groups.effects()
    grouped, alone = effects[:6], effects[6:]
    assert len({txid for *_, txid in grouped}) == 1
    assert len({txid for *_, txid in alone}) == 3
    assert not {txid for *_, txid in grouped} & {txid for *_, txid in alone}
    # Tenant by tenant (lowest first), each tenant's deliveries in the message's order.
    assert [(event_id, handler) for event_id, _, handler, _ in grouped] == [
        (second, "grouped.project"),
        (second, "grouped.count"),
        (first, "grouped.project"),
        (first, "grouped.count"),
        (third, "grouped.project"),
        (third, "grouped.count"),
    ]


def test_a_handler_not_declared_db_only_splits_the_message_into_groups_in_order(groups: Groups) -> None:
    groups.publish(("ok", uuid.uuid4()), ("ok", uuid.uuid4()))
    message = groups.dispatch()
    groups.runner.run_claimed(groups.runner.claim_many(message))
    effects = groups.effects()
    # project+count share a transaction, call_out has its own, for each event in turn.
    assert [handler for _, _, handler, _ in effects] == [groups.handler_of[d] for d in message]
    txids = [txid for *_, txid in effects]
    assert txids[0] == txids[1] != txids[2] != txids[3] == txids[4] != txids[5]


def test_a_failure_rolls_the_group_back_and_each_delivery_runs_alone(groups: Groups) -> None:
    failing_event = groups.publish(("ok", uuid.uuid4()), ("fail:always", uuid.uuid4()), ("ok", uuid.uuid4()))[1]
    ids = groups.db_only(groups.dispatch())
    fallbacks = DELIVERY_GROUP_FALLBACKS._value.get()

    results = groups.runner.run_claimed(groups.runner.claim_many(ids))

    assert DELIVERY_GROUP_FALLBACKS._value.get() == fallbacks + 1
    assert sorted(result.outcome for result in results) == ["done"] * 5 + ["retry"]
    effects = groups.effects()
    # The failed handler's write was rolled back with its transaction; the five others committed one by one.
    assert len(effects) == 5
    assert (failing_event, "grouped.project") not in {(event_id, handler) for event_id, _, handler, _ in effects}
    assert len({txid for *_, txid in effects}) == 5
    # The fallback is the same attempt, not a second one.
    statuses = dict(zip(ids, groups.statuses(ids), strict=True))
    assert sorted(statuses.values()) == [("done", 1)] * 5 + [("retrying", 1)]


def test_what_a_rolled_back_group_recorded_runs_only_for_the_deliveries_that_then_committed(groups: Groups) -> None:
    failing_event = groups.publish(("ok", uuid.uuid4()), ("fail:always", uuid.uuid4()), ("ok", uuid.uuid4()))[1]
    ids = groups.db_only(groups.dispatch())
    COMMITTED.clear()

    groups.runner.run_claimed(groups.runner.claim_many(ids))

    # The group ran all six handlers, then rolled back; one by one, five committed. Each of those counts once, the
    # failed one (which asked before it raised) never.
    committed = {(event_id, handler) for event_id, _, handler, _ in groups.effects()}
    assert len(committed) == 5
    assert sorted(COMMITTED) == sorted(committed)
    assert (failing_event, "grouped.project") not in COMMITTED


def test_a_redelivered_group_has_no_second_effect(groups: Groups) -> None:
    groups.publish(*[("ok", uuid.uuid4()) for _ in range(3)])
    ids = groups.db_only(groups.dispatch())
    groups.runner.run_claimed(groups.runner.claim_many(ids))
    assert len(groups.effects()) == 6
    with groups.sessions() as session, session.begin():
        session.execute(text("UPDATE outbox_deliveries SET status = 'enqueued' WHERE id = ANY(:ids)"), {"ids": ids})

    results = groups.runner.run_claimed(groups.runner.claim_many(ids))

    assert [result.outcome for result in results] == ["done"] * 6
    assert len(groups.effects()) == 6  # the processed markers stopped every second effect


def test_the_same_group_run_by_eight_threads_at_once_has_one_effect_each(groups: Groups) -> None:
    groups.publish(*[("ok", uuid.uuid4()) for _ in range(10)])
    ids = groups.db_only(groups.dispatch())
    assert len(groups.runner.claim_many(ids)) == 20
    start = threading.Barrier(8)
    errors: list[BaseException] = []

    def run() -> None:
        start.wait()
        try:
            groups.runner.process_group(ids)
        except BaseException as error:  # reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert len(groups.effects()) == 20
    assert groups.statuses(ids) == [("done", 1)] * 20


def test_groups_of_projections_racing_over_the_same_tenants_neither_deadlock_nor_lose_counts(
    settings: Settings,
) -> None:
    test_settings = settings.model_copy(update={"handler_modules": ("domain.reporting.handlers",)})
    runtime, runner = build_worker_runtime(test_settings)
    broker = RecordingBroker()
    dispatcher = recording_dispatcher(runtime, broker, delivery_batch_size=25)
    tenants = [uuid.uuid4() for _ in range(4)]
    shuffled = random.Random(7)
    missed_at = datetime.now(UTC)
    with runtime.sessions() as session, session.begin():
        for index in range(200):
            event = CallMissed(
                call_sid=f"CA{index:032x}",
                caller="+13105550111",
                called="+13105550100",
                dial_status="no-answer",
                missed_at=missed_at,
            )
            outbox.append(session, event, tenant_id=shuffled.choice(tenants), occurred_at=missed_at)
    dispatcher.dispatch_batch()
    assert len(broker.sent) == 8  # each message's deliveries in the outbox's (tenant-shuffled) order
    claims = [runner.claim_many(message) for message in broker.sent]
    fallbacks = DELIVERY_GROUP_FALLBACKS._value.get()
    start = threading.Barrier(len(claims))
    outcomes: list[str] = []

    def run(batch: list[Claim]) -> None:
        start.wait()
        outcomes.extend(result.outcome for result in runner.run_claimed(batch))

    threads = [threading.Thread(target=run, args=(batch,)) for batch in claims]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        # Without the tenant-by-tenant order, groups locking the same tenants' rows deadlock and fall back.
        assert DELIVERY_GROUP_FALLBACKS._value.get() == fallbacks
        assert outcomes == ["done"] * 200
        with runtime.sessions() as session:
            counted = session.execute(
                text("SELECT sum(missed_calls) FROM rep_daily_tenant_stats WHERE tenant_id = ANY(:t)"), {"t": tenants}
            ).scalar_one()
        assert counted == 200
    finally:
        runtime.broker.close()
        runtime.engine.dispose()
