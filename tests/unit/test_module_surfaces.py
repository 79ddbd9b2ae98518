"""What a domain module hands to code outside it is a frozen record or a plain value, never one of its ORM rows.

An ORM row that leaves its module can be read lazily (another query, outside the module's statements), changed and
flushed by whoever holds it, and ties the caller to the table's columns. The import-linter contracts forbid
importing another module's ``models``, but a function can still return a mapped instance without its caller naming
the class; this test looks at every function another package (ingress, workers, ops, the composition layer) imports
from a module, and at what its return annotation names.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from db.base import Base

ROOT = Path(__file__).resolve().parents[2]
MODULES = ("identity", "conversations", "catalog", "scheduling", "compliance", "billing", "reporting")
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*")


def _owner(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "domain" and parts[1] in MODULES else None


def _sources() -> Iterator[tuple[Path, str | None]]:
    """Every Python file of the packages, with the module it belongs to (None outside the seven)."""
    for package in ("domain", "ingress", "workers", "ops"):
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            parts = path.relative_to(ROOT).parts
            yield path, parts[1] if parts[0] == "domain" and parts[1] in MODULES else None


def imported_from_modules() -> set[tuple[str, str]]:
    """(module path, name) of every name code outside a module takes from it: ``from domain.m.x import f`` and
    ``x.f`` after ``from domain.m import x``."""
    used: set[tuple[str, str]] = set()
    for path, home in _sources():
        tree = ast.parse(path.read_text())
        aliases: dict[str, str] = {}
        for node in ast.walk(tree):
            if not isinstance(node, ast.ImportFrom) or node.module is None:
                continue
            owner = _owner(node.module)
            if owner is None or owner == home:
                continue
            for name in node.names:
                submodule = f"{node.module}.{name.name}"
                if importlib.util.find_spec(node.module) and _is_module(submodule):
                    aliases[name.asname or name.name] = submodule
                else:
                    used.add((node.module, name.name))
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases:
                used.add((aliases[node.value.id], node.attr))
    return {(module, name) for module, name in used if not module.endswith(".models")}


def _is_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False


def mapped_classes_returned(func: Callable[..., Any]) -> list[str]:
    """The mapped (ORM) classes that ``func``'s return annotation names."""
    annotation = inspect.get_annotations(func).get("return")
    if annotation is None:
        return []
    text = annotation if isinstance(annotation, str) else repr(annotation)
    found = []
    for word in IDENTIFIER.findall(text):
        value: Any = func.__globals__.get(word.split(".")[0])
        for attribute in word.split(".")[1:]:
            value = getattr(value, attribute, None)
        if inspect.isclass(value) and issubclass(value, Base):
            found.append(value.__name__)
    return found


def test_no_function_used_outside_a_module_returns_its_orm_rows() -> None:
    checked, offenders = 0, []
    for module, name in sorted(imported_from_modules()):
        value = getattr(importlib.import_module(module), name, None)
        if not inspect.isfunction(value):
            continue
        checked += 1
        if classes := mapped_classes_returned(value):
            offenders.append(f"{module}.{name} -> {classes}")
    assert checked > 100, checked  # the scan found the modules' surfaces
    assert offenders == []


def test_the_check_sees_an_orm_row_in_a_return_annotation() -> None:
    # Not vacuous: scheduling's own hold_row (used only inside scheduling) returns the ORM Hold, and is flagged.
    from domain.scheduling.holds import hold_row
    from domain.scheduling.queries import find_hold

    assert mapped_classes_returned(hold_row) == ["Hold"]
    assert mapped_classes_returned(find_hold) == []
    assert ("domain.scheduling.service", "place_hold") in imported_from_modules()
    assert ("domain.billing.service", "subscription_for") in imported_from_modules()
