"""Settings → Reminders in the staff app: an OWNER sets the offsets, the follow-up and the first-SMS choice; a wrong
field is named and nothing changes (422); a TECH is refused (403); the form owns its fields (400 otherwise)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import falcon.testing
import pytest
from sqlalchemy import text

from db.engine import transaction
from ingress.auth import Claims
from ingress.staff_app.csrf import token_for
from tests.support import api_world
from tests.support.api_world import World
from tests.support.clerk_jwks import token

jwks = api_world.jwks
world = api_world.world
GOOD = {"reminder_hours": "48, 3", "follow_up_minutes": "120", "first_sms_quiet_hours": "defer"}


def post(world: World, form: dict[str, Any], who: str = "owner_a") -> falcon.testing.Result:
    csrf = token_for(Claims(subject=who, authorized_party=None, session_id=f"sess_{who}", raw={}))
    return world.client.simulate_post(
        "/app/settings/reminders",
        cookies={"__session": token(world.keys, who, sid=f"sess_{who}")},
        body=urlencode({"csrf_token": csrf, **form}),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )


def stored(world: World) -> tuple[Any, ...]:
    with transaction(world.sessions) as session:
        row = session.execute(
            text("SELECT reminder_offsets_minutes, follow_up_delay_minutes, first_sms_quiet_hours FROM id_tenants"
                 " WHERE id = :t"), {"t": world.a},
        ).one()  # fmt: skip
    return tuple(row)


def test_the_owner_sets_reminders_follow_up_and_the_first_sms_choice(world: World) -> None:
    shown = world.client.simulate_get(
        "/app/settings/reminders", cookies={"__session": token(world.keys, "owner_a", sid="sess_owner_a")}
    )
    assert shown.status_code == 200
    assert 'value="24, 2"' in shown.text
    assert post(world, GOOD).status_code == 303
    assert stored(world) == ([2880, 180], 120, "defer")
    assert post(world, {**GOOD, "follow_up_minutes": ""}).status_code == 303
    assert stored(world)[1] is None


@pytest.mark.parametrize(
    ("field", "bad", "says"),
    [
        ("reminder_hours", "tomorrow", "Reminders: hours before the appointment"),
        ("reminder_hours", "24, 24", "Reminders: hours before the appointment"),
        ("reminder_hours", "1, 2, 3, 4, 5", "Reminders: hours before the appointment"),
        ("follow_up_minutes", "5", "Follow-up: empty (off), or 15 to 10080"),
        ("follow_up_minutes", "soon", "Follow-up: empty (off), or 15 to 10080"),
        ("first_sms_quiet_hours", "later", "First SMS in quiet hours"),
    ],
)
def test_a_wrong_field_is_named_and_nothing_changes(world: World, field: str, bad: str, says: str) -> None:
    result = post(world, {**GOOD, field: bad})
    assert result.status_code == 422
    assert says in result.text
    assert stored(world) == ([1440, 120], None, "send")


def test_a_tech_is_refused_and_a_foreign_field_is_a_400(world: World) -> None:
    assert post(world, GOOD, who="tech_a").status_code == 403
    assert post(world, {**GOOD, "first_message": "hi"}).status_code == 400
