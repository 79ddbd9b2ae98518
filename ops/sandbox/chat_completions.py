"""OpenAI chat-completions stand-in, in OpenAI's wire format, answered by a deterministic stand-in model.

Route, below the prefix it is mounted at (``/ai/v1`` in the sandbox, as ``https://api.openai.com/v1``):

* ``POST /chat/completions``: request ``model``, ``messages`` (roles ``system``/``developer``, ``user``,
  ``assistant`` with ``tool_calls``, ``tool`` with ``tool_call_id``), ``tools`` (``type: function``),
  ``tool_choice``, ``temperature``, ``n`` …; response ``{"id": "chatcmpl-…", "object": "chat.completion",
  "created", "model", "choices": [{"index", "message": {"role": "assistant", "content", "tool_calls": [{"id",
  "type": "function", "function": {"name", "arguments": "<JSON text>"}}]}, "finish_reason": "tool_calls" | "stop"}],
  "usage": {"prompt_tokens", "completion_tokens", "total_tokens"}}``.

Errors use OpenAI's envelope ``{"error": {"message", "type", "param", "code"}}``: 401 for a missing or wrong bearer
key (``invalid_api_key``), 400 for a body that is not JSON or breaks the schema (``invalid_request_error``).
``fail_next(status)`` queues one failure (a 500 or a 429 ``rate_limit_exceeded``), for the engine's fallback.

The answers come from :mod:`ops.sandbox.chat_model`, which is not a language model (see its docstring). The key it
accepts is the one the app sends it: by default the published ``SANDBOX_AI_API_KEY``.
"""

from __future__ import annotations

import hmac
import json
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import falcon

from db.published_secrets import SANDBOX_AI_API_KEY
from ops.sandbox.chat_model import TranscriptError, complete
from ops.sandbox.oauth import ProviderAnswer, render_answer

ROLES = ("system", "developer", "user", "assistant", "tool", "function")
_NO_KEY = (
    "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth "
    "(i.e. Authorization: Bearer YOUR_KEY)."
)


def _error(status: int, message: str, *, param: str | None = None, code: str | None = None) -> ProviderAnswer:
    kind = {401: "invalid_request_error", 429: "requests", 500: "server_error"}.get(status, "invalid_request_error")
    return ProviderAnswer(status, {"error": {"message": message, "type": kind, "param": param, "code": code}})


def _masked(key: str) -> str:
    return f"{key[:3]}{'*' * max(len(key) - 7, 0)}{key[-4:]}" if len(key) > 8 else "*" * len(key)


