"""Engine and transaction helpers. Everything is built from Settings passed in; nothing connects at import."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import Session, sessionmaker

from db.settings import Settings


def make_engine(
    settings: Settings, *, pool_size: int = 5, max_overflow: int = 10, application_name: str = "nmc"
) -> Engine:
    return create_engine(
        settings.sqlalchemy_url,
        pool_size=pool_size,
        max_overflow=max_overflow,
        # No pre-ping: it costs a round trip per checkout on the hot path. A connection that died is invalidated
        # (with the rest of the pool) on first use, and the unit of work fails and is retried.
        pool_recycle=1800,
        pool_timeout=5,
        connect_args={"application_name": application_name, "connect_timeout": 5},
    )


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
