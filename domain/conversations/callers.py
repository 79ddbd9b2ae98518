"""A caller's name: what staff may type (refused with a reason when it will not do) and what is kept of caller ID's.

Staff's name is checked strictly (the person typing gets the reason); caller ID's (Twilio's ``CallerName``, from the
carrier's CNAM database: ``SMITH JOHN``, ``WIRELESS CALLER``) is taken leniently, since a call must never fail over
it: control characters dropped, spaces folded, cut to the limit, and the carriers' placeholders for "no name" left
out.
"""

from __future__ import annotations

import unicodedata

from domain.conversations.models import MAX_CALLER_NAME

# Line and paragraph separators and the bidirectional overrides and isolates (which can make a name display as
# something else) are refused with the C0/C1 controls.
_REFUSED_CATEGORIES = frozenset({"Cc", "Cs", "Co", "Cn", "Zl", "Zp"})
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")
# What CNAM says when it has no name for the number.
CALLER_ID_PLACEHOLDERS = frozenset(
    {"WIRELESS CALLER", "UNKNOWN", "UNKNOWN CALLER", "UNAVAILABLE", "ANONYMOUS", "PRIVATE", "RESTRICTED", "NO NAME"}
)


__all__ = ["CALLER_ID_PLACEHOLDERS", "MAX_CALLER_NAME", "InvalidName", "caller_id_name", "clean_name"]


class InvalidName(ValueError):
    """A name staff typed that cannot be kept; the message says why, for the person who typed it."""


def _refused(ch: str) -> bool:
    return ch in _BIDI_CONTROLS or unicodedata.category(ch) in _REFUSED_CATEGORIES


def clean_name(raw: str) -> str:
    """The name as staff typed it, trimmed; ``InvalidName`` when it is empty, too long or holds control characters."""
    name = unicodedata.normalize("NFC", raw).strip()
    if not name:
        raise InvalidName("name: write the caller's name first")
    if any(_refused(ch) for ch in name):
        raise InvalidName("name: no control characters (line breaks, tabs, direction marks)")
    if len(name) > MAX_CALLER_NAME:
        raise InvalidName(f"name: at most {MAX_CALLER_NAME} characters")
    return name


def caller_id_name(raw: str | None) -> str | None:
    """What to keep of a caller ID name, or None when it names nobody."""
    if raw is None:
        return None
    kept = "".join(" " if _refused(ch) or ch.isspace() else ch for ch in unicodedata.normalize("NFC", raw))
    name = " ".join(kept.split())[:MAX_CALLER_NAME].strip()
    if not name or name.upper() in CALLER_ID_PLACEHOLDERS:
        return None
    return name
