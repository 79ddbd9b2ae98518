"""Every secret literal this repository publishes is in the set live mode refuses, so a new one cannot slip in."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from db.settings import published_secrets

ROOT = Path(__file__).resolve().parents[2]
SKIPPED_DIRS = {".git", ".venv", "node_modules", "build", "dist", ".run", "results"}
SKIPPED_DIRS |= {".mypy_cache", ".ruff_cache", ".pytest_cache", ".hypothesis", ".import_linter_cache", "__pycache__"}
TEXT_SUFFIXES = {".py", ".md", ".yml", ".yaml", ".toml", ".sh", ".json", ".txt", ".cfg", ".ini", ".example"}
TEXT_NAMES = {"Dockerfile", "Makefile", "run"}
# The lock file names packages, not secrets; this file's own samples of each shape are not published values.
SKIPPED_FILES = {"constraints.txt", Path(__file__).name}

_SECRET_NAME = r"\w*(?:TOKEN|SECRET|PASSWORD|PASSWD|API_KEY|APIKEY)\w*"
# Configuration and documentation: .env, shell, YAML, the README.
_TEXT_PATTERNS = [
    # NAME=value, NAME: value (a ${...} reference or nothing is not a literal).
    re.compile(rf"^[ \t#-]*({_SECRET_NAME})[ \t]*[=:][ \t]*[\"']?(?!\$\{{)([^\s\"'#]+)", re.IGNORECASE | re.MULTILINE),
    # The README's configuration table: | `NAME` | `value` |
    re.compile(rf"\|[ \t]*`({_SECRET_NAME})`[ \t]*\|[ \t]*`([^`]+)`", re.IGNORECASE),
    # A compose default: ${NAME:-value} or ${NAME-value}.
    re.compile(rf"\$\{{({_SECRET_NAME}):?-([^}}]+)\}}", re.IGNORECASE),
]
_PYTHON_PATTERNS = [
    # name = "value", name: str = "value", name="value", "NAME": "value", SecretStr("value").
    re.compile(
        rf"\b({_SECRET_NAME})[\"']?[ \t]*(?::[ \t]*[\w\[\]| ]+)?[ \t]*[=:][ \t]*"
        r"(?:SecretStr\()?[\"']([^\"'{}\s]+)[\"']",
        re.IGNORECASE,
    ),
]
# Provider-shaped secrets wherever they appear: Stripe endpoint secrets, OpenAI-style keys.
_SHAPED = re.compile(r"(?<![\w-])()(whsec_\w+|sk-[A-Za-z0-9_-]+)")


def _published_files() -> Iterator[Path]:
    for path in sorted(ROOT.rglob("*")):
        relative = path.relative_to(ROOT)
        if any(part in SKIPPED_DIRS or part.endswith(".egg-info") for part in relative.parts[:-1]):
            continue
        readable = path.suffix in TEXT_SUFFIXES or path.name in TEXT_NAMES
        if readable and path.is_file() and path.name not in SKIPPED_FILES:
            yield path


def secret_literals(text: str, *, python: bool = False) -> set[str]:
    found: set[str] = set()
    for pattern in [*(_PYTHON_PATTERNS if python else _TEXT_PATTERNS), _SHAPED]:
        for match in pattern.finditer(text):
            value = match.group(2).strip().strip("\"'`,")
            # A *_file, *_path or *_url setting says where a secret is kept or exchanged (auth_password_file,
            # GOOGLE_OAUTH_TOKEN_URL), not what it is.
            if match.group(1).lower().endswith(("_file", "_path", "_url")):
                continue
            if value and not value.startswith(("$", "*(")):
                found.add(value)
    return found


def test_a_setting_that_names_a_secrets_file_is_not_a_secret() -> None:
    assert secret_literals("auth_password_file: /etc/alertmanager/smtp-password\nAPI_KEY_PATH=/run/key") == set()
    assert secret_literals("| `JOBBER_OAUTH_TOKEN_URL` | `https://api.getjobber.com/api/oauth/token` |") == set()
    assert secret_literals("auth_password: hunter2") == {"hunter2"}


def test_the_scan_finds_the_secrets_the_readme_publishes() -> None:
    readme = secret_literals((ROOT / "README.md").read_text())
    assert {"sandbox-auth-token-change-me-000", "whsec_sandbox_change_me", "jobber_sandbox_secret_change_me"} <= readme


def test_the_scan_reads_every_shape_of_literal() -> None:
    text = "\n".join(
        [
            "FOO_TOKEN=envfile-literal",
            "      GF_SECURITY_ADMIN_PASSWORD: ${GRAFANA_ADMIN_PASSWORD:-compose-default}",
            "      STRIPE_WEBHOOK_SECRET: yaml-literal",
            "| `JOBBER_WEBHOOK_SECRET` | `table-literal` | ... |",
            "the key sk-prose-literal and whsec_prose_literal",
            "    TWILIO_AUTH_TOKEN: ${TWILIO_AUTH_TOKEN:?set it}",
            "AI_API_KEY=",
            "JOBBER_ACCESS_TOKEN=",
        ]
    )
    assert secret_literals(text) == {
        "envfile-literal",
        "compose-default",
        "yaml-literal",
        "table-literal",
        "sk-prose-literal",
        "whsec_prose_literal",
    }
    python = "\n".join(
        [
            '    api_key: str = "python-default"',
            '    twilio_auth_token: SecretStr = SecretStr("field-default")',
            '        "TWILIO_AUTH_TOKEN": "dict-literal",',
            'SECRET = "constant-literal"',
            'Client(auth_token="keyword-literal")',
            "    access_token=settings.jobber_access_token.get_secret_value(),",
            "    channel_token: Mapped[str | None] = mapped_column(String(200))",
            '    "STRIPE_WEBHOOK_SECRET": f"whsec_{secrets.token_urlsafe(24)}",',
        ]
    )
    assert secret_literals(python, python=True) == {
        "python-default",
        "field-default",
        "dict-literal",
        "constant-literal",
        "keyword-literal",
    }


def test_every_secret_literal_in_the_repository_is_refused_in_live_mode() -> None:
    refused = published_secrets()
    missing = {
        f"{path.relative_to(ROOT)}: {value}"
        for path in _published_files()
        for value in secret_literals(path.read_text(errors="replace"), python=path.suffix == ".py")
        if value.casefold() not in refused
    }
    assert not missing, f"add these to db/published_secrets.py (or stop publishing them): {sorted(missing)}"
