"""The environment an acceptance test hands ``nmc up``: this test's database, Redis and namespace, free ports."""

from __future__ import annotations

import os

from db.settings import Settings
from ops.stack import ROOT, free_port


def up_env(settings: Settings, **extra: str) -> dict[str, str]:
    """Every process on a port of its own, quiet logs; ``extra`` adds or overrides variables (worker counts)."""
    ingress, sandbox = free_port(), free_port()
    return os.environ | {
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
        "DRAMATIQ_NAMESPACE": settings.dramatiq_namespace,
        "INGRESS_BIND": f"127.0.0.1:{ingress}",
        "SANDBOX_BIND": f"127.0.0.1:{sandbox}",
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{ingress}",
        "TWILIO_API_BASE_URL": f"http://127.0.0.1:{sandbox}",
        "CLERK_JWKS_URL": f"http://127.0.0.1:{sandbox}/.well-known/jwks.json",
        "DISPATCHER_METRICS_BIND": f"127.0.0.1:{free_port()}",
        "SCHEDULER_METRICS_BIND": f"127.0.0.1:{free_port()}",
        "WORKER_METRICS_BIND": f"127.0.0.1:{free_port()}",
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT),
        **extra,
    }
