"""Checking a batch of rows column by column, for speed, with the row-by-row reader
(`rows.read_row`) as the reference.

Each column of a batch is checked and converted in bulk: values that repeat (dates,
currencies, creditor codes, a debtor's cells) are read once per distinct value by the
very functions the row reader uses; amounts written in the usual forms (`1234.56`,
`1 234,56`) are turned into minor units by one pattern over the whole column and one
`str.translate`; lengths are checked with `min`/`max` over the column. A row that any of
these fast checks does not vouch for — a control character, an empty required cell, a
negative or unusual amount, a credit note, a currency without two decimals — is handed
to `read_row` whole, which accepts it or names every problem exactly as it always has.
So the fast path only ever accepts rows the reference accepts, with the same values,
and every refusal is worded by the reference.
"""

from __future__ import annotations

import functools
import itertools
import operator
import re
from collections.abc import Callable, Hashable, Sequence
from typing import Any, TypeVar, cast

from relance.kernel.dates import DateError, parse_date
from relance.kernel.money import minor_units, normalise_currency
from relance.store.importing.cells import creditor_code_problem, may_be_refused
from relance.store.importing.columns import INVOICE, NOT_DISPUTED
from relance.store.importing.csv_blocks import ColumnBatch
from relance.store.importing.debtors import DebtorMerger
from relance.store.importing.rows import (
    MAX_LENGTH,
    DebtorCache,
    InvoiceRow,
    Layout,
    Options,
    RowColumns,
    RowError,
    debtor_cell,
    read_row,
)

Outcome = InvoiceRow | list[RowError] | None
"""A row of the batch once read: the typed row, its problems, or None for a blank row
(skipped, as if it were not in the file)."""

# An amount the fast path reads: digits, optionally grouped by three with a space, a
# no-break space or a narrow no-break space, then a decimal mark and two decimals. For
# a currency of two decimals the reference reads exactly these the same way (two digits
# after a single mark are never ambiguous), and deleting the marks leaves minor units.
# Written so that the pattern never backtracks (possessive repeats: four digits or more
# ungrouped, or one to three then groups), which makes the column's match five times
# faster than `(?:[0-9]{1,3}(?:[ ][0-9]{3})+|[0-9]+)`, the same set of amounts.
_AMOUNT = r"(?:[0-9]{4,}+|[0-9]{1,3}+(?:[ \u00a0\u202f][0-9]{3})*+)[.,][0-9]{2}"
_AMOUNT_COLUMN = re.compile(rf"(?:{_AMOUNT}\n)*+{_AMOUNT}")
_AMOUNT_CELL = re.compile(_AMOUNT)
_WHOLE_CELL = re.compile(r"[0-9]+")
_MARK_CHARS = (" ", "\u00a0", "\u202f", ".", ",")
_MARKS = str.maketrans("", "", "".join(_MARK_CHARS))
_TWO_DECIMALS = 2

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class _Slow:
    """Marks a value the fast path leaves to the reference reader."""


SLOW: Any = _Slow()


def _by_distinct(column: Sequence[K], convert: Callable[[K], V],
                 slow: set[int] | None = None) -> list[V]:
    """`convert` applied to each distinct value once, mapped back over the column; with
    `slow`, the rows whose value is SLOW are added to it."""
    memo = {value: convert(value) for value in set(column)}
    values = list(map(memo.__getitem__, column))
    if slow is not None and any(value is SLOW for value in memo.values()):
        _marked(values, slow)
    return values


MEMO_MAX = 10_000
"""Distinct cells a column's reader remembers across the batches of a file."""


class _Distinct:
    """Reads a column each distinct cell once, remembering the cells it read in the
    file's earlier batches (dates, codes and currencies repeat from batch to batch, so a
    batch is then read by one look-up per cell), up to MEMO_MAX of them. A cell read as
    SLOW is not remembered: its row goes to the reference reader each time."""

    __slots__ = ("_convert", "_known")

    def __init__(self, convert: Callable[[str], Any]) -> None:
        self._convert = convert
        self._known: dict[str, Any] = {}

    def __call__(self, column: Sequence[str], slow: set[int] | None = None) -> list[Any]:
        try:
            return list(map(self._known.__getitem__, column))  # every cell met before
        except KeyError:
            return _by_distinct(column, self._read, slow)

    def _read(self, cell: str) -> Any:
        known = self._known
        value = known.get(cell, _UNREAD)
        if value is _UNREAD:
            value = self._convert(cell)
            if value is not SLOW and len(known) < MEMO_MAX:
                known[cell] = value
        return value


