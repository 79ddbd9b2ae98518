"""Structured JSON logs: process name and correlation ids on every line, phone numbers and bodies masked."""

from __future__ import annotations

import io
import json
import logging
import os
import uuid
from collections.abc import Iterator

import pytest
import structlog

from db.settings import Settings
from ops.logging import bound, configure_logging, envelope_fields, get_logger, mask_phone, mask_text


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    buffer = io.StringIO()
    root = logging.getLogger()
    saved_level, saved_handlers = root.level, list(root.handlers)
    configure_logging(Settings.from_env({"LOG_FORMAT": "json", "LOG_LEVEL": "INFO"}), "worker", stream=buffer)
    yield buffer
    structlog.reset_defaults()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in saved_handlers:
        root.addHandler(handler)
    root.setLevel(saved_level)


def _lines(buffer: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in buffer.getvalue().splitlines() if line.strip()]


def test_mask_phone_keeps_prefix_and_last_four() -> None:
    assert mask_phone("+13105551212") == "+1310***1212"
    assert mask_text("call +13105551212 or +447911123456 now") == "call +1310***1212 or +4479***3456 now"
    # Not a phone number: too short, or digits inside a word or a timestamp offset.
    assert mask_text("retry +12 at 2024-01-01T00:00:00+00:00 id abc+1234567890x") == (
        "retry +12 at 2024-01-01T00:00:00+00:00 id abc+1234567890x"
    )


def test_every_line_is_json_with_process_and_correlation_ids(stream: io.StringIO) -> None:
    tenant, event = uuid.uuid4(), uuid.uuid4()
    log = get_logger("nmc.test")
    log.info("outside")
    with bound(tenant_id=tenant, correlation_id=event, event_id=event):
        log.info("inside", handler="conversations.open_conversation")
        logging.getLogger("dramatiq.worker").warning("stdlib line from a library")
    outside, inside, stdlib = _lines(stream)
    assert outside["process"] == "worker"
    assert outside["tenant_id"] is None
    assert outside["event_id"] is None
    assert inside["tenant_id"] == str(tenant)
    assert inside["correlation_id"] == str(event)
    assert inside["causation_id"] is None
    assert inside["handler"] == "conversations.open_conversation"
    assert inside["level"] == "info"
    assert "timestamp" in inside
    # Library records go through the same pipeline and carry the same context.
    assert stdlib["event"] == "stdlib line from a library"
    assert stdlib["tenant_id"] == str(tenant)
    assert stdlib["process"] == "worker"
    assert stdlib["level"] == "warning"


def test_phone_numbers_and_bodies_are_masked_everywhere(stream: io.StringIO) -> None:
    log = get_logger("nmc.test")
    log.info(
        "sms from +13105551212",
        caller="+13105551212",
        body="hi, my number is +13105559999, call me",
        payload={"From": "+13105551212", "Body": "secret text", "nested": ["+13105550000"]},
    )
    logging.getLogger("nmc.std").info("stdlib %s", "+13105551212")
    try:
        raise ValueError("bad number +13105551212")
    except ValueError:
        log.exception("boom")
    structured, stdlib, failed = _lines(stream)
    raw = stream.getvalue()
    for number in ("+13105551212", "+13105559999", "+13105550000", "secret text", "call me"):
        assert number not in raw
    assert structured["event"] == "sms from +1310***1212"
    assert structured["caller"] == "+1310***1212"
    assert structured["body"] == "<38 chars>"
    assert structured["payload"] == {"From": "+1310***1212", "Body": "<11 chars>", "nested": ["+1310***0000"]}
    assert stdlib["event"] == "stdlib +1310***1212"
    assert "+1310***1212" in str(failed["exception"])


def test_a_callers_name_is_never_logged(stream: io.StringIO) -> None:
    """Staff's name for a caller (a ``CallerNamed`` payload) and caller ID's (Twilio's ``CallerName``) are personal
    data: only their length reaches the log, wherever they sit in the event."""
    log = get_logger("nmc.test")
    log.info(
        "caller named",
        caller_name="Maria Lopez",
        payload={"phone": "+13105551212", "caller_name": "Maria Lopez", "source": "staff"},
        params={"From": "+13105551212", "CallerName": "LOPEZ MARIA"},
    )
    (line,) = _lines(stream)
    raw = stream.getvalue()
    assert "Maria" not in raw
    assert "LOPEZ" not in raw
    assert line["caller_name"] == "<11 chars>"
    assert line["payload"]["caller_name"] == "<11 chars>"
    assert line["params"]["CallerName"] == "<11 chars>"


