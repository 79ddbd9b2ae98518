"""`nmc sandbox` as a real process: one gunicorn worker, threads sharing state, the twilio SDK talking to it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ops.sandbox.client import SandboxClient
from tests.support.sandbox_world import FakeIngress, ServedApp, free_port, sandbox_key_path  # noqa: F401
from tests.support.services import base_settings
from workers.adapters.twilio_gateway import TwilioGateway

NMC = str(Path(sys.executable).with_name("nmc"))


@pytest.fixture
def ingress() -> Iterator[FakeIngress]:
    fake = FakeIngress()
    served = ServedApp(fake)
    fake.base_url = served.base_url
    yield fake
    served.stop()


def test_nmc_sandbox_serves_the_twilio_sdk(ingress: FakeIngress, sandbox_key_path: Path) -> None:  # noqa: F811
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "PUBLIC_BASE_URL": ingress.base_url,
        "SANDBOX_KEY_PATH": str(sandbox_key_path),
        "SANDBOX_CALLBACK_DELAY_MS": "5",
        "LOG_LEVEL": "WARNING",
    }
    process = subprocess.Popen(
        [NMC, "sandbox", "--bind", f"127.0.0.1:{port}"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    gateway = TwilioGateway(base_settings(twilio_api_base_url=url, public_base_url=ingress.base_url))
    try:
        deadline = time.monotonic() + 20
        while True:
            assert process.poll() is None, process.stdout.read().decode() if process.stdout else ""
            try:
                if httpx.get(url + "/healthz", timeout=0.5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "sandbox did not come up"
            time.sleep(0.05)

        callback = ingress.url("/webhooks/twilio/sms/status")
        sids = [
            gateway.send(to="+13105550199", from_="+13105550100", body=f"m{i}", status_callback=callback).sid
            for i in range(5)
        ]
        # Every thread of the one worker sees the same state.
        listed = SandboxClient(url).messages(sender="+13105550100")
        assert [m["sid"] for m in listed] == sids
        ingress.wait_for(lambda got: len(got) >= 10, timeout=5)
        assert {r.form["MessageStatus"] for r in ingress.at("/webhooks/twilio/sms/status")} == {"sent", "delivered"}
    finally:
        gateway.close()
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
            if process.stdout:
                process.stdout.close()
    assert process.returncode == 0
