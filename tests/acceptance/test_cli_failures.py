"""Every `nmc` command, with Postgres and Redis unreachable, fails in one line with a non-zero exit.

The commands are enumerated from the click group itself (a command added later is covered without touching this
file); each is run as a real process (`python -m ops …`) with plausible minimal arguments generated from its
parameters, against a DATABASE_URL and REDIS_URL on a port nothing listens on.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import click
import pytest

from db.settings import Settings
from ops.cli import _register, cli

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "s3cret-pw"
TENANT = "+13105550123"

# Commands that legitimately succeed (or wait) with Postgres and Redis down, and why.
EXEMPT = {
    "doctor": "answers one line per check by design, each naming what is wrong, then exits 1 (see test_doctor.py)",
    "events": "prints the Event Catalog from code; it touches no database",
    "eval": "runs the scripted caller conversations against an in-memory calendar; it touches no database",
    # The sandbox is the fake phone network: it uses neither Postgres nor Redis. Its failure to start (a bound
    # port) is checked in one line by test_sandbox_on_a_busy_port_fails_in_one_line.
    "sandbox": "the local phone network needs neither Postgres nor Redis",
}


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port  # closed again: a connection to it is refused


def _value(command: str, param: click.Parameter) -> str:
    """A plausible value for one parameter, from its name and type."""
    name = (param.name or "").lower()
    kind = param.type
    if isinstance(kind, click.Choice):
        return str(kind.choices[0])
    if isinstance(kind, click.IntRange | click.FloatRange) and kind.min is not None:
        return str(kind.min)
    if isinstance(kind, click.types.IntParamType | click.types.FloatParamType):
        return "1"
    if isinstance(kind, click.DateTime):
        return "2026-01-01"
    if name in {"tenant", "tenant_ref"}:
        return TENANT
    if "email" in name:
        return "owner@example.com"
    if name in {"number", "forward_to", "owner_mobile", "caller", "phone"}:
        return "+13105550124"
    if name == "messaging_service_sid":
        return "MG" + "0" * 32
    if name == "timezone":
        return "America/New_York"
    if name.endswith("id") or name.endswith("ids") or name == "role":
        return str(uuid.uuid4()) if name != "role" else "TECH"
    if isinstance(kind, click.Path):
        return str(ROOT / "pyproject.toml")
    if isinstance(kind, click.types.StringParamType):
        return "x"
    raise AssertionError(f"`nmc {command}`: no plausible value for {param.name} ({kind}); teach _value about it")


def _argv(path: tuple[str, ...], command: click.Command) -> list[str]:
    args: list[str] = []
    for param in command.params:
        if isinstance(param, click.Argument):
            if param.required or param.nargs == -1:
                args.append(_value(" ".join(path), param))
        # --tenant is filled even when optional: naming a tenant is the plausible use (report needs it).
        elif isinstance(param, click.Option) and not param.is_flag and (param.required or "--tenant" in param.opts):
            args += [param.opts[0], _value(" ".join(path), param)]
    return [*path, *args]


def _leaves(group: click.Group, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            yield from _leaves(command, (*path, name))
        else:
            yield (*path, name), command


def _commands() -> list[list[str]]:
    _register()
    return [_argv(path, command) for path, command in _leaves(cli) if path[0] not in EXEMPT]


def _made(folder: Path) -> Path:
    folder.mkdir(exist_ok=True)
    return folder


def _env(tmp_path: Path) -> dict[str, str]:
    pg, rd = _closed_port(), _closed_port()
    return {
        **os.environ,
        "DATABASE_URL": f"postgresql://postgres:{PASSWORD}@127.0.0.1:{pg}/nmc",
        "REDIS_URL": f"redis://:{PASSWORD}@127.0.0.1:{rd}/0",
        "INGRESS_BIND": f"127.0.0.1:{_closed_port()}",
        "SANDBOX_BIND": f"127.0.0.1:{_closed_port()}",
        "BACKUP_DIR": str(_made(tmp_path / "backups")),
        "PROMETHEUS_MULTIPROC_DIR": str(_made(tmp_path / "metrics")),
        "LOG_FORMAT": "console",
    }


def _run(argv: list[str], env: dict[str, str], cwd: Path) -> tuple[list[str], subprocess.CompletedProcess[str]]:
    try:
        done = subprocess.run(
            [sys.executable, "-m", "ops", *argv], env=env, cwd=cwd, capture_output=True, text=True, timeout=30
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"`nmc {' '.join(argv)}` still running after 30 s with the database down (it should fail)")
    return argv, done


def test_every_command_fails_in_one_line_with_the_database_down(tmp_path: Path) -> None:
    commands = _commands()
    assert len(commands) >= 20, commands  # the enumeration really found the tree
    env = _env(tmp_path)
    # `up` and the benchmarks write under the working directory: a scratch one.
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda argv: _run(argv, env, tmp_path), commands))
    failures = []
    for argv, done in results:
        lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
        text = done.stdout + done.stderr
        if done.returncode == 0 or len(lines) != 1 or "Traceback" in text or PASSWORD in text:
            failures.append(f"`nmc {' '.join(argv)}` exit {done.returncode}, {len(lines)} lines: {text[-400:]!r}")
    assert not failures, "\n".join(failures)


def test_the_messages_name_the_service_and_the_address(tmp_path: Path) -> None:
    env = _env(tmp_path)
    port = env["DATABASE_URL"].rsplit(":", 1)[1].split("/")[0]
    _, done = _run(["dlq", "list"], env, ROOT)
    assert done.stderr.strip() == f"Error: cannot reach Postgres at 127.0.0.1:{port} (connection refused)"
    _, done = _run(["status"], env, ROOT)
    assert done.stderr.strip() == f"Error: cannot reach Postgres at 127.0.0.1:{port} (connection refused)"


def test_sandbox_on_a_busy_port_fails_in_one_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        bind = f"127.0.0.1:{taken.getsockname()[1]}"
        _, done = _run(["sandbox", "--bind", bind], _env(tmp_path), ROOT)
    assert done.returncode != 0
    assert done.stderr.strip() == f"Error: cannot listen on {bind} (address already in use)", done.stderr
    assert done.stdout == ""


def test_sandbox_without_a_writable_key_place_fails_in_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("a file where the key's folder should be")
    env = {**_env(tmp_path), "SANDBOX_KEY_PATH": str(blocker / "jwk.pem")}
    _, done = _run(["sandbox", "--bind", f"127.0.0.1:{_closed_port()}"], env, ROOT)
    assert done.returncode != 0
    assert done.stderr.strip() == (
        f"Error: cannot keep the sandbox's signing key at {blocker / 'jwk.pem'}: File exists"
        " (set SANDBOX_KEY_PATH or DATA_DIR to a writable place)"
    ), done.stderr
    assert done.stdout == ""


def test_exemptions_still_exist() -> None:
    _register()
    assert set(EXEMPT) <= set(cli.commands), "an exempted command is gone: drop its exemption"


def test_version() -> None:
    done = subprocess.run([sys.executable, "-m", "ops", "--version"], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0
    from importlib.metadata import version

    assert done.stdout.strip() == f"nmc {version('nevermisscall')}"


def test_with_only_redis_down_the_commands_that_need_it_fail_in_one_line(tmp_path: Path, settings: Settings) -> None:
    env = {**_env(tmp_path), "DATABASE_URL": settings.database_url}
    redis_port = env["REDIS_URL"].rsplit(":", 1)[1].split("/")[0]
    commands = [["status"], ["ingress"], ["dispatcher"], ["worker"], ["up", "--no-migrate"]]
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda argv: _run(argv, env, tmp_path), commands))
    for argv, done in results:
        assert done.returncode != 0, argv
        assert done.stdout == "", argv
        assert done.stderr == f"Error: cannot reach Redis at 127.0.0.1:{redis_port} (connection refused)\n", argv
