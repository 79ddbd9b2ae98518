"""`/v1/settings/lifecycle`: the tenant's appointment-lifecycle settings — reminder offsets (default 24 h and 2 h
before the start), the one follow-up's delay (off by default) and whether a first SMS in quiet hours waits — read
by any member, changed by an OWNER, each value checked by identity's own rules (422 naming the field)."""

from __future__ import annotations

from typing import Any, Literal

import falcon
from pydantic import Field

from domain.identity import lifecycle
from ingress.api.base import authenticate, caller, parse_model, require_owner, tenant_transaction
from ingress.api.resources import Resource, Strict, identity_errors


class LifecycleSettingsPatch(Strict):
    """Only what is given changes; ``follow_up_delay_minutes: null`` turns the follow-up off."""

    reminder_offsets_minutes: list[int] | None = Field(default=None, max_length=lifecycle.MAX_OFFSETS)
    follow_up_delay_minutes: int | None = None
    first_sms_quiet_hours: Literal["send", "defer"] | None = None


def settings_json(found: lifecycle.LifecycleSettings) -> dict[str, Any]:
    return {
        "reminder_offsets_minutes": list(found.reminder_offsets_minutes),
        "follow_up_delay_minutes": found.follow_up_delay_minutes,
        "first_sms_quiet_hours": found.first_sms_quiet_hours,
    }


@falcon.before(authenticate)
class LifecycleSettingsResource(Resource):
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        who = caller(req)
        with tenant_transaction(self.sessions, who.tenant_id) as session, identity_errors():
            found = lifecycle.lifecycle_settings(session, who.tenant_id)
            if found is None:
                raise lifecycle.NotFound(f"tenant {who.tenant_id} not found")
        resp.media = settings_json(found)

    @falcon.before(require_owner)
    def on_patch(self, req: falcon.Request, resp: falcon.Response) -> None:
        who = caller(req)
        change = parse_model(req.bounded_stream.read(), LifecycleSettingsPatch)
        with tenant_transaction(self.sessions, who.tenant_id) as session, identity_errors():
            found = lifecycle.update_lifecycle_settings(
                session,
                tenant_id=who.tenant_id,
                reminder_offsets_minutes=change.reminder_offsets_minutes,
                follow_up_delay_minutes=(
                    change.follow_up_delay_minutes if "follow_up_delay_minutes" in change.model_fields_set else ...
                ),
                first_sms_quiet_hours=change.first_sms_quiet_hours,
            )
        resp.media = settings_json(found)
