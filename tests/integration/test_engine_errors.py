"""Database errors never quote a caller's data: no bound parameters, no row values from Postgres's DETAIL."""

from __future__ import annotations

import uuid

import psycopg
import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from db.engine import execute_autocommitted

NUMBER = "+13105557777"


def _tenant(sessions: sessionmaker[Session]) -> uuid.UUID:
    tenant = uuid.uuid4()
    with sessions() as session, session.begin():
        session.execute(
            text("INSERT INTO id_tenants (id, name, timezone, forward_to) VALUES (:t, 'Ace', 'UTC', :n)"),
            {"t": tenant, "n": "+13105550001"},
        )
        session.execute(
            text("INSERT INTO id_phone_numbers (id, tenant_id, e164) VALUES (gen_random_uuid(), :t, :n)"),
            {"t": tenant, "n": NUMBER},
        )
    return tenant


def test_a_unique_violation_names_the_constraint_but_not_the_number(sessions: sessionmaker[Session]) -> None:
    tenant = _tenant(sessions)
    with pytest.raises(IntegrityError) as raised, sessions() as session, session.begin():
        session.execute(
            text("INSERT INTO id_phone_numbers (id, tenant_id, e164) VALUES (gen_random_uuid(), :t, :n)"),
            {"t": tenant, "n": NUMBER},
        )
    error = raised.value
    for shown in (str(error), str(error.orig), repr(error)):
        assert NUMBER not in shown
        assert "13105557777" not in shown
    assert "uq_id_phone_numbers_e164" in str(error)
    # Code that needs the details still has them, on purpose, through the diagnostics.
    assert isinstance(error.orig, psycopg.Error)
    assert error.orig.diag.constraint_name == "uq_id_phone_numbers_e164"
    assert NUMBER in (error.orig.diag.message_detail or "")


def test_a_check_violation_does_not_quote_the_failing_row(sessions: sessionmaker[Session]) -> None:
    with pytest.raises(IntegrityError) as raised, sessions() as session, session.begin():
        session.execute(
            text(
                "INSERT INTO id_tenants (id, name, timezone, forward_to, owner_mobile) VALUES (:t, 'A', 'UTC', :n, :m)"
            ),
            {"t": uuid.uuid4(), "n": "+13105550001", "m": "3105557777"},
        )
    assert "3105557777" not in str(raised.value)
    assert "Failing row" not in str(raised.value)


def test_the_one_statement_path_is_scrubbed_too(engine: Engine, sessions: sessionmaker[Session]) -> None:
    tenant = _tenant(sessions)
    with pytest.raises(psycopg.errors.UniqueViolation) as raised:
        execute_autocommitted(
            engine,
            "INSERT INTO id_phone_numbers (id, tenant_id, e164) VALUES (gen_random_uuid(), %(t)s, %(n)s) RETURNING id",
            {"t": tenant, "n": NUMBER},
        )
    assert NUMBER not in str(raised.value)
