"""`nmc up`: every process locally, each logging with its name, all stopped cleanly on Ctrl-C or SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from urllib.parse import urlencode

import click
import httpx
import redis

from db import heartbeats
from db.settings import Settings
from ops.context import get_settings
from ops.preflight import require_free_address, require_services
from ops.processes import stop_groups
from ops.stack import die_with_parent
from ops.supervision import Child, Supervisor

PROCESS_ORDER = ("sandbox", "ingress", "dispatcher", "worker", "scheduler")
COLORS = {"sandbox": 35, "ingress": 36, "dispatcher": 33, "worker": 32, "scheduler": 34, "demo": 37}


def _pump(name: str, stream: object, lock: threading.Lock) -> None:
    color = COLORS.get(name, 0)
    prefix = f"\x1b[{color}m{name:>10}\x1b[0m | " if sys.stdout.isatty() else f"{name:>10} | "
    for raw in iter(stream.readline, b""):  # type: ignore[attr-defined]
        with lock:
            sys.stdout.write(prefix + raw.decode(errors="replace"))
            sys.stdout.flush()


def _start(child: Child, lock: threading.Lock) -> None:
    child.process = subprocess.Popen(
        child.argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=os.environ.copy(),
        start_new_session=True,
        preexec_fn=die_with_parent(),
    )
    child.started_at = time.monotonic()
    threading.Thread(target=_pump, args=(child.name, child.process.stdout, lock), daemon=True).start()


def _wait_ready(url: str, timeout: float, stop: threading.Event) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not stop.is_set():
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    return False


def run_is_consuming(beats: list[heartbeats.Heartbeat], host: str, dispatcher: int, worker: int) -> bool:
    """Whether this run's dispatcher (pid ``dispatcher``) and a consuming child of its worker pool (pid ``worker``)
    have beaten on this host: another system's processes on the same Redis and namespace do not count."""
    mine = [beat for beat in beats if beat.host == host]
    return any(beat.process == "dispatcher" and beat.pid == dispatcher for beat in mine) and any(
        beat.process == "worker-consumer" and beat.ppid == worker for beat in mine
    )


def _wait_consuming(settings: Settings, children: dict[str, Child], *, timeout: float, stop: threading.Event) -> bool:
    """Wait until the dispatcher and a consuming worker process of this run have reported alive."""
    client = redis.Redis.from_url(settings.redis_url, socket_timeout=1, socket_connect_timeout=1)
    host = socket.gethostname()
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and not stop.is_set():
            dispatcher, worker = children["dispatcher"].process, children["worker"].process
            assert dispatcher is not None
            assert worker is not None
            # A restarted child has a new pid: read them afresh on every round.
            beats = heartbeats.alive(client, settings.dramatiq_namespace)
            if run_is_consuming(beats, host, dispatcher.pid, worker.pid):
                return True
            time.sleep(0.2)
    except redis.RedisError:
        return False
    finally:
        client.close()
    return False


def processes_to_start(settings: Settings, available: set[str]) -> list[str]:
    """Live mode runs no sandbox: it refuses live secrets (and the demo, which plays through it, is skipped too)."""
    return [name for name in PROCESS_ORDER if name in available and not (settings.live_mode and name == "sandbox")]


@click.command()
@click.option("--no-demo", is_flag=True, help="Start everything but do not play the demo conversation.")
@click.option("--migrate/--no-migrate", default=True, show_default=True, help="Apply migrations first.")
@click.pass_context
def up(ctx: click.Context, no_demo: bool, migrate: bool) -> None:
    """Run ingress, dispatcher, worker, scheduler and sandbox together until Ctrl-C."""
    settings = get_settings(ctx)
    # Children started against a missing database or on a taken port would only be restarted for ever.
    require_services(settings)
    require_free_address(settings.ingress_bind)
    require_free_address(settings.sandbox_bind)
    if migrate:
        from db.migrate import upgrade

        upgrade(settings)
    # Gunicorn and Dramatiq run several processes each: their metrics are summed from shared sample files.
    os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", os.path.abspath(".run/metrics"))
    # prometheus_client writes its sample files there from the first import in every child: it must exist.
    os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"], exist_ok=True)
    # The children write into a pipe: on a terminal, tell them to render console lines in colour all the same.
    if settings.log_format == "auto" and sys.stdout.isatty():
        os.environ["LOG_FORMAT"] = "console"
        if not settings.no_color:
            os.environ.setdefault("FORCE_COLOR", "1")
    executable = [sys.executable, "-m", "ops"]
    # The commands registered beside this one (the root group's): a process is started only if its command exists.
    root = ctx.find_root().command
    available = set(root.list_commands(ctx)) if isinstance(root, click.Group) else set()
    children = [Child(name, [*executable, name]) for name in processes_to_start(settings, available)]
    missing = [name for name in PROCESS_ORDER if name not in available]
    if missing:
        click.echo(f"not started (not built yet): {', '.join(missing)}", err=True)
    lock = threading.Lock()
    stop = threading.Event()

    def request_stop(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    for child in children:
        _start(child, lock)
    ready = _wait_ready(f"http://{settings.ingress_bind}/readyz", 60, stop) if "ingress" in available else True
    by_name = {child.name: child for child in children}
    consuming = {"dispatcher", "worker"} <= set(by_name)
    ready = ready and (not consuming or _wait_consuming(settings, by_name, timeout=60, stop=stop))
    if ready and not stop.is_set():
        sandbox = "" if settings.live_mode else f"  sandbox http://{settings.sandbox_bind}"
        click.echo(f"NeverMissCall is up: ingress http://{settings.ingress_bind}{sandbox}")
        click.echo(f"staff app: {settings.public_base_url}/app{_sign_in_hint(settings)}")
        if not no_demo and not settings.live_mode and "demo" in available:
            demo = Child("demo", [*executable, "demo"])
            _start(demo, lock)
    elif not stop.is_set():
        click.echo("the system did not become ready within 60 s; see the log lines above", err=True)
    supervisor = Supervisor(children, lambda child: _start(child, lock), say=lambda line: click.echo(line, err=True))
    while not stop.wait(0.5):
        supervisor.check()
    click.echo("stopping…", err=True)
    stop_groups(child.process for child in reversed(children) if child.process is not None)
    click.echo("stopped", err=True)


def _sign_in_hint(settings: Settings) -> str:
    """Locally, the link that signs in as the demo owner (the sandbox's page, coming back to the app)."""
    if settings.live_mode:
        return ""
    back = urlencode({"redirect_url": f"{settings.public_base_url}/app"})
    return f"  (sign in locally: {settings.twilio_api_base_url}/sandbox/sign-in?{back})"