_UNREAD: Any = object()


class ColumnReaders:
    """The readers of an import's repeated columns, kept from one batch to the next."""

    def __init__(self, options: Options) -> None:
        self.creditor = _Distinct(functools.partial(_creditor_code, options))
        self.issue_date = _Distinct(_date_reader(options, required=True))
        self.due_date = _Distinct(_date_reader(options, required=True))
        self.currency = _Distinct(_currency_code)
        self.document_type = _Distinct(_document_type)
        self.disputed = _Distinct(_dispute)
        self.promised_until = _Distinct(_date_reader(options, required=False))


def _creditor_code(options: Options, cell: str) -> Any:
    code = cell.strip() or (options.default_creditor or "")
    return code if code and creditor_code_problem(code) is None else SLOW


def _currency_code(cell: str) -> Any:
    try:
        code = normalise_currency(cell.strip())
    except ValueError:
        return SLOW
    # Amounts of other currencies are read by the reference (their own decimals).
    return code if minor_units(code) == _TWO_DECIMALS else SLOW


def _document_type(cell: str) -> Any:
    # Credit notes (signs turned) and unknown kinds: the reference reads them.
    return None if cell.strip().lower() in INVOICE else SLOW


def _amounts(column: Sequence[str], *, empty: Any) -> list[Any]:
    """Minor units of a two-decimal currency for each cell, `empty` for an empty one,
    SLOW for a form the reference must read."""
    joined = "\n".join(column)
    stripped: Sequence[str] = column
    if not _AMOUNT_COLUMN.fullmatch(joined):  # spaces around some cell, or another form
        stripped = list(map(str.strip, column))
        joined = "\n".join(stripped)
    if _AMOUNT_COLUMN.fullmatch(joined):  # the whole column in the usual form
        # str.replace runs at memory speed where str.translate looks up every character.
        for mark in _MARK_CHARS:
            joined = joined.replace(mark, "")
        return list(map(int, joined.split("\n")))
    values: list[Any] = []
    for cell in stripped:
        if _AMOUNT_CELL.fullmatch(cell):
            values.append(int(cell.translate(_MARKS)))
        elif _WHOLE_CELL.fullmatch(cell):
            values.append(int(cell) * 100)
        elif not cell:
            values.append(empty)
        else:
            values.append(SLOW)
    return values


def _text(column: Sequence[str], limit: int | None, slow: set[int]) -> list[str]:
    """A required one-line text column, stripped; marks empty and too long cells slow."""
    stripped = list(map(str.strip, column))
    lengths = list(map(len, stripped))
    if min(lengths) == 0 or (limit is not None and max(lengths) > limit):
        slow.update(index for index, length in enumerate(lengths)
                    if length == 0 or (limit is not None and length > limit))
    return stripped


def _date_reader(options: Options, *, required: bool) -> Callable[[str], Any]:
    def read(cell: str) -> Any:
        text = cell.strip()
        if not text:
            return SLOW if required else None
        try:
            return parse_date(text, date_format=options.date_format)
        except DateError:
            return SLOW
    return read


def _marked(values: list[Any], slow: set[int]) -> None:
    if SLOW in values:  # one pass in C on a clean column, the common case
        slow.update(index for index, value in enumerate(values) if value is SLOW)


def _unordered(earlier: list[Any], later: list[Any], slow: set[int]) -> None:
    """Marks the rows whose `later` value is less than their `earlier` one, SLOW values
    aside."""
    if SLOW in earlier or SLOW in later:
        slow.update(index for index, (first, second) in enumerate(zip(earlier, later,
                                                                       strict=True))
                    if first is not SLOW and second is not SLOW and second < first)
    elif any(map(operator.lt, later, earlier)):
        slow.update(itertools.compress(itertools.count(), map(operator.lt, later, earlier)))


