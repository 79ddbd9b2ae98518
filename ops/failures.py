"""One line for each failure an operator meets running `nmc`: which service or file, where, and why.

Database, Redis, broker, HTTP and operating-system errors are expected in operations (a server down, a wrong
password, a missing file) and are not bugs: they get one line, never a traceback and never a password. Anything else
is a bug and keeps its traceback.
"""

from __future__ import annotations

import errno
import re
from urllib.parse import urlsplit

import psycopg
import redis
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from db.settings import Settings

# psycopg phrases a failed connection as "connection failed: connection to server at "h", port p failed: why".
_PG_CONNECT_FAILURES = ("connection failed", "multiple connection attempts failed", "server closed the connection")
_PG_CLOSED = ("the connection is closed", "consuming input failed", "connection is bad", "the connection is lost")
# redis-py: "Error 111 connecting to 127.0.0.1:6379. Connection refused."
_REDIS_CONNECT = re.compile(r"Error (?:-?\d+ )?(?:connecting to|while reading from) (\S+?)\.? (.*?)\.?$")


def describe(error: BaseException, settings: Settings | None) -> str | None:
    """The one-line message for an expected failure, or None for anything else (a bug keeps its traceback)."""
    message: str | None = None
    if isinstance(error, DBAPIError) and error.orig is not None:
        message = _postgres(error.orig, settings)
    elif isinstance(error, psycopg.Error):
        message = _postgres(error, settings)
    elif isinstance(error, PoolTimeout):
        message = f"no Postgres connection free at {_postgres_address(settings)} within the pool timeout"
    elif isinstance(error, redis.RedisError):
        message = _redis(error, settings)
    elif isinstance(error, OSError):
        message = describe_os_error(error)
    else:
        message = _other(error)
    return None if message is None else _scrub(message, settings)


def describe_os_error(error: OSError) -> str:
    """``permission denied: /path``, ``no such file or directory: /path``, ``connection refused``."""
    reason = error.strerror or errno.errorcode.get(error.errno or 0, "") or str(error) or type(error).__name__
    reason = _lower_first(reason)
    if error.filename is not None:
        return f"{reason}: {error.filename}"
    return reason


def _postgres(error: BaseException, settings: Settings | None) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()] or [type(error).__name__]
    first = lines[0].lower()
    where = _postgres_address(settings)
    if isinstance(error, psycopg.OperationalError) and first.startswith(_PG_CONNECT_FAILURES + _PG_CLOSED):
        # The last "… failed: why" is the cause (several lines when a name resolves to several addresses).
        detailed = [line for line in lines if "failed: " in line]
        reason = detailed[-1].rsplit("failed: ", 1)[-1] if detailed else lines[0]
        reason = re.sub(r"^(FATAL|ERROR):\s*", "", reason)
        return f"cannot reach Postgres at {where} ({_lower_first(reason).rstrip('.')})"
    hint = " (is the schema migrated? run `nmc migrate`)" if isinstance(error, psycopg.errors.UndefinedTable) else ""
    return f"Postgres at {where}: {lines[0]}{hint}"


def _postgres_address(settings: Settings | None) -> str:
    if settings is None:
        return "DATABASE_URL"
    url = make_url(settings.sqlalchemy_url)
    return f"{url.host or 'localhost'}:{url.port or 5432}"


def _redis(error: redis.RedisError, settings: Settings | None) -> str:
    where = _redis_address(settings)
    text = " ".join(str(error).split())
    if isinstance(error, redis.ConnectionError | redis.TimeoutError):
        found = _REDIS_CONNECT.search(text)
        reason = found.group(2) if found else text or type(error).__name__
        return f"cannot reach Redis at {where} ({_lower_first(reason)})"
    return f"Redis at {where} answered an error: {text or type(error).__name__}"


def _redis_address(settings: Settings | None) -> str:
    if settings is None:
        return "REDIS_URL"
    parts = urlsplit(settings.redis_url)
    if parts.scheme == "unix":
        return parts.path
    return f"{parts.hostname or 'localhost'}:{parts.port or 6379}"


def _other(error: BaseException) -> str | None:
    # Imported here: most commands never need them, and the CLI's start-up time is paid on every command.
    import dramatiq.errors
    import httpx

    if isinstance(error, httpx.HTTPError):
        try:
            where = f" to {error.request.url.copy_with(query=None)}"
        except RuntimeError:  # an error raised before any request was attached
            where = ""
        return f"HTTP request{where} failed: {_lower_first(str(error) or type(error).__name__)}"
    if isinstance(error, dramatiq.errors.BrokerConnectionError):
        return f"cannot reach the message broker ({error})"
    return None


def _scrub(message: str, settings: Settings | None) -> str:
    """One line, and never a password from DATABASE_URL, REDIS_URL or BROKER_URL (a driver may quote the URL back)."""
    line = " ".join(message.split())
    if settings is not None:
        for url in (settings.database_url, settings.redis_url, settings.broker_url):
            password = urlsplit(url).password
            if password:
                line = line.replace(password, "***")
    return line


def _lower_first(text: str) -> str:
    # "Connection refused" -> "connection refused", but "FATAL" or "EOF" stay as they are.
    if len(text) > 1 and text[0].isupper() and text[1].islower():
        return text[0].lower() + text[1:]
    return text
