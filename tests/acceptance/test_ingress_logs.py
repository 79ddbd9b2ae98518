"""`nmc ingress` under gunicorn logs through one pipeline: gunicorn's own lines are JSON like every other, and each
request leaves an access line with its status and duration, phone numbers masked."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time

import httpx

from db.settings import Settings


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_gunicorn_lines_and_access_lines_are_json_with_numbers_masked(settings: Settings) -> None:
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = os.environ | {
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
        "DRAMATIQ_NAMESPACE": settings.dramatiq_namespace,
        "PUBLIC_BASE_URL": base,
        "LOG_LEVEL": "INFO",
        "LOG_FORMAT": "auto",  # stderr is a pipe here: JSON
    }
    argv = [sys.executable, "-m", "ops", "ingress", "--bind", f"127.0.0.1:{port}", "--workers", "1", "--threads", "2"]
    server = subprocess.Popen(argv, env=env, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            assert server.poll() is None, "nmc ingress exited"
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "nmc ingress not ready in 30 s"
            time.sleep(0.1)
        assert httpx.get(f"{base}/no/such/+13105551212", timeout=5).status_code == 404
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        _, stderr = server.communicate(timeout=30)
    lines = [json.loads(line) for line in stderr.splitlines() if line.strip()]  # every line is JSON
    gunicorn = [line for line in lines if line.get("logger") == "gunicorn.error"]
    assert any(str(line["event"]).startswith("Booting worker") for line in gunicorn)
    assert all(line["process"] == "ingress" for line in gunicorn)
    access = [line for line in lines if line.get("logger") == "nmc.access"]
    assert [(line["method"], line["path"], line["status"]) for line in access] == [
        ("GET", "/no/such/+1310***1212", 404)
    ]  # the readiness probes log at DEBUG
    assert isinstance(access[0]["duration_ms"], float)
    assert access[0]["correlation_id"]
    assert "+13105551212" not in stderr
