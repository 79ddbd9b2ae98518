"""A local server that speaks the OpenAI chat-completions wire format, tool calls included.

Each request to ``POST /v1/chat/completions`` is answered by the next step of a script: a ready assistant message,
or a function of the request body (to read tool results, e.g. ids, before deciding the next call). ``delay`` makes
every answer slow (the timeout test); a script whose final text states facts the tools never returned is the lying
mode (the guard test). Requests are recorded with their headers for assertions.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Message = dict[str, Any]
Step = Message | Callable[[dict[str, Any]], Message]


def tool_call(name: str, **arguments: object) -> Message:
    """An assistant message asking for one function call."""
    return tool_calls((name, arguments))


def tool_calls(*calls: tuple[str, dict[str, object]]) -> Message:
    return {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": f"call_{uuid.uuid4().hex[:12]}",
                "type": "function",
                "function": {"name": name, "arguments": json.dumps(arguments)},
            }
            for name, arguments in calls
        ],
    }


def say(text: str) -> Message:
    return {"role": "assistant", "content": text}


def tool_results(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The tool outputs sent back in this request, oldest first."""
    return [json.loads(m["content"]) for m in body["messages"] if m.get("role") == "tool"]


def last_tool_result(body: dict[str, Any]) -> dict[str, Any]:
    return tool_results(body)[-1]


class FakeLLM:
    def __init__(self) -> None:
        self.script: list[Step] = []
        self.delay = 0.0
        self.status = 200
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def base_url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    def answer(self, body: dict[str, Any]) -> Message:
        with self._lock:
            if not self.script:
                return say("Sorry, I have nothing scripted for that.")
            step = self.script.pop(0)
        return step(body) if callable(step) else step

    def start(self) -> None:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                with fake._lock:
                    fake.requests.append(body)
                    fake.headers.append({key.lower(): value for key, value in self.headers.items()})
                if fake.delay:
                    time.sleep(fake.delay)
                if self.path.rstrip("/") != "/v1/chat/completions":
                    return self._send(404, {"error": {"message": "not found", "type": "invalid_request_error"}})
                if fake.status != 200:
                    return self._send(fake.status, {"error": {"message": "upstream error", "type": "server_error"}})
                message = fake.answer(body)
                finish = "tool_calls" if message.get("tool_calls") else "stop"
                return self._send(
                    200,
                    {
                        "id": f"chatcmpl-{uuid.uuid4().hex[:16]}",
                        "object": "chat.completion",
                        "created": int(time.time()),
                        "model": body.get("model", "fake"),
                        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
                        "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
                    },
                )

            def _send(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (the timeout test)

            def log_message(self, format: str, *args: object) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


@contextmanager
def running_fake_llm() -> Iterator[FakeLLM]:
    fake = FakeLLM()
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()
