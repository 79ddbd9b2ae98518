"""docker-compose.yml is safe on a reachable host, and in step with the CLI and .env.example (no Docker engine here:
the files are parsed and checked as data)."""

from __future__ import annotations

import re
import secrets
from pathlib import Path
from typing import Any

import click
import pytest
import yaml

from db.settings import SECRET_FIELDS, Settings, SettingsError
from ops.cli import _register, cli

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILES = ("docker-compose.yml",)
APP_IMAGE = "nevermisscall:local"
# Read by docker compose itself or by the images, not by Settings.
COMPOSE_ONLY = {"COMPOSE_PROFILES", "POSTGRES_PASSWORD", "GRAFANA_ADMIN_PASSWORD", "RABBITMQ_PASSWORD"}
_REFERENCE = re.compile(r"\$\{([A-Za-z_]\w*)([^}]*)\}")


def _compose(name: str = "docker-compose.yml") -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((ROOT / name).read_text())
    return document


def _services(name: str = "docker-compose.yml") -> dict[str, dict[str, Any]]:
    services: dict[str, dict[str, Any]] = _compose(name)["services"]
    return services


def _env_example() -> dict[str, str]:
    pairs = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, separator, value = line.partition("=")
            assert separator, f".env.example: not NAME=value: {line!r}"
            pairs[key.strip()] = value
    return pairs


def _app_services() -> dict[str, dict[str, Any]]:
    return {name: service for name, service in _services().items() if service.get("image") == APP_IMAGE}


def test_postgres_and_redis_publish_no_port() -> None:
    services = _services()
    assert "ports" not in services["postgres"]
    assert "ports" not in services["redis"]
    assert "POSTGRES_HOST_AUTH_METHOD" not in services["postgres"]["environment"]
    assert services["postgres"]["environment"]["POSTGRES_PASSWORD"].startswith("${POSTGRES_PASSWORD:?")


def test_the_sandbox_runs_only_under_its_profile_and_on_loopback() -> None:
    services = _app_services()
    sandboxes = {name for name, service in services.items() if service["command"][0] == "sandbox"}
    assert sandboxes == {"sandbox"}
    assert services["sandbox"]["profiles"] == ["sandbox"]
    assert all(port.startswith("127.0.0.1:") for port in services["sandbox"]["ports"])
    # Nothing else is hidden behind a profile but RabbitMQ, and nothing depends on either (it may not be running).
    assert sorted(name for name, service in _services().items() if "profiles" in service) == ["rabbitmq", "sandbox"]
    for optional in ("sandbox", "rabbitmq"):
        assert not [name for name, service in _services().items() if optional in service.get("depends_on", {})]


def test_rabbitmq_is_a_profile_without_a_published_port_and_the_queues_stay_on_redis_by_default() -> None:
    rabbitmq = _services()["rabbitmq"]
    assert rabbitmq["profiles"] == ["rabbitmq"]
    assert "ports" not in rabbitmq
    assert rabbitmq["environment"]["RABBITMQ_DEFAULT_PASS"] == "${RABBITMQ_PASSWORD:-}"
    assert Settings.from_env(_app_environment(_filled_env_example())).broker_url == ""
    url = "amqp://nmc:pw@rabbitmq:5672/%2F"
    assert Settings.from_env(_app_environment(_filled_env_example(BROKER_URL=url))).broker_is_rabbitmq


def test_the_default_is_live_mode_with_every_secret_from_the_environment() -> None:
    environment = _app_services()["ingress"]["environment"]
    assert environment["TWILIO_API_BASE_URL"] == "${TWILIO_API_BASE_URL:-}"
    for name in (*(field.upper() for field in SECRET_FIELDS), "CLERK_JWKS_URL"):
        value = environment[name]
        assert re.fullmatch(rf"\$\{{{name}(:\?[^}}]+|:-)\}}", value), f"{name} must come from .env, not {value!r}"
    for name in ("TWILIO_AUTH_TOKEN", "STRIPE_WEBHOOK_SECRET", "JOBBER_WEBHOOK_SECRET", "CLERK_JWKS_URL"):
        assert environment[name].startswith(f"${{{name}:?"), f"{name} is required"
    assert "${POSTGRES_PASSWORD:?" in environment["DATABASE_URL"]


