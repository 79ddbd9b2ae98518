"""The Falcon WSGI front door: ``create_app(settings)`` wires resources with their collaborators."""

from __future__ import annotations

from dataclasses import dataclass

import falcon
import redis
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from db.engine import make_engine, make_session_factory
from db.settings import Settings
from ingress.resources.health import HealthResource, ReadinessResource


@dataclass
class IngressDeps:
    """Collaborators the resources are built with; tests pass their own."""

    engine: Engine
    sessions: sessionmaker[Session]
    redis: redis.Redis


def build_deps(settings: Settings) -> IngressDeps:
    engine = make_engine(settings, pool_size=settings.ingress_threads, max_overflow=4, application_name="nmc-ingress")
    return IngressDeps(
        engine=engine,
        sessions=make_session_factory(engine),
        redis=redis.Redis.from_url(settings.redis_url, socket_timeout=2, socket_connect_timeout=2),
    )


def create_app(settings: Settings, deps: IngressDeps | None = None) -> falcon.App:
    deps = deps or build_deps(settings)
    app = falcon.App()
    app.req_options.auto_parse_form_urlencoded = False  # signatures need the raw body; resources parse it
    app.add_route("/healthz", HealthResource())
    app.add_route("/readyz", ReadinessResource(deps.engine, deps.redis))
    return app
