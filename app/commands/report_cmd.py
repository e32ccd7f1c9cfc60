"""`relance report aged`: the aged balance as a table, CSV, XLSX or JSON.

Exports are opened by spreadsheets: a text cell that starts like a formula (`=`, `+`,
`-`, `@`, tab, carriage return) gets a leading `'` so it is shown, never evaluated;
amounts stay numbers (a credit note of -120.00 stays numeric). The table on the
terminal is the one the demo prints too (`engine.aging_display`).
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Iterable
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, TextIO

import typer

from relance.commands.options import parse_day
from relance.context import AppContext, print_table, say
from relance.engine.aging import BUCKET_TITLES, GROUPINGS, AgedBalance, aged_balance
from relance.engine.aging_display import aged_balance_table, dso_text
from relance.kernel.errors import UsageError
from relance.kernel.money import to_decimal

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

report_app = typer.Typer(help="Reports on the book.", no_args_is_help=True)


class Format(StrEnum):
    TABLE = "table"
    CSV = "csv"
    XLSX = "xlsx"
    JSON = "json"


def neutralise(text: str) -> str:
    """A text cell made safe for spreadsheets: formula-like starts are quoted with `'`."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def export_rows(report: AgedBalance) -> Iterable[list[Any]]:
    """Header then one row per line and per currency total; amounts are Decimals."""
    yield [report.by, "name", "currency", *BUCKET_TITLES, "total", "invoices"]
    for line in (*report.lines, *report.totals):
        yield [neutralise(line.key), neutralise(line.label), line.currency,
               *(to_decimal(minor, line.currency) for minor in line.buckets),
               to_decimal(line.total, line.currency), line.invoices]


def write_csv(report: AgedBalance, handle: TextIO) -> None:
    writer = csv.writer(handle)
    for row in export_rows(report):
        writer.writerow([str(cell) for cell in row])


def write_xlsx(report: AgedBalance, path: Path) -> None:
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = f"Aged balance {report.on.isoformat()}"
    for row in export_rows(report):
        # openpyxl would store a Decimal as a float anyway; the cell format keeps the
        # cents visible and the value stays a number a spreadsheet can sum.
        sheet.append([cell for cell in row])
    for cells in sheet.iter_rows(min_row=2, min_col=4, max_col=9):
        for cell in cells:
            cell.number_format = "#,##0.00"
    for cells in sheet.iter_rows(min_row=1, max_col=2):
        for cell in cells:
            cell.data_type = "s"  # never a formula, even if a value slipped through
    workbook.save(path)


@report_app.command("aged")
def aged(
    ctx: typer.Context,
    by: Annotated[str, typer.Option(help=f"Group by: {', '.join(GROUPINGS)}.")] = "segment",
    on: Annotated[str | None, typer.Option(help="Age as of this date (default today).")] = None,
    output_format: Annotated[Format, typer.Option("--format", help="Output format.")] = (
        Format.TABLE),
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File to write (csv, xlsx).")
    ] = None,
) -> None:
    """The aged balance: open balances by lateness, per currency, to the cent."""
    context: AppContext = ctx.obj
    if by not in GROUPINGS:
        raise UsageError(f"--by {by}: choose one of {', '.join(GROUPINGS)}")
    day = parse_day(on)
    with context.store.transaction() as session:
        report = aged_balance(session, on=day, by=by)
    if context.json_output or output_format is Format.JSON:
        context.emit_json(report.as_dict())
        return
    if output_format is Format.CSV:
        if output is None:
            write_csv(report, sys.stdout)
        else:
            with output.open("w", encoding="utf-8", newline="") as handle:
                write_csv(report, handle)
            say(context.console, f"wrote {output}")
        return
    if output_format is Format.XLSX:
        target = output or Path(f"aged-balance-{day.isoformat()}.xlsx")
        write_xlsx(report, target)
        say(context.console, f"wrote {target}")
        return
    console = context.console
    print_table(console, aged_balance_table(report))
    if report.dso:
        say(console, dso_text(report))


def register(app: typer.Typer) -> None:
    app.add_typer(report_app, name="report")

