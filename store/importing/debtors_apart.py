"""What the reading process remembers of each debtor once it reads a large file apart
(`apart`): in memory, a digest of the debtor's last cells and its last row, packed in one
integer (about 150 bytes a debtor, its ref included); its draft in the scratch database.

A row repeating its debtor's last cells (the common case: a debtor's cells are the same
on each of its invoices) is told by the digest alone: its cells are not read again
(`known` answers `SAME`) and its draft is not touched. A row with other cells is read,
and its draft fetched from the scratch database and merged as in one process
(`debtors.fold`); the drafts first made or changed are kept in memory until the step is
handed to the writer (`take_changed`), then saved. The drafts the writer receives, and
so what is stored and reported, are those of the one-process import.

The digest is the interpreter's string hash (SipHash, 64 bits, under a key drawn at
random when relance starts) of the cells joined by NUL, a character every cell refuses
(`cells.py`): two sets of cells a valid file holds never join to the same text, and a
row whose cells differ from its debtor's last ones passes for the same with odds of
2**-64. (BLAKE2 cost four times as much a row, a second of a million-row import.) A row
without cells kept (read one by one) gets no digest; its values are then compared with
the draft's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from relance.store.importing.debtors import DebtorDraft, Disagreement, DraftState, fold
from relance.store.importing.rows import RowColumns
from relance.store.importing.scratch import Scratch

SAME: dict[str, Any] = {}
"""`known`'s answer for a row repeating its debtor's last cells, in place of its values:
one object, never filled, told apart by identity."""
_ROW_BITS = 32  # a file's rows are numbered below 2**32
_ROW_MASK = (1 << _ROW_BITS) - 1
_DIGEST_BITS = (1 << 64) - 1
_DIGEST_MARK = 1 << 64  # set in every digest, so that 0 means "none"
_NONE: dict[str, int] = {}


def cells_digest(cells: tuple[str, ...]) -> int:
    """The digest of a row's debtor cells (never 0)."""
    return hash("\0".join(cells)) & _DIGEST_BITS | _DIGEST_MARK


class ApartDebtors:
    """The debtors of a file read apart: their states here, their drafts in `scratch`."""

    def __init__(self, scratch: Scratch, drafts: dict[tuple[str, str], DebtorDraft]) -> None:
        self._scratch = scratch
        # creditor -> ref -> digest of the last cells << 32 | last row
        self._states: dict[str, dict[str, int]] = {}
        for (creditor, ref), draft in drafts.items():
            digest = 0 if draft.last_cells is None else cells_digest(draft.last_cells)
            self._states.setdefault(creditor, {})[ref] = digest << _ROW_BITS | draft.last_row
        scratch.save_drafts((key, draft.state()) for key, draft in drafts.items())
        # Drafts first made or changed since the last step, saved when it is handed over.
        self._pending: dict[tuple[str, str], DebtorDraft] = {}
        # The digests `known` made of the cells of its batch's rows to read, which `add`
        # then takes rather than make again.
        self._digests: dict[tuple[str, ...], int] = {}

    def take_changed(self) -> dict[tuple[str, str], DraftState]:
        states = {key: draft.state() for key, draft in self._pending.items()}
        self._pending = {}
        self._scratch.save_drafts(states.items())
        return states

    def known(self, creditors: Sequence[str], refs: Sequence[str],
              cells: Sequence[tuple[str, ...]]) -> list[dict[str, Any] | None]:
        """`SAME` for each row repeating its debtor's last cells, None for the rows to
        read: all the rows of a debtor one of them gives other cells, since the values
        of the batch's later rows are then compared with the new ones."""
        states = self._states
        found: list[dict[str, Any] | None] = []
        to_read: set[tuple[str, str]] = set()
        digests = self._digests = {}
        for creditor, ref, row_cells in zip(creditors, refs, cells, strict=True):
            digest = cells_digest(row_cells)
            state = states.get(creditor, _NONE).get(ref)
            if state is not None and state >> _ROW_BITS == digest:
                found.append(SAME)
            else:
                found.append(None)
                to_read.add((creditor, ref))
                digests[row_cells] = digest
        if to_read:
            found = [None if key in to_read else values
                     for key, values in zip(zip(creditors, refs, strict=True), found, strict=True)]
        return found

    def add_rows(self, rows: RowColumns) -> list[Disagreement]:
        """`add` for each row of a batch; a row `known` found the same costs a lookup."""
        found: list[Disagreement] = []
        states = self._states
        cells: Sequence[tuple[str, ...] | None] = (
            rows.debtor_cells if rows.debtor_cells is not None else [None] * len(rows))
        for creditor, ref, number, values, row_cells in zip(
                rows.creditor, rows.debtor_ref, rows.row, rows.debtor, cells, strict=True):
            if values is SAME:  # `known` found the debtor's last cells: it has a state
                refs = states[creditor]
                refs[ref] = refs[ref] & ~_ROW_MASK | number
            else:
                found.extend(self.add(creditor, ref, number, values, row_cells))
        return found

    def add(self, creditor: str, ref: str, row: int, values: dict[str, Any],
            cells: tuple[str, ...] | None) -> list[Disagreement]:
        """Fold one row in (`DebtorMerger.add`); `values` may be `SAME`."""
        refs = self._states.setdefault(creditor, {})
        state = refs.get(ref)
        if values is SAME:  # `known` found the debtor's last cells, so it has a state
            assert state is not None
            refs[ref] = state & ~_ROW_MASK | row
            return []
        digest = 0 if cells is None else self._digests.get(cells) or cells_digest(cells)
        refs[ref] = digest << _ROW_BITS | row
        key = (creditor, ref)
        if state is None:  # a first set: nothing to compare it with
            draft = self._pending[key] = DebtorDraft(row)
            draft.last, draft.last_row = values, row
            return []
        if digest and state >> _ROW_BITS == digest:
            return []  # the same cells again
        draft = self._pending.get(key) or DebtorDraft.restored(self._scratch.draft(key))
        draft.last_row = state & _ROW_MASK
        if values == draft.last:  # other cells, or none kept, saying the same
            return []
        self._pending[key] = draft
        return fold(draft, ref, row, values)
