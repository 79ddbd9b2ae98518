"""`nmc bench ingress`: signed webhooks through a real `nmc ingress` (gunicorn gthread) against the configured
database, at several client concurrencies, beside the machine's own ceiling measured in the same run.

The load is Twilio SMS status callbacks (the commonest webhook: verify, route, dedupe row + one outbox event in one
transaction), each with a fresh MessageSid and a real signature computed up front so the client spends its CPU on
HTTP, not HMAC. The ceiling is the same number of clients doing single-row INSERT + COMMIT over plain psycopg, no
HTTP. It runs in a scratch database (``<DATABASE_URL name>_bench_ingress``), created and migrated for the run and
dropped afterwards, so runs are reproducible and the configured database is never written to.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import click
import httpx
import psycopg
from psycopg.types.json import Jsonb
from twilio.request_validator import RequestValidator

from db.settings import Settings
from ingress.app import POOL_OVERFLOW as INGRESS_POOL_OVERFLOW
from ingress.verification import FormParams
from ops.context import get_settings
from ops.harness.database import checkpoint, drop_database, scratch_database
from ops.harness.report import summarize_ms, write_report
from ops.processes import stop_groups
from ops.stack import die_with_parent

ROUTE = "/webhooks/twilio/sms/status"
CEILING_PROVIDER = "bench-ceiling"
BENCH_NUMBER = "+15555550100"


@dataclass
class LevelResult:
    concurrency: int
    completed: int = 0
    errors: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        rate = self.completed / self.seconds if self.seconds else 0.0
        return {
            "concurrency": self.concurrency,
            "requests": self.completed,
            "errors": self.errors,
            "seconds": round(self.seconds, 2),
            "req_per_s": round(rate, 1),
            **summarize_ms(self.latencies),
        }


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _run_clients(
    concurrency: int,
    max_requests: int,
    max_seconds: float,
    make_worker: Callable[[], AbstractContextManager[Callable[[int], bool]]],
) -> LevelResult:
    """``concurrency`` threads share a budget of requests and a deadline; each call returns success.

    A client that cannot start (say Postgres refuses one more connection) stops the level with its error, instead
    of leaving the others waiting at the start line for ever."""
    result = LevelResult(concurrency)
    counter = itertools.count()
    lock = threading.Lock()
    start_barrier = threading.Barrier(concurrency + 1)
    deadline = [0.0]
    failures: list[BaseException] = []

    def loop() -> None:
        local: list[float] = []
        errors = 0
        try:
            with make_worker() as call:
                start_barrier.wait()
                while time.perf_counter() < deadline[0]:
                    index = next(counter)
                    if index >= max_requests:
                        break
                    began = time.perf_counter()
                    ok = call(index)
                    local.append(time.perf_counter() - began)
                    errors += 0 if ok else 1
        except threading.BrokenBarrierError:
            return  # another client failed to start; its error is the one reported
        except Exception as error:
            failures.append(error)
            start_barrier.abort()
            return
        with lock:
            result.latencies.extend(local)
            result.errors += errors

    threads = [threading.Thread(target=loop, daemon=True) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    started = time.perf_counter()
    deadline[0] = started + max_seconds
    with suppress(threading.BrokenBarrierError):
        start_barrier.wait()
    for thread in threads:
        thread.join(timeout=max_seconds + 60)
    if failures:
        first = str(failures[0]).strip().splitlines()[0]
        raise click.ClickException(f"{len(failures)} of {concurrency} clients could not run: {first}")
    result.seconds = time.perf_counter() - started
    result.completed = len(result.latencies)
    return result


class Server:
    """A real `nmc ingress` process (gunicorn, gthread) on a free port."""

    def __init__(self, settings: Settings, port: int, workers: int, threads: int) -> None:
        env = os.environ | {
            "DATABASE_URL": settings.database_url,
            "REDIS_URL": settings.redis_url,
            "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
            "TWILIO_AUTH_TOKEN": settings.twilio_auth_token.get_secret_value(),
            "LOG_LEVEL": "WARNING",
        }
        argv = [sys.executable, "-m", "ops", "ingress", "--bind", f"127.0.0.1:{port}"]
        argv += ["--workers", str(workers), "--threads", str(threads)]
        self.base_url = f"http://127.0.0.1:{port}"
        self.process = subprocess.Popen(argv, env=env, start_new_session=True, preexec_fn=die_with_parent())

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise click.ClickException(f"nmc ingress exited with {self.process.returncode}")
            try:
                if httpx.get(f"{self.base_url}/readyz", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise click.ClickException("nmc ingress did not become ready within 30 s")

    def stop(self) -> None:
        stop_groups([self.process], grace_seconds=15)


def _create_bench_tenant(conn: psycopg.Connection[Any]) -> str:
    """The tenant the webhooks route to, in the (empty) scratch database; returns its number."""
    tenant_id = uuid.uuid4()
    conn.execute(
        "INSERT INTO id_tenants (id, name, timezone, forward_to) VALUES (%s, 'bench-ingress', 'UTC', '+15005550006')",
        (tenant_id,),
    )
    conn.execute(
        "INSERT INTO id_phone_numbers (id, tenant_id, e164) VALUES (%s, %s, %s)",
        (uuid.uuid4(), tenant_id, BENCH_NUMBER),
    )
    return BENCH_NUMBER


def _signed_requests(
    settings: Settings, base_url: str, number: str, run: str, count: int
) -> list[tuple[bytes, dict[str, str]]]:
    validator = RequestValidator(settings.twilio_auth_token.get_secret_value())
    url = base_url + ROUTE
    requests = []
    for index in range(count):
        params = [
            ("MessageSid", f"SM{run}{index:012d}"),
            ("MessageStatus", "delivered"),
            ("From", number),
            ("To", "+15005550006"),
            ("AccountSid", settings.twilio_account_sid),
        ]
        signature = validator.compute_signature(url, FormParams.from_pairs(params))
        headers = {"X-Twilio-Signature": signature, "Content-Type": "application/x-www-form-urlencoded"}
        requests.append((urlencode(params).encode(), headers))
    return requests


def _raw_request(host: str, body: bytes, headers: dict[str, str]) -> bytes:
    lines = [f"POST {ROUTE} HTTP/1.1", f"Host: {host}", f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """Status code and head of one HTTP/1.1 response; the body (Content-Length framed) is read and dropped."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    match = _CONTENT_LENGTH.search(head)
    if match and int(match.group(1)):
        await reader.readexactly(int(match.group(1)))
    return status, head


