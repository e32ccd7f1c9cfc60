"""Merging what a file's rows say about each debtor: the last non-empty value wins, and a
warning names the rows when two disagree."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from relance.kernel.i18n import _
from relance.store.importing.columns import DEBTOR_COLUMNS
from relance.store.importing.rows import RowColumns

if TYPE_CHECKING:
    from relance.store.importing.debtors_apart import ApartDebtors
    from relance.store.importing.scratch import Scratch

DRAFT_SLOT = {column: position for position, column in enumerate(DEBTOR_COLUMNS)}
"""Where a debtor column's value is in `DebtorDraft.values`."""
SHARED_CELLS_MAX = 20_000
"""Distinct cells a merger shares between debtors; past it, only those met already (the
few values of a segment or a country come first, names and e-mails fill the rest)."""


class _Unset:
    """The type of UNSET, which stays itself when a draft crosses to another process."""

    __slots__ = ()

    def __reduce__(self) -> str:
        return "UNSET"

    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()
"""A draft's value for a column no row gave."""
_POSITION = DRAFT_SLOT


def _shown(value: Any) -> str:
    if isinstance(value, tuple):
        return ";".join(value)
    return str(value)


DraftState = tuple[int, dict[str, Any] | None, int, list[Any] | None, list[int] | None]
"""A draft's fields as `DebtorDraft.state` gives them."""


class DebtorDraft:
    """A debtor as the file describes it so far (a slot per debtor column).

    Most debtors have one set of debtor cells on all their rows: their draft keeps that
    set's values (`last`) and nothing more, since a file names hundreds of thousands of
    debtors. The slots, with the row each value was last seen on, are made when a second
    set comes."""

    __slots__ = ("_rows", "_values", "first_row", "last", "last_cells", "last_row")

    def __init__(self, first_row: int) -> None:
        self.first_row = first_row
        # The values merged so far and their rows, once two sets were met.
        self._values: list[Any] | None = None
        self._rows: list[int] | None = None
        # The last row's values (a dict the row reader shares between rows of identical
        # debtor cells) and its row: a row repeating them changes nothing but the rows
        # the values were last seen on, which are written out when they are needed.
        self.last: dict[str, Any] | None = None
        self.last_row = 0
        # The cells `last` was read from, when the reader kept them: a later row with
        # the same cells gets `last` without reading them again (`DebtorMerger.known`).
        self.last_cells: tuple[str, ...] | None = None

    @property
    def values(self) -> list[Any]:
        """A value per debtor column (`DRAFT_SLOT`), UNSET where no row gave one."""
        if self._values is not None:
            return self._values
        values: list[Any] = [UNSET] * len(DEBTOR_COLUMNS)
        for column, value in (self.last or {}).items():
            values[_POSITION[column]] = value
        return values

    @property
    def varied(self) -> bool:
        """Whether rows gave this debtor more than one set of cells."""
        return self._values is not None

    def merged(self) -> tuple[list[Any], list[int]]:
        """The slots, made from the one set met so far if need be, with the rows of the
        last set's values written in."""
        if self._values is None or self._rows is None:
            self._values, self._rows = self.values, [0] * len(DEBTOR_COLUMNS)
        if self.last is not None:
            for column in self.last:
                self._rows[_POSITION[column]] = self.last_row
        return self._values, self._rows

    def state(self) -> DraftState:
        """What crosses to the writing process (`apart`) or goes to the scratch database:
        the fields as a plain tuple (pickling the object cost three times as much, for
        every debtor of a large file); the cells stay behind, the writer never compares
        them."""
        return self.first_row, self.last, self.last_row, self._values, self._rows

    @classmethod
    def restored(cls, state: DraftState) -> DebtorDraft:
        draft = cls(state[0])
        draft.last, draft.last_row, draft._values, draft._rows = state[1:]
        return draft

    def get(self, column: str) -> Any:
        if self._values is None:
            return (self.last or {}).get(column)
        value = self._values[_POSITION[column]]
        return None if value is UNSET else value

    def given(self, column: str) -> bool:
        if self._values is None:
            return column in (self.last or {})
        return self._values[_POSITION[column]] is not UNSET


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


class SettledDraft(DebtorDraft):
    """What the writer keeps of a draft it is done with (`BookWriter.settle`): the
    debtor's tags, all the end of the import still reads of it."""

    __slots__ = ()

    @classmethod
    def of(cls, draft: DebtorDraft) -> SettledDraft:
        tags = draft.get("tags")
        if not tags:
            return _UNTAGGED
        settled = cls(draft.first_row)
        settled.last = {"debtor_name": "", "tags": tags}
        return settled


_UNTAGGED = SettledDraft(0)
_UNTAGGED.last = {"debtor_name": ""}


