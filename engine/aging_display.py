"""The aged balance as people read it on a terminal: its table and its DSO sentence.

`relance report aged` and `relance demo` show the same report the same way, so the
view is built once, here, next to the figures (`engine.aging`), where both can import
it: the demo sits below the command line and may not import a command. This module
builds a `rich` renderable and a sentence; it prints nothing and knows no console.
"""

from __future__ import annotations

from rich import box
from rich.table import Table

from relance.engine.aging import BUCKET_TITLES, AgedBalance, AgedLine
from relance.kernel.console import add_row
from relance.kernel.money import grouped_amount


def aged_balance_table(report: AgedBalance) -> Table:
    """One row per line of the report, then its per-currency totals in bold."""
    table = Table(title=f"Aged balance on {report.on.isoformat()} by {report.by}",
                  title_justify="left", box=box.SIMPLE_HEAD)
    table.add_column(report.by)
    table.add_column("cur")
    for title in BUCKET_TITLES:
        table.add_column(title, justify="right")
    table.add_column("total", justify="right", style="bold")
    table.add_column("inv.", justify="right")

    def add(line: AgedLine, style: str | None = None) -> None:
        # Keys and labels are the book's (debtor names, references, segments): as typed.
        name = line.key if line.label == line.key else f"{line.key} {line.label}"
        add_row(table, name, line.currency,
                *(grouped_amount(minor, line.currency) for minor in line.buckets),
                grouped_amount(line.total, line.currency), str(line.invoices), style=style)

    for line in report.lines:
        add(line)
    if report.totals:
        table.add_section()
    for line in report.totals:
        add(line, "bold")
    return table


def dso_text(report: AgedBalance) -> str:
    """`DSO (last 90 days' sales): EUR 41 days`, one figure per currency that has one;
    empty when none has."""
    parts = [f"{currency} {days} days" for currency, days in report.dso.items()
             if days is not None]
    return "DSO (last 90 days' sales): " + ", ".join(parts) if parts else ""
