"""Reading a FEC (fichier des écritures comptables) as canonical invoice rows.

The FEC is the accounting export French law requires (article A47 A-1 of the Livre des
procédures fiscales; its layout is commented in BOI-CF-IOR-60-40-20): one line per
accounting line, 18 named columns separated by a tab or `|`, dates `YYYYMMDD`, amounts
with a decimal comma. It holds the general ledger, not invoices, so the file is read
whole and the customer accounts (`[fec] accounts`, default `411`) are turned into one
canonical row per invoice, which then goes through the same checks and writer as a CSV:

- the debtor is the auxiliary account (`CompAuxNum`, `CompAuxLib`), else the account;
- an invoice is a debtor's `PieceRef` on the debit side; its amount is the sum of those
  debits, its issue date the earliest `PieceDate` (else `EcritureDate`), its due date
  the issue date plus `[fec] payment_terms_days` (a FEC has no due date);
- credits only count through lettering (`EcritureLet`, per debtor): a group whose debits
  equal its credits is settled and its invoices are paid in full; otherwise (partial
  lettering) its credits pay its debit lines oldest first. A credit with no letter, or
  lettered to no invoice of the file, is left out with a warning: nothing is guessed.

Errors name the FEC's own rows and columns (`row 14, column EcritureDate`).
"""

from __future__ import annotations

import codecs
import datetime as dt
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from relance.kernel.dates import DateError, parse_date
from relance.kernel.display import show_money
from relance.kernel.errors import UsageError
from relance.kernel.i18n import _
from relance.kernel.money import decimal_text, minor_units, normalise_currency, to_minor
from relance.store.importing.cells import CellCheck
from relance.store.importing.mapping import FecOptions, Mapping
from relance.store.importing.numbers import AmountError, parse_amount
from relance.store.importing.reading import CountingReader, Source
from relance.store.importing.rows import MAX_LENGTH, RowError

FEC_COLUMNS = (
    "JournalCode", "JournalLib", "EcritureNum", "EcritureDate", "CompteNum", "CompteLib",
    "CompAuxNum", "CompAuxLib", "PieceRef", "PieceDate", "EcritureLib", "Debit", "Credit",
    "EcritureLet", "DateLet", "ValidDate", "Montantdevise", "Idevise",
)
"""The 18 columns of article A47 A-1, in the order the law gives them."""

SEPARATORS = ("\t", "|")
BOOK_CURRENCY = "EUR"  # a French ledger is kept in euros; Idevise names any other
CANONICAL_HEADER = ["debtor_ref", "debtor_name", "invoice_number", "issue_date", "due_date",
                    "amount", "currency", "paid_amount"]

_BY_LOWER = {name.lower(): name for name in FEC_COLUMNS}
# Enough of the names to tell a FEC from a CSV that happens to share one, few enough that
# a FEC missing some columns is still recognised and refused by name.
_RECOGNISED = 10
_HEADER_PEEK = 1 << 16
# The import lists 1,000 errors; one more tells it there are more.
_ERRORS_KEPT = 1001
# The law's notation: no grouping, and the one mark, whichever, is the decimal one.
_FEC_AMOUNT = re.compile(r"([+-]?)(\d*)(?:[.,](\d+))?")


def _cell(raw: str) -> str:
    text = raw.strip()
    if len(text) >= 2 and text[0] == text[-1] == '"':
        text = text[1:-1].replace('""', '"').strip()
    return text


def fec_separator(header_line: str) -> str | None:
    """The separator if `header_line` is a FEC header, else None."""
    best, found = None, 0
    for separator in SEPARATORS:
        known = sum(_cell(cell).lower() in _BY_LOWER for cell in header_line.split(separator))
        if known > found:
            best, found = separator, known
    return best if found >= _RECOGNISED else None


def is_fec(path: Path) -> bool:
    """Whether the file's first line is a FEC header (whatever its suffix)."""
    try:
        with path.open("rb") as handle:
            first = handle.readline(_HEADER_PEEK)
    except OSError:
        return False  # open_source names the problem
    # The column names are ASCII: latin-1 reads them as written in any of the encodings
    # the law allows, and never fails.
    return fec_separator(first.removeprefix(codecs.BOM_UTF8).decode("latin-1")) is not None


@dataclass(frozen=True, slots=True)
class _Entry:
    """A customer-account line, checked."""

    row: int
    debtor: str
    piece: str
    journal: str
    day: dt.date  # PieceDate, else EcritureDate
    letter: str
    booked: int  # minor units of the book currency: positive a debit, negative a credit
    currency: str
    amount: int  # the line's size in `currency` (Montantdevise for a foreign one)


