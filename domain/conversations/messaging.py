"""Pure messaging rules: SMS segments, the forward-only status order, and first-message rendering."""

from __future__ import annotations

from dataclasses import dataclass

# GSM 03.38 basic character set; the extension table's characters cost two septets each.
_GSM_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXTENDED = set("^{}\\[~]|€\f")
# Twilio's limit for one message, inbound or outbound (it splits it into at most 10 segments); the column checks it.
MAX_BODY_CHARS = 1600


@dataclass(frozen=True)
class Segments:
    encoding: str  # GSM-7 | UCS-2
    units: int  # septets for GSM-7, UTF-16 code units for UCS-2
    count: int


def count_segments(body: str) -> Segments:
    if all(char in _GSM_BASIC or char in _GSM_EXTENDED for char in body):
        units = sum(2 if char in _GSM_EXTENDED else 1 for char in body)
        single, multi, encoding = 160, 153, "GSM-7"
    else:
        # Characters outside the BMP (most emoji) take two UTF-16 code units.
        units = sum(2 if ord(char) > 0xFFFF else 1 for char in body)
        single, multi, encoding = 70, 67, "UCS-2"
    count = 1 if units <= single else -(-units // multi)
    return Segments(encoding, units, count)


def fit_to_segments(body: str, budget: int) -> str:
    """Trim a reply to ``budget`` segments at a sentence (or word) boundary, never mid-word."""
    if count_segments(body).count <= budget:
        return body
    sentences = body.replace("! ", "!|").replace("? ", "?|").replace(". ", ".|").split("|")
    kept = ""
    for sentence in sentences:
        candidate = f"{kept} {sentence}".strip()
        if count_segments(candidate).count > budget:
            break
        kept = candidate
    if kept:
        return kept
    words = body.split()
    # The ellipsis in GSM-7 when the body is: "…" alone would make the whole message UCS-2.
    ellipsis = "..." if count_segments(body).encoding == "GSM-7" else "…"
    while words and count_segments(" ".join(words) + ellipsis).count > budget:
        words.pop()
    return " ".join(words) + ellipsis


# Forward-only delivery order: a late or duplicated callback can never move a message backwards.
STATUS_RANK = {"pending": 0, "queued": 1, "sent": 2, "delivered": 3, "undelivered": 3, "failed": 3}
PROVIDER_STATUS = {
    "accepted": "queued",
    "scheduled": "queued",
    "queued": "queued",
    "sending": "queued",
    "sent": "sent",
    "delivered": "delivered",
    "read": "delivered",
    "undelivered": "undelivered",
    "failed": "failed",
    "canceled": "failed",
}


def render_first_message(template: str, *, business: str) -> str:
    try:
        return template.format(business=business)
    except (KeyError, IndexError, ValueError):
        # A tenant's template with a stray brace must not silence the first SMS.
        return template.replace("{business}", business)
