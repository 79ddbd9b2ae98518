"""Real-HTTP harness for the sandbox tests: the sandbox and a recording fake ingress, each on a free port.

Test modules import the fixtures (``world``, ``sandbox_key_path``) by name so pytest finds them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import Any
from urllib.parse import parse_qsl
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import httpx
import pytest

from db.settings import Settings
from ops.sandbox import Sandbox, build_sandbox, create_sandbox_app
from ops.stack import free_port
from tests.support.services import base_settings


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # the sandbox's traffic is not test output
        pass


class ServedApp:
    """A WSGI app on 127.0.0.1:<free port> in a background thread."""

    def __init__(self, app: Callable[..., Any], port: int = 0) -> None:
        self._server = make_server("127.0.0.1", port, app, server_class=_ThreadingServer, handler_class=_QuietHandler)
        self.port = self._server.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=2)


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    query: str = ""

    @property
    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.body.decode(), keep_blank_values=True))


Responder = Callable[[Received], tuple[int, str, str]]


@dataclass
class FakeIngress:
    """Records every request; answers through ``responders[path]`` (default 200 empty)."""

    responders: dict[str, Responder] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    _changed: threading.Condition = field(default_factory=threading.Condition)
    base_url: str = ""

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        request = Received(
            path=environ["PATH_INFO"],
            headers={
                key[5:].replace("_", "-").title(): value for key, value in environ.items() if key.startswith("HTTP_")
            }
            | {"Content-Type": environ.get("CONTENT_TYPE", "")},
            body=environ["wsgi.input"].read(length),
            query=environ.get("QUERY_STRING", ""),
        )
        with self._changed:
            self.received.append(request)
            self._changed.notify_all()
        responder = self.responders.get(request.path)
        status, content_type, text = responder(request) if responder else (200, "text/plain", "")
        start_response(f"{status} X", [("Content-Type", content_type)])
        return [text.encode()]

    def url(self, path: str) -> str:
        return self.base_url + path

    def wait_for(self, predicate: Callable[[list[Received]], bool], timeout: float = 3.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        with self._changed:
            while not predicate(self.received):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"timed out; received {[r.path for r in self.received]}")
                self._changed.wait(remaining)
            return list(self.received)

    def at(self, path: str) -> list[Received]:
        with self._changed:
            return [r for r in self.received if r.path == path]


@dataclass
class World:
    settings: Settings
    sandbox: Sandbox
    url: str
    ingress: FakeIngress
    http: httpx.Client

    def post(self, path: str, document: dict[str, Any]) -> httpx.Response:
        return self.http.post(self.url + path, json=document)

    def fault(self, document: dict[str, Any]) -> None:
        answer = self.post("/sandbox/faults", document)
        assert answer.status_code == 200, answer.text


def sandbox_settings(ingress_url: str, sandbox_url: str, key_path: Path, **overrides: object) -> Settings:
    return base_settings(
        public_base_url=ingress_url,
        twilio_api_base_url=sandbox_url,
        sandbox_key_path=str(key_path),
        sandbox_callback_delay_ms=5,
        **overrides,
    )


@pytest.fixture(scope="session")
def sandbox_key_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # One RSA key per session: generating 2048-bit keys per test would dominate the run time.
    return tmp_path_factory.mktemp("sandbox") / "jwk.pem"


@pytest.fixture
def world(sandbox_key_path: Path) -> Iterator[World]:
    ingress = FakeIngress()
    served_ingress = ServedApp(ingress)
    ingress.base_url = served_ingress.base_url
    port = free_port()
    settings = sandbox_settings(ingress.base_url, f"http://127.0.0.1:{port}", sandbox_key_path)
    sandbox = build_sandbox(settings)
    served = ServedApp(create_sandbox_app(settings, sandbox), port=port)
    http = httpx.Client(timeout=5)
    try:
        yield World(settings=settings, sandbox=sandbox, url=served.base_url, ingress=ingress, http=http)
    finally:
        http.close()
        served.stop()
        sandbox.close()
        served_ingress.stop()
