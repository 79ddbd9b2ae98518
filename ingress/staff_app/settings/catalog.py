"""Settings → Price list: the catalog's service items (name, price, duration, aliases, description) created, edited,
deactivated and reactivated through ``domain.catalog.service``, the same use cases as ``/v1/service-items``. The AI
quotes from the same rows, so a price changed here is the price the next caller is told."""

from __future__ import annotations

import uuid
from typing import Any

import falcon
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from domain.catalog import service as catalog
from ingress.api.base import caller, request_events
from ingress.errors import ApiError
from ingress.staff_app.csrf import check_csrf
from ingress.staff_app.settings.forms import Form, Invalid, parse_settings_form
from ingress.staff_app.settings.screen import SettingsScreen, owner_screen

FIELDS = ("name", "price", "duration_minutes", "aliases", "description")
MAX_ALIASES = 50  # as /v1/service-items
SAVED = {
    "created": "Service added.",
    "updated": "Saved. The AI quotes the new details from the next message on.",
    "deactivated": "Deactivated: the AI no longer quotes or books it.",
    "activated": "Active again: the AI quotes and books it.",
}


def _item_form(req: falcon.Request) -> tuple[Form, dict[str, Any]]:
    form = Form.owning(req, FIELDS)
    checked = {
        "name": form.text("name", "Name", limit=200),
        "price_cents": form.cents("price", "Price"),
        "duration_minutes": form.whole("duration_minutes", "Duration (minutes)", low=1, high=480),
        "aliases": form.words("aliases", "Other names", each=100, most=MAX_ALIASES),
        "description": form.text("description", "Description", limit=2000, required=False),
    }
    form.check()
    return form, checked


def _duplicate(form: Form, error: IntegrityError) -> Invalid:
    """The unique constraints decide duplicates; the field they name gets the message."""
    constraint = getattr(getattr(error.orig, "diag", None), "constraint_name", None) or ""
    if "alias" in constraint:
        form.fail("aliases", "Other names: another service already uses one of these")
    else:
        form.fail("name", "Name: another service already has this name")
    return Invalid(form)


def _items(session: Session, tenant_id: uuid.UUID) -> list[dict[str, Any]]:
    aliases = catalog.aliases_by_item(session, tenant_id=tenant_id)
    return [
        {"item": item, "aliases": aliases.get(item.id, [])}
        for item in catalog.list_service_items(session, tenant_id=tenant_id)
    ]


def _own_item(session: Session, tenant_id: uuid.UUID, item_id: uuid.UUID) -> Any:
    try:
        return catalog.get_service_item(session, tenant_id=tenant_id, service_item_id=item_id, active_only=False)
    except catalog.ServiceItemNotFound:
        raise ApiError(falcon.HTTP_404, "not_found", "no such service in this business's price list") from None


def _price_text(cents: int) -> str:
    dollars, rest = divmod(cents, 100)
    return f"{dollars}" if rest == 0 else f"{dollars}.{rest:02d}"


@owner_screen
class CatalogResource(SettingsScreen):
    """GET /app/settings/catalog: the price list and a form to add a service; POST adds it."""

    section = "catalog"

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        self._list(req, resp, Form(), notice=SAVED.get(req.get_param("saved") or ""))

    def _list(self, req: falcon.Request, resp: falcon.Response, form: Form, *, status: str = falcon.HTTP_200,
              notice: str | None = None) -> None:  # fmt: skip
        with self.transaction(req) as session:
            items = _items(session, caller(req).tenant_id)
        self.show(req, resp, "catalog.html", status=status, form=form, items=items, notice=notice)

    @falcon.before(parse_settings_form)
    @falcon.before(check_csrf)
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        who = caller(req)
        try:
            form, new = _item_form(req)
            with self.transaction(req) as session:
                try:
                    with session.begin_nested():
                        catalog.create_service_item(
                            session, events=request_events(req, session), tenant_id=who.tenant_id, **new
                        )
                except IntegrityError as error:
                    raise _duplicate(form, error) from None
        except Invalid as invalid:
            self._list(req, resp, invalid.form, status=falcon.HTTP_422)
            return
        raise falcon.HTTPSeeOther("/app/settings/catalog?saved=created")


@owner_screen
class CatalogItemResource(SettingsScreen):
    """GET /app/settings/catalog/{id}: the edit form; POST saves it; /deactivate and /activate switch it."""

    section = "catalog"

    def on_get(self, req: falcon.Request, resp: falcon.Response, item_id: uuid.UUID) -> None:
        self._edit(req, resp, item_id, Form(), notice=SAVED.get(req.get_param("saved") or ""))

    def _edit(self, req: falcon.Request, resp: falcon.Response, item_id: uuid.UUID, form: Form, *,
              status: str = falcon.HTTP_200, notice: str | None = None) -> None:  # fmt: skip
        who = caller(req)
        with self.transaction(req) as session:
            item = _own_item(session, who.tenant_id, item_id)
            aliases = catalog.aliases_by_item(session, tenant_id=who.tenant_id).get(item.id, [])
            current = {
                "name": item.name,
                "price": _price_text(item.price_cents),
                "duration_minutes": str(item.duration_minutes),
                "aliases": ", ".join(aliases),
                "description": item.description or "",
            }
            self.show(req, resp, "catalog_item.html", status=status, form=form, item=item, current=current,
                      notice=notice)  # fmt: skip

    @falcon.before(parse_settings_form)
    @falcon.before(check_csrf)
    def on_post(self, req: falcon.Request, resp: falcon.Response, item_id: uuid.UUID) -> None:
        who = caller(req)
        try:
            form, change = _item_form(req)
            with self.transaction(req) as session:
                _own_item(session, who.tenant_id, item_id)
                try:
                    with session.begin_nested():
                        catalog.update_service_item(
                            session,
                            events=request_events(req, session),
                            tenant_id=who.tenant_id,
                            service_item_id=item_id,
                            name=change["name"],
                            price_cents=change["price_cents"],
                            duration_minutes=change["duration_minutes"],
                            aliases=change["aliases"],
                            # An emptied description is cleared, not kept: the form shows the whole item.
                            description=change["description"] or "",
                        )
                except IntegrityError as error:
                    raise _duplicate(form, error) from None
        except Invalid as invalid:
            self._edit(req, resp, item_id, invalid.form, status=falcon.HTTP_422)
            return
        raise falcon.HTTPSeeOther(f"/app/settings/catalog/{item_id}?saved=updated")

    @falcon.before(parse_settings_form)
    @falcon.before(check_csrf)
    def on_post_deactivate(self, req: falcon.Request, resp: falcon.Response, item_id: uuid.UUID) -> None:
        self._switch(req, item_id, active=False)

    @falcon.before(parse_settings_form)
    @falcon.before(check_csrf)
    def on_post_activate(self, req: falcon.Request, resp: falcon.Response, item_id: uuid.UUID) -> None:
        self._switch(req, item_id, active=True)

    def _switch(self, req: falcon.Request, item_id: uuid.UUID, *, active: bool) -> None:
        who = caller(req)
        Form.owning(req, ())
        with self.transaction(req) as session:
            _own_item(session, who.tenant_id, item_id)
            events = request_events(req, session)
            if active:
                catalog.update_service_item(
                    session, events=events, tenant_id=who.tenant_id, service_item_id=item_id, active=True
                )
            else:
                catalog.deactivate_service_item(
                    session, events=events, tenant_id=who.tenant_id, service_item_id=item_id
                )
        raise falcon.HTTPSeeOther(f"/app/settings/catalog?saved={'activated' if active else 'deactivated'}")
