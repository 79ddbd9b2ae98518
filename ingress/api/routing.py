"""Path converters for the /v1 routes."""

from __future__ import annotations

import uuid

import falcon
from falcon.routing import UUIDConverter

from ingress.api.base import as_uuid


class AsciiUUIDConverter(UUIDConverter):
    """Falcon's ``uuid`` converter, ASCII only: the same rule as ``base.as_uuid`` for headers and query values, since
    ``uuid.UUID`` goes through ``int(…, 16)``, which also takes fullwidth digits (one id, many spellings)."""

    def convert(self, value: str) -> uuid.UUID | None:
        return as_uuid(value)


def use_ascii_uuids(app: falcon.App) -> None:
    """Before any route is added: ``{x_id:uuid}`` then refuses a malformed id in the router, as a 404."""
    app.router_options.converters["uuid"] = AsciiUUIDConverter
