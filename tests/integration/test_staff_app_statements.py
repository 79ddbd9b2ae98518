"""How many SQL statements the inbox and a thread cost: a fixed number, however many conversations and messages a
page shows. A regression to one query per row (or a second transaction, a count per view) fails here without a
timing test; the figures behind the limits are in docs/staff-app.md ("Speed")."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event, text
from sqlalchemy.engine import Engine

from db.engine import transaction
from ingress.api.base import tenant_transaction
from tests.support import api_world
from tests.support.api_world import World
from tests.support.clerk_jwks import token

jwks = api_world.jwks
world = api_world.world

# The membership lookup (autocommit), the RLS settings, the tenant, the page, the capped view counts.
INBOX_STATEMENTS = 5
# The same first three, then the conversation, its messages, its open tasks, its first SMS's callback grace (what
# was decided and why), the read marker, holds, appointments.
THREAD_STATEMENTS = 10


@contextmanager
def counted(engine: Engine) -> Iterator[list[str]]:
    """Every statement the engine sends while inside (BEGIN and COMMIT are not statements here: they are counted
    by Postgres, not by SQLAlchemy's cursor events)."""
    statements: list[str] = []

    def record(conn: object, cursor: object, statement: str, *args: object) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


def many_conversations(world: World, count: int) -> None:
    """``count`` more conversations of tenant A, each with a caller's text and the AI's reply."""
    with transaction(world.sessions) as session:
        for n in range(count):
            conversation = uuid.uuid4()
            caller = f"+1415555{n:04d}"
            session.execute(
                text("INSERT INTO conv_conversations (id, tenant_id, caller, state) VALUES (:id, :t, :c, 'open')"),
                {"id": conversation, "t": world.a, "c": caller},
            )
            for direction, body in (("in", "how much is a drain cleaning?"), ("out", "It is $120.")):
                session.execute(
                    text(
                        "INSERT INTO conv_messages (id, tenant_id, conversation_id, direction, purpose, from_number,"
                        " to_number, body, status) VALUES (gen_random_uuid(), :t, :c, :d, :p, :f, '+13105550001',"
                        " :b, 'received')"
                    ),
                    {
                        "t": world.a,
                        "c": conversation,
                        "d": direction,
                        "p": None if direction == "in" else "ai_reply",
                        "f": caller if direction == "in" else "+13105550001",
                        "b": body,
                    },
                )


def test_the_inbox_costs_the_same_few_statements_for_1_or_30_conversations(world: World, engine: Engine) -> None:
    cookies = {"__session": token(world.keys, "owner_a", sid="sess_owner_a")}
    for view in ("open", "attention", "all"):
        with counted(engine) as few:
            assert world.client.simulate_get("/app", params={"view": view}, cookies=cookies).status_code == 200
        assert len(few) == INBOX_STATEMENTS, few
    many_conversations(world, 30)
    for view in ("open", "attention", "all"):
        with counted(engine) as many:
            page = world.client.simulate_get("/app", params={"view": view, "q": "415"}, cookies=cookies)
        assert page.status_code == 200
        assert len(many) == INBOX_STATEMENTS, many
    assert page.text.count("/app/conversations/") == 30  # the rows were there: one statement brought them all
    # Callers' names come joined to the page, and a search by name is the same one statement.
    with transaction(world.sessions) as session:
        session.execute(
            text(
                "INSERT INTO conv_callers (tenant_id, caller, name, source)"
                " SELECT tenant_id, caller, 'Caller ' || right(caller, 4), 'staff' FROM conv_conversations"
                " WHERE tenant_id = :t"
            ),
            {"t": world.a},
        )
    for query in ("caller 00", "41555"):
        with counted(engine) as named:
            page = world.client.simulate_get("/app", params={"view": "all", "q": query}, cookies=cookies)
        assert page.status_code == 200
        assert len(named) == INBOX_STATEMENTS, named
    assert page.text.count('<span class="caller-name">Caller ') == 30


def test_a_thread_costs_a_fixed_number_of_statements(world: World, engine: Engine) -> None:
    cookies = {"__session": token(world.keys, "owner_a", sid="sess_owner_a")}
    many_conversations(world, 1)
    with counted(engine) as statements:
        page = world.client.simulate_get(f"/app/conversations/{world.conv_a}", cookies=cookies)
    assert page.status_code == 200
    assert len(statements) == THREAD_STATEMENTS, statements


def test_view_counts_stop_at_99_plus(world: World) -> None:
    many_conversations(world, 100)  # with tenant A's own one: 101 open
    page = world.client.simulate_get("/app", cookies={"__session": token(world.keys, "owner_a", sid="sess_owner_a")})
    assert page.status_code == 200
    assert '<span class="count">99+</span>' in page.text


def test_the_one_statement_rls_setup_is_the_app_role_and_tenant_for_that_transaction_only(world: World) -> None:
    """``set_config('role', …, true)`` in place of ``SET LOCAL ROLE``: the same role while the transaction lasts,
    RLS hiding the other tenant's rows, and nothing left on the pooled connection afterwards."""
    with tenant_transaction(world.sessions, world.a) as session:
        assert session.scalar(text("SELECT current_user")) == "nmc_app"
        assert session.scalar(text("SELECT current_setting('app.tenant_id')")) == str(world.a)
        seen = set(session.scalars(text("SELECT tenant_id FROM conv_conversations")))
        assert seen == {world.a}
    with world.sessions() as session:
        assert session.scalar(text("SELECT current_user")) == "postgres"
        assert session.scalar(text("SELECT current_setting('app.tenant_id', true)")) in (None, "")
        assert world.b in set(session.scalars(text("SELECT tenant_id FROM conv_conversations")))
