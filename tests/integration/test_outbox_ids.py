"""The database's nmc_uuid_v7(at): the dispatcher's delivery ids, time-ordered like the producers' event ids."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, text


def test_nmc_uuid_v7_encodes_its_instant_in_front_and_is_version_7(engine: Engine) -> None:
    at = datetime(2026, 12, 1, 12, 30, 15, 123_000, tzinfo=UTC)
    with engine.connect() as connection:
        values = [
            connection.execute(text("SELECT nmc_uuid_v7(:at)"), {"at": at + timedelta(milliseconds=step)}).scalar_one()
            for step in range(50)
        ]
        now = connection.execute(text("SELECT nmc_uuid_v7()")).scalar_one()
        distinct = connection.execute(text("SELECT count(DISTINCT nmc_uuid_v7(:at)) FROM generate_series(1, 5000)"),
                                      {"at": at}).scalar_one()  # fmt: skip
    assert all(isinstance(value, uuid.UUID) and value.version == 7 for value in values)
    assert all(value.variant == uuid.RFC_4122 for value in values)
    assert values[0].int >> 80 == int(at.timestamp() * 1000)
    assert values == sorted(values)
    assert abs((now.int >> 80) - datetime.now(UTC).timestamp() * 1000) < 60_000
    assert distinct == 5000
