"""Group commit of webhook writes (``ingress.recording.GroupWriter``) on the real Postgres.

What a group must keep from one-at-a-time writes: each request's own outcome (accepted, duplicate, unroutable),
its route, its events in order, all or nothing per transaction; and what it must not add: one bad request failing
its neighbours, or a caller left waiting.
"""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime
from typing import Any

import psycopg
from sqlalchemy import Engine, create_engine, text

from domain.events.catalog import MessageReceived, MessageStatusReported
from ingress.recording import Delivery, GroupWriter, outcome_of, prepare_record
from tests.support.webhook_env import TENANT_NUMBER, add_tenant

UNOWNED_NUMBER = "+13105550199"


def status_record(sid: str, status: str = "delivered", number: str = TENANT_NUMBER) -> dict[str, Any]:
    event = MessageStatusReported(message_sid=sid, status=status, error_code=None, reported_at=datetime.now(UTC))
    delivery = Delivery("twilio", f"{sid}:{status}", "sms_status", {"MessageSid": sid, "MessageStatus": status})
    return prepare_record(delivery, number=number, events=[event], correlation_id=uuid.uuid4())


def counts(engine: Engine) -> tuple[int, int]:
    with engine.connect() as conn:
        row = conn.execute(
            text("SELECT (SELECT count(*) FROM webhook_events), (SELECT count(*) FROM outbox_events)")
        ).one()
    return int(row[0]), int(row[1])


def test_a_group_answers_each_request_with_its_own_outcome_in_one_transaction(engine: Engine) -> None:
    tenant_id = add_tenant(engine)
    records = [
        status_record("SM1"),
        status_record("SM1"),  # a copy inside the same group: one insert, one duplicate
        status_record("SM2", number=UNOWNED_NUMBER),
        status_record("SM3"),
    ]

    rows = GroupWriter(engine).write_many(records)

    outcomes = [outcome_of(record, row) for record, row in zip(records, rows, strict=True)]
    assert [outcome for outcome, _ in outcomes] == ["accepted", "duplicate", "unroutable", "accepted"]
    routed_to = [None if route is None else route.tenant_id for _, route in outcomes]
    assert routed_to == [tenant_id, tenant_id, None, tenant_id]
    with engine.connect() as conn:
        hooks = conn.execute(text("SELECT provider_ref, outcome, tenant_id, xmin::text FROM webhook_events")).all()
        events = conn.execute(text("SELECT payload->>'message_sid', tenant_id FROM outbox_events ORDER BY seq")).all()
    assert sorted((ref, outcome) for ref, outcome, _, _ in hooks) == [
        ("SM1:delivered", "accepted"),
        ("SM2:delivered", "unroutable"),
        ("SM3:delivered", "accepted"),
    ]
    assert len({xmin for *_, xmin in hooks}) == 1  # one transaction
    # The unroutable one wrote no event; the others' events carry the tenant, in the group's order.
    assert [(sid, tenant) for sid, tenant in events] == [("SM1", tenant_id), ("SM3", tenant_id)]


def test_one_bad_request_in_a_group_fails_alone(engine: Engine) -> None:
    add_tenant(engine)
    bad = status_record("SM5")
    bad["payload"] = {"Body": "\x00"}  # Postgres refuses a NUL in jsonb (the resources scrub them; this one was not)
    records = [status_record("SM4"), bad, status_record("SM6")]

    rows = GroupWriter(engine).write_many(records)

    assert isinstance(rows[1], psycopg.DataError)
    assert [outcome_of(records[i], rows[i])[0] for i in (0, 2)] == ["accepted", "accepted"]
    assert counts(engine) == (2, 2)


def test_a_lost_database_fails_the_whole_group_and_writes_nothing(engine: Engine) -> None:
    dead = create_engine("postgresql+psycopg://postgres@127.0.0.1:1/nmc", connect_args={"connect_timeout": 2})
    try:
        rows = GroupWriter(dead).write_many([status_record("SM7"), status_record("SM8")])
    finally:
        dead.dispose()
    assert all(isinstance(row, psycopg.OperationalError) for row in rows)
    assert counts(engine) == (0, 0)