def _columns(batch: list[tuple[int, list[str]]] | ColumnBatch, layout: Layout,
             slow: set[int]) -> tuple[list[int], Sequence[Sequence[str]]]:
    """The batch's row numbers and columns, as wide as the layout; rows too wide and
    rows holding a refused character added to `slow`."""
    if isinstance(batch, ColumnBatch):  # as wide as the header, by construction
        if may_be_refused(batch.text, line_ends=True):
            slow.update(index for index, (_number, cells) in enumerate(batch)
                        if layout.cells.problems(cells))
        return list(range(batch.first, batch.first + len(batch))), batch.columns
    width = layout.width
    numbers_of_rows = list(map(operator.itemgetter(0), batch))
    cells_list: list[list[str]] = list(map(operator.itemgetter(1), batch))
    if set(map(len, cells_list)) != {width}:  # short rows padded, long ones left slow
        for index, cells in enumerate(cells_list):
            if len(cells) < width:
                cells_list[index] = cells + [""] * (width - len(cells))
            elif len(cells) > width:
                slow.add(index)
                cells_list[index] = cells[:width]
    # One search over the batch: a clean batch, the common case, costs nothing more.
    if may_be_refused("\t".join(map("\t".join, cells_list))):
        for index, cells in enumerate(cells_list):
            if layout.cells.problems(cells):
                slow.add(index)
    return numbers_of_rows, list(zip(*cells_list, strict=True)) if width else []


def read_batch(batch: list[tuple[int, list[str]]] | ColumnBatch, layout: Layout,
               options: Options, cache: DebtorCache, known: DebtorMerger,
               readers: ColumnReaders | None = None) -> list[Outcome] | RowColumns:
    """Read a batch of rows (as (row number, cells) or as columns): one outcome per row,
    in the file's order, equal to what `read_row` returns for each (None for a blank
    row); or, when every row passed the fast checks (the common case), those rows as
    columns.

    A row that repeats the debtor cells its debtor had on its last row in `known`
    takes the values read then; `cache` serves the rows read one by one; `readers`, the
    file's column readers (made for this batch alone when not given)."""
    if not len(batch):
        return []
    readers = readers or ColumnReaders(options)
    slow: set[int] = set()
    numbers_of_rows, columns = _columns(batch, layout, slow)
    count = len(batch)
    index_of = layout.index

    def column(name: str) -> Sequence[str] | None:
        position = index_of.get(name)
        return None if position is None else columns[position]

    creditor_cells = column("creditor")
    if creditor_cells is None:
        creditor_cells = [""] * count

    creditors = readers.creditor(creditor_cells, slow)
    refs = _text(_required(column("debtor_ref")), MAX_LENGTH["debtor_ref"], slow)
    numbers = _text(_required(column("invoice_number")), MAX_LENGTH["invoice_number"], slow)
    issued = readers.issue_date(_required(column("issue_date")), slow)
    due = readers.due_date(_required(column("due_date")), slow)
    _unordered(issued, due, slow)  # due before issued
    currencies = readers.currency(_required(column("currency")), slow)
    kinds = column("document_type")
    if kinds is not None:
        readers.document_type(kinds, slow)
    amounts = _amounts(_required(column("amount")), empty=SLOW)
    _marked(amounts, slow)
    paid_cells = column("paid_amount")
    paid = [0] * count if paid_cells is None else _amounts(paid_cells, empty=0)
    _marked(paid, slow)
    _unordered(paid, amounts, slow)  # paid above the amount
    disputed_cells = column("disputed")
    disputes: list[str | None] = [None] * count if disputed_cells is None else \
        readers.disputed(disputed_cells)
    promised_cells = column("promised_until")
    promised = [None] * count if promised_cells is None else readers.promised_until(
        promised_cells, slow)
    debtor_cells: list[tuple[str, ...]] = list(zip(
        *(columns[position] for position in layout.debtor_positions), strict=True)) \
        if layout.debtor_positions else []
    debtors = _debtors(debtor_cells, known.known(creditors, refs, debtor_cells),
                       layout, options, slow) if debtor_cells else [{} for _row in batch]
    attrs = _attrs(columns, layout, count)
    if not slow:
        return RowColumns(numbers_of_rows, creditors, refs, numbers, issued, due, currencies,
                          amounts, paid, disputes, promised, attrs, debtors,
                          debtor_cells or None)
    # Every row built at C speed; the few the fast checks did not vouch for are then
    # replaced by what the reference reader makes of them.
    outcomes: list[Outcome] = list(map(InvoiceRow, numbers_of_rows, creditors, refs, numbers,
                                       issued, due, currencies, amounts, paid, disputes,
                                       promised, attrs, debtors))
    for index in sorted(slow):
        number, cells = batch[index]
        if not "".join(cells).strip():  # every cell blank: the row is skipped
            outcomes[index] = None
            continue
        row, errors = read_row(number, cells, layout, options, cache)
        outcomes[index] = row if row is not None else errors
    return outcomes


