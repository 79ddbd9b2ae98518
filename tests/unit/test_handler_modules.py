"""HANDLER_MODULES names modules to serve: a name that is no handler module is a configuration error, never skipped."""

from __future__ import annotations

from pathlib import Path

import pytest

from db.settings import SettingsError
from workers.registry import DOMAIN_HANDLER_MODULES, HandlerModulesError, load_subscriptions


@pytest.mark.parametrize("name", ["nope", "domain.nope.handlers", "domain.catalog.handlers", "tests..support", ".x"])
def test_an_unknown_module_is_a_settings_error_naming_the_variable(name: str) -> None:
    with pytest.raises(HandlerModulesError) as raised:
        load_subscriptions(["domain.reporting.handlers", name])
    assert isinstance(raised.value, SettingsError)  # so every command reports it in one line
    message = str(raised.value)
    assert message.startswith("invalid HANDLER_MODULES: ")
    assert "\n" not in message


def test_a_module_without_subscriptions_is_a_settings_error() -> None:
    with pytest.raises(HandlerModulesError, match=r"^invalid HANDLER_MODULES: db\.settings has no `subscriptions"):
        load_subscriptions(["db.settings"])


def test_a_handler_module_whose_own_import_fails_keeps_its_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The module exists; what it imports does not. That is a bug in the module, not a bad setting.
    (tmp_path / "nmc_broken_handlers.py").write_text("import nmc_no_such_dependency\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ModuleNotFoundError) as raised:
        load_subscriptions(["nmc_broken_handlers"])
    assert not isinstance(raised.value, SettingsError)
    assert raised.value.name == "nmc_no_such_dependency"


def test_every_default_module_loads() -> None:
    loaded = load_subscriptions(DOMAIN_HANDLER_MODULES)
    assert [source.module for source in loaded] == [name.split(".")[1] for name in DOMAIN_HANDLER_MODULES]
