"""Charts drawn on the server as inline SVG (no script, no chart library): bars per day for counts, lines for
latencies. Each chart has a title and a description for screen readers; the table beside it has every figure."""

from __future__ import annotations

import math
from dataclasses import dataclass
from html import escape

WIDTH, HEIGHT = 720, 240
LEFT, RIGHT, TOP, BOTTOM = 48, 8, 12, 28


@dataclass(frozen=True)
class Series:
    name: str
    values: tuple[float | None, ...]
    css: str  # a class of app.css: the colour, chosen for contrast on white


def _nice_max(value: float) -> float:
    """The axis top: 1, 2 or 5 times a power of ten at or above ``value``."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if value <= step * power:
            return float(step * power)
    return float(10 * power)


def _frame(chart_id: str, title: str, description: str, top: float, unit: str, labels: list[str]) -> list[str]:
    plot_h = HEIGHT - TOP - BOTTOM
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-labelledby="{chart_id}-t {chart_id}-d">',
        f'<title id="{chart_id}-t">{escape(title)}</title><desc id="{chart_id}-d">{escape(description)}</desc>',
    ]
    for fraction in (0, 0.5, 1):
        y = TOP + plot_h * (1 - fraction)
        label = f"{top * fraction:g}{unit}"
        parts.append(f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>')
        parts.append(f'<text class="axis" x="{LEFT - 4}" y="{y + 4:.1f}" text-anchor="end">{escape(label)}</text>')
    step = max(1, math.ceil(len(labels) / 6))  # at most ~6 day labels fit on a phone
    slot = (WIDTH - LEFT - RIGHT) / max(len(labels), 1)
    for index in range(0, len(labels), step):
        x = LEFT + slot * (index + 0.5)
        parts.append(
            f'<text class="axis" x="{x:.1f}" y="{HEIGHT - 8}" text-anchor="middle">{escape(labels[index])}</text>'
        )
    return parts


def bars(chart_id: str, title: str, labels: list[str], series: list[Series], unit: str = "") -> str:
    """Grouped bars, one group per day."""
    top = _nice_max(max((v or 0 for s in series for v in s.values), default=0))
    parts = _frame(chart_id, title, _describe(series, labels, unit), top, unit, labels)
    plot_h = HEIGHT - TOP - BOTTOM
    slot = (WIDTH - LEFT - RIGHT) / max(len(labels), 1)
    width = slot * 0.8 / max(len(series), 1)
    for s_index, one in enumerate(series):
        for index, value in enumerate(one.values):
            if not value:
                continue
            h = plot_h * value / top
            x = LEFT + slot * index + slot * 0.1 + width * s_index
            parts.append(
                f'<rect class="{one.css}" x="{x:.1f}" y="{TOP + plot_h - h:.1f}" width="{width:.1f}" height="{h:.1f}"/>'
            )
    parts.append("</svg>")
    return "".join(parts)


def lines(chart_id: str, title: str, labels: list[str], series: list[Series], unit: str = "") -> str:
    """One line per series; a day without a value breaks the line (nothing is made up for it)."""
    top = _nice_max(max((v or 0 for s in series for v in s.values), default=0))
    parts = _frame(chart_id, title, _describe(series, labels, unit), top, unit, labels)
    plot_h = HEIGHT - TOP - BOTTOM
    slot = (WIDTH - LEFT - RIGHT) / max(len(labels), 1)
    for one in series:
        run: list[str] = []
        for index, value in enumerate((*one.values, None)):
            if value is None:
                if len(run) > 1:
                    parts.append(f'<polyline class="{one.css}" points="{" ".join(run)}"/>')
                elif run:
                    cx, cy = run[0].split(",")
                    parts.append(f'<circle class="{one.css}" cx="{cx}" cy="{cy}" r="3"/>')
                run = []
                continue
            x = LEFT + slot * (index + 0.5)
            y = TOP + plot_h * (1 - value / top)
            run.append(f"{x:.1f},{y:.1f}")
    parts.append("</svg>")
    return "".join(parts)


def _describe(series: list[Series], labels: list[str], unit: str) -> str:
    if not labels:
        return "No days."
    peaks = []
    for one in series:
        known = [(v, labels[i]) for i, v in enumerate(one.values) if v is not None]
        if known:
            value, day = max(known)
            peaks.append(f"{one.name}: highest {value:g}{unit} on {day}")
    return f"From {labels[0]} to {labels[-1]}. " + ("; ".join(peaks) or "No data.") + ". The table below has every day."
