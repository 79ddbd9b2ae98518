"""Path converters for the /v1 routes."""

from __future__ import annotations

import uuid

import falcon
from falcon.routing import UUIDConverter


class AsciiUUIDConverter(UUIDConverter):
    """Falcon's ``uuid`` converter, ASCII only: ``uuid.UUID`` goes through ``int(…, 16)``, which also takes
    fullwidth and other Unicode digits, so one id would have many spellings (see ``base.as_uuid``)."""

    def convert(self, value: str) -> uuid.UUID | None:
        return super().convert(value) if value.isascii() else None


def use_ascii_uuids(app: falcon.App) -> None:
    """Before any route is added: ``{x_id:uuid}`` then refuses a malformed id in the router, as a 404."""
    app.router_options.converters["uuid"] = AsciiUUIDConverter