@pytest.mark.parametrize("name", COMPOSE_FILES)
def test_grafana_needs_a_password_from_the_environment_and_has_no_anonymous_access(name: str) -> None:
    environment = _services(name)["grafana"]["environment"]
    assert environment["GF_AUTH_ANONYMOUS_ENABLED"] == "false"
    assert "GF_AUTH_ANONYMOUS_ORG_ROLE" not in environment
    assert re.fullmatch(r"\$\{GRAFANA_ADMIN_PASSWORD:\?[^}]+\}", environment["GF_SECURITY_ADMIN_PASSWORD"])


@pytest.mark.parametrize("name", COMPOSE_FILES)
def test_prometheus_cannot_be_shut_down_remotely_and_listens_on_loopback(name: str) -> None:
    prometheus = _services(name)["prometheus"]
    assert not [flag for flag in prometheus["command"] if flag.startswith("--web.enable-lifecycle")]
    assert not [flag for flag in prometheus["command"] if flag.startswith("--web.enable-admin-api")]
    assert all(port.startswith("127.0.0.1:") for port in prometheus["ports"])


@pytest.mark.parametrize("name", COMPOSE_FILES)
def test_every_variable_compose_reads_is_in_env_example(name: str) -> None:
    text = (ROOT / name).read_text()
    assert not re.search(r"\$(?!\{)[A-Za-z_]", text), "use ${VAR} so this test sees it"
    used = {match.group(1) for match in _REFERENCE.finditer(text)}
    assert used - set(_env_example()) == set()


def test_env_example_lists_every_secret_and_publishes_none() -> None:
    example = _env_example()
    secrets = {field.upper() for field in SECRET_FIELDS} | {"POSTGRES_PASSWORD", "GRAFANA_ADMIN_PASSWORD"}
    secrets |= {"RABBITMQ_PASSWORD"}
    assert secrets <= set(example)
    assert {name: example[name] for name in secrets if example[name]} == {}
    # Every other name is a real setting: a typo here would silently configure nothing.
    assert set(example) - COMPOSE_ONLY <= {field.upper() for field in Settings.model_fields}


def test_every_command_compose_runs_exists_in_the_cli() -> None:
    if "ingress" not in cli.commands:
        _register()
    for name, service in _services().items():
        if service.get("image") != APP_IMAGE:
            continue
        command, *arguments = service["command"]
        assert command in cli.commands, f"{name}: nmc {command} does not exist"
        # Parsing alone (no invocation) rejects an unknown option or a bad value.
        with click.Context(cli) as parent:
            cli.commands[command].make_context(command, list(arguments), parent=parent)


def test_dotenv_never_reaches_git_or_the_image() -> None:
    assert ".env" in (ROOT / ".gitignore").read_text().splitlines()
    assert ".env" in (ROOT / ".dockerignore").read_text().splitlines()


class ComposeRefuses(Exception):
    """What `docker compose` does on an empty ${VAR:?message}: stop before starting anything."""


def _interpolate(value: str, dotenv: dict[str, str]) -> str:
    """docker compose's ${VAR:?message} and ${VAR:-default}, enough to check what the containers get."""

    def substitute(match: re.Match[str]) -> str:
        name, rest = match.group(1), match.group(2)
        given = dotenv.get(name, "")
        if rest.startswith(":?"):
            if not given:
                raise ComposeRefuses(rest[2:])
            return given
        assert rest in ("", ":-") or rest.startswith(":-"), rest
        return given or rest[2:]

    return _REFERENCE.sub(substitute, value)


def _app_environment(dotenv: dict[str, str], service: str = "ingress") -> dict[str, str]:
    environment = _app_services()[service]["environment"]
    return {key: _interpolate(str(value), dotenv) for key, value in environment.items()}


def _filled_env_example(**values: str) -> dict[str, str]:
    own = {field.upper(): secrets.token_hex(16) for field in SECRET_FIELDS}
    own |= {"POSTGRES_PASSWORD": secrets.token_hex(16), "GRAFANA_ADMIN_PASSWORD": secrets.token_hex(16)}
    own |= {"RABBITMQ_PASSWORD": secrets.token_hex(16)}
    live = {
        "PUBLIC_BASE_URL": "https://nmc.example.com",
        "TWILIO_ACCOUNT_SID": "AC" + secrets.token_hex(16),
        "CLERK_JWKS_URL": "https://clerk.example.com/.well-known/jwks.json",
        "CLERK_ISSUER": "https://clerk.example.com",
        "CLERK_AUTHORIZED_PARTIES": "https://nmc.example.com",
    }
    return _env_example() | own | live | values


