"""The row where a file first gave each invoice number, by creditor: a number given again
refuses the file, naming both rows."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import repeat

from relance.store.importing.rows import InvoiceRow
from relance.store.importing.scratch import Scratch


class FirstRows:
    """Each invoice number's first row: in this process's memory, or, once the file is
    read apart, in the reading side's scratch database (`move_to`), where a file of
    millions of rows costs no memory."""

    def __init__(self) -> None:
        self._seen: dict[str, dict[str, int]] = {}
        self._scratch: Scratch | None = None

    def move_to(self, scratch: Scratch) -> None:
        """Keep the numbers in `scratch` from now on, those recorded so far included."""
        scratch.add_numbers((creditor, number, row) for creditor, numbers in self._seen.items()
                            for number, row in numbers.items())
        self._seen = {}
        self._scratch = scratch

    def claim(self, creditor: str, numbered: dict[str, int]) -> bool:
        """Record a batch's numbers (number -> row, each once in the batch) if none was
        recorded before, and say so. When one was, False; in the scratch database the
        others may then be recorded at their rows, as `firsts` would record them."""
        if self._scratch is not None:
            added = self._scratch.add_numbers(
                zip(repeat(creditor), numbered.keys(), numbered.values()))
            return added == len(numbered)
        seen = self._seen.setdefault(creditor, {})
        if not seen.keys().isdisjoint(numbered):
            return False
        seen.update(numbered)
        return True

    def firsts(self, rows: Sequence[InvoiceRow]) -> list[int]:
        """For each row in turn, the first row of its creditor's number, the row itself
        when the number is new (then recorded)."""
        if self._scratch is None:
            seen = self._seen
            return [seen.setdefault(row.creditor, {}).setdefault(row.number, row.row)
                    for row in rows]
        self._scratch.add_numbers((row.creditor, row.number, row.row) for row in rows)
        by_creditor: dict[str, list[str]] = {}
        for row in rows:
            by_creditor.setdefault(row.creditor, []).append(row.number)
        found = {creditor: self._scratch.first_rows(creditor, list(dict.fromkeys(numbers)))
                 for creditor, numbers in by_creditor.items()}
        return [found[row.creditor][row.number] for row in rows]
