"""Percentiles and report files shared by every benchmark and by the chaos and soak runs."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS_DIR = Path("bench/results")


def percentile(samples: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (the value at or below which p% of samples lie)."""
    if not samples:
        return math.nan
    ordered = sorted(samples)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def summarize_ms(samples_seconds: Sequence[float]) -> dict[str, float]:
    samples = [s * 1000 for s in samples_seconds]
    return {
        "count": len(samples),
        "p50_ms": round(percentile(samples, 50), 2),
        "p95_ms": round(percentile(samples, 95), 2),
        "p99_ms": round(percentile(samples, 99), 2),
        "max_ms": round(max(samples), 2) if samples else math.nan,
    }


def write_report(name: str, data: dict[str, Any], markdown: str, directory: Path = RESULTS_DIR) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    payload = {"benchmark": name, "finished_at": stamp, **data}
    (directory / f"{name}-{stamp}.json").write_text(json.dumps(payload, indent=2, default=str))
    path = directory / f"{name}-{stamp}.md"
    path.write_text(markdown)
    return path
