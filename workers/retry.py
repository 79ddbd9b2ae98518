"""The retry policy of docs/glossary.md: full jitter ``random(0, min(30 s, 1 s·2^attempt))``, at most 6 attempts."""

from __future__ import annotations

import random
from collections.abc import Callable

BASE_SECONDS = 1.0
CAP_SECONDS = 30.0


def backoff_seconds(attempt: int, *, rng: Callable[[], float] = random.random) -> float:
    """Delay before the next try after ``attempt`` failed attempts (attempt ≥ 1)."""
    return rng() * min(CAP_SECONDS, BASE_SECONDS * 2**attempt)
