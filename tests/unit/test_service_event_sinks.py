"""Services raise events into the sink their caller hands them, and only there.

A sink names the chain an event joins (correlation and causation). A service that appended to the outbox itself, or
that made its sink optional and started a fresh chain when none was given, would cut that chain without a word:
the caller three calls up inside a handler would never know its follow-up events lost their cause. So every module
(and the composition layer) leaves the outbox to ``domain/events``, and every sink a function takes is required;
a public function takes it by keyword, so each call site says which chain it joins.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SINK_TYPES = ("EventSink", "HandlerContext")


def _sources() -> list[Path]:
    return sorted(
        path
        for path in (ROOT / "domain").rglob("*.py")
        if path.relative_to(ROOT / "domain").parts[0] != "events" and "migrations" not in path.parts
    )


def outbox_uses(source: str) -> list[tuple[int, str]]:
    """(line, what) for each import of the outbox module and each ``outbox.append…(…)`` call in a source."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module == "domain.events.outbox":
            found.append((node.lineno, f"from domain.events.outbox import {', '.join(a.name for a in node.names)}"))
        elif isinstance(node, ast.ImportFrom) and node.module == "domain.events":
            found += [(node.lineno, "from domain.events import outbox") for a in node.names if a.name == "outbox"]
        elif isinstance(node, ast.Import):
            found += [(node.lineno, f"import {a.name}") for a in node.names if a.name == "domain.events.outbox"]
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr.startswith("append")
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "outbox"
        ):
            found.append((node.lineno, f"outbox.{node.func.attr}(…)"))
    return found


def _annotation(arg: ast.arg) -> str:
    return ast.unparse(arg.annotation) if arg.annotation is not None else ""


def _is_sink(arg: ast.arg) -> bool:
    return arg.arg == "events" or any(kind in _annotation(arg) for kind in SINK_TYPES)


def sink_parameter_problems(source: str) -> list[tuple[int, str]]:
    """(line, problem) for each sink parameter that has a default or may be None, and each sink a public function
    takes by position (a handler's ``ctx`` is positional by the handler signature, so only ``EventSink`` counts)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        args = node.args
        positional = args.posonlyargs + args.args
        # Defaults belong to the last positional parameters; a keyword-only one without a default has None.
        defaulted = {id(arg) for arg in positional[len(positional) - len(args.defaults) :]}
        defaulted |= {id(arg) for arg, default in zip(args.kwonlyargs, args.kw_defaults, strict=True) if default}
        for arg in positional + args.kwonlyargs:
            if not _is_sink(arg):
                continue
            if id(arg) in defaulted or "None" in _annotation(arg) or "Optional" in _annotation(arg):
                found.append((node.lineno, f"{node.name}({arg.arg}): optional"))
            elif arg in positional and not node.name.startswith("_") and "EventSink" in _annotation(arg):
                found.append((node.lineno, f"{node.name}({arg.arg}): positional"))
    return found


def test_no_service_touches_the_outbox() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{line}: {what}"
        for path in _sources()
        for line, what in outbox_uses(path.read_text())
    ]
    assert offenders == []


def test_every_sink_a_service_takes_is_required() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{line}: {problem}"
        for path in _sources()
        for line, problem in sink_parameter_problems(path.read_text())
    ]
    assert offenders == []


def test_the_scan_sees_services_sinks_and_the_outbox() -> None:
    # Not vacuous: the services this is about are scanned and take their sink by keyword, and each way of going
    # around the sink is caught.
    sources = {path.relative_to(ROOT).as_posix(): path.read_text() for path in _sources()}
    assert {"domain/scheduling/holds.py", "domain/composition/bookings.py"} <= set(sources)
    assert "def release_hold(" in sources["domain/scheduling/holds.py"]
    assert not any(path.startswith("domain/events/") for path in sources)
    assert outbox_uses(
        "from domain.events import outbox\nimport domain.events.outbox\n"
        "from domain.events.outbox import append\noutbox.append(session, event)\n"
    ) == [
        (1, "from domain.events import outbox"),
        (2, "import domain.events.outbox"),
        (3, "from domain.events.outbox import append"),
        (4, "outbox.append(…)"),
    ]
    assert sink_parameter_problems(
        "def a(session, *, events: EventSink | None = None): ...\n"
        "def b(session, *, events: EventSink = ROOT): ...\n"
        "def c(session, sink: Optional[EventSink]): ...\n"
        "def d(session, events: EventSink): ...\n"
        "def _e(session, events: EventSink): ...\n"
        "def f(ctx: HandlerContext, event): ...\n"
        "def g(session, *, events: EventSink): ...\n"
    ) == [
        (1, "a(events): optional"),
        (2, "b(events): optional"),
        (3, "c(sink): optional"),
        (4, "d(events): positional"),
    ]