class DebtorMerger:
    """Every debtor met in a file, keyed by (creditor code, debtor ref).

    In the import's process the drafts are here, shared with the writer. Once the file
    is read apart (`apart`), the reading process moves them to its scratch database
    (`move_to`): from then on `ApartDebtors` answers for them, and the writer's copy is
    fed the drafts first made or changed at each step (`take_changed`)."""

    def __init__(self) -> None:
        self.drafts: dict[tuple[str, str], DebtorDraft] = {}
        # One text object per distinct cell kept (a segment, a country, a sales rep):
        # each debtor's last cells would otherwise hold copies of the same few words.
        self._shared: dict[str, str] = {}
        self._apart: ApartDebtors | None = None

    def move_to(self, scratch: Scratch) -> None:
        """Keep the drafts in `scratch` from now on (in the reading process, apart)."""
        from relance.store.importing.debtors_apart import ApartDebtors  # it builds on this

        self._apart = ApartDebtors(scratch, self.drafts)
        self.drafts = {}
        self._shared = {}

    def take_changed(self) -> dict[tuple[str, str], DraftState]:
        """The drafts first made or changed since the last call (in that order), for
        the writer's copy; none unless the drafts were moved (`move_to`)."""
        return {} if self._apart is None else self._apart.take_changed()

    def _kept(self, cells: tuple[str, ...] | None) -> tuple[str, ...] | None:
        """`cells` as a draft keeps them, their texts shared with other debtors'."""
        if cells is None:
            return None
        shared = self._shared
        if len(shared) < SHARED_CELLS_MAX:
            return tuple(map(shared.setdefault, cells, cells))
        return tuple([shared.get(cell, cell) for cell in cells])

    def known(self, creditors: Sequence[Any], refs: Sequence[Any],
              cells: Sequence[tuple[str, ...]]) -> list[dict[str, Any] | None]:
        """For each row, its debtor's last values if the row repeats the cells they were
        read from, else None (to be read). Each debtor's own last cells are kept, so a
        file that comes back to a debtor after any number of others reads nothing
        twice; a cache of sets of cells would have to forget some. Apart, `SAME`
        stands for the values (`ApartDebtors.known`)."""
        if self._apart is not None:
            return self._apart.known(creditors, refs, cells)
        get = self.drafts.get
        found: list[dict[str, Any] | None] = []
        append = found.append
        for creditor, ref, row_cells in zip(creditors, refs, cells, strict=True):
            draft = get((creditor, ref))
            append(draft.last if draft is not None and draft.last_cells == row_cells
                   else None)
        return found

    def add_rows(self, rows: RowColumns) -> list[Disagreement]:
        """`add` for each row in turn; a row repeating its debtor's last cells (the
        same values object) costs a lookup."""
        if self._apart is not None:
            return self._apart.add_rows(rows)
        found: list[Disagreement] = []
        cells: Sequence[tuple[str, ...] | None] = (
            rows.debtor_cells if rows.debtor_cells is not None else [None] * len(rows))
        drafts = self.drafts
        for creditor, ref, number, values, row_cells in zip(
                rows.creditor, rows.debtor_ref, rows.row, rows.debtor, cells, strict=True):
            draft = drafts.get((creditor, ref))
            if draft is not None and values is draft.last:
                draft.last_row = number
            else:
                found.extend(self.add(creditor, ref, number, values, row_cells))
        return found

    def add(self, creditor: str, ref: str, row: int, values: dict[str, Any],
            cells: tuple[str, ...] | None = None) -> list[Disagreement]:
        """Fold one row's non-empty debtor values in (read from `cells`, when the
        reader kept them); returns the disagreements."""
        if self._apart is not None:
            return self._apart.add(creditor, ref, row, values, cells)
        key = (creditor, ref)
        draft = self.drafts.get(key)
        if draft is None:  # a first set: nothing to compare it with
            draft = self.drafts[key] = DebtorDraft(row)
            draft.last, draft.last_row, draft.last_cells = values, row, self._kept(cells)
            return []
        if values is draft.last:  # the same cells again: nothing to compare
            draft.last_row = row
            return []
        found = fold(draft, ref, row, values)
        draft.last_cells = self._kept(cells)
        return found


def fold(draft: DebtorDraft, ref: str, row: int, values: dict[str, Any]) -> list[Disagreement]:
    """Fold a row's values, another set than the draft's last, into the draft; the
    columns where an earlier non-empty value differs."""
    merged, rows = draft.merged()
    draft.last, draft.last_row = values, row
    found: list[Disagreement] = []
    for column, value in values.items():
        position = _POSITION[column]
        earlier = merged[position]
        if earlier is not UNSET and earlier != value:
            found.append(Disagreement(row, column, ref, rows[position],
                                      _shown(earlier), _shown(value)))
        merged[position] = value
        rows[position] = row
    return found
