"""Liveness and readiness. Readiness tells the truth about Postgres and Redis, each with its own verdict."""

from __future__ import annotations

import falcon
import redis
from sqlalchemy import Engine, text


class HealthResource:
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = {"status": "ok"}


class ReadinessResource:
    def __init__(self, engine: Engine, redis_client: redis.Redis) -> None:
        self._engine = engine
        self._redis = redis_client

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        checks = {"postgres": self._check_postgres(), "redis": self._check_redis()}
        ready = all(result == "ok" for result in checks.values())
        resp.status = falcon.HTTP_200 if ready else falcon.HTTP_503
        resp.media = {"status": "ready" if ready else "not ready", "checks": checks}

    def _check_postgres(self) -> str:
        try:
            with self._engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception as error:
            return f"error: {type(error).__name__}"
        return "ok"

    def _check_redis(self) -> str:
        try:
            self._redis.ping()
        except Exception as error:
            return f"error: {type(error).__name__}"
        return "ok"
