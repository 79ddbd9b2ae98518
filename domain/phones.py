"""The one E.164 normaliser, with ``phonenumbers`` (never by hand): for the numbers providers send (ingress) and
the numbers people type (identity: tenants, invitations)."""

from __future__ import annotations

import re
from functools import lru_cache

import phonenumbers

_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")


# Webhooks name the same few numbers over and over (every tenant's own, its regular callers); parsing is the
# costly part, and the answer for a given string never changes.
@lru_cache(maxsize=8192)
def to_e164(raw: str | None, default_region: str = "US") -> str | None:
    """The number in E.164, or None when it is not a possible phone number (anonymous, short code, junk).

    "Possible" rather than "valid": test ranges like 555-01xx are not valid numbers but must still route. A number
    dialable only within its area ("555-0199", no area code) is not one: it has no E.164 form to text.
    """
    if not raw or len(raw) > 64:
        return None
    try:
        parsed = phonenumbers.parse(raw, default_region)
    except phonenumbers.NumberParseException:
        return None
    if phonenumbers.is_possible_number_with_reason(parsed) != phonenumbers.ValidationResult.IS_POSSIBLE:
        return None
    formatted = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    return formatted if _E164.match(formatted) else None
