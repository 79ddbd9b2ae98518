"""The settings forms: a body read strictly (a malformed one is a 400), each form owning a fixed set of fields (any
other field is a 400, so no form can set what it does not show), and field-level messages that re-render the form
with what the person typed (a 422, never a 5xx)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qsl

import falcon

from ingress.errors import ApiError
from ingress.staff_app.csrf import FIELD as CSRF_FIELD
from ingress.staff_app.pages import BAD_ESCAPE, MAX_FIELD_CHARS, MAX_FORM_BYTES

MAX_FIELDS = 300  # a technician's services are one checkbox per catalog item
_MONEY = re.compile(r"\$?\s*(\d{1,3}(,\d{3})+|\d+)(\.\d{1,2})?")
_CLOCK = re.compile(r"([01]?\d|2[0-3]):([0-5]\d)")


def parse_settings_form(req: falcon.Request, resp: falcon.Response, resource: Any, params: dict[str, Any]) -> None:
    """``falcon.before`` hook (before ``check_csrf``): the body's fields, a field repeated only where a form lists
    several values (checkboxes), in ``req.context.form`` (first values) and ``req.context.form_lists``."""
    content_type = (req.content_type or "").split(";", 1)[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        raise ApiError(falcon.HTTP_400, "malformed", "send the form as application/x-www-form-urlencoded")
    raw = req.bounded_stream.read(MAX_FORM_BYTES + 1)
    if len(raw) > MAX_FORM_BYTES:
        raise ApiError(falcon.HTTP_400, "malformed", "the form is too long")
    if BAD_ESCAPE.search(raw):
        raise ApiError(falcon.HTTP_400, "malformed", "the form body is not valid percent-encoding")
    try:
        pairs = parse_qsl(
            raw.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(raw), max_num_fields=MAX_FIELDS
        )
    except (UnicodeDecodeError, ValueError):
        raise ApiError(falcon.HTTP_400, "malformed", "the form body is not a valid form") from None
    lists: dict[str, list[str]] = {}
    for name, value in pairs:
        if len(value) > MAX_FIELD_CHARS or "\x00" in value or not name.isprintable():
            raise ApiError(falcon.HTTP_400, "malformed", "a field of the form is not acceptable")
        lists.setdefault(name, []).append(value)
    req.context.form_lists = lists
    req.context.form = {name: values[0] for name, values in lists.items()}


class Invalid(Exception):
    """The form has field errors: the responder shows it again, with them."""

    def __init__(self, form: Form) -> None:
        super().__init__("; ".join(f"{name}: {message}" for name, message in form.errors.items()))
        self.form = form


@dataclass
class Form:
    """What a person typed into one form, and what is wrong with it, field by field."""

    values: dict[str, str] = field(default_factory=dict)
    lists: dict[str, list[str]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    message: str | None = None  # a refusal that belongs to no one field (the server said no)

    @classmethod
    def owning(cls, req: falcon.Request, fields: Iterable[str], *, multi: Iterable[str] = ()) -> Form:
        """The request's form, if it names only ``fields`` (one value each) and ``multi`` (any number): anything
        else is a 400, so a form can never set a field it does not own."""
        lists: dict[str, list[str]] = req.context.form_lists
        owned, several = set(fields), set(multi)
        for name, values in lists.items():
            if name == CSRF_FIELD:
                continue
            if name not in owned | several:
                raise ApiError(falcon.HTTP_400, "malformed", f"this form has no field {name!r}")
            if name in owned and len(values) > 1:
                raise ApiError(falcon.HTTP_400, "malformed", f"the field {name} is sent twice")
        return cls(
            {name: lists[name][0] for name in owned if name in lists},
            {name: lists.get(name, []) for name in several},
        )

    def get(self, name: str) -> str:
        return self.values.get(name, "")

    def fail(self, name: str, message: str) -> None:
        self.errors.setdefault(name, message)

    def check(self) -> None:
        if self.errors:
            raise Invalid(self)

    def text(self, name: str, label: str, *, limit: int, required: bool = True) -> str | None:
        value = self.get(name).strip()
        if not value:
            if required:
                self.fail(name, f"{label} is required")
            return None
        if len(value) > limit:
            self.fail(name, f"{label}: at most {limit} characters")
            return None
        return value

    def whole(self, name: str, label: str, *, low: int, high: int) -> int | None:
        value = self.get(name).strip()
        if not (value.isascii() and value.isdigit()) or not low <= int(value) <= high:
            self.fail(name, f"{label}: a whole number from {low} to {high}")
            return None
        return int(value)

    def cents(self, name: str, label: str, *, high: int = 2**31 - 1) -> int | None:
        """Money typed as dollars ("149", "149.50", "$1,249") in integer cents."""
        value = self.get(name).strip()
        if not value.isascii() or not _MONEY.fullmatch(value):
            self.fail(name, f"{label}: an amount in dollars, like 149 or 149.50")
            return None
        try:
            cents = int(Decimal(value.lstrip("$").strip().replace(",", "")) * 100)
        except InvalidOperation:
            self.fail(name, f"{label}: an amount in dollars, like 149 or 149.50")
            return None
        if cents > high:
            self.fail(name, f"{label}: at most {high / 100:,.2f}")
            return None
        return cents

    def words(self, name: str, label: str, *, each: int, most: int) -> list[str]:
        """A list typed one per line or separated by commas."""
        items = [item.strip() for item in re.split(r"[,\n]", self.get(name)) if item.strip()]
        if len(items) > most:
            self.fail(name, f"{label}: at most {most}")
        elif any(len(item) > each for item in items):
            self.fail(name, f"{label}: each at most {each} characters")
        return items


def clock_ranges(text: str) -> list[tuple[str, str]] | None:
    """ "08:00-12:00, 13:00-17:00" as (start, end) wall-clock pairs; None when it is not written that way."""
    ranges: list[tuple[str, str]] = []
    for part in (piece.strip() for piece in text.split(",")):
        if not part:
            continue
        start, dash, end = part.replace("–", "-").partition("-")
        start, end = start.strip(), end.strip()
        if not dash or not _CLOCK.fullmatch(start) or not _CLOCK.fullmatch(end):
            return None
        ranges.append((start.zfill(5), end.zfill(5)))
    return ranges
