"""Sheets as an Excel workbook that is ready to read and to filter.

Each sheet has its header in bold, frozen above the rows, an auto filter, columns wide
enough for what they hold, amounts as numbers in their row's currency format
(`#,##0.00 "€"`, `#,##0.00 "CHF"`), days as dates, and its totals as `=SUM()` formulas
over the rows they add up, so that a figure corrected by hand changes the total. Text
cells are neutralised (`sheet.neutralise`) and stored as text, never as formulas.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from relance.channels.reports.sheet import Cell, Kind, Row, Sheet, SumIf, neutralise
from relance.kernel.money import minor_units, to_decimal

_SYMBOLS = {"EUR": "€", "GBP": "£", "USD": "$", "JPY": "¥"}
DAY_FORMAT = "DD/MM/YYYY"
COUNT_FORMAT = "#,##0"
MIN_WIDTH, MAX_WIDTH = 6, 60
_TITLE_REFUSED = re.compile(r"[\[\]:*?/\\]")


def money_format(currency: str) -> str:
    """`#,##0.00 "€"`: the number format of amounts in `currency`."""
    decimals = minor_units(currency)
    figure = "#,##0" + ("." + "0" * decimals if decimals else "")
    return f'{figure} "{_SYMBOLS.get(currency, currency)}"'


def sheet_title(title: str) -> str:
    """A title Excel accepts: at most 31 characters, none of `[]:*?/\\`."""
    return _TITLE_REFUSED.sub("-", title).strip()[:31] or "-"


def _width(cell: Cell, kind: Kind, currency: str | None) -> int:
    if cell is None:
        return 0
    if kind is Kind.AMOUNT and isinstance(cell, int):
        # grouping, decimals and the currency: about a third more than the digits
        digits = len(str(abs(cell)))
        return digits + digits // 3 + 2 + len(_SYMBOLS.get(currency or "", currency or ""))
    if isinstance(cell, dt.date):
        return 10
    return max((len(part) for part in str(cell).splitlines()), default=0)


def _sum_formula(letter: str, rows: Sequence[int]) -> str:
    """`=SUM(D2:D5)` over rows (1-based), each run of rows as one range."""
    if not rows:
        return "=0"
    ranges: list[str] = []
    ordered = sorted(rows)
    start = previous = ordered[0]
    for row in [*ordered[1:], None]:
        if row is not None and row == previous + 1:
            previous = row
            continue
        ranges.append(f"{letter}{start}" if start == previous
                      else f"{letter}{start}:{letter}{previous}")
        if row is not None:
            start = previous = row
    return f"=SUM({','.join(ranges)})"


def _sumifs_formula(letter: str, rule: SumIf, last: int, letters: Sequence[str]) -> str:
    """`=SUMIFS(J2:J40,G2:G40,"Total",D2:D40,"EUR")` over the rows above (row `last`)."""
    def quoted(text: str) -> str:
        return '"' + text.replace('"', '""') + '"'

    criteria = "".join(f",{letters[column]}2:{letters[column]}{last},{quoted(value)}"
                       for column, value in rule.match)
    return f"=SUMIFS({letter}2:{letter}{last}{criteria})"


def _fill(worksheet: Any, sheet: Sheet) -> None:
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    bold = Font(bold=True)
    letters = [get_column_letter(index + 1) for index in range(len(sheet.columns))]
    widths = [len(column.heading) for column in sheet.columns]
    for index, column in enumerate(sheet.columns):
        cell = worksheet.cell(row=1, column=index + 1, value=neutralise(column.heading))
        cell.data_type = "s"
        cell.font = bold
    for position, row in enumerate(sheet.rows):
        _write_row(worksheet, sheet, row, position + 2, letters, bold, widths)
    for letter, width in zip(letters, widths, strict=True):
        worksheet.column_dimensions[letter].width = min(max(width + 2, MIN_WIDTH), MAX_WIDTH)
    worksheet.freeze_panes = "A2"
    last_row = max(len(sheet.rows) + 1, 2)
    worksheet.auto_filter.ref = f"A1:{letters[-1]}{last_row}"


def _write_row(worksheet: Any, sheet: Sheet, row: Row, number: int, letters: list[str],
               bold: Any, widths: list[int]) -> None:
    for index, (value, column) in enumerate(zip(row.cells, sheet.columns, strict=True)):
        cell = worksheet.cell(row=number, column=index + 1)
        widths[index] = max(widths[index], _width(value, column.kind, row.currency))
        summed = column.kind in (Kind.AMOUNT, Kind.COUNT) and column.summed
        if isinstance(row.sums, SumIf) and summed and value is not None:
            cell.value = _sumifs_formula(letters[index], row.sums, number - 1, letters)
        elif isinstance(row.sums, tuple) and summed and value is not None:
            cell.value = _sum_formula(letters[index], [n + 2 for n in row.sums])
        elif column.kind is Kind.AMOUNT and isinstance(value, int):
            cell.value = to_decimal(value, row.currency or "EUR")
        elif isinstance(value, (int, dt.date)) or value is None:
            cell.value = value
        else:
            cell.value = neutralise(str(value))
            cell.data_type = "s"  # never a formula, even if a value slipped through
        if column.kind is Kind.AMOUNT:
            cell.number_format = money_format(row.currency or "EUR")
        elif column.kind is Kind.COUNT:
            cell.number_format = COUNT_FORMAT
        elif column.kind is Kind.DAY:
            cell.number_format = DAY_FORMAT
        if row.bold:
            cell.font = bold


def xlsx_bytes(sheets: Sequence[Sheet]) -> bytes:
    """A workbook of these sheets, in order."""
    from openpyxl import Workbook

    workbook = Workbook()
    workbook.remove(workbook.active)
    for sheet in sheets:
        _fill(workbook.create_sheet(sheet_title(sheet.title)), sheet)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def write_xlsx(sheets: Sequence[Sheet], path: Path) -> Path:
    """Write the workbook whole or not at all (aside, then renamed)."""
    data = xlsx_bytes(sheets)
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(path.name + ".part")
    part.write_bytes(data)
    os.replace(part, path)
    return path