def test_forty_threads_writing_ten_webhooks_four_times_each_get_one_acceptance_per_webhook(engine: Engine) -> None:
    add_tenant(engine)
    writer = GroupWriter(engine)
    start = threading.Barrier(40)
    outcomes: list[tuple[str, str]] = []
    errors: list[BaseException] = []

    def send(sid: str) -> None:
        record = status_record(sid)
        start.wait()
        try:
            outcomes.append((sid, outcome_of(record, writer.write(record))[0]))
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=send, args=(f"SM{index % 10}",)) for index in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    for index in range(10):
        assert sorted(outcome for sid, outcome in outcomes if sid == f"SM{index}") == ["accepted"] + ["duplicate"] * 3
    assert counts(engine) == (10, 10)


def test_a_bad_request_written_among_concurrent_ones_fails_only_its_own_caller(engine: Engine) -> None:
    add_tenant(engine)
    writer = GroupWriter(engine)
    start = threading.Barrier(16)
    results: dict[str, str] = {}

    def send(sid: str) -> None:
        record = status_record(sid)
        if sid == "SM0":
            record["payload"] = {"Body": "\x00"}
        start.wait()
        try:
            results[sid] = outcome_of(record, writer.write(record))[0]
        except psycopg.DataError:
            results[sid] = "refused"

    threads = [threading.Thread(target=send, args=(f"SM{index}",)) for index in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert results == {"SM0": "refused"} | {f"SM{index}": "accepted" for index in range(1, 16)}
    assert counts(engine) == (15, 15)


def text_record(caller: str, sid: str) -> dict[str, Any]:
    event = MessageReceived(
        message_sid=sid,
        from_number=caller,
        to_number=TENANT_NUMBER,
        body="hi",
        num_media=0,
        media_urls=(),
        received_at=datetime.now(UTC),
    )
    delivery = Delivery("twilio", sid, "sms", {"MessageSid": sid})
    return prepare_record(
        delivery, number=TENANT_NUMBER, events=[event], correlation_id=uuid.uuid4(), caller=caller, keeps_chain=True
    )


def chains_of(engine: Engine) -> dict[str, set[uuid.UUID]]:
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT payload->>'from_number' AS caller, correlation_id FROM outbox_events"
                " WHERE event_name = 'nmc.conversations.MessageReceived'"
            )
        ).all()
    found: dict[str, set[uuid.UUID]] = {}
    for caller, correlation_id in rows:
        found.setdefault(caller, set()).add(correlation_id)
    return found


def test_a_callers_records_in_one_group_share_one_chain_and_another_callers_have_their_own(engine: Engine) -> None:
    add_tenant(engine)
    first, second = "+16175550101", "+16175550102"
    records = [text_record(first, "SMa1"), text_record(second, "SMb1"), text_record(first, "SMa2")]

    GroupWriter(engine).write_many(records)

    chains = chains_of(engine)
    assert len(chains[first]) == 1
    assert len(chains[second]) == 1
    assert chains[first] != chains[second]
    # The group's first record of each caller started the chain, and the chain rows say so.
    assert chains[first] == {uuid.UUID(records[0]["events"][0]["correlation_id"])}
    with engine.connect() as conn:
        kept = dict(conn.execute(text("SELECT caller, correlation_id FROM caller_chains")).all())
    assert kept == {first: next(iter(chains[first])), second: next(iter(chains[second]))}


def test_fifty_texts_from_one_caller_at_once_are_all_written_and_join_the_chain_that_exists(engine: Engine) -> None:
    add_tenant(engine)
    caller = "+16175550103"
    writer = GroupWriter(engine, max_group=8)  # several groups, racing for the one chain row
    writer.write(text_record(caller, "SMc0"))
    (started,) = chains_of(engine)[caller]
    errors: list[BaseException] = []

    def send(index: int) -> None:
        try:
            writer.write(text_record(caller, f"SMc{index}"))
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=send, args=(index,)) for index in range(1, 51)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert counts(engine) == (51, 51)
    assert chains_of(engine)[caller] == {started}