_CONTENT_LENGTH = re.compile(rb"(?i)\r\ncontent-length:\s*(\d+)")
_ACCEPTED = re.compile(rb"(?i)\r\nx-webhook-outcome:\s*accepted\r\n")


def _measure_http(
    base_url: str, requests: list[tuple[bytes, dict[str, str]]], concurrency: int, max_seconds: float
) -> LevelResult:
    """``concurrency`` keep-alive connections from one asyncio loop, each sending pre-built request bytes.

    The client shares the machine with the server, so it is kept lean: no HTTP library, no threads, signatures
    computed before the clock starts. Latency is first byte written → whole response read.
    """
    host_port = base_url.split("://", 1)[1]
    host, port = host_port.rsplit(":", 1)
    payloads = [_raw_request(host_port, body, headers) for body, headers in requests]
    result = LevelResult(concurrency)

    async def connect() -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        try:
            return await asyncio.open_connection(host, int(port))
        except OSError as error:
            raise click.ClickException(f"the ingress at {base_url} stopped accepting connections: {error}") from None

    async def client(counter: Iterator[int], deadline: float) -> None:
        reader, writer = await connect()
        try:
            while time.perf_counter() < deadline:
                index = next(counter)
                if index >= len(payloads):
                    return
                began = time.perf_counter()
                try:
                    writer.write(payloads[index])
                    status, head = await asyncio.wait_for(_read_response(reader), 15.0)
                except (TimeoutError, OSError, ValueError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
                    # No answer, a dropped connection or an unparsable one: an error, then a fresh connection.
                    result.errors += 1
                    writer.close()
                    reader, writer = await connect()
                    continue
                result.latencies.append(time.perf_counter() - began)
                if status != 200 or not _ACCEPTED.search(head):
                    result.errors += 1
        finally:
            writer.close()

    async def run() -> None:
        counter = itertools.count()
        started = time.perf_counter()
        await asyncio.gather(*(client(counter, started + max_seconds) for _ in range(concurrency)))
        result.seconds = time.perf_counter() - started

    asyncio.run(run())
    result.completed = len(result.latencies)
    return result


def _measure_ceiling(
    settings: Settings, run: str, concurrency: int, max_requests: int, max_seconds: float
) -> LevelResult:
    payload = Jsonb({"MessageStatus": "delivered"})

    @contextmanager
    def make_worker() -> Iterator[Callable[[int], bool]]:
        with psycopg.connect(settings.database_url, autocommit=True, connect_timeout=5) as conn:

            def call(index: int) -> bool:
                conn.execute(
                    "INSERT INTO webhook_events (id, provider, provider_ref, kind, outcome, payload) "
                    "VALUES (%s, %s, %s, 'bench', 'ignored', %s)",
                    (uuid.uuid4(), CEILING_PROVIDER, f"{run}-{concurrency}-{index}", payload),
                )
                return True

            yield call

    return _run_clients(concurrency, max_requests, max_seconds, make_worker)


def _check_connection_budget(admin: psycopg.Connection[Any], needed: int) -> None:
    """The ingress pools stay open while the ceiling's clients connect: refuse a run the server cannot hold."""
    row = admin.execute(
        "SELECT current_setting('max_connections')::int - current_setting('superuser_reserved_connections')::int"
        " - (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend')"
    ).fetchone()
    available = int(row[0]) if row else 0
    if needed > available:
        raise click.ClickException(
            f"this run needs up to {needed} Postgres connections (workers x (threads + {INGRESS_POOL_OVERFLOW}) for"
            f" the ingress pools, plus the largest level for the ceiling) and the server has {available} free;"
            " use fewer workers, threads or clients, or raise max_connections"
        )


def _markdown(levels: list[dict[str, Any]], config: dict[str, Any]) -> str:
    lines = [
        "# Ingress benchmark",
        "",
        f"Signed Twilio SMS status callbacks through `nmc ingress` ({config['workers']} gunicorn gthread workers x "
        f"{config['threads']} threads), asyncio keep-alive clients (one process, raw HTTP/1.1) on the same "
        f"{os.cpu_count()}-core machine. Ceiling: "
        "the same number of psycopg clients doing single-row INSERT + COMMIT, no HTTP.",
        "",
        "| clients | req/s | P50 ms | P95 ms | P99 ms | errors | ceiling rows/s | ceiling P99 ms | % of ceiling |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for level in levels:
        http, ceiling = level["http"], level["ceiling"]
        lines.append(
            f"| {http['concurrency']} | {http['req_per_s']} | {http['p50_ms']} | {http['p95_ms']} | {http['p99_ms']} "
            f"| {http['errors']} | {ceiling['req_per_s']} | {ceiling['p99_ms']} | {level['percent_of_ceiling']} |"
        )
    return "\n".join(lines) + "\n"


@click.command()
@click.option("--levels", default="1,16,64", show_default=True, help="Client concurrencies, comma-separated.")
@click.option("--requests", "max_requests", default=4000, show_default=True, help="Request budget per level.")
@click.option("--seconds", "max_seconds", default=8.0, show_default=True, help="Time budget per level.")
@click.option("--workers", type=click.IntRange(1, 64), default=None, help="Default: INGRESS_WORKERS.")
@click.option("--threads", type=click.IntRange(1, 256), default=None, help="Default: INGRESS_THREADS.")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
@click.pass_context
def command(
    ctx: click.Context,
    levels: str,
    max_requests: int,
    max_seconds: float,
    workers: int | None,
    threads: int | None,
    as_json: bool,
) -> None:
    """Signed webhooks at concurrency 1/16/64: req/s and P50/P95/P99 beside the insert+commit ceiling."""
    configured = get_settings(ctx)
    settings = scratch_database(configured, "bench_ingress")  # an unreachable server: one line, from the CLI
    concurrencies = [int(part) for part in levels.split(",") if part.strip()]
    workers = workers or settings.ingress_workers
    threads = threads or settings.ingress_threads
    run = uuid.uuid4().hex[:8]
    port = _free_port()
    admin = psycopg.connect(settings.database_url, autocommit=True, connect_timeout=5)
    _check_connection_budget(admin, workers * (threads + INGRESS_POOL_OVERFLOW) + max(concurrencies, default=0))
    number = _create_bench_tenant(admin)
    server = Server(settings, port, workers, threads)
    results: list[dict[str, Any]] = []
    try:
        server.wait_ready()
        warmup = _signed_requests(settings, server.base_url, number, run + "w", 200)
        _measure_http(server.base_url, warmup, 4, 5.0)
        for concurrency in concurrencies:
            refused = checkpoint(settings)
            if refused:
                click.echo(f"warning: no CHECKPOINT before the level ({refused})", err=True)
            requests = _signed_requests(settings, server.base_url, number, f"{run}c{concurrency}x", max_requests)
            http = _measure_http(server.base_url, requests, concurrency, max_seconds).summary()
            ceiling = _measure_ceiling(settings, run, concurrency, max_requests, max_seconds).summary()
            percent = round(100 * http["req_per_s"] / ceiling["req_per_s"], 1) if ceiling["req_per_s"] else None
            results.append({"http": http, "ceiling": ceiling, "percent_of_ceiling": percent})
            click.echo(
                f"c={concurrency:<3} ingress {http['req_per_s']:>8} req/s  P50 {http['p50_ms']} P95 {http['p95_ms']} "
                f"P99 {http['p99_ms']} ms  errors {http['errors']}  |  ceiling {ceiling['req_per_s']:>8} rows/s "
                f"P99 {ceiling['p99_ms']} ms  |  {percent}% of ceiling",
                err=as_json,
            )
    finally:
        server.stop()
        admin.close()
        drop_database(settings)
    config = {"workers": workers, "threads": threads, "route": ROUTE, "max_requests": max_requests}
    config["max_seconds"] = max_seconds
    path = write_report("ingress", {"config": config, "levels": results}, _markdown(results, config))
    if as_json:
        click.echo(json.dumps({"config": config, "levels": results, "report": str(path)}, indent=2))
    else:
        click.echo(f"report: {path}")
