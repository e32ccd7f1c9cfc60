"""Checking one row of the canonical format and turning it into typed values.

A row's problems are all collected (not just the first), each naming its column, so a
user fixes a file in one go. Nothing here touches the database.
"""

from __future__ import annotations

import datetime as dt
import functools
import operator
import re
from dataclasses import dataclass, field
from typing import Any

from relance.kernel.addresses import is_email_address
from relance.kernel.dates import DateError, parse_date
from relance.kernel.display import show_date
from relance.kernel.i18n import N_, _
from relance.kernel.money import minor_units, normalise_currency, to_minor
from relance.store.importing.cells import CellCheck, control_problem, creditor_code_problem
from relance.store.importing.columns import (
    CANONICAL_COLUMNS,
    CREDIT_NOTE,
    CUSTOM_PREFIX,
    DEBTOR_COLUMNS,
    INVOICE,
    MULTILINE_COLUMNS,
    NO,
    NOT_DISPUTED,
    OPTIONAL_COLUMNS,
    REQUIRED_COLUMNS,
    YES,
)
from relance.store.importing.numbers import AmountError, parse_amount

# The widths of the columns the values go to: PostgreSQL enforces them, SQLite would not,
# and a file must be refused the same way on both. (A creditor code has its own rule,
# `creditor_code_problem`, which bounds it too.)
MAX_LENGTH = {
    "debtor_ref": 80, "debtor_name": 300, "segment": 60, "email": 300,
    "phone": 40, "language": 8, "payment_method": 40, "sales_rep": 120, "collector": 120,
    "invoice_number": 80,
}
MAX_TAG_LENGTH = 60
_CENTS = re.compile(r"-?\d+\.\d\d")


@dataclass(frozen=True, slots=True)
class RowError:
    """One problem in a file: where (row, column) and what."""

    row: int
    column: str | None
    message: str
    unit: str = "row"  # "entry" for the entries of a bank statement

    def render(self, label: str) -> str:
        """`file: row 12, column amount: problem`, in the language being spoken."""
        sentences = _WHERE[self.unit if self.unit in _WHERE else "row"]
        sentence = sentences[0] if self.column else sentences[1]
        return _(sentence).format(label=label, number=self.row, column=self.column,
                                  message=self.message)


# Where a problem is, by the unit a file counts in: (with a column, without one).
_WHERE = {
    "row": (N_("{label}: row {number}, column {column}: {message}"),
            N_("{label}: row {number}: {message}")),
    "entry": (N_("{label}: entry {number}, column {column}: {message}"),
              N_("{label}: entry {number}: {message}")),
    "line": (N_("{label}: line {number}, column {column}: {message}"),
             N_("{label}: line {number}: {message}")),
}


@dataclass(frozen=True)
class Options:
    """What the mapping file says about reading values."""

    decimal_mark: str | None = None
    date_format: str | None = None
    default_creditor: str | None = None


@dataclass(frozen=True)
class Layout:  # not slotted: it caches derived tuples
    """Where each column is in a file's rows, and which optional columns it has."""

    index: dict[str, int]
    custom: tuple[tuple[str, int], ...]  # (attrs key, position)
    width: int
    cells: CellCheck  # the text checks of every column read, by position

    def has(self, column: str) -> bool:
        return column in self.index

    @functools.cached_property
    def debtor_columns(self) -> tuple[str, ...]:
        return tuple(column for column in DEBTOR_COLUMNS if column in self.index)

    @functools.cached_property
    def debtor_positions(self) -> tuple[int, ...]:
        return tuple(self.index[column] for column in self.debtor_columns)