@dataclass
class _Invoice:
    row: int
    debtor: str
    number: str
    issued: dt.date
    currency: str
    amount: int = 0
    paid: int = 0


@dataclass
class _Group:
    """The lines of one debtor sharing a letter."""

    debits: list[_Entry] = field(default_factory=list)
    credits: list[_Entry] = field(default_factory=list)


def _canonical_amount(minor: int, currency: str) -> str:
    text = decimal_text(minor, currency)
    # Three decimals (`1.250` TND) read as ambiguous in the canonical format; a fourth
    # zero makes the mark plainly decimal.
    return text + "0" if minor_units(currency) == 3 else text


class _LineReader:
    """Reads the cells of one FEC line, collecting every problem."""

    def __init__(self, row: int, cells: list[str], index: dict[str, int],
                 date_format: str | None, errors: list[RowError]) -> None:
        self.row = row
        self.cells = cells
        self.index = index
        self.date_format = date_format
        self.errors = errors
        self.failed = False
        # Columns whose text was refused: their value's own check would add nothing.
        self.refused: set[str] = set()

    def fail(self, column: str, message: str) -> None:
        self.failed = True
        if column not in self.refused:
            self.errors.append(RowError(self.row, column, message))

    def refuse(self, column: str, message: str) -> None:
        self.fail(column, message)
        self.refused.add(column)

    def text(self, column: str) -> str:
        return _cell(self.cells[self.index[column]])

    def bounded(self, column: str, value: str, limit: int) -> str:
        if len(value) > limit:
            self.fail(column, _("is longer than {limit} characters").format(limit=limit))
        return value

    def date(self, column: str) -> dt.date | None:
        raw = self.text(column)
        if not raw:
            return None
        if len(raw) == 8 and raw.isascii() and raw.isdigit():
            try:
                return dt.date(int(raw[:4]), int(raw[4:6]), int(raw[6:]))
            except ValueError:
                self.fail(column, _("{value!r} is not a day of the calendar").format(value=raw))
                return None
        try:  # exports that stray from the law write ISO or day-first dates
            return parse_date(raw, date_format=self.date_format)
        except DateError:
            self.fail(column, _("{value!r} is not a date (a FEC writes YYYYMMDD)").format(
                value=raw))
            return None

    def money(self, column: str, currency: str) -> int | None:
        raw = self.text(column)
        if not raw:
            return 0
        match = _FEC_AMOUNT.fullmatch(raw)
        try:
            if match and (match[2] or match[3]):
                amount = Decimal(f"{match[1]}{match[2] or 0}.{match[3] or 0}")
            else:  # `1 200,00` and the like: not the law's notation, but unambiguous
                amount = parse_amount(raw, decimal_mark=",")
        except AmountError as exc:
            self.fail(column, f"{raw!r} {exc}")
            return None
        try:
            return to_minor(amount, currency)
        except ValueError:
            self.fail(column, _("{value!r} has more than {decimals} decimals for {currency}")
                      .format(value=raw, decimals=minor_units(currency), currency=currency))
            return None


def _read_entry(reader: _LineReader, names: dict[str, str]) -> _Entry | None:
    """Check a customer-account line; None when it is faulty or books nothing."""
    account, aux = reader.text("CompteNum"), reader.text("CompAuxNum")
    debtor = reader.bounded("CompAuxNum" if aux else "CompteNum", aux or account,
                            MAX_LENGTH["debtor_ref"])
    name_column = "CompAuxLib" if aux else "CompteLib"
    name = reader.bounded(name_column, reader.text(name_column), MAX_LENGTH["debtor_name"])
    booked_on = reader.date("EcritureDate")
    if booked_on is None and not reader.text("EcritureDate"):
        reader.fail("EcritureDate", _("is empty"))
    piece_on = reader.date("PieceDate")
    debit = reader.money("Debit", BOOK_CURRENCY)
    credit = reader.money("Credit", BOOK_CURRENCY)
    booked = debit - credit if debit is not None and credit is not None else 0
    currency, amount = BOOK_CURRENCY, abs(booked)
    code = reader.text("Idevise")
    if code and code.upper() != BOOK_CURRENCY:
        try:
            currency = normalise_currency(code)
        except ValueError:
            reader.fail("Idevise", _("{value!r} is not a three-letter currency code").format(
                value=code))
        else:
            foreign = reader.money("Montantdevise", currency)
            if not reader.text("Montantdevise"):
                reader.fail("Montantdevise", _("is empty, but Idevise says {currency}").format(
                    currency=currency))
            elif foreign == 0 and booked:
                reader.fail("Montantdevise", _("is zero for a line of {amount}").format(
                    amount=show_money(abs(booked), BOOK_CURRENCY)))
            amount = abs(foreign or 0)
    piece = reader.bounded("PieceRef", reader.text("PieceRef"), MAX_LENGTH["invoice_number"])
    if booked > 0 and not piece:
        reader.fail("PieceRef", _("is empty: the invoice number of a debit"))
    day = piece_on or booked_on
    if reader.failed or day is None or booked == 0:
        return None
    if name:
        names[debtor] = name  # the ledger's latest label wins
    return _Entry(reader.row, debtor, piece, reader.text("JournalCode"), day,
                  reader.text("EcritureLet"), booked, currency, amount)


