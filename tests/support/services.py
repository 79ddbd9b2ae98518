"""Where the tests find this machine's Postgres, Redis and RabbitMQ, and the settings every test starts from."""

from __future__ import annotations

import os

from db.settings import Settings

SERVER = os.environ.get("TEST_DATABASE_SERVER", "postgresql://postgres@127.0.0.1:5432")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
# Shared with other stacks: tests keep to queues of their own DRAMATIQ_NAMESPACE and delete them afterwards.
RABBITMQ_URL = os.environ.get("TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")


def base_settings(**overrides: object) -> Settings:
    values: dict[str, object] = {
        "DATABASE_URL": f"{SERVER}/nmc_test",
        "REDIS_URL": REDIS_URL,
        "LOG_FORMAT": "console",
        "LOG_LEVEL": "WARNING",
    }
    return Settings.from_env({key: str(value) for key, value in values.items()}, **overrides)
