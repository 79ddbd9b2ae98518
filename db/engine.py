"""Engine and transaction helpers. Everything is built from Settings passed in; nothing connects at import."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg.rows import namedtuple_row
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import ExceptionContext
from sqlalchemy.orm import Session, sessionmaker

from db.settings import Settings


def make_engine(
    settings: Settings, *, pool_size: int = 5, max_overflow: int = 10, application_name: str = "nmc"
) -> Engine:
    engine = create_engine(
        settings.sqlalchemy_url,
        pool_size=pool_size,
        max_overflow=max_overflow,
        # No pre-ping: it costs a round trip per checkout on the hot path. A connection that died is invalidated
        # (with the rest of the pool) on first use, and the unit of work fails and is retried.
        pool_recycle=1800,
        pool_timeout=5,
        connect_args={"application_name": application_name, "connect_timeout": 5},
        # Bound values are callers' numbers and words: an error, and every log line quoting one, leaves them out.
        hide_parameters=True,
    )
    event.listen(engine, "handle_error", _scrub_error)
    event.listen(engine, "do_execute", _execute_unprepared)
    return engine


# An execution option: the statement is never prepared on the server. psycopg prepares a statement once it ran five
# times on a connection, and Postgres then may settle on one generic plan for every parameter value; a statement whose
# best plan depends on the value (a search's pattern: a few matches or thousands) asks for a plan of its own each time.
UNPREPARED = "nmc_unprepared"


def _execute_unprepared(cursor: Any, statement: str, parameters: Any, context: Any) -> bool:
    if not context.execution_options.get(UNPREPARED):
        return False  # the dialect executes it as usual
    cursor.execute(statement, parameters, prepare=False)
    return True


def scrub_row_values(error: BaseException) -> None:
    """Drop Postgres's DETAIL line ("Key (e164)=(+1310…) already exists", "Failing row contains (…)") from an error's
    message: it quotes row values. ``error.diag.message_detail`` keeps it for code that decides on it."""
    if isinstance(error, psycopg.Error) and error.args and isinstance(error.args[0], str):
        error.args = (_without_detail(error.args[0]), *error.args[1:])


def _without_detail(message: str) -> str:
    return "\n".join(line for line in message.splitlines() if not line.lstrip().startswith("DETAIL:"))


def _scrub_error(context: ExceptionContext) -> None:
    scrub_row_values(context.original_exception)
    wrapped = context.sqlalchemy_exception
    if wrapped is not None and wrapped.args and isinstance(wrapped.args[0], str):
        # SQLAlchemy copied the driver's message when it wrapped it: scrub that copy too.
        wrapped.args = (_without_detail(wrapped.args[0]), *wrapped.args[1:])


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=True)


@contextmanager
def transaction(sessions: sessionmaker[Session], *, tenant_id: object | None = None) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any exception (which propagates).

    With ``tenant_id`` the transaction is scoped for row-level security (``app.tenant_id``), a second wall behind
    the ``tenant_id`` filter every query carries.
    """
    with sessions() as session, session.begin():
        if tenant_id is not None:
            session.execute(text("SELECT set_config('app.tenant_id', :tenant, true)"), {"tenant": str(tenant_id)})
        yield session


def execute_autocommitted(engine: Engine, query: str, params: Mapping[str, Any]) -> list[Any]:
    """Run one statement as its own transaction, in plain psycopg on a pooled connection; rows as named tuples.

    For the hot paths whose whole unit of work fits in one statement: one round trip, where a session's BEGIN,
    statement and COMMIT are three, and a round trip costs more CPU than the statement on a small box. A connection
    that failed mid-statement is invalidated rather than handed to its next user.
    """
    pooled = engine.raw_connection()
    try:
        connection = pooled.driver_connection
        assert isinstance(connection, psycopg.Connection)
        connection.autocommit = True
        try:
            return connection.cursor(row_factory=namedtuple_row).execute(query, params).fetchall()
        finally:
            if not connection.closed:
                connection.autocommit = False  # the pool's other users expect SQLAlchemy's transactions
    except psycopg.OperationalError as error:
        pooled.invalidate()
        scrub_row_values(error)
        raise
    except psycopg.Error as error:
        scrub_row_values(error)
        raise
    finally:
        pooled.close()
