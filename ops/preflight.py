"""What a long-running `nmc` process checks before it starts: its services answer and its address is free.

Once running, every process rides out a lost Postgres or Redis (it retries, and chaos runs prove it). Starting is
different: a process started against a database that is not there would retry for ever, logging a warning a
second, when the operator's mistake (a wrong DATABASE_URL, a server not started, a port taken) deserves one line
and a non-zero exit. The errors raised here are turned into that line by the CLI (``ops.failures``).
"""

from __future__ import annotations

import socket

import click
import psycopg
import redis

from db.settings import Settings

CONNECT_TIMEOUT_SECONDS = 3


def require_postgres(settings: Settings, *, timeout: int = CONNECT_TIMEOUT_SECONDS) -> None:
    """One connection and ``SELECT 1`` within ``timeout`` seconds, or psycopg's error."""
    conninfo = settings.database_url.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(conninfo, connect_timeout=timeout, application_name="nmc-preflight") as conn:
        conn.execute("SELECT 1")


def require_redis(settings: Settings, *, timeout: float = CONNECT_TIMEOUT_SECONDS) -> None:
    """A PING answered within ``timeout`` seconds, or redis-py's error."""
    client = redis.Redis.from_url(settings.redis_url, socket_timeout=timeout, socket_connect_timeout=timeout)
    try:
        client.ping()
    finally:
        client.close()


def require_broker(settings: Settings, *, timeout: float = CONNECT_TIMEOUT_SECONDS) -> None:
    """The Dramatiq broker, where ``BROKER_URL`` names one of its own: an AMQP connection opened (RabbitMQ) or a PING
    answered (a Redis other than REDIS_URL) within ``timeout`` seconds. Empty: REDIS_URL, which require_redis checks."""
    if not settings.broker_url:
        return
    if not settings.broker_is_rabbitmq:
        require_redis(settings.model_copy(update={"redis_url": settings.broker_url}), timeout=timeout)
        return
    import pika
    import pika.exceptions

    parameters = pika.URLParameters(settings.broker_url)
    parameters.socket_timeout = timeout
    parameters.blocked_connection_timeout = timeout
    parameters.connection_attempts = 1
    try:
        pika.BlockingConnection(parameters).close()
    except pika.exceptions.ProbableAuthenticationError:
        raise click.ClickException(
            f"RabbitMQ at {parameters.host}:{parameters.port} refused the login in BROKER_URL"
        ) from None
    except pika.exceptions.AMQPError as error:
        raise click.ClickException(
            f"cannot reach RabbitMQ at {parameters.host}:{parameters.port} ({_amqp_reason(error)})"
        ) from None


def _amqp_reason(error: BaseException) -> str:
    """pika wraps the socket's error in one or two of its own (in ``args``, or as ``exception``): the innermost OS
    error is the reason."""
    pending: list[object] = [error]
    while pending:
        found = pending.pop()
        if isinstance(found, OSError):
            return (found.strerror or type(found).__name__).lower()
        if isinstance(found, BaseException):
            pending.extend(found.args)
            pending.append(getattr(found, "exception", None))
    return type(error).__name__


def require_free_address(bind: str) -> None:
    """``HOST:PORT`` can be listened on (gunicorn would otherwise retry, log and exit with its own lines)."""
    host, _, port = bind.rpartition(":")
    if not host or not port.isdigit() or bind.startswith(("unix:", "fd://")):
        return  # a Unix socket or something gunicorn parses itself
    family = socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gunicorn does: TIME_WAIT is no clash
        try:
            probe.bind((host.strip("[]"), int(port)))
        except OSError as error:
            reason = (error.strerror or str(error)).lower()
            raise click.ClickException(f"cannot listen on {bind} ({reason})") from None


def require_services(settings: Settings) -> None:
    """Postgres, then Redis: the two every worker-side and ingress process needs from its first second."""
    require_postgres(settings)
    require_redis(settings)