class _Ledger:
    """The customer lines of a file, turned into invoices with what lettering paid."""

    def __init__(self, options: FecOptions) -> None:
        self.options = options
        self.invoices: dict[tuple[str, str], _Invoice] = {}
        self.groups: dict[tuple[str, str], _Group] = {}
        self.owners: dict[str, _Invoice] = {}
        self.errors: list[RowError] = []
        self.warnings: list[RowError] = []

    def warn(self, row: int, column: str, message: str) -> None:
        self.warnings.append(RowError(row, column, message))

    def add(self, entry: _Entry) -> None:
        if entry.booked < 0:
            if not entry.letter:
                self.warn(entry.row, "EcritureLet", _(
                    "is empty: the credit of {amount} on {debtor} (piece {piece}) is matched "
                    "to no invoice and left out").format(
                        amount=show_money(entry.amount, entry.currency), debtor=entry.debtor,
                        piece=entry.piece or "-"))
                return
            self.groups.setdefault((entry.debtor, entry.letter), _Group()).credits.append(entry)
            return
        journals = self.options.journals
        if journals and entry.journal not in journals:
            self.warn(entry.row, "JournalCode", _(
                "{journal!r} is not an invoice journal of the mapping: the debit of {amount} "
                "on {debtor} is left out").format(
                    journal=entry.journal, amount=show_money(entry.amount, entry.currency),
                    debtor=entry.debtor))
            return
        owner = self.owners.get(entry.piece)
        if owner is not None and owner.debtor != entry.debtor:
            self.errors.append(RowError(entry.row, "PieceRef", _(
                "{piece!r} is already an invoice of {debtor} on row {row}; an invoice number "
                "names one invoice").format(piece=entry.piece, debtor=owner.debtor,
                                             row=owner.row)))
            return
        invoice = self.invoices.get((entry.debtor, entry.piece))
        if invoice is None:
            invoice = _Invoice(entry.row, entry.debtor, entry.piece, entry.day, entry.currency)
            self.invoices[(entry.debtor, entry.piece)] = self.owners[entry.piece] = invoice
        elif invoice.currency != entry.currency:
            self.errors.append(RowError(entry.row, "Idevise", _(
                "invoice {piece} is in {currency} on row {row}, not {other}").format(
                    piece=entry.piece, currency=invoice.currency, row=invoice.row,
                    other=entry.currency)))
            return
        invoice.amount += entry.amount
        invoice.issued = min(invoice.issued, entry.day)
        if entry.letter:
            self.groups.setdefault((entry.debtor, entry.letter), _Group()).debits.append(entry)

    def settle(self) -> None:
        """Apply each lettered group's credits to its invoices."""
        for (_debtor, letter), group in self.groups.items():
            if not group.debits:
                for credit in group.credits:
                    self.warn(credit.row, "EcritureLet", _(
                        "{letter!r} letters no invoice of the file: the credit of {amount} is "
                        "left out").format(letter=letter,
                                           amount=show_money(credit.amount, credit.currency)))
                continue
            if sum(line.booked for line in (*group.debits, *group.credits)) == 0:
                # Balanced in the book currency: settled, whatever the exchange rates.
                for line in group.debits:
                    self._pay(line, line.amount)
                continue
            self._allocate(letter, group)

    def _allocate(self, letter: str, group: _Group) -> None:
        # Partial lettering: the credits pay the oldest debit lines first, currency by
        # currency (relance never converts).
        pools: dict[str, int] = {}
        for credit in group.credits:
            pools[credit.currency] = pools.get(credit.currency, 0) + credit.amount
        for line in sorted(group.debits, key=lambda debit: (debit.day, debit.row)):
            share = min(pools.get(line.currency, 0), line.amount)
            if share:
                pools[line.currency] -= share
                self._pay(line, share)
        for currency, left in pools.items():
            if left:
                self.warn(group.credits[0].row, "EcritureLet", _(
                    "the credits lettered {letter!r} exceed its invoices by {amount}: the "
                    "excess is left out").format(letter=letter,
                                                 amount=show_money(left, currency)))

    def _pay(self, line: _Entry, amount: int) -> None:
        self.invoices[(line.debtor, line.piece)].paid += amount