def make_layout(header: list[str], options: Options) -> tuple[Layout, list[RowError]]:
    """Read the header row; refuses missing and repeated columns."""
    errors: list[RowError] = []
    index: dict[str, int] = {}
    custom: list[tuple[str, int]] = []
    known = set(CANONICAL_COLUMNS) | set(OPTIONAL_COLUMNS)
    seen: set[str] = set()
    checked: list[tuple[int, str, bool]] = []
    for position, name in enumerate(header):
        if not name:
            continue
        problem = control_problem(name)
        if problem is not None:
            # Named by its place: the name itself is what cannot be printed.
            errors.append(RowError(1, str(position + 1), _("the column's name {problem}")
                                   .format(problem=problem)))
            continue
        if name in seen:
            errors.append(RowError(1, name, _("the column appears twice in the header")))
            continue
        seen.add(name)
        if name in known:
            index[name] = position
            checked.append((position, name, name in MULTILINE_COLUMNS))
        else:
            key = name.removeprefix(CUSTOM_PREFIX)
            custom.append((key, position))
            checked.append((position, name, True))  # free text of the ERP's own
    for name in REQUIRED_COLUMNS:
        if name not in index and not (name == "creditor" and options.default_creditor):
            errors.append(RowError(1, name, _("this column is missing from the header")))
    return Layout(index, tuple(custom), len(header), CellCheck(tuple(checked))), errors


@dataclass(slots=True)
class InvoiceRow:
    """A valid row: the invoice, and what it says about its debtor."""

    row: int
    creditor: str
    debtor_ref: str
    number: str
    issue_date: dt.date
    due_date: dt.date
    currency: str
    amount_minor: int
    paid_minor: int
    dispute_reason: str | None
    promised_until: dt.date | None
    attrs: dict[str, str]
    # Debtor columns given non-empty on this row, in DEBTOR_COLUMNS terms.
    debtor: dict[str, Any] = field(default_factory=dict)


ROW_FIELDS = ("row", "creditor", "debtor_ref", "number", "issue_date", "due_date", "currency",
              "amount_minor", "paid_minor", "dispute_reason", "promised_until", "attrs",
              "debtor")


@dataclass(slots=True)
class RowColumns:
    """Valid rows held as columns, one list per `InvoiceRow` field: how a clean batch
    goes from the column checks to the INSERT without an object per row."""

    row: list[int]
    creditor: list[str]
    debtor_ref: list[str]
    number: list[str]
    issue_date: list[dt.date]
    due_date: list[dt.date]
    currency: list[str]
    amount_minor: list[int]
    paid_minor: list[int]
    dispute_reason: list[str | None]
    promised_until: list[dt.date | None]
    attrs: list[dict[str, str]]
    debtor: list[dict[str, Any]]
    # The debtor cells each row's `debtor` values were read from, as the file wrote
    # them (`DebtorMerger` remembers a debtor's last ones); None when not kept.
    debtor_cells: list[tuple[str, ...]] | None = None

    def __len__(self) -> int:
        return len(self.row)

    @classmethod
    def of_rows(cls, rows: list[InvoiceRow]) -> RowColumns:
        return cls(*(list(map(operator.attrgetter(name), rows)) for name in ROW_FIELDS))

    def rows(self) -> list[InvoiceRow]:
        return list(map(InvoiceRow, *(getattr(self, name) for name in ROW_FIELDS)))


def _yes_no(text: str) -> bool | None:
    lowered = text.strip().lower()
    if lowered in YES:
        return True
    if lowered in NO:
        return False
    return None


class _RowReader:
    """Reads the cells of one row, collecting every problem."""

    def __init__(self, number: int, cells: list[str], layout: Layout, options: Options) -> None:
        self.number = number
        self.cells = cells
        self.layout = layout
        self.options = options
        self.errors: list[RowError] = []
        # Columns whose text was refused: what the value's own check would add about
        # them (`'2026\x00' is not a date`) says nothing more.
        self.refused: set[str] = set()

    def fail(self, column: str, message: str) -> None:
        if column not in self.refused:
            self.errors.append(RowError(self.number, column, message))

    def refuse(self, column: str, message: str) -> None:
        self.errors.append(RowError(self.number, column, message))
        self.refused.add(column)

    def text(self, column: str) -> str:
        position = self.layout.index.get(column)
        return "" if position is None else self.cells[position].strip()

    def required(self, column: str) -> str:
        value = self.text(column)
        if not value:
            self.fail(column, _("is empty"))
        return self._bounded(column, value)

    def _bounded(self, column: str, value: str) -> str:
        limit = MAX_LENGTH.get(column)
        if limit is not None and len(value) > limit:
            self.fail(column, _("is longer than {limit} characters").format(limit=limit))
        return value

    def optional(self, column: str) -> str:
        return self._bounded(column, self.text(column))

    def date(self, column: str, value: str) -> dt.date | None:
        try:
            return parse_date(value, date_format=self.options.date_format)
        except DateError as exc:
            self.fail(column, f"{value!r} {exc}")
            return None

    def money(self, column: str, value: str, currency: str | None) -> int | None:
        if currency is not None and _CENTS.fullmatch(value) and minor_units(currency) == 2:
            return int(value.replace(".", ""))  # `1234.56`, the common case, exactly
        try:
            amount = parse_amount(value, decimal_mark=self.options.decimal_mark)
        except AmountError as exc:
            self.fail(column, f"{value!r} {exc}")
            return None
        if currency is None:
            return None
        try:
            return to_minor(amount, currency)
        except ValueError:
            self.fail(column, _("{value!r} has more than {decimals} decimals for {currency}")
                      .format(value=value, decimals=minor_units(currency), currency=currency))
            return None


