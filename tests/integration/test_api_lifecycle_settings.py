"""`/v1/settings/lifecycle`: read by any member, changed by an OWNER, every wrong value a 422 naming the field."""

from __future__ import annotations

import pytest

from tests.support import api_world
from tests.support.api_world import World

jwks = api_world.jwks
world = api_world.world


def test_the_defaults_are_24_and_2_hours_no_follow_up_and_the_first_sms_at_once(world: World) -> None:
    got = world.call("get", "/v1/settings/lifecycle", who="tech_a")
    assert got.status_code == 200
    assert got.json == {"reminder_offsets_minutes": [1440, 120], "follow_up_delay_minutes": None,
                        "first_sms_quiet_hours": "send"}  # fmt: skip


def test_an_owner_changes_only_what_is_given(world: World) -> None:
    changed = world.call(
        "patch", "/v1/settings/lifecycle", json={"reminder_offsets_minutes": [60, 2880], "follow_up_delay_minutes": 90}
    )
    assert changed.status_code == 200
    assert changed.json["reminder_offsets_minutes"] == [2880, 60]
    again = world.call("patch", "/v1/settings/lifecycle", json={"first_sms_quiet_hours": "defer"})
    assert again.json == {"reminder_offsets_minutes": [2880, 60], "follow_up_delay_minutes": 90,
                          "first_sms_quiet_hours": "defer"}  # fmt: skip
    off = world.call("patch", "/v1/settings/lifecycle", json={"follow_up_delay_minutes": None})
    assert off.json["follow_up_delay_minutes"] is None
    # Another tenant's settings are its own.
    assert world.call("get", "/v1/settings/lifecycle", who="owner_b").json["reminder_offsets_minutes"] == [1440, 120]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"reminder_offsets_minutes": [0]}, "reminder_offsets_minutes"),
        ({"reminder_offsets_minutes": [120, 120]}, "reminder_offsets_minutes"),
        ({"reminder_offsets_minutes": [20000]}, "reminder_offsets_minutes"),
        ({"follow_up_delay_minutes": 5}, "follow_up_delay_minutes"),
        ({"first_sms_quiet_hours": "later"}, "first_sms_quiet_hours"),
        ({"follow_up_delay_minutes": "90"}, "follow_up_delay_minutes"),
        ({"reminder_offsets_minutes": [1, 2, 3, 4, 5]}, "reminder_offsets_minutes"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_a_wrong_value_is_a_4xx_naming_the_field(world: World, body: dict[str, object], field: str) -> None:
    refused = world.call("patch", "/v1/settings/lifecycle", json=body)
    assert refused.status_code in (400, 422), refused.text
    assert field in refused.json["error"]["message"]


def test_a_tech_cannot_change_them(world: World) -> None:
    refused = world.call("patch", "/v1/settings/lifecycle", who="tech_a", json={"follow_up_delay_minutes": 60})
    assert refused.status_code == 403
