"""The one JSON body parser of every route (the /v1 API and the Twilio, Stripe and Jobber webhooks).

``json.loads`` alone turns three kinds of input into a 500 or into a value Postgres later refuses: nesting deep
enough to exhaust the decoder's recursion (RecursionError is not a ValueError), lone UTF-16 surrogates (``"\\ud800"``
decodes to a ``str`` that cannot be encoded as UTF-8, so the database driver fails on it), and non-finite numbers
(``NaN``, ``Infinity``, ``1e999``) that JSONB and every provider refuse. Here they are a 400 naming the problem.
"""

from __future__ import annotations

import json
import math
from typing import Any

from ingress.errors import malformed

# Deeper than any provider payload or API body we accept (Stripe events nest about 6 levels).
MAX_DEPTH = 64


class _NotFinite(ValueError):
    pass


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _NotFinite(text)
    return value


def _refuse_constant(text: str) -> float:
    raise _NotFinite(text)


# Built once: json.loads with hooks builds a decoder per call, which costs more than parsing a small body.
_DECODER = json.JSONDecoder(parse_float=_finite, parse_constant=_refuse_constant)


def parse_json(body: bytes | str) -> Any:
    """The parsed document, or a 400: invalid JSON, nested deeper than ``MAX_DEPTH``, a lone surrogate, NaN/Infinity."""
    try:
        # UTF-8 strictly (RFC 8259): json.loads would also take UTF-16/32 and decode those with 'surrogatepass'.
        text = body.decode("utf-8") if isinstance(body, bytes) else body
        document = _DECODER.decode(text)
    except RecursionError:
        raise too_deep() from None
    except _NotFinite:
        raise malformed("body has a number JSON cannot carry (NaN, Infinity or out of range)") from None
    except ValueError:  # JSONDecodeError, invalid UTF-8, an integer of more than 4,300 digits
        raise malformed("body is not valid JSON") from None
    # The walk costs more than the parse; C-speed scans of the text say when it cannot find anything: a lone
    # surrogate needs a \u escape, or (in a str the caller decoded itself) a non-ASCII character.
    texts = "\\u" in text or (isinstance(body, str) and not text.isascii())
    if texts or text.count("[") + text.count("{") >= MAX_DEPTH:
        check_document(document, texts=texts)
    return document


def check_document(document: Any, *, texts: bool = True) -> None:
    """Depth (and, with ``texts``, surrogate) check of a parsed document; iterative, so a deep one cannot exhaust
    the stack here."""
    stack: list[tuple[Any, int]] = [(document, 0)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            items: Any = value.values()
            if texts:
                for key in value:
                    _check_text(key)
        elif isinstance(value, list):
            items = value
        else:
            if texts and isinstance(value, str):
                _check_text(value)
            continue
        if depth >= MAX_DEPTH:
            raise too_deep()
        stack.extend((item, depth + 1) for item in items if texts or isinstance(item, dict | list))


def _check_text(value: str) -> None:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise malformed("body has a lone surrogate (\\ud800-\\udfff) that is not text") from None


def too_deep() -> Exception:
    return malformed(f"body is nested too deeply (at most {MAX_DEPTH} levels)")