def test_envelope_fields_reads_the_four_ids() -> None:
    class Envelope:
        tenant_id = "t"
        correlation_id = "c"
        causation_id = None
        event_id = "e"

    assert envelope_fields(Envelope()) == {
        "tenant_id": "t",
        "correlation_id": "c",
        "causation_id": None,
        "event_id": "e",
    }


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("sms from +13105551212 ok", "sms from +1310***1212 ok"),
        ("call me at (310) 555-1212 please", "call me at +1310***1212 please"),
        ("call me at (310)555-1212", "call me at +1310***1212"),
        ("my cell is 310-555-1212.", "my cell is +1310***1212."),
        ("or 310.555.1212, thanks", "or +1310***1212, thanks"),
        ("number: 310 555 1212", "number: +1310***1212"),
        ("reach +1 310 555 1212 after 5", "reach +1310***1212 after 5"),
        ("1-310-555-1212 is the office", "+1310***1212 is the office"),
        ("London +44 20 7946 0958 too", "London +4420***0958 too"),
        ("dotted +1.310.555.1212", "dotted +1310***1212"),
        ("two: 310-555-1212 and +447911123456", "two: +1310***1212 and +4479***3456"),
        ('{"From": "(310) 555-1212"}', '{"From": "+1310***1212"}'),
    ],
)
def test_phone_numbers_in_every_common_format_are_masked_in_free_text(text: str, masked: str) -> None:
    assert mask_text(text) == masked


@pytest.mark.parametrize(
    "text",
    [
        "tenant 123e4567-e89b-12d3-a456-426614174000 and 12345678-1234-1234-1234-123456789012",
        "at 2026-12-01T11:09:06.086415+00:00 and 2026-12-01 11:09:06 +0000",
        "took 1500 ms, then 12.5 s, p95 310.555 ms",
        "price_cents=450000 amount 12000 revenue $1,234.56 total 3105551212",
        "epoch 1733050000, pid 12518, seq 9000000001",
        "listening on 127.0.0.1:5432 and localhost:8000, redis 10.100.200.12:6379",
        "version 3.11.7, retry +12 at 2024-01-01T00:00:00+00:00 id abc+1234567890x",
        "range 100-200-3000x and sku 310-555-12345 and 1.310.555.1212.5",
    ],
)
def test_ids_times_durations_amounts_and_ports_are_left_alone(text: str) -> None:
    assert mask_text(text) == text


def _configured(environ: dict[str, str], stream: object) -> None:
    configure_logging(Settings.from_env({"LOG_LEVEL": "INFO", **environ}), "ingress", stream=stream)


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    saved_level, saved_handlers = root.level, list(root.handlers)
    yield
    structlog.reset_defaults()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in saved_handlers:
        root.addHandler(handler)
    root.setLevel(saved_level)


def test_auto_writes_json_into_a_pipe_and_coloured_console_lines_on_a_terminal(restore_logging: None) -> None:
    piped = io.StringIO()
    _configured({}, piped)
    get_logger("nmc.test").info("to a pipe", caller="+13105551212")
    assert json.loads(piped.getvalue())["caller"] == "+1310***1212"

    controller, terminal_fd = os.openpty()
    with os.fdopen(terminal_fd, "w") as terminal:
        _configured({}, terminal)
        get_logger("nmc.test").info("to a terminal", caller="+13105551212")
        terminal.flush()
        written = os.read(controller, 65536).decode()
    os.close(controller)
    assert "\x1b[" in written  # ANSI colour
    assert "to a terminal" in written
    assert "+1310***1212" in written
    assert not written.lstrip().startswith("{")


def test_console_lines_leave_out_empty_fields_and_colour_follows_no_color_and_force_color(
    restore_logging: None,
) -> None:
    plain = io.StringIO()
    _configured({"LOG_FORMAT": "console"}, plain)
    get_logger("nmc.test").info("booked", slot="09:00", tenant_id=None)
    line = plain.getvalue()
    assert "booked" in line
    assert "slot=09:00" in line
    assert "None" not in line
    assert "tenant_id" not in line
    assert "correlation_id" not in line
    assert "\x1b[" not in line  # not a terminal, not forced

    forced = io.StringIO()
    _configured({"LOG_FORMAT": "console", "FORCE_COLOR": "1"}, forced)
    get_logger("nmc.test").info("booked")
    assert "\x1b[" in forced.getvalue()

    refused = io.StringIO()
    _configured({"LOG_FORMAT": "console", "FORCE_COLOR": "1", "NO_COLOR": "1"}, refused)
    get_logger("nmc.test").info("booked")
    assert "\x1b[" not in refused.getvalue()


def test_log_format_json_wins_on_a_terminal_too(restore_logging: None) -> None:
    controller, terminal_fd = os.openpty()
    with os.fdopen(terminal_fd, "w") as terminal:
        _configured({"LOG_FORMAT": "json"}, terminal)
        get_logger("nmc.test").info("forced json")
        terminal.flush()
        written = os.read(controller, 65536).decode()
    os.close(controller)
    assert json.loads(written)["event"] == "forced json"
