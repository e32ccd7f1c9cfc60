"""A sheet as CSV, in the dialect of whoever opens it.

`excel-fr`, the default, is what a French office's Excel opens with a double click:
`;` between cells, UTF-8 with a byte order mark (else Excel reads Latin-1), amounts with
a decimal comma and no grouping (`1234,56`, which Excel takes as a number), days as
`dd/mm/yyyy`. `rfc4180` is for programs: `,`, no mark, a decimal point, ISO days.
Every text cell is neutralised (`sheet.neutralise`): a name starting with `=` is shown,
never run.
"""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from typing import TextIO

from relance.channels.reports.sheet import Cell, Kind, Sheet, neutralise
from relance.kernel.money import to_decimal


class Dialect(StrEnum):
    EXCEL_FR = "excel-fr"
    RFC4180 = "rfc4180"


@dataclass(frozen=True)
class _Style:
    delimiter: str
    decimal: str
    bom: bool
    day_format: str


_STYLES = {
    Dialect.EXCEL_FR: _Style(";", ",", True, "%d/%m/%Y"),
    Dialect.RFC4180: _Style(",", ".", False, "%Y-%m-%d"),
}
BOM = "\ufeff"


def _text(cell: Cell, kind: Kind, currency: str | None, style: _Style) -> str:
    if cell is None:
        return ""
    if kind is Kind.AMOUNT and isinstance(cell, int):
        return str(to_decimal(cell, currency or "EUR")).replace(".", style.decimal)
    if isinstance(cell, dt.date):
        return cell.strftime(style.day_format)
    if isinstance(cell, int):
        return str(cell)
    return neutralise(cell)


def write_csv(sheet: Sheet, handle: TextIO, dialect: Dialect = Dialect.EXCEL_FR) -> None:
    """Write `sheet` (header, then its rows) to `handle`, opened with `newline=""`."""
    style = _STYLES[dialect]
    if style.bom:
        handle.write(BOM)
    writer = csv.writer(handle, delimiter=style.delimiter, lineterminator="\r\n")
    writer.writerow([neutralise(column.heading) for column in sheet.columns])
    for row in sheet.rows:
        writer.writerow([_text(cell, column.kind, row.currency, style)
                         for cell, column in zip(row.cells, sheet.columns, strict=True)])
