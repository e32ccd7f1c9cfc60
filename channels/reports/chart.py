"""A stacked bar chart as inline SVG, for the PDF reports (WeasyPrint draws SVG).

One bar per category (an age bucket), stacked by series (a segment, a creditor...),
with a value axis, its grid and a legend. Negative parts (credit notes larger than
what a group owes in a bucket) stack below the zero line. Drawn here rather than by a
plotting library: a few rectangles and labels, the same on every machine.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

PALETTE = ("#1f5f99", "#e08a1e", "#3c9a5f", "#c4453c", "#7c5ba6", "#8c6d31", "#d16ba5",
           "#5f7f8f", "#b5b5b5")
FONT = "Letter Sans, DejaVu Sans, sans-serif"


@dataclass(frozen=True)
class Series:
    name: str
    values: tuple[int, ...]  # one per category


def nice_step(span: int, ticks: int = 5) -> int:
    """A round step (1, 2 or 5 times a power of ten) cutting `span` in about `ticks`."""
    raw = max(span / ticks, 1)
    power = 1
    while power * 10 <= raw:
        power *= 10
    for factor in (1, 2, 5, 10):
        if factor * power >= raw:
            return factor * power
    return 10 * power


def _extent(categories: int, series: Sequence[Series]) -> tuple[int, int]:
    top = bottom = 0
    for index in range(categories):
        values = [s.values[index] for s in series]
        top = max(top, sum(v for v in values if v > 0))
        bottom = min(bottom, sum(v for v in values if v < 0))
    return bottom, top if top > bottom else bottom + 1


def stacked_bars(categories: Sequence[str], series: Sequence[Series], *,
                 tick_label: Callable[[int], str], axis_title: str = "",
                 width: int = 640, height: int = 280) -> str:
    """The chart as an `<svg>` element; `tick_label` writes an axis value."""
    left, right, top, bottom = 78, 170, 14, 34
    plot_w, plot_h = width - left - right, height - top - bottom
    low, high = _extent(len(categories), series)
    step = nice_step(high - low)
    low, high = (low // step) * step, -(-high // step) * step  # floor and ceiling

    def y(value: int) -> float:
        return top + plot_h * (high - value) / (high - low)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" font-family="{FONT}" font-size="10">']
    for tick in range(low, high + 1, step):
        parts.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{y(tick):.1f}" '
                     f'y2="{y(tick):.1f}" stroke="{"#555" if tick == 0 else "#ddd"}" '
                     'stroke-width="0.8"/>')
        parts.append(f'<text x="{left - 6}" y="{y(tick) + 3.5:.1f}" text-anchor="end" '
                     f'fill="#333">{escape(tick_label(tick))}</text>')
    if axis_title:
        parts.append(f'<text x="12" y="{top + plot_h / 2:.1f}" text-anchor="middle" '
                     f'transform="rotate(-90 12 {top + plot_h / 2:.1f})" fill="#333">'
                     f'{escape(axis_title)}</text>')
    band = plot_w / max(len(categories), 1)
    bar = band * 0.62
    for index, name in enumerate(categories):
        x = left + band * index + (band - bar) / 2
        up = down = 0
        for number, item in enumerate(series):
            value = item.values[index]
            if value == 0:
                continue
            start = up if value > 0 else down
            end = start + value
            if value > 0:
                up = end
            else:
                down = end
            y1, y2 = sorted((y(start), y(end)))
            parts.append(f'<rect x="{x:.1f}" y="{y1:.1f}" width="{bar:.1f}" '
                         f'height="{max(y2 - y1, 0.5):.1f}" '
                         f'fill="{PALETTE[number % len(PALETTE)]}"/>')
        parts.append(f'<text x="{x + bar / 2:.1f}" y="{top + plot_h + 16}" '
                     f'text-anchor="middle" fill="#222">{escape(name)}</text>')
    for number, item in enumerate(series):
        row_y = top + 4 + number * 16
        parts.append(f'<rect x="{left + plot_w + 16}" y="{row_y}" width="10" height="10" '
                     f'fill="{PALETTE[number % len(PALETTE)]}"/>')
        label = item.name if len(item.name) <= 24 else item.name[:23] + "…"
        parts.append(f'<text x="{left + plot_w + 31}" y="{row_y + 9}" fill="#222">'
                     f'{escape(label)}</text>')
    parts.append("</svg>")
    return "\n".join(parts)
