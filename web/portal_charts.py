"""The dashboard's charts as SVG markup written on the server: the aged balance by
bucket today, and the last twelve months (the aged balance as stacked bars, DSO as a
line on its own axis).

Inline SVG needs no script and no inline style, so the strict Content-Security-Policy
holds: colours come from classes (`bucket-0`...`bucket-4`, `dso-line`) that
static/portal_pages.css paints. Every text is escaped here, the caller's words
included, and each figure is written by the one formatter in the page's language.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import Decimal

from markupsafe import Markup, escape

from relance.engine.aging import AgedLine
from relance.engine.trends import CurrencyTrend
from relance.kernel.display import show_count, show_date, show_decimal, show_money
from relance.kernel.money import minor_units

TICK_COUNT = 4


def nice_steps(high: float, count: int = TICK_COUNT, smallest: float = 1.0) -> list[float]:
    """Axis ticks from 0 by a round step (1, 2 or 5 x 10^n, at least `smallest`) until
    `high` is reached."""
    if high <= 0:
        return [0.0, smallest]
    rough = high / count
    scale = 10.0 ** math.floor(math.log10(rough))
    step = max(smallest, next(scale * m for m in (1, 2, 5, 10) if scale * m >= rough))
    return [step * n for n in range(math.ceil(high / step - 1e-9) + 1)]


def _text(x: float, y: float, words: str, css: str, anchor: str = "middle") -> str:
    return (f'<text x="{x:.1f}" y="{y:.1f}" class="{css}" text-anchor="{anchor}">'
            f"{escape(words)}</text>")


def _open_svg(width: int, height: int, label: str) -> str:
    return (f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
            f'aria-label="{escape(label)}" xmlns="http://www.w3.org/2000/svg">'
            f"<title>{escape(label)}</title>")


def aged_bars(line: AgedLine, bucket_titles: Sequence[str], label: str,
              language: str) -> Markup:
    """One bar per bucket of `line` (one currency), its amount above it."""
    width, height = 420, 250
    left, right, top, bottom = 6, 6, 24, 30
    plot_w, plot_h = width - left - right, height - top - bottom
    high = max([*line.buckets, 1])
    slot = plot_w / len(line.buckets)
    parts = [_open_svg(width, height, label),
             f'<line x1="{left}" y1="{top + plot_h}" x2="{width - right}" '
             f'y2="{top + plot_h}" class="axis"/>']
    for index, (minor, title) in enumerate(zip(line.buckets, bucket_titles, strict=True)):
        bar_h = plot_h * max(minor, 0) / high
        x = left + slot * index + slot * 0.18
        y = top + plot_h - bar_h
        amount = show_money(minor, line.currency, language)
        parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{slot * 0.64:.1f}" '
                     f'height="{bar_h:.1f}" class="bucket-{index}">'
                     f"<title>{escape(title)}: {escape(amount)}</title></rect>")
        centre = left + slot * (index + 0.5)
        parts.append(_text(centre, y - 8, amount, "value"))
        parts.append(_text(centre, top + plot_h + 20, title, "tick"))
    parts.append("</svg>")
    return Markup("".join(parts))


def month_label(index: int, trend: CurrencyTrend) -> str:
    """`11/26`: a month's end as the axis names it (a whole date would not fit)."""
    day = trend.points[index].on
    return f"{day.month:02d}/{day.year % 100:02d}"


def trend_chart(trend: CurrencyTrend, bucket_titles: Sequence[str], label: str,
                dso_title: str, language: str) -> Markup:
    """The aged balance at each month's end as bars stacked by bucket (left axis, whole
    currency units), and DSO as a line (right axis, days)."""
    width, height = 600, 290
    left, right, top, bottom = 66, 40, 30, 30
    plot_w, plot_h = width - left - right, height - top - bottom
    unit = 10 ** minor_units(trend.currency)
    highest = max([max(p.total for p in trend.points), 0]) / unit
    money_ticks = nice_steps(highest)
    money_top = money_ticks[-1] * unit
    dso_values = [float(p.dso) for p in trend.points if p.dso is not None]
    day_ticks = nice_steps(max([*dso_values, 0.0]))
    day_top = day_ticks[-1]
    parts = [_open_svg(width, height, label)]
    for tick in money_ticks:
        y = top + plot_h - plot_h * tick * unit / money_top
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" '
                     f'class="grid"/>')
        parts.append(_text(left - 8, y + 4, show_count(int(tick), language), "tick", "end"))
    for tick in day_ticks:
        y = top + plot_h - plot_h * tick / day_top
        parts.append(_text(width - right + 8, y + 4,
                           show_decimal(Decimal(str(tick)), 0, language), "tick dso-tick",
                           "start"))
    # The axes' units above them, inside the picture (the right one ends at its edge).
    parts.append(_text(left - 8, top - 14, trend.currency, "unit", "end"))
    parts.append(_text(width - 2, top - 14, dso_title, "unit dso-tick", "end"))
    slot = plot_w / len(trend.points)
    line_points = []
    for index, point in enumerate(trend.points):
        x = left + slot * index + slot * 0.2
        base = top + plot_h
        summary = (f"{show_date(point.on, language)}: "
                   f"{show_money(point.total, trend.currency, language)}")
        parts.append(f"<g><title>{escape(summary)}</title>")
        for bucket, minor in enumerate(point.buckets):
            if minor <= 0:
                continue
            bar_h = plot_h * minor / money_top
            base -= bar_h
            parts.append(f'<rect x="{x:.1f}" y="{base:.1f}" width="{slot * 0.6:.1f}" '
                         f'height="{bar_h:.1f}" class="bucket-{bucket}">'
                         f"<title>{escape(bucket_titles[bucket])}: "
                         f"{escape(show_money(minor, trend.currency, language))}</title></rect>")
        parts.append("</g>")
        parts.append(_text(left + slot * (index + 0.5), top + plot_h + 20,
                           month_label(index, trend), "tick"))
        if point.dso is not None:
            centre = left + slot * (index + 0.5)
            y = top + plot_h - plot_h * float(point.dso) / day_top
            line_points.append((centre, y, point))
    parts.append(f'<line x1="{left}" y1="{top + plot_h}" x2="{width - right}" '
                 f'y2="{top + plot_h}" class="axis"/>')
    if line_points:
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y, _point in line_points)
        parts.append(f'<polyline points="{path}" class="dso-line"/>')
        for x, y, point in line_points:
            days = show_decimal(point.dso or Decimal(0), 1, language)
            parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" class="dso-dot">'
                         f"<title>{escape(dso_title)} {escape(show_date(point.on, language))}: "
                         f"{escape(days)}</title></circle>")
    parts.append("</svg>")
    return Markup("".join(parts))
