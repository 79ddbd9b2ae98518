"""Each domain module's SQL names only its own tables; the composition layer names none.

A statement on another module's table is a second place that module's rules live (and a coupling no import-linter
contract sees, since SQL is a string). The owner of each table is the module whose ``models`` maps it; the shared
pipeline tables (``db/models.py``: outbox, deliveries, processed markers, dead letters, webhook dedupe) belong to
no module, and any module may read them (reporting rebuilds its counts from the event log). The SQL looked at:
every argument of a ``text(...)`` call and every other string literal that reads like a statement (a docstring or
a comment does not), so raw statements and SQL fragments inside ORM queries both count. The ORM side (a module
querying another's mapped classes) is the import-linter contracts' job.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from db.base import Base
from domain import models as _all_models  # noqa: F401  (every table mapped, so every owner is known)

ROOT = Path(__file__).resolve().parents[2]
MODULES = ("identity", "conversations", "catalog", "scheduling", "compliance", "billing", "reporting")
STATEMENT = re.compile(r"\b(SELECT|INSERT\s+INTO|UPDATE|DELETE\s+FROM|FROM|JOIN|RETURNING)\b")
TABLE_WORD = re.compile(r"\b[a-z][a-z0-9]*_[a-z0-9_]+\b")


def table_owners() -> dict[str, str]:
    """Table name → the module that owns it, or ``"shared"`` for the pipeline's own tables."""
    owners: dict[str, str] = {}
    for mapper in Base.registry.mappers:
        parts = mapper.class_.__module__.split(".")
        owner = parts[1] if parts[0] == "domain" and parts[1] in MODULES else "shared"
        for table in mapper.tables:
            owners[table.name] = owner
    return owners


def prefixes() -> dict[str, str]:
    """Module → its table prefix, read off the tables it owns (one prefix each)."""
    found: dict[str, set[str]] = {}
    for table, owner in table_owners().items():
        if owner != "shared":
            found.setdefault(owner, set()).add(table.split("_", 1)[0] + "_")
    assert all(len(each) == 1 for each in found.values()), found
    return {owner: each.pop() for owner, each in found.items()}


def _docstrings(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                ids.add(id(first.value))
    return ids


def sql_strings(source: str) -> list[tuple[int, str]]:
    """(line, text) of every SQL string in a Python source."""
    tree = ast.parse(source)
    skip = _docstrings(tree)
    in_text_call: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) == "text":
            for argument in node.args:
                in_text_call.update(id(part) for part in ast.walk(argument) if isinstance(part, ast.Constant))
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Constant) or not isinstance(node.value, str) or id(node) in skip:
            continue
        if id(node) in in_text_call or STATEMENT.search(node.value):
            found.append((node.lineno, node.value))
    return found


def foreign_tables(module: str | None, sql: str) -> set[str]:
    """Module tables (known, or unknown but carrying a module's prefix) that ``sql`` names and ``module`` does not
    own; ``module`` None (the composition layer) owns none."""
    owners, by_prefix = table_owners(), prefixes()
    named = set()
    for word in TABLE_WORD.findall(sql):
        owner = owners.get(word) or next((m for m, p in by_prefix.items() if word.startswith(p)), None)
        if owner not in (None, "shared", module):
            named.add(word)
    return named


def _sources(package: Path) -> list[Path]:
    return sorted(path for path in package.rglob("*.py") if "migrations" not in path.parts)


def test_every_module_owns_tables_under_one_prefix() -> None:
    assert set(prefixes()) == set(MODULES)
    assert len(set(prefixes().values())) == len(MODULES)


def test_no_module_sql_names_another_modules_table() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{line}: {sorted(tables)}"
        for module in MODULES
        for path in _sources(ROOT / "domain" / module)
        for line, sql in sql_strings(path.read_text())
        if (tables := foreign_tables(module, sql))
    ]
    assert offenders == []


def test_the_composition_layer_has_no_sql_of_its_own() -> None:
    sources = _sources(ROOT / "domain" / "composition")
    assert sources, "the composition layer was not found"
    assert [(path.name, line) for path in sources for line, _sql in sql_strings(path.read_text())] == []


def test_the_scan_sees_statements_fragments_and_foreign_tables() -> None:
    # Not vacuous: the scan finds scheduling's own statements, a fragment inside text(), and would flag the adapter
    # SQL that used to run on sched_* from outside scheduling.
    scheduling_sql = [
        sql for path in _sources(ROOT / "domain" / "scheduling") for _line, sql in sql_strings(path.read_text())
    ]
    assert any("sched_working_hours" in sql for sql in scheduling_sql)
    assert sql_strings('"""SELECT 1 FROM id_tenants"""\nq = text("upper(sched_holds.timeslot) > :now")') == [
        (2, "upper(sched_holds.timeslot) > :now")
    ]
    assert foreign_tables("identity", "SELECT id FROM sched_holds JOIN id_tenants ON true") == {"sched_holds"}
    assert foreign_tables("conversations", "SELECT 1 FROM outbox_events, rep_future_table") == {"rep_future_table"}
    assert foreign_tables(None, "SELECT 1 FROM conv_messages") == {"conv_messages"}