@dataclass
class ChatCompletions:
    api_key: str = SANDBOX_AI_API_KEY
    lock: threading.Lock = field(default_factory=threading.Lock)
    failures: list[int] = field(default_factory=list)
    requests: int = 0

    def fail_next(self, status: int) -> None:
        with self.lock:
            self.failures.append(status)

    def authorize(self, header: str | None) -> None:
        scheme, _, key = (header or "").partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            raise _error(401, _NO_KEY)
        if not hmac.compare_digest(key.strip().encode(), self.api_key.encode()):
            raise _error(
                401,
                f"Incorrect API key provided: {_masked(key.strip())}. You can find your API key at "
                "https://platform.openai.com/account/api-keys.",
                code="invalid_api_key",
            )

    def answer(self, body: Any) -> dict[str, Any]:
        with self.lock:
            self.requests += 1
            failure = self.failures.pop(0) if self.failures else None
        if failure == 429:
            raise _error(429, "Rate limit reached for requests", code="rate_limit_exceeded")
        if failure is not None:
            raise _error(failure, "The server had an error while processing your request. Sorry about that!")
        model, messages, tools, choices = _validated(body)
        try:
            message, finish_reason = complete(messages, tools)
        except TranscriptError as error:
            raise _error(400, f"Invalid parameter: {error}.", param="messages") from None
        except (AttributeError, KeyError, TypeError, ValueError, IndexError):
            # Well-formed but unreadable tool results (not what the engine's tools return): the client's mistake.
            raise _error(
                400, "Invalid parameter: a tool result in 'messages' could not be read.", param="messages"
            ) from None
        prompt_tokens = max(1, len(json.dumps(messages)) // 4)
        completion_tokens = max(1, len(json.dumps(message)) // 4)
        return {
            "id": f"chatcmpl-{secrets.token_urlsafe(21)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [
                {"index": index, "message": message, "logprobs": None, "finish_reason": finish_reason}
                for index in range(choices)
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
            "system_fingerprint": "fp_nmc_sandbox",
        }


def _validated(body: Any) -> tuple[str, list[dict[str, Any]], list[dict[str, Any]], int]:
    """(model, messages, tools, n) of a request body, or the 400 OpenAI gives for it."""
    if not isinstance(body, dict):
        raise _error(400, "We could not parse the JSON body of your request. The API expects a JSON object.")
    model = body.get("model")
    if not model:
        raise _error(400, "you must provide a model parameter")
    if not isinstance(model, str):
        raise _error(400, "Invalid type for 'model': expected a string.", param="model", code="invalid_type")
    if "messages" not in body:
        raise _error(
            400, "Missing required parameter: 'messages'.", param="messages", code="missing_required_parameter"
        )
    messages = body["messages"]
    if not isinstance(messages, list):
        raise _error(400, "Invalid type for 'messages': expected an array.", param="messages", code="invalid_type")
    if not messages:
        raise _error(400, "Invalid 'messages': empty array.", param="messages", code="empty_array")
    for index, message in enumerate(messages):
        where = f"messages[{index}]"
        if not isinstance(message, dict):
            raise _error(400, f"Invalid type for '{where}': expected an object.", param=where, code="invalid_type")
        if message.get("role") not in ROLES:
            supported = ", ".join(f"'{role}'" for role in ROLES)
            raise _error(
                400,
                f"Invalid value: {json.dumps(message.get('role'))}. Supported values are: {supported}.",
                param=f"{where}.role",
                code="invalid_value",
            )
        if not isinstance(message.get("content"), str | list | None):
            raise _error(400, f"Invalid type for '{where}.content': expected a string or an array.",
                         param=f"{where}.content", code="invalid_type")  # fmt: skip
        calls = message.get("tool_calls")
        if calls is not None and not (
            isinstance(calls, list)
            and all(isinstance(call, dict) and isinstance(call.get("function"), dict) for call in calls)
        ):
            raise _error(400, f"Invalid type for '{where}.tool_calls': expected an array of function calls.",
                         param=f"{where}.tool_calls", code="invalid_type")  # fmt: skip
        if message["role"] == "tool" and not isinstance(message.get("tool_call_id"), str):
            raise _error(400, f"Missing required parameter: '{where}.tool_call_id'.", param=f"{where}.tool_call_id",
                         code="missing_required_parameter")  # fmt: skip
    tools = body.get("tools") or []
    if not isinstance(tools, list) or not all(
        isinstance(tool, dict) and tool.get("type") == "function" for tool in tools
    ):
        raise _error(400, "Invalid 'tools': expected an array of function tools.", param="tools", code="invalid_type")
    temperature = body.get("temperature", 1)
    if not isinstance(temperature, int | float) or isinstance(temperature, bool) or not 0 <= temperature <= 2:
        raise _error(400, "Invalid 'temperature': expected a number from 0 to 2.", param="temperature",
                     code="invalid_value")  # fmt: skip
    if body.get("stream"):
        raise _error(400, "The sandbox stand-in does not stream: leave 'stream' false.", param="stream",
                     code="unsupported_value")  # fmt: skip
    choices = body.get("n", 1)
    if not isinstance(choices, int) or isinstance(choices, bool) or not 1 <= choices <= 8:
        raise _error(400, "Invalid 'n': expected an integer from 1 to 8.", param="n", code="invalid_value")
    return model, messages, tools, choices


class ChatCompletionsResource:
    def __init__(self, chat: ChatCompletions) -> None:
        self._chat = chat

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        self._chat.authorize(req.get_header("Authorization"))
        try:
            body = json.loads(req.bounded_stream.read() or b"null")
        except (ValueError, UnicodeDecodeError):
            body = None
        resp.media = self._chat.answer(body)


def mount_chat_completions(app: falcon.App, chat: ChatCompletions, prefix: str) -> None:
    """Serve ``chat`` at ``prefix`` (``/ai/v1`` in the sandbox)."""
    app.add_error_handler(ProviderAnswer, render_answer)
    app.add_route(f"{prefix}/chat/completions", ChatCompletionsResource(chat))


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        return


@contextmanager
def running_chat_completions(api_key: str = SANDBOX_AI_API_KEY) -> Iterator[str]:
    """The stand-in alone, on an ephemeral loopback port, for as long as the block runs; yields its base URL
    (``http://127.0.0.1:PORT/ai/v1``). ``nmc eval conversations --engine openai`` uses it, needing no ``nmc up``."""
    app = falcon.App()
    mount_chat_completions(app, ChatCompletions(api_key=api_key), "/ai/v1")
    server = make_server("127.0.0.1", 0, app, server_class=_ThreadingServer, handler_class=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/ai/v1"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
