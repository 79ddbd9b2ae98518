"""Structured logs: readable console lines on a terminal, one JSON object per line otherwise, with the event's ids
and no raw PII.

``LOG_FORMAT`` decides (structlog's convention): ``auto`` (the default) renders coloured console lines when the
output is a terminal and JSON when it is not (a container, a file, a log shipper); ``console`` and ``json`` force
one. Console lines leave out fields that are empty; JSON lines always carry the correlation fields (null when
unbound) so queries can filter on them.

``configure_logging(settings, process_name)`` is called once at process start (and again in each forked child, so
the pid is right). It routes both structlog and the standard library (gunicorn, Dramatiq, SQLAlchemy, alembic)
through the same processors, so every line carries ``process`` and the correlation fields.

The correlation fields come from ``structlog.contextvars``: whoever handles a webhook or an event binds them for the
duration of that work, and every log line inside (in any layer, with any logger) carries them. Lower layers cannot
import ``ops``, so they use structlog directly::

    with structlog.contextvars.bound_contextvars(tenant_id=..., correlation_id=..., causation_id=..., event_id=...):
        ...

Masking runs last before rendering, over every value (nested payloads and formatted tracebacks included): phone
numbers in any common format (E.164, ``+1 310 555 1212``, ``(310) 555-1212``, ``310.555.1212``…) keep their
country/area prefix and last four digits (``+1310***1212``), message bodies keep only their length.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from typing import Any

import structlog
from structlog.types import EventDict, Processor, WrappedLogger

from db.settings import Settings

CORRELATION_FIELDS = ("tenant_id", "correlation_id", "causation_id", "event_id")
# Keys whose values are message text written by callers or the AI, or a caller's name (typed by staff, or caller
# ID's ``CallerName`` in a Twilio voice webhook): never logged, only their length.
BODY_KEYS = frozenset({"body", "Body", "message_body", "text", "reply", "prompt", "completion", "content"})
BODY_KEYS |= {"caller_name", "CallerName"}
# International: a "+" then 7..15 digits, single spaces, dots or dashes allowed between them ("+13105551212",
# "+1 310 555 1212", "+44 20 7946 0958"); never inside a longer word or number.
_INTERNATIONAL = re.compile(r"(?<![\w+])\+[1-9](?:[ .\-]?\d){6,14}(?!\d)")
# North American without the "+": "(310) 555-1212", "310-555-1212", "310.555.1212", "310 555 1212",
# "1-310-555-1212". The separators are required, so bare digit runs (cents, epoch seconds, pids) are left alone, and
# the edges exclude pieces of UUIDs, dates, addresses and versions.
_NORTH_AMERICAN = re.compile(r"(?<![\w.+\-])(?:1[ .\-]?)?(?:\(\d{3}\) ?|\d{3}[ .\-])\d{3}[ .\-]\d{4}(?![\w\-]|[.:]\d)")
_NOISY = ("sqlalchemy.engine", "urllib3", "httpx", "httpcore", "twilio.http_client")


def mask_phone(number: str) -> str:
    """``+13105551212`` → ``+1310***1212``; short numbers keep less so at least three digits are hidden."""
    digits = number.lstrip("+")
    keep_head = min(4, max(0, len(digits) - 7))
    keep_tail = 4 if len(digits) >= 10 else 2
    return f"+{digits[:keep_head]}***{digits[-keep_tail:]}"


def mask_text(value: str) -> str:
    """Every phone number in free text, in any common format, masked as its E.164 form would be."""
    value = _INTERNATIONAL.sub(lambda match: mask_phone("+" + re.sub(r"\D", "", match.group(0))), value)
    return _NORTH_AMERICAN.sub(lambda match: mask_phone(_north_american_e164(match.group(0))), value)


def _north_american_e164(text: str) -> str:
    digits = re.sub(r"\D", "", text)
    return f"+{digits}" if len(digits) == 11 else f"+1{digits}"


def _mask(value: Any) -> Any:
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, Mapping):
        return {key: _mask_item(key, item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_mask(item) for item in value]
    return value


def _mask_item(key: Any, value: Any) -> Any:
    if key in BODY_KEYS and isinstance(value, str):
        return f"<{len(value)} chars>"
    return _mask(value)


def mask_pii(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    """structlog processor: mask phone numbers and message bodies everywhere in the event."""
    return {key: _mask_item(key, value) for key, value in event_dict.items()}


def _add_process(process_name: str) -> Processor:
    def add_process(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
        event_dict.setdefault("process", process_name)
        event_dict.setdefault("pid", os.getpid())
        return event_dict

    return add_process


def _ensure_correlation_fields(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    # Always present (null when unbound) so log queries can filter on them without "field exists" guards.
    for name in CORRELATION_FIELDS:
        value = event_dict.get(name)
        event_dict[name] = None if value is None else str(value)
    return event_dict


def _drop_color_message(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    event_dict.pop("color_message", None)
    return event_dict


def shared_processors(process_name: str) -> list[Processor]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.add_log_level,
        structlog.stdlib.ExtraAdder(),
        _add_process(process_name),
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _drop_color_message,
    ]


def _is_terminal(stream: Any) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def chosen_format(settings: Settings, stream: Any) -> str:
    """``json`` or ``console``: what LOG_FORMAT asks for, ``auto`` deciding by whether ``stream`` is a terminal."""
    if settings.log_format != "auto":
        return settings.log_format
    return "console" if _is_terminal(stream) else "json"


def wants_colour(settings: Settings, stream: Any) -> bool:
    if settings.no_color:
        return False
    if settings.force_color and settings.force_color != "0":
        return True
    return _is_terminal(stream)


def _drop_empty(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    return {key: value for key, value in event_dict.items() if value is not None}


def configure_logging(settings: Settings, process_name: str, *, stream: Any = None) -> None:
    """Configure structlog and stdlib logging for this process (idempotent; call again after fork)."""
    level = getattr(logging, settings.log_level)
    stream = stream if stream is not None else sys.stderr
    renderer: Processor
    if chosen_format(settings, stream) == "json":
        renderer = structlog.processors.JSONRenderer(sort_keys=False)
        fields: Processor = _ensure_correlation_fields
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=wants_colour(settings, stream))
        fields = _drop_empty
    final: list[Processor] = [
        structlog.processors.StackInfoRenderer(),
        structlog.processors.format_exc_info,
        fields,
        mask_pii,
        renderer,
    ]
    shared = shared_processors(process_name)

    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.make_filtering_bound_logger(level),
        cache_logger_on_first_use=False,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *final],
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level)
    for name in _NOISY:
        logging.getLogger(name).setLevel(max(level, logging.WARNING))
    # gunicorn and dramatiq attach their own handlers; let their records reach ours instead.
    for name in ("gunicorn.error", "gunicorn.access", "dramatiq"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True


def get_logger(name: str | None = None) -> Any:
    return structlog.stdlib.get_logger(name)


@contextmanager
def bound(**fields: Any) -> Iterator[None]:
    """Bind correlation fields (or any others) for the duration of a block, in this thread/task only."""
    with structlog.contextvars.bound_contextvars(**{k: v for k, v in fields.items() if v is not None}):
        yield


def envelope_fields(envelope: Any) -> MutableMapping[str, Any]:
    """The four correlation fields of an Event Envelope (anything with those attributes)."""
    return {name: getattr(envelope, name, None) for name in CORRELATION_FIELDS}
