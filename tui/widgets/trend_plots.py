"""The dashboard's two terminal plots of one currency over the last twelve months: the
aged balance as stacked bars per bucket, and DSO as a line. The figures come from
`relance.engine.trends`; the axes' numbers are written as the desk's language writes
them (plotext would write `62.5` in French too)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from decimal import Decimal

from textual_plotext import PlotextPlot

from relance.engine.trends import CurrencyTrend
from relance.kernel.display import show_count, show_decimal
from relance.kernel.i18n import N_, _
from relance.kernel.money import minor_units

BUCKET_NAMES = (N_("not due"), N_("1–30 d"), N_("31–60 d"), N_("61–90 d"), N_("> 90 d"))
TICKS = 4


def nice_ticks(high: float, count: int = TICKS) -> list[float]:
    """0 and round steps (1, 2 or 5 x 10^n) up to at least `high`."""
    if high <= 0:
        return [0.0]
    raw = high / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(power * m for m in (1, 2, 5, 10) if power * m >= raw)
    return [step * n for n in range(math.ceil(high / step) + 1)]


def month_labels(trend: CurrencyTrend) -> list[str]:
    """`12/25` for the first month and each January, `02` for the others."""
    labels = []
    for index, point in enumerate(trend.points):
        month = f"{point.on.month:02d}"
        labels.append(f"{month}/{point.on.year % 100:02d}"
                      if index == 0 or point.on.month == 1 else month)
    return labels


def _set_y(plot: PlotextPlot, ticks: Sequence[float], show: Callable[[float], str]) -> None:
    plot.plt.yticks(list(ticks), [show(tick) for tick in ticks])
    plot.plt.ylim(0, ticks[-1] if ticks[-1] > 0 else 1)


def _days(tick: float) -> str:
    return show_decimal(Decimal(str(tick)), 0 if tick == int(tick) else 1)


def draw_aged(plot: PlotextPlot, trend: CurrencyTrend) -> None:
    """Stacked bars: the balance of each bucket at each month's end, in thousands."""
    plt = plot.plt
    plt.clear_figure()
    thousand = 1000 * 10 ** minor_units(trend.currency)
    series = [[point.buckets[bucket] / thousand for point in trend.points]
              for bucket in range(len(BUCKET_NAMES))]
    labels = month_labels(trend)
    # plotext names the legend `labels` here; its type stub says `label`, which it ignores.
    plt.stacked_bar(labels, series, labels=[_(name) for name in BUCKET_NAMES],  # type: ignore[call-arg]
                    width=0.6)
    # Every other month: twelve labels do not fit 80 columns, and the plot may not
    # know its size yet when it is drawn (a view being switched to).
    every = 2
    plt.xticks(list(range(1, len(labels) + 1, every)), labels[::every])
    plt.title(_("Aged balance, thousands of {currency}").format(currency=trend.currency))
    high = max((max(point.total, 0) / thousand for point in trend.points), default=0)
    _set_y(plot, nice_ticks(high), lambda tick: show_count(round(tick)))
    plot.refresh()


def draw_dso(plot: PlotextPlot, trend: CurrencyTrend) -> None:
    """A line of DSO at each month's end; a month with nothing sold has no point."""
    plt = plot.plt
    plt.clear_figure()
    known = [(index, float(point.dso)) for index, point in enumerate(trend.points)
             if point.dso is not None]
    labels = month_labels(trend)
    plt.title(_("DSO, days ({currency})").format(currency=trend.currency))
    if known:
        plt.plot([index for index, _days in known], [days for _index, days in known],
                 marker="braille")
        high = max(days for _index, days in known)
        _set_y(plot, nice_ticks(high), _days)
    every = 2 if len(labels) > 6 else 1
    plt.xticks(list(range(0, len(labels), every)), labels[::every])
    plt.xlim(-0.5, len(labels) - 0.5)
    plot.refresh()