def _required(cells: Sequence[str] | None) -> Sequence[str]:
    # A required column the header lacks refuses the file before any row is read.
    assert cells is not None, "a required column is missing from the layout"
    return cells


def _dispute(cell: str) -> str | None:
    text = cell.strip()
    return None if text.lower() in NOT_DISPUTED else text


def _debtors(raws: list[tuple[str, ...]], known: list[dict[str, Any] | None],
             layout: Layout, options: Options, slow: set[int]) -> list[dict[str, Any]]:
    """The debtor values of each row: those `known` from the debtor's last row, else
    read from the row's cells, each distinct set once per batch (and shared: the merger
    knows a repeated set by its identity)."""
    if None not in known:  # every debtor's cells as on its last row, the common case
        return cast(list[dict[str, Any]], known)
    unknown = list({raw for raw, values in zip(raws, known, strict=True) if values is None})
    # Read a column at a time: each distinct cell of a column once, by the row reader's
    # own `debtor_cell`.
    names = layout.debtor_columns
    read_columns = [_by_distinct(cells, _debtor_cell_reader(name, options))
                    for name, cells in zip(names, zip(*unknown, strict=True), strict=True)]
    refused: set[tuple[str, ...]] = set()
    found: dict[tuple[str, ...], dict[str, Any]] = {}
    for raw, values in zip(unknown, zip(*read_columns, strict=True), strict=True):
        if SLOW in values:  # a cell refused: the reference reads the row and names why
            refused.add(raw)
            found[raw] = {}
            continue
        found[raw] = {name: value for name, value in zip(names, values, strict=True)
                      if value is not _EMPTY}
    if refused:
        slow.update(index for index, raw in enumerate(raws) if raw in refused)
    return [values if values is not None else found[raw]
            for raw, values in zip(raws, known, strict=True)]


_EMPTY: Any = object()
"""A debtor cell left empty: the row says nothing of that column."""


def _debtor_cell_reader(column: str, options: Options) -> Callable[[str], Any]:
    """Reads one debtor column's cells as `rows._debtor_values` does: the value, _EMPTY,
    or SLOW where that reader would name a problem."""
    limit = MAX_LENGTH.get(column)

    def read(cell: str) -> Any:
        text = cell.strip()
        if not text:
            return _EMPTY
        if limit is not None and len(text) > limit:
            return SLOW
        value, problem = debtor_cell(column, text, options)
        return SLOW if problem is not None else value
    return read


def _attrs(columns: Sequence[Sequence[str]], layout: Layout, count: int) -> list[dict[str, str]]:
    """Each row's custom columns, stripped; a later column of the same key wins."""
    if not layout.custom:
        return [{} for _index in range(count)]
    # One document per distinct set of values, shared by the rows that have it (custom
    # columns repeat: a region, a cost centre), so that it is turned into JSON once.
    if len(layout.custom) == 1:
        key, position = layout.custom[0]
        cells = list(map(str.strip, columns[position]))
        one = {value: {key: value} for value in set(cells)}
        return list(map(one.__getitem__, cells))
    keys = [key for key, _position in layout.custom]
    stripped = [list(map(str.strip, columns[position])) for _key, position in layout.custom]
    sets = list(zip(*stripped, strict=True))
    each = {values: dict(zip(keys, values, strict=True)) for values in set(sets)}
    return list(map(each.__getitem__, sets))
