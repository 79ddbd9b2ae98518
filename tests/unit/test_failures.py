"""`ops.failures.describe`: real driver errors become one line naming the service and address, never a password."""

from __future__ import annotations

import socket

import httpx
import psycopg
import pytest
import redis
from sqlalchemy import create_engine
from sqlalchemy.exc import OperationalError

from db.settings import Settings
from ops.failures import describe

PASSWORD = "hunter2-secret"


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.fixture
def settings() -> Settings:
    return Settings.from_env(
        {
            "DATABASE_URL": f"postgresql://nmc:{PASSWORD}@127.0.0.1:{_closed_port()}/nmc",
            "REDIS_URL": f"redis://default:{PASSWORD}@127.0.0.1:{_closed_port()}/0",
        }
    )


def _port(url: str) -> str:
    return url.rsplit(":", 1)[1].split("/")[0]


def test_postgres_refused_through_sqlalchemy_and_plain_psycopg(settings: Settings) -> None:
    engine = create_engine(settings.sqlalchemy_url, connect_args={"connect_timeout": 2})
    with pytest.raises(OperationalError) as wrapped:
        engine.connect()
    engine.dispose()
    with pytest.raises(psycopg.OperationalError) as plain:
        psycopg.connect(settings.database_url, connect_timeout=2)
    expected = f"cannot reach Postgres at 127.0.0.1:{_port(settings.database_url)} (connection refused)"
    assert describe(wrapped.value, settings) == expected
    assert describe(plain.value, settings) == expected


def test_redis_refused(settings: Settings) -> None:
    client = redis.Redis.from_url(settings.redis_url, socket_connect_timeout=2)
    with pytest.raises(redis.ConnectionError) as refused:
        client.ping()
    assert describe(refused.value, settings) == (
        f"cannot reach Redis at 127.0.0.1:{_port(settings.redis_url)} (connection refused)"
    )


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (
            FileNotFoundError(2, "No such file or directory", "/srv/nmc/backups"),
            "no such file or directory: /srv/nmc/backups",
        ),
        (PermissionError(13, "Permission denied", "/var/lib/nmc"), "permission denied: /var/lib/nmc"),
        (ConnectionRefusedError(111, "Connection refused"), "connection refused"),
        (IsADirectoryError(21, "Is a directory", "/tmp"), "is a directory: /tmp"),
    ],
)
def test_os_errors(error: OSError, expected: str) -> None:
    assert describe(error, None) == expected


def test_a_password_quoted_back_by_a_driver_is_hidden(settings: Settings) -> None:
    quoted = redis.ResponseError(f"WRONGPASS invalid username-password pair {PASSWORD}")
    message = describe(quoted, settings)
    assert message is not None
    assert PASSWORD not in message
    assert message.startswith("Redis at 127.0.0.1:")


def test_http_errors_name_the_url_without_its_query() -> None:
    request = httpx.Request("GET", "http://127.0.0.1:8010/sandbox/messages?to=%2B13105551212")
    message = describe(httpx.ConnectError("[Errno 111] Connection refused", request=request), None)
    assert message == "HTTP request to http://127.0.0.1:8010/sandbox/messages failed: [Errno 111] Connection refused"


def test_a_bug_keeps_its_traceback() -> None:
    assert describe(KeyError("x"), None) is None
    assert describe(AssertionError(), None) is None


def test_a_statement_error_is_one_line_with_a_hint(settings: Settings) -> None:
    undefined = psycopg.errors.UndefinedTable(
        'relation "dead_letters" does not exist\nLINE 1: SELECT * FROM dead_letters'
    )
    assert describe(undefined, settings) == (
        f'Postgres at 127.0.0.1:{_port(settings.database_url)}: relation "dead_letters" does not exist'
        " (is the schema migrated? run `nmc migrate`)"
    )
