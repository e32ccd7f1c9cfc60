"""Merging what a file's rows say about each debtor: the last non-empty value wins, and a
warning names the rows when two disagree."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from relance.kernel.i18n import _
from relance.store.importing.columns import DEBTOR_COLUMNS
from relance.store.importing.rows import RowColumns

DRAFT_SLOT = {column: position for position, column in enumerate(DEBTOR_COLUMNS)}
"""Where a debtor column's value is in `DebtorDraft.values`."""
UNSET: Any = object()
"""A draft's value for a column no row gave."""
_POSITION = DRAFT_SLOT


def _shown(value: Any) -> str:
    if isinstance(value, tuple):
        return ";".join(value)
    return str(value)


class DebtorDraft:
    """A debtor as the file describes it so far (a slot per debtor column)."""

    __slots__ = ("first_row", "last", "last_row", "rows", "values")

    def __init__(self, first_row: int) -> None:
        self.first_row = first_row
        self.values: list[Any] = [UNSET] * len(DEBTOR_COLUMNS)
        self.rows: list[int] = [0] * len(DEBTOR_COLUMNS)
        # The last row's values (a dict the row reader shares between rows of identical
        # debtor cells) and its row: a row repeating them changes nothing but the rows
        # the values were last seen on, which are written out when they are needed.
        self.last: dict[str, Any] | None = None
        self.last_row = 0

    def settle_rows(self) -> None:
        """Write the row of the last values into `rows`."""
        if self.last is not None:
            for column in self.last:
                self.rows[_POSITION[column]] = self.last_row

    def get(self, column: str) -> Any:
        value = self.values[_POSITION[column]]
        return None if value is UNSET else value

    def given(self, column: str) -> bool:
        return self.values[_POSITION[column]] is not UNSET


@dataclass(frozen=True)
class Disagreement:
    row: int
    column: str
    debtor: str
    earlier_row: int
    earlier: str
    kept: str

    def render(self, label: str) -> str:
        return _("{label}: row {number}, column {column}: debtor {debtor} had {earlier!r} on "
                 "row {earlier_row}; the last value {kept!r} is kept").format(
                     label=label, number=self.row, column=self.column, debtor=self.debtor,
                     earlier=self.earlier, earlier_row=self.earlier_row, kept=self.kept)


class DebtorMerger:
    """Every debtor met in a file, keyed by (creditor code, debtor ref)."""

    def __init__(self) -> None:
        self.drafts: dict[tuple[str, str], DebtorDraft] = {}

    def add_rows(self, rows: RowColumns) -> list[Disagreement]:
        """`add` for each row in turn; a row repeating its debtor's last cells (the
        same values object) costs a lookup."""
        found: list[Disagreement] = []
        drafts = self.drafts
        for creditor, ref, number, values in zip(rows.creditor, rows.debtor_ref, rows.row,
                                                 rows.debtor, strict=True):
            draft = drafts.get((creditor, ref))
            if draft is not None and values is draft.last:
                draft.last_row = number
            else:
                found.extend(self.add(creditor, ref, number, values))
        return found

    def add(self, creditor: str, ref: str, row: int,
            values: dict[str, Any]) -> list[Disagreement]:
        """Fold one row's non-empty debtor values in; returns the disagreements."""
        key = (creditor, ref)
        draft = self.drafts.get(key)
        if draft is None:
            draft = self.drafts[key] = DebtorDraft(row)
        elif values is draft.last:  # the same cells again: nothing to compare
            draft.last_row = row
            return []
        draft.settle_rows()
        draft.last, draft.last_row = values, row
        found: list[Disagreement] = []
        for column, value in values.items():
            position = _POSITION[column]
            earlier = draft.values[position]
            if earlier is not UNSET and earlier != value:
                found.append(Disagreement(row, column, ref, draft.rows[position],
                                          _shown(earlier), _shown(value)))
            draft.values[position] = value
            draft.rows[position] = row
        return found
