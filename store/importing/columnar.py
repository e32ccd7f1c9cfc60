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

import re
from collections.abc import Callable, Hashable, Sequence
from typing import Any, TypeVar, cast

from relance.kernel.dates import DateError, parse_date
from relance.kernel.money import minor_units, normalise_currency
from relance.store.importing.cells import creditor_code_problem, may_be_refused
from relance.store.importing.columns import INVOICE, NOT_DISPUTED
from relance.store.importing.rows import (
    MAX_LENGTH,
    DebtorCache,
    InvoiceRow,
    Layout,
    Options,
    RowError,
    debtor_values,
    read_row,
)

Outcome = InvoiceRow | list[RowError] | None
"""A row of the batch once read: the typed row, its problems, or None for a blank row
(skipped, as if it were not in the file)."""

# An amount the fast path reads: digits, optionally grouped by three with a space, a
# no-break space or a narrow no-break space, then a decimal mark and two decimals. For
# a currency of two decimals the reference reads exactly these the same way (two digits
# after a single mark are never ambiguous), and deleting the marks leaves minor units.
_AMOUNT = r"(?:[0-9]{1,3}(?:[ \u00a0\u202f][0-9]{3})+|[0-9]+)[.,][0-9]{2}"
_AMOUNT_COLUMN = re.compile(rf"(?:{_AMOUNT}\n)*{_AMOUNT}")
_AMOUNT_CELL = re.compile(_AMOUNT)
_WHOLE_CELL = re.compile(r"[0-9]+")
_MARKS = str.maketrans("", "", " \u00a0\u202f.,")
_TWO_DECIMALS = 2

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class _Slow:
    """Marks a value the fast path leaves to the reference reader."""


SLOW: Any = _Slow()


def _by_distinct(column: Sequence[K], convert: Callable[[K], V]) -> list[V]:
    """`convert` applied to each distinct value once, mapped back over the column."""
    memo = {value: convert(value) for value in set(column)}
    return list(map(memo.__getitem__, column))


def _amounts(column: Sequence[str], *, empty: Any) -> list[Any]:
    """Minor units of a two-decimal currency for each cell, `empty` for an empty one,
    SLOW for a form the reference must read."""
    stripped = list(map(str.strip, column))
    joined = "\n".join(stripped)
    if _AMOUNT_COLUMN.fullmatch(joined):  # the whole column in the usual form
        return list(map(int, joined.translate(_MARKS).split("\n")))
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
    slow.update(index for index, value in enumerate(values) if value is SLOW)


