"""A report laid out as one table, for the CSV and XLSX writers alike.

A column says what its cells hold (text, an amount, a count, a day), so that each
writer types them its own way: a CSV writes figures as the dialect wants them, a
workbook keeps numbers and dates as such and formats them. Amounts are integers in
minor units with the row's currency; a total row names the rows it adds up, which a
workbook turns into `=SUM()` formulas (or `=SUMIFS()` over the rows matching some
cells, for totals of rows scattered through a long sheet) and a CSV writes as figures.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

Cell = str | int | dt.date | None


def neutralise(text: str) -> str:
    """A text cell made safe for spreadsheets: formula-like starts are quoted with `'`,
    so the text is shown, never evaluated."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


class Kind(StrEnum):
    TEXT = "text"
    AMOUNT = "amount"  # minor units of the row's currency
    COUNT = "count"
    DAY = "day"


@dataclass(frozen=True)
class Column:
    heading: str
    kind: Kind = Kind.TEXT
    # A total row adds this column's cells up (a running balance is not added up: the
    # total row gives its last figure).
    summed: bool = True


@dataclass(frozen=True)
class SumIf:
    """The rows before the total whose cells equal these: (column index, text) pairs."""

    match: tuple[tuple[int, str], ...]


@dataclass(frozen=True)
class Row:
    """One row; `currency` for its amounts. A total row says in `sums` which rows its
    summed amount and count cells add up: their indexes in `Sheet.rows`, or `SumIf`."""

    cells: tuple[Cell, ...]
    currency: str | None = None
    sums: tuple[int, ...] | SumIf | None = None
    bold: bool = False


@dataclass
class Sheet:
    title: str
    columns: tuple[Column, ...]
    rows: list[Row] = field(default_factory=list)

    def add(self, *cells: Cell, currency: str | None = None, bold: bool = False) -> int:
        """Append a row; returns its index (for a total row's `sums`)."""
        if len(cells) != len(self.columns):
            raise ValueError(f"{len(cells)} cells for {len(self.columns)} columns")
        self.rows.append(Row(tuple(cells), currency, None, bold))
        return len(self.rows) - 1

    def add_total(self, *cells: Cell, currency: str | None,
                  sums: Sequence[int] | SumIf) -> int:
        """Append a total row: its amount and count cells are the sums of rows `sums`
        (given here too, worked out, for writers that write figures)."""
        if len(cells) != len(self.columns):
            raise ValueError(f"{len(cells)} cells for {len(self.columns)} columns")
        self.rows.append(Row(tuple(cells), currency,
                             sums if isinstance(sums, SumIf) else tuple(sums), True))
        return len(self.rows) - 1