def _debtor_values(reader: _RowReader) -> dict[str, Any]:
    """The debtor columns this row fills, parsed; empty cells say nothing."""
    values: dict[str, Any] = {}
    for column in reader.layout.debtor_columns:
        raw = reader.optional(column)
        if not raw:
            continue
        value, problem = debtor_cell(column, raw, reader.options)
        if problem is not None:
            reader.fail(column, problem)
            continue
        values[column] = value
    return values


def debtor_cell(column: str, raw: str, options: Options) -> tuple[Any, str | None]:
    """What a debtor cell holds (non-empty, stripped, its length already checked), or
    None and the problem with it."""
    if column == "country":
        if len(raw) != 2 or not raw.isalpha() or not raw.isascii():
            return None, _("{value!r} is not a two-letter country code (FR, BE, CH)").format(
                value=raw)
        return raw.upper(), None
    if column == "language":
        return raw.lower(), None
    if column == "email":
        if not is_email_address(raw.strip()):
            return None, _("{value!r} is not one e-mail address (name@domain.fr)").format(
                value=raw)
        return raw, None
    if column == "paused_until":
        try:
            return parse_date(raw, date_format=options.date_format), None
        except DateError as exc:
            return None, f"{raw!r} {exc}"
    if column == "risk":
        if not raw.isdigit() or not 0 <= int(raw) <= 100:
            return None, _("{value!r} is not a whole number from 0 to 100").format(value=raw)
        return int(raw), None
    if column == "tags":
        tags = sorted({tag.strip().lower() for tag in raw.split(";") if tag.strip()})
        too_long = [tag for tag in tags if len(tag) > MAX_TAG_LENGTH]
        if too_long:
            return None, _("the tag {tag!r} is longer than {limit} characters").format(
                tag=too_long[0], limit=MAX_TAG_LENGTH)
        return tuple(tags), None
    if column == "is_consumer":
        flag = _yes_no(raw)
        if flag is None:
            return None, _("{value!r} is neither yes nor no").format(value=raw)
        return flag, None
    return raw, None


DebtorCache = dict[tuple[str, ...], dict[str, Any]]
"""For rows read one by one: the values of sets of debtor cells met before."""
DEBTOR_CACHE_SIZE = 100_000  # debtors; a cycle through more would miss every time


def _cached_debtor_values(reader: _RowReader, cache: DebtorCache | None) -> dict[str, Any]:
    # A debtor's cells repeat on each of its invoices: parse each distinct set once.
    if cache is None:
        return _debtor_values(reader)
    cells = reader.cells
    raw = tuple(cells[position] for position in reader.layout.debtor_positions)
    found = cache.get(raw)
    if found is not None:
        return found
    before = len(reader.errors)
    values = _debtor_values(reader)
    if len(reader.errors) == before:
        if len(cache) >= DEBTOR_CACHE_SIZE:
            cache.clear()
        cache[raw] = values
    return values


