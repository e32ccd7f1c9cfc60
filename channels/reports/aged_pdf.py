"""The aged balance as a PDF for a manager: per currency, a chart of what is owed by
age, stacked by group (segment, creditor...), then the figures and the DSO.

A book of one creditor is printed in its branding; a book of several under a plain
heading. The chart keeps the largest groups apart and adds the rest up as "Others", so
that a breakdown by debtor stays readable.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.orm import Session

from relance.channels.reports.chart import Series, stacked_bars
from relance.channels.reports.pdf import branding, render_report
from relance.engine.aging import BUCKET_TITLES, DSO_WINDOW_DAYS, AgedBalance, AgedLine
from relance.engine.aging_display import aged_title, grouping_title, line_name
from relance.kernel.display import show_amount, show_count, show_decimal
from relance.kernel.i18n import _, current_language
from relance.kernel.money import minor_units
from relance.store.models import Creditor

CHART_GROUPS = 7


def _series(lines: list[AgedLine]) -> list[Series]:
    """The largest groups by what they owe, then the others added up."""
    ranked = sorted(lines, key=lambda line: (-abs(line.total), line.key))
    shown = [Series(" ".join(dict.fromkeys(line_name(line))), line.buckets)
             for line in ranked[:CHART_GROUPS]]
    rest = ranked[CHART_GROUPS:]
    if rest:
        sums = tuple(sum(line.buckets[i] for line in rest) for i in range(len(BUCKET_TITLES)))
        shown.append(Series(_("Others ({count})").format(count=show_count(len(rest))), sums))
    return shown


def _chart(lines: list[AgedLine], currency: str) -> Markup:
    unit = 10 ** minor_units(currency)

    def tick(minor: int) -> str:
        return show_count(minor // unit) if minor % unit == 0 else show_amount(minor, currency)

    svg = stacked_bars([_(title) for title in BUCKET_TITLES], _series(lines),
                       tick_label=tick, axis_title=currency, width=960,
                       height=300)
    # Built from numbers and escaped names: safe to place in the page as it is.
    return Markup(svg)


def _row(line: AgedLine, name: str, total: bool = False) -> dict[str, Any]:
    return {"name": name, "total": total,
            "buckets": [show_amount(minor, line.currency) for minor in line.buckets],
            "amount": show_amount(line.total, line.currency),
            "invoices": show_count(line.invoices)}


def _sections(report: AgedBalance) -> list[dict[str, Any]]:
    sections = []
    for total in report.totals:
        lines = [line for line in report.lines if line.currency == total.currency]
        rows = []
        for line in lines:
            key, label = line_name(line)
            rows.append(_row(line, key if key == label else f"{key} {label}"))
        rows.append(_row(total, _("total"), True))
        days = report.dso.get(total.currency)
        sections.append({
            "heading": _("Open balances in {currency}").format(currency=total.currency),
            "chart": _chart(lines, total.currency), "rows": rows,
            "dso": "" if days is None else _(
                "DSO (last {window} days' sales): {figures}").format(
                    window=DSO_WINDOW_DAYS, figures=_("{currency} {days} days").format(
                        currency=total.currency, days=show_decimal(days, 1))),
        })
    return sections


def aged_pdf(session: Session, report: AgedBalance, *, workspace_root: Path | None = None,
             templates_dir: Path | None = None,
             creditor_ids: Sequence[int] | None = None) -> bytes:
    """The aged balance `report` as PDF bytes, in the language spoken; branded as its
    creditor when it covers one (`creditor_ids`: those the reader may see)."""
    query = select(Creditor)
    if creditor_ids is not None:
        query = query.where(Creditor.id.in_(list(creditor_ids)))
    creditors = session.scalars(query.limit(2)).all()
    creditor = creditors[0] if len(creditors) == 1 else None
    context = {
        "language": current_language(),
        "orientation": "landscape",
        "title": aged_title(report),
        "subtitle": _("Amounts owed by lateness, by {grouping}, per currency").format(
            grouping=grouping_title(report.by)),
        "labels": {"group": grouping_title(report.by), "total": _("total"),
                   "invoices": _("inv."), "buckets": [_(t) for t in BUCKET_TITLES],
                   "nothing": _("Nothing is open in the book.")},
        "creditor": branding(creditor, workspace_root),
        "sections": _sections(report),
    }
    return render_report("aged.html", context, creditor=creditor,
                         workspace_root=workspace_root, templates_dir=templates_dir)
