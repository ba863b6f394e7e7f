"""Small server-rendered SVG charts for the report pages (no script, nothing from outside).

:func:`bar_chart` draws grouped or stacked bars for a few series over categories (queues,
agents, days, hours), with an optional percentage line on its own 0–100 axis (the
service level). Every label is escaped; the chart carries a `<title>` and an
`aria-label`, and the page shows the same figures in a table next to it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

PALETTE = ("#2e7d32", "#c62828", "#b26a00", "#1f6feb", "#7b3fe4", "#5b6577")


@dataclass(frozen=True, slots=True)
class Series:
    label: str
    values: Sequence[float | None]
    color: str | None = None


def _nice_max(value: float) -> float:
    """A round axis maximum at or above `value` (1, 2, 2.5, 5 × 10^n)."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * power:
            return float(step * power)
    return float(10 * power)  # pragma: no cover - the loop always returns


def _fmt(value: float) -> str:
    return f"{value:.0f}" if value >= 10 or value == int(value) else f"{value:.1f}"


def bar_chart(
    categories: Sequence[str],
    series: Sequence[Series],
    *,
    title: str,
    stacked: bool = False,
    line: Series | None = None,
    width: int = 640,
    height: int = 220,
    value_format: str = "{:.0f}",
) -> Markup:
    """An SVG bar chart; `line` (0–100, e.g. the service level in %) on the right axis."""
    left, right, top, bottom = 44, 44 if line is not None else 12, 26, 44
    plot_w = max(10, width - left - right)
    plot_h = max(10, height - top - bottom)
    count = max(1, len(categories))
    if stacked:
        peak = max(
            (sum(float(s.values[i] or 0) for s in series) for i in range(len(categories))),
            default=0.0,
        )
    else:
        peak = max((float(v or 0) for s in series for v in s.values), default=0.0)
    top_value = _nice_max(peak)
    slot = plot_w / count
    group_w = slot * 0.72
    bar_w = group_w if stacked else group_w / max(1, len(series))
    parts: list[str] = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="{escape(title)}" preserveAspectRatio="xMidYMid meet">',
        f"<title>{escape(title)}</title>",
    ]
    # grid and left axis
    for i in range(5):
        value = top_value * i / 4
        y = top + plot_h - plot_h * i / 4
        parts.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" class="grid"/>'
        )
        parts.append(
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" class="axis">'
            f"{escape(_fmt(value))}</text>"
        )
    if line is not None:
        for i in range(5):
            y = top + plot_h - plot_h * i / 4
            parts.append(
                f'<text x="{left + plot_w + 6}" y="{y + 4:.1f}" class="axis">{25 * i}%</text>'
            )
    # bars
    for i, category in enumerate(categories):
        x0 = left + slot * i + (slot - group_w) / 2
        base = 0.0
        for j, item in enumerate(series):
            value = float(item.values[i] or 0) if i < len(item.values) else 0.0
            color = item.color or PALETTE[j % len(PALETTE)]
            h = plot_h * value / top_value
            if stacked:
                x, y = x0, top + plot_h - plot_h * base / top_value - h
                base += value
            else:
                x, y = x0 + bar_w * j, top + plot_h - h
            if h > 0:
                tip = f"{category} · {item.label}: {value_format.format(value)}"
                parts.append(
                    f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(1.0, bar_w - 1):.1f}" '
                    f'height="{h:.1f}" fill="{color}"><title>{escape(tip)}</title></rect>'
                )
        label_x = left + slot * i + slot / 2
        if count <= 16 or i % math.ceil(count / 16) == 0:
            parts.append(
                f'<text x="{label_x:.1f}" y="{top + plot_h + 14}" text-anchor="middle" '
                f'class="axis">{escape(_short(category))}</text>'
            )
    # the percentage line
    if line is not None:
        points: list[tuple[float, float, float, str]] = []
        for i, percent in enumerate(line.values):
            if percent is None:
                continue
            x = left + slot * i + slot / 2
            y = top + plot_h - plot_h * max(0.0, min(100.0, float(percent))) / 100
            points.append((x, y, float(percent), categories[i] if i < len(categories) else ""))
        color = line.color or "#17202e"
        if len(points) > 1:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y, _, _ in points)
            parts.append(
                f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="2"/>'
            )
        for x, y, value, category in points:
            tip = f"{category} · {line.label}: {value:.1f}%"
            parts.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{color}">'
                f"<title>{escape(tip)}</title></circle>"
            )
    # legend
    legend = [*series, *([line] if line is not None else [])]
    x = left
    for j, item in enumerate(legend):
        color = item.color or (
            PALETTE[j % len(PALETTE)] if item is not line else (line.color or "#17202e")
        )
        parts.append(f'<rect x="{x}" y="6" width="12" height="12" fill="{color}"/>')
        parts.append(f'<text x="{x + 16}" y="16" class="legend">{escape(item.label)}</text>')
        x += 28 + 7 * len(item.label)
    parts.append("</svg>")
    return Markup("".join(parts))


def _short(text: str, size: int = 14) -> str:
    return text if len(text) <= size else text[: size - 1] + "…"