def read_row(number: int, cells: list[str], layout: Layout, options: Options,
             cache: DebtorCache | None = None) -> tuple[InvoiceRow | None, list[RowError]]:
    """Check one data row; returns the typed row, or None and every problem found.

    `cache` (a dict kept by the caller for one file) saves re-reading debtor cells that
    repeat on several rows; the values it holds are shared, never modified."""
    if len(cells) < layout.width:
        cells = cells + [""] * (layout.width - len(cells))
    reader = _RowReader(number, cells, layout, options)
    if len(cells) > layout.width and any(cell.strip() for cell in cells[layout.width:]):
        reader.errors.append(RowError(number, None, _(
            "has {cells} cells but the header has {columns} columns").format(
                cells=len(cells), columns=layout.width)))
    # Before any value is read: a NUL must be refused here, not by the database.
    for column, problem in layout.cells.problems(cells):
        reader.refuse(column, problem)
    creditor = (reader.text("creditor") if layout.has("creditor") else "") \
        or (options.default_creditor or "")
    if not creditor:
        reader.fail("creditor", _("is empty (or set default_creditor in the mapping file)"))
    else:
        code_problem = creditor_code_problem(creditor)
        if code_problem is not None:
            reader.fail("creditor", code_problem)
    debtor_ref = reader.required("debtor_ref")
    number_text = reader.required("invoice_number")
    issue_raw, due_raw = reader.required("issue_date"), reader.required("due_date")
    issue_date = reader.date("issue_date", issue_raw) if issue_raw else None
    due_date = reader.date("due_date", due_raw) if due_raw else None
    if issue_date and due_date and due_date < issue_date:
        reader.fail("due_date", _("{due} is before the issue date {issued}").format(
            due=show_date(due_date), issued=show_date(issue_date)))
    currency: str | None = None
    currency_raw = reader.required("currency")
    if currency_raw:
        try:
            currency = normalise_currency(currency_raw)
        except ValueError:
            reader.fail("currency", _("{value!r} is not a three-letter currency code")
                        .format(value=currency_raw))
    credit_note = False
    if layout.has("document_type"):
        kind = reader.text("document_type").lower()
        if kind in CREDIT_NOTE:
            credit_note = True
        elif kind not in INVOICE:
            reader.fail("document_type", _("{value!r} is neither invoice nor credit_note")
                        .format(value=kind))
    amount_raw = reader.required("amount")
    amount = reader.money("amount", amount_raw, currency) if amount_raw else None
    paid_raw = reader.optional("paid_amount")
    paid = reader.money("paid_amount", paid_raw, currency) if paid_raw else 0
    if amount is not None and credit_note:
        # Credit notes are stored negative whichever sign the export prints.
        amount = -abs(amount)
        paid = -abs(paid) if paid is not None else None
    elif amount is not None and amount < 0:
        reader.fail("amount", _("{value!r} is negative; a credit note needs document_type = "
                                "credit_note").format(value=amount_raw))
    if paid is not None and paid_raw and not credit_note and paid < 0:
        reader.fail("paid_amount", _("{value!r} is negative").format(value=paid_raw))
    if amount is not None and paid is not None and abs(paid) > abs(amount):
        reader.fail("paid_amount", _("{value!r} is more than the amount {amount!r}")
                    .format(value=paid_raw, amount=amount_raw))
    dispute_reason: str | None = None
    if layout.has("disputed"):
        disputed = reader.text("disputed")
        dispute_reason = None if disputed.lower() in NOT_DISPUTED else disputed
    promised_until: dt.date | None = None
    promised_raw = reader.optional("promised_until")
    if promised_raw:
        promised_until = reader.date("promised_until", promised_raw)
    debtor = _cached_debtor_values(reader, cache)
    attrs = {key: cells[position].strip() for key, position in layout.custom}
    if reader.errors or issue_date is None or due_date is None or currency is None \
            or amount is None or paid is None:
        return None, reader.errors
    return InvoiceRow(
        row=number, creditor=creditor, debtor_ref=debtor_ref, number=number_text,
        issue_date=issue_date, due_date=due_date, currency=currency, amount_minor=amount,
        paid_minor=paid, dispute_reason=dispute_reason, promised_until=promised_until,
        attrs=attrs, debtor=debtor,
    ), []
