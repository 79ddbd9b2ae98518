"""The migrations produce exactly the models' schema, and the schema's guarantees hold in Postgres."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError

from domain.models import metadata


def test_migrations_produce_exactly_the_models(engine: Engine) -> None:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diff = compare_metadata(context, metadata)
    assert diff == []


def test_every_table_carries_its_module_prefix() -> None:
    prefixes = ("id_", "conv_", "catalog_", "sched_", "comp_", "bill_", "rep_")
    infrastructure = {
        "webhook_events",
        "caller_chains",
        "outbox_events",
        "outbox_deliveries",
        "processed_events",
        "dead_letters",
        "scheduler_runs",
    }
    for name in metadata.tables:
        assert name.startswith(prefixes) or name in infrastructure, name


def test_overlapping_appointments_on_one_resource_are_refused(engine: Engine) -> None:
    tenant, resource = uuid.uuid4(), uuid.uuid4()
    start = datetime(2030, 1, 7, 15, tzinfo=UTC)
    insert = text(
        "INSERT INTO sched_appointments (id, tenant_id, resource_id, service_item_id, timeslot, customer_phone,"
        " price_cents) VALUES (gen_random_uuid(), :t, :r, gen_random_uuid(), tstzrange(:s, :e), '+13105551212', 100)"
    )
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO sched_resources (id, tenant_id, name) VALUES (:r, :t, 'Sam')"),
            {"r": resource, "t": tenant},
        )
        conn.execute(insert, {"t": tenant, "r": resource, "s": start, "e": start + timedelta(hours=1)})
        # [start, end) ranges: back to back is fine.
        conn.execute(
            insert, {"t": tenant, "r": resource, "s": start + timedelta(hours=1), "e": start + timedelta(hours=2)}
        )
    with pytest.raises(IntegrityError, match="sched_appointments_no_overlap"), engine.begin() as conn:
        conn.execute(
            insert, {"t": tenant, "r": resource, "s": start + timedelta(minutes=30), "e": start + timedelta(hours=1)}
        )


@pytest.mark.parametrize(
    ("table", "column", "value"),
    [
        ("catalog_service_items", "duration_minutes", 481),
        ("catalog_service_items", "duration_minutes", 0),
        ("catalog_service_items", "price_cents", -1),
        ("catalog_service_items", "currency", "usd"),
    ],
)
def test_duration_and_money_checks(engine: Engine, table: str, column: str, value: object) -> None:
    row = {"duration_minutes": 60, "price_cents": 100, "currency": "USD"} | {column: value}
    with pytest.raises(IntegrityError, match="ck_catalog_service_items"), engine.begin() as conn:
        conn.execute(
            text(
                f"INSERT INTO {table} (id, tenant_id, name, duration_minutes, price_cents, currency)"
                " VALUES (gen_random_uuid(), gen_random_uuid(), 'x', :duration_minutes, :price_cents, :currency)"
            ),
            row,
        )


@pytest.mark.parametrize("number", ["3105551212", "+0123456789", "+1 310 555 1212", "+1310555121234567"])
def test_phone_columns_accept_only_e164(engine: Engine, number: str) -> None:
    with pytest.raises(IntegrityError, match="e164"), engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO id_tenants (id, name, timezone, forward_to)"
                " VALUES (gen_random_uuid(), 'x', 'America/New_York', :n)"
            ),
            {"n": number},
        )


def test_a_message_body_is_at_most_1600_characters(engine: Engine) -> None:
    insert = text(
        "INSERT INTO conv_messages (id, tenant_id, direction, from_number, to_number, body, status)"
        " VALUES (gen_random_uuid(), gen_random_uuid(), 'in', '+13105551212', '+13105550001', :body, 'received')"
    )
    with engine.begin() as conn:
        conn.execute(insert, {"body": "é" * 1600})
    with pytest.raises(IntegrityError, match="ck_conv_messages_body_length"), engine.begin() as conn:
        conn.execute(insert, {"body": "é" * 1601})
