"""The ingress and the sandbox open no gunicorn control socket: gunicorn's default is one per user, shared by both,
and whoever reaches it can resize or stop the other's workers."""

from __future__ import annotations

from pathlib import Path

import pytest

from db.settings import Settings
from ops.stack import LocalStack

pytestmark = pytest.mark.slow


def test_no_gunicorn_control_socket_is_opened(settings: Settings, tmp_path: Path) -> None:
    home, runtime = tmp_path / "home", tmp_path / "xdg"
    runtime.mkdir()
    home.mkdir()
    stack = LocalStack(
        settings.database_url,
        settings.redis_url,
        settings.dramatiq_namespace,
        log_dir=tmp_path / "logs",
        # Where gunicorn would put its default socket: $XDG_RUNTIME_DIR, else ~/.gunicorn.
        extra_env={"HOME": str(home), "XDG_RUNTIME_DIR": str(runtime)},
    )
    stack.start(["sandbox", "ingress"], timeout=60)
    try:
        unix_sockets = Path("/proc/net/unix").read_text()
        assert [path.name for path in runtime.iterdir()] == []
        assert not (home / ".gunicorn").exists()
        assert str(runtime) not in unix_sockets
    finally:
        stack.stop()
