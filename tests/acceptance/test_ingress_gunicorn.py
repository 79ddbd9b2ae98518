"""`nmc ingress` as a real gunicorn process: the same signed webhook 50x concurrently is exactly one event."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlencode

import httpx
from sqlalchemy import text
from sqlalchemy.engine import Engine
from twilio.request_validator import RequestValidator

from db.settings import Settings
from ingress.verification import FormParams
from ops.processes import stop_groups
from tests.support.webhook_env import CALLER, TENANT_NUMBER, add_tenant


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_real_gunicorn_dedupes_50_concurrent_copies(settings: Settings, engine: Engine) -> None:
    tenant_id = add_tenant(engine)
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = os.environ | {
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
        "PUBLIC_BASE_URL": base,
        "TWILIO_AUTH_TOKEN": settings.twilio_auth_token.get_secret_value(),
        "LOG_LEVEL": "WARNING",
    }
    argv = [sys.executable, "-m", "ops", "ingress", "--bind", f"127.0.0.1:{port}", "--workers", "2", "--threads", "8"]
    server = subprocess.Popen(argv, env=env, start_new_session=True)
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

        sid = "CA" + uuid.uuid4().hex
        params = [("CallSid", sid), ("From", CALLER), ("To", TENANT_NUMBER), ("DialCallStatus", "no-answer")]
        url = f"{base}/webhooks/twilio/voice/status"
        signature = RequestValidator(settings.twilio_auth_token.get_secret_value()).compute_signature(
            url, FormParams.from_pairs(params)
        )
        headers = {"X-Twilio-Signature": signature, "Content-Type": "application/x-www-form-urlencoded"}

        def send(_: int) -> str:
            response = httpx.post(url, content=urlencode(params), headers=headers, timeout=15)
            return f"{response.status_code}:{response.headers.get('X-Webhook-Outcome')}"

        with ThreadPoolExecutor(max_workers=50) as pool:
            outcomes = list(pool.map(send, range(50)))
        assert outcomes.count("200:accepted") == 1
        assert outcomes.count("200:duplicate") == 49
        with engine.connect() as conn:
            events = conn.execute(text("SELECT event_name, tenant_id FROM outbox_events")).all()
        assert [(row.event_name, row.tenant_id) for row in events] == [("nmc.telephony.CallMissed", tenant_id)]
        forged = httpx.post(url, content=urlencode(params), headers={**headers, "X-Twilio-Signature": "x"})
        assert forged.status_code == 403
        assert forged.json()["error"]["code"] == "forbidden"
    finally:
        stop_groups([server], grace_seconds=15)