def read_batch(batch: list[tuple[int, list[str]]], layout: Layout, options: Options,
               cache: DebtorCache) -> list[Outcome]:
    """Read a batch of (row number, cells): one outcome per row, in the file's order,
    equal to what `read_row` returns for each (None for a blank row)."""
    if not batch:
        return []
    width = layout.width
    slow: set[int] = set()
    cells_list: list[list[str]] = []
    for index, (_number, cells) in enumerate(batch):
        if len(cells) < width:
            cells = cells + [""] * (width - len(cells))
        elif len(cells) > width:
            slow.add(index)
            cells = cells[:width]
        cells_list.append(cells)
    # One search over the batch: a clean batch, the common case, costs nothing more.
    if may_be_refused("\t".join(map("\t".join, cells_list))):
        for index, cells in enumerate(cells_list):
            if layout.cells.problems(cells):
                slow.add(index)
    columns = list(zip(*cells_list, strict=True)) if width else []
    count = len(batch)
    index_of = layout.index

    def column(name: str) -> Sequence[str] | None:
        position = index_of.get(name)
        return None if position is None else columns[position]

    creditor_cells = column("creditor")
    if creditor_cells is None:
        creditor_cells = [""] * count

    def creditor_code(cell: str) -> Any:
        code = cell.strip() or (options.default_creditor or "")
        return code if code and creditor_code_problem(code) is None else SLOW

    creditors = _by_distinct(creditor_cells, creditor_code)
    _marked(creditors, slow)
    refs = _text(_required(column("debtor_ref")), MAX_LENGTH["debtor_ref"], slow)
    numbers = _text(_required(column("invoice_number")), MAX_LENGTH["invoice_number"], slow)
    issued = _by_distinct(_required(column("issue_date")), _date_reader(options, required=True))
    due = _by_distinct(_required(column("due_date")), _date_reader(options, required=True))
    _marked(issued, slow)
    _marked(due, slow)
    slow.update(index for index, (issue, until) in enumerate(zip(issued, due, strict=True))
                if issue is not SLOW and until is not SLOW and until < issue)

    def currency_code(cell: str) -> Any:
        try:
            code = normalise_currency(cell.strip())
        except ValueError:
            return SLOW
        # Amounts of other currencies are read by the reference (their own decimals).
        return code if minor_units(code) == _TWO_DECIMALS else SLOW

    currencies = _by_distinct(_required(column("currency")), currency_code)
    _marked(currencies, slow)
    kinds = column("document_type")
    if kinds is not None:  # credit notes (signs turned) and unknown kinds: the reference
        _marked(_by_distinct(kinds, lambda cell: None if cell.strip().lower() in INVOICE
                             else SLOW), slow)
    amounts = _amounts(_required(column("amount")), empty=SLOW)
    _marked(amounts, slow)
    paid_cells = column("paid_amount")
    paid = [0] * count if paid_cells is None else _amounts(paid_cells, empty=0)
    _marked(paid, slow)
    slow.update(index for index, (amount, settled) in enumerate(zip(amounts, paid, strict=True))
                if amount is not SLOW and settled is not SLOW and settled > amount)
    disputed_cells = column("disputed")
    disputes: list[str | None] = [None] * count if disputed_cells is None else _by_distinct(
        disputed_cells, _dispute)
    promised_cells = column("promised_until")
    promised = [None] * count if promised_cells is None else _by_distinct(
        promised_cells, _date_reader(options, required=False))
    _marked(promised, slow)
    debtors = _debtors(batch, cells_list, columns, layout, options, cache, slow)
    attrs = _attrs(columns, layout, count)
    outcomes: list[Outcome] = []
    for index, values in enumerate(zip(creditors, refs, numbers, issued, due, currencies,
                                       amounts, paid, disputes, promised, attrs, debtors,
                                       strict=True)):
        number, cells = batch[index]
        if index in slow:
            if not "".join(cells).strip():  # every cell blank: the row is skipped
                outcomes.append(None)
                continue
            row, errors = read_row(number, cells, layout, options, cache)
            outcomes.append(row if row is not None else errors)
            continue
        creditor, ref, invoice, issue, until, currency, amount, settled, dispute, \
            promise, attributes, debtor = values
        outcomes.append(InvoiceRow(number, creditor, ref, invoice, issue, until, currency,
                                   amount, settled, dispute, promise, attributes, debtor))
    return outcomes


def _required(cells: Sequence[str] | None) -> Sequence[str]:
    # A required column the header lacks refuses the file before any row is read.
    assert cells is not None, "a required column is missing from the layout"
    return cells


def _dispute(cell: str) -> str | None:
    text = cell.strip()
    return None if text.lower() in NOT_DISPUTED else text


def _debtors(batch: list[tuple[int, list[str]]], cells_list: list[list[str]],
             columns: list[tuple[str, ...]], layout: Layout, options: Options,
             cache: DebtorCache, slow: set[int]) -> list[dict[str, Any]]:
    """The debtor values of each row, read once per distinct set of debtor cells."""
    positions = layout.debtor_positions
    raws: list[tuple[str, ...]] = (list(zip(*(columns[position] for position in positions),
                                            strict=True))
                                   if positions else [()] * len(batch))
    found: list[dict[str, Any] | None] = list(map(cache.get, raws))
    for index, values in enumerate(found):
        if values is not None:
            continue
        if index not in slow:  # else the reference reads the whole row again
            values = debtor_values(batch[index][0], cells_list[index], layout, options,
                                   cache)
            if values is None:
                slow.add(index)
        found[index] = values if values is not None else {}
    return cast(list[dict[str, Any]], found)


def _attrs(columns: list[tuple[str, ...]], layout: Layout, count: int) -> list[dict[str, str]]:
    """Each row's custom columns, stripped; a later column of the same key wins."""
    if not layout.custom:
        return [{} for _index in range(count)]
    if len(layout.custom) == 1:
        key, position = layout.custom[0]
        return [{key: value} for value in map(str.strip, columns[position])]
    keys = [key for key, _position in layout.custom]
    stripped = [list(map(str.strip, columns[position])) for _key, position in layout.custom]
    return [dict(zip(keys, values, strict=True)) for values in zip(*stripped, strict=True)]