def _header(line: str, separator: str) -> tuple[dict[str, int], list[RowError]]:
    index: dict[str, int] = {}
    errors: list[RowError] = []
    for position, raw in enumerate(line.split(separator)):
        name = _BY_LOWER.get(_cell(raw).lower())
        if name is None:
            continue  # the optional columns some sectors add
        if name in index:
            errors.append(RowError(1, name, _("the column appears twice in the header")))
        index[name] = position
    errors.extend(RowError(1, name, _("this column is missing from the header"))
                  for name in FEC_COLUMNS if name not in index)
    return index, errors


def _lines(label: str, text: io.TextIOWrapper, encoding: str) -> Iterator[tuple[int, str]]:
    number = 0
    try:
        for number, line in enumerate(text, start=1):
            yield number, line.rstrip("\n")
    except UnicodeDecodeError as exc:
        raise UsageError(_('{label}: row {number}: not {encoding} text; declare the file\'s '
                           'encoding in a mapping file (FEC files are often encoding = '
                           '"iso-8859-15")').format(label=label, number=number + 1,
                                                    encoding=encoding)) from exc


def open_fec(path: Path, mapping: Mapping) -> Source:
    """Read a FEC whole; its invoices come out as canonical rows, numbered by the row of
    their first debit line."""
    label = path.name
    if not mapping.default_creditor:
        raise UsageError(_("{label}: a FEC does not name the creditor: give a mapping file "
                           "(--mapping) that sets default_creditor").format(label=label))
    try:
        raw = path.open("rb")
    except OSError as exc:
        raise UsageError(_("{label}: cannot read ({problem})").format(
            label=label, problem=exc.strerror)) from exc
    counter = CountingReader(raw)
    text = io.TextIOWrapper(io.BufferedReader(counter, 1 << 16), encoding=mapping.encoding)
    ledger = _Ledger(mapping.fec)
    names: dict[str, str] = {}
    errors: list[RowError] = []
    with text:
        lines = _lines(label, text, mapping.encoding)
        first = next(lines, (1, ""))[1]
        separator = fec_separator(first)
        if separator is None:
            raise UsageError(_("{label}: row 1: not a FEC header").format(label=label))
        index, errors = _header(first, separator)
        width = len(first.split(separator))
        prefixes = mapping.fec.accounts
        # Every column is one line; checked on the customer lines, the only ones stored.
        check = CellCheck(tuple(sorted((position, name, False)
                                       for name, position in index.items())))
        for number, line in ([] if errors else lines):
            if len(errors) >= _ERRORS_KEPT:
                break
            if not line.strip():
                continue
            cells = line.split(separator)
            if len(cells) > width and any(cell.strip() for cell in cells[width:]):
                errors.append(RowError(number, None, _(
                    "has {cells} cells but the header has {columns} columns").format(
                        cells=len(cells), columns=width)))
                continue
            cells += [""] * (width - len(cells))
            reader = _LineReader(number, cells, index, mapping.date_format, errors)
            account = reader.text("CompteNum")
            if not account:
                reader.fail("CompteNum", _("is empty"))
            elif account.startswith(prefixes):
                for column, problem in check.problems(cells):
                    reader.refuse(column, problem)
                entry = _read_entry(reader, names)
                if entry is not None:
                    ledger.add(entry)
    ledger.settle()
    errors = sorted([*errors, *ledger.errors], key=lambda error: error.row)
    warnings = [warning.render(label)
                for warning in sorted(ledger.warnings, key=lambda warning: warning.row)]
    days = dt.timedelta(days=mapping.fec.payment_terms_days)
    rows = [(invoice.row, [
        invoice.debtor, names.get(invoice.debtor, ""), invoice.number,
        invoice.issued.isoformat(), (invoice.issued + days).isoformat(),
        _canonical_amount(invoice.amount, invoice.currency), invoice.currency,
        _canonical_amount(invoice.paid, invoice.currency),
    ]) for invoice in ledger.invoices.values()]
    return Source(label, list(CANONICAL_HEADER), iter(rows), counter.count, _counter=counter,
                  errors=errors, warnings=warnings)
