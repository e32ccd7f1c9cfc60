"""The aged balance as people read it on a terminal: its table and its DSO sentence.

`relance report aged` and `relance demo` show the same report the same way, so the
view is built once, here, next to the figures (`engine.aging`), where both can import
it: the demo sits below the command line and may not import a command. This module
builds a `rich` renderable and a sentence; it prints nothing and knows no console.
"""

from __future__ import annotations

from rich import box
from rich.table import Table

from relance.engine.aging import (
    BUCKET_TITLES,
    DSO_WINDOW_DAYS,
    GROUPING_TITLES,
    NO_VALUE,
    AgedBalance,
    AgedLine,
)
from relance.kernel.console import add_row
from relance.kernel.display import show_amount, show_date, show_decimal
from relance.kernel.i18n import _


def grouping_title(by: str) -> str:
    """`segment`, `sales rep`: what a grouping is called, in the language spoken."""
    return _(GROUPING_TITLES.get(by, by))


def line_name(line: AgedLine) -> tuple[str, str]:
    """(key, label) of a line as people read them: an empty field is `(none)`."""
    key = _(NO_VALUE) if line.key == NO_VALUE else line.key
    label = _(NO_VALUE) if line.label == NO_VALUE else line.label
    return key, label


def aged_title(report: AgedBalance) -> str:
    return _("Aged balance on {day} by {grouping}").format(
        day=show_date(report.on), grouping=grouping_title(report.by))


def aged_balance_table(report: AgedBalance) -> Table:
    """One row per line of the report, then its per-currency totals in bold."""
    table = Table(title=aged_title(report), title_justify="left", box=box.SIMPLE_HEAD)
    table.add_column(grouping_title(report.by))
    table.add_column(_("cur."))
    for title in BUCKET_TITLES:
        table.add_column(_(title), justify="right")
    table.add_column(_("total"), justify="right", style="bold")
    table.add_column(_("inv."), justify="right")

    def add(line: AgedLine, name: str, style: str | None = None) -> None:
        add_row(table, name, line.currency,
                *(show_amount(minor, line.currency) for minor in line.buckets),
                show_amount(line.total, line.currency), str(line.invoices), style=style)

    for line in report.lines:
        # Keys and labels are the book's (debtor names, references, segments): as typed.
        key, label = line_name(line)
        add(line, key if label == key else f"{key} {label}")
    if report.totals:
        table.add_section()
    for line in report.totals:
        add(line, _("total"), "bold")
    return table


def dso_text(report: AgedBalance) -> str:
    """`DSO (last 90 days' sales): EUR 41.0 days`, one figure per currency that has
    one; empty when none has."""
    parts = [_("{currency} {days} days").format(currency=currency, days=show_decimal(days, 1))
             for currency, days in report.dso.items() if days is not None]
    if not parts:
        return ""
    return _("DSO (last {window} days' sales): {figures}").format(
        window=DSO_WINDOW_DAYS, figures=", ".join(parts))