def test_compose_with_a_filled_env_example_starts_in_live_mode() -> None:
    settings = Settings.from_env(_app_environment(_filled_env_example()))
    assert settings.live_mode
    assert settings.database_url.startswith("postgresql://postgres:")


def test_compose_in_live_mode_refuses_a_published_secret() -> None:
    dotenv = _filled_env_example(STRIPE_WEBHOOK_SECRET="whsec_sandbox_change_me")
    with pytest.raises(SettingsError, match=r"^invalid STRIPE_WEBHOOK_SECRET: live mode"):
        Settings.from_env(_app_environment(dotenv))


def test_compose_refuses_to_start_without_the_secrets() -> None:
    with pytest.raises(ComposeRefuses, match=r"^set TWILIO_AUTH_TOKEN in \.env"):
        _app_environment(_filled_env_example(TWILIO_AUTH_TOKEN=""))


def test_the_sandbox_values_of_env_example_make_a_working_sandbox_configuration() -> None:
    # The "sandbox:" value .env.example gives above each variable.
    found = re.findall(r"sandbox: (\S+)\n(\w+)=", (ROOT / ".env.example").read_text())
    dotenv = _filled_env_example(**{name: value for value, name in found})
    assert dotenv["COMPOSE_PROFILES"] == "sandbox"
    for service in ("ingress", "sandbox"):
        settings = Settings.from_env(_app_environment(dotenv, service))
        assert not settings.live_mode
        assert settings.clerk_jwks_url == "http://sandbox:8010/.well-known/jwks.json"


def test_each_app_service_s_health_url_is_its_own_process_s_bind() -> None:
    """The image's HEALTHCHECK asks HEALTH_URL: it must be the port this service's process serves."""
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "HEALTHCHECK" in dockerfile
    default = re.search(r"ENV HEALTH_URL=(\S+)", dockerfile)
    assert default is not None
    services = _app_services()
    for name, service in services.items():
        process = service["command"][0]
        if process in {"sandbox", "migrate"}:
            continue
        environment = service["environment"]
        url = environment.get("HEALTH_URL", default.group(1))
        port = url.split("://", 1)[1].split("/", 1)[0].rsplit(":", 1)[1]
        if process == "ingress":
            assert f"0.0.0.0:{port}" in service["command"], name
        else:
            assert environment[f"{process.upper()}_METRICS_BIND"].endswith(f":{port}"), name


def test_the_image_installs_dependencies_before_copying_the_sources_and_writes_under_an_absolute_data_dir() -> None:
    lines = [line.strip() for line in (ROOT / "Dockerfile").read_text().splitlines()]
    first_source = next(index for index, line in enumerate(lines) if line.startswith("COPY ingress"))
    dependencies = next(index for index, line in enumerate(lines) if "-r /tmp/requirements.txt" in line)
    assert dependencies < first_source
    assert any("--no-deps" in line for line in lines[first_source:])
    data_dir = re.search(r"DATA_DIR=(\S+)", "\n".join(lines))
    assert data_dir is not None
    assert data_dir.group(1).startswith("/")
    assert any(line.startswith("USER ") and line != "USER root" for line in lines)


def test_backups_and_keys_default_to_absolute_paths_under_data_dir(tmp_path: Path) -> None:
    settings = Settings.from_env({"DATA_DIR": str(tmp_path / "data")})
    assert settings.backup_dir == str(tmp_path / "data" / "backups")
    assert settings.sandbox_key_path == str(tmp_path / "data" / "sandbox-jwk.pem")
    relative = Settings.from_env({"BACKUP_DIR": "some/backups"})
    assert Path(relative.backup_dir).is_absolute()


def test_an_unwritable_backup_dir_is_one_line_not_a_traceback() -> None:
    from click.testing import CliRunner

    from ops.commands.backup import backup

    settings = Settings.from_env({"BACKUP_DIR": "/proc/nmc-backups"})
    outcome = CliRunner().invoke(backup, [], obj=settings)
    assert outcome.exit_code == 1
    assert outcome.output.startswith("Error: cannot write backups to /proc/nmc-backups: ")
    assert outcome.output.count("\n") == 1
