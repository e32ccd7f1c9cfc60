"""`import payments`: money received, from a CSV file or a bank statement (camt.053,
CFONB 120, MT940: told apart by their content, `statement_formats`).

Each credit is matched and recorded with `relance.store.book.record_payment`, which
allocates it, logs it and settles the queue in the same transaction. Matching, in order:
the invoice named (CSV), or the invoice numbers in the statement's structured reference
and remittance text; then a debtor's account number in those texts (oldest due first);
then the amount, when exactly one open invoice of the creditor owes exactly that. A
credit that matches nothing is still recorded, in suspense (no debtor), for an operator
to allocate. A return (a direct debit returned, a cheque unpaid) reverses the payment
it names (by the bank's reference, else the same amount on the same invoice) and reopens
its invoices.

Nothing is recorded twice: a statement entry is known by the bank's reference (unique
per creditor); a CSV line by creditor, reference, date, amount and currency. A faulty
file is refused whole.

CSV columns: `creditor` (or the mapping's `default_creditor`), `invoice_number` and/or
`debtor_ref`, `date`, `amount`, `currency`, `reference`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from relance.kernel.dates import DateError, parse_date
from relance.kernel.display import show_date, show_money
from relance.kernel.errors import RelanceError
from relance.kernel.i18n import _
from relance.kernel.money import Money, normalise_currency, to_minor
from relance.store import audit
from relance.store.book import record_payment, reverse_payment, share_out
from relance.store.db import Store
from relance.store.importing.cells import CellCheck
from relance.store.importing.invoices import ImportRefused
from relance.store.importing.mapping import Mapping
from relance.store.importing.numbers import AmountError, parse_amount
from relance.store.importing.reading import open_source
from relance.store.importing.rows import RowError
from relance.store.importing.statement import BankEntry, EntryKind
from relance.store.importing.statement_formats import read_statement
from relance.store.models import (
    Creditor,
    Debtor,
    Invoice,
    InvoiceStatus,
    Payment,
    PaymentAllocation,
)

PAYMENT_COLUMNS = ("creditor", "invoice_number", "debtor_ref", "date", "amount", "currency",
                   "reference")
CAMT_SUFFIXES = (".xml", ".camt", ".053")


@dataclass(frozen=True)
class PaymentLine:
    """One payment to record (or, from a statement, to reverse), as the file says it."""

    row: int
    unit: str
    creditor: str | None  # a code; None: found from the account or the store
    account_iban: str | None
    invoice_numbers: tuple[str, ...]  # CSV: the one named; statements: candidates
    debtor_ref: str | None
    received_on: dt.date
    amount: Decimal
    currency: str
    reference: str
    bank_ref: str | None = None  # statements only
    is_return: bool = False
    original_ref: str | None = None
    return_reason: str | None = None


@dataclass
class PaymentReport:
    file: str
    format: str = "csv"
    lines: int = 0
    recorded: int = 0
    already_imported: int = 0
    # Credits recorded in suspense: matched to no invoice or debtor, to allocate by hand.
    unmatched: list[str] = field(default_factory=list)
    reversed: list[str] = field(default_factory=list)
    # Returns naming no payment relance knows: told, not stored.
    unmatched_returns: list[str] = field(default_factory=list)
    allocated: dict[str, str] = field(default_factory=dict)  # currency -> amount

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _csv_lines(path: Path, mapping: Mapping) -> tuple[list[PaymentLine], list[RowError]]:
    source = open_source(path, mapping)
    index = {name: position for position, name in enumerate(source.header)}
    errors: list[RowError] = []
    for required in ("date", "amount", "currency", "reference"):
        if required not in index:
            errors.append(RowError(1, required, _("this column is missing from the header")))
    if "invoice_number" not in index and "debtor_ref" not in index:
        errors.append(RowError(1, "invoice_number",
                               _("the header needs invoice_number or debtor_ref")))
    if errors:
        return [], errors
    # Every column read is one line: refused text is named, not left to the database.
    check = CellCheck(tuple(sorted((index[name], name, False)
                                   for name in PAYMENT_COLUMNS if name in index)))
    lines: list[PaymentLine] = []
    for number, cells in source.rows:
        cells = cells + [""] * (len(source.header) - len(cells))
        refused = [RowError(number, column, problem)
                   for column, problem in check.problems(cells)]

        def cell(name: str, cells: list[str] = cells) -> str:
            position = index.get(name)
            return "" if position is None else cells[position].strip()

        row_errors: list[RowError] = []
        width = len(source.header)
        if len(cells) > width and any(extra.strip() for extra in cells[width:]):
            errors.append(RowError(number, None, _(
                "has {cells} cells but the header has {columns} columns").format(
                    cells=len(cells), columns=width)))
            continue
        creditor = cell("creditor") or mapping.default_creditor
        if not creditor and "creditor" in index:
            row_errors.append(RowError(number, "creditor", _("is empty")))
        invoice_number, debtor_ref = cell("invoice_number"), cell("debtor_ref")
        if not invoice_number and not debtor_ref:
            row_errors.append(RowError(number, "invoice_number",
                                       _("is empty, and so is debtor_ref")))
        received_on: dt.date | None = None
        try:
            received_on = parse_date(cell("date"), date_format=mapping.date_format)
        except DateError as exc:
            row_errors.append(RowError(number, "date", f"{cell('date')!r} {exc}"))
        currency: str | None = None
        try:
            currency = normalise_currency(cell("currency"))
        except ValueError:
            row_errors.append(RowError(number, "currency", _(
                "{value!r} is not a three-letter currency code").format(
                    value=cell("currency"))))
        amount: Decimal | None = None
        try:
            amount = parse_amount(cell("amount"), decimal_mark=mapping.decimal_mark)
            if amount <= 0:
                row_errors.append(RowError(number, "amount", _(
                    "{value!r}: a payment is positive").format(value=cell("amount"))))
            elif currency is not None:
                to_minor(amount, currency)
        except AmountError as exc:
            row_errors.append(RowError(number, "amount", f"{cell('amount')!r} {exc}"))
        except ValueError:
            row_errors.append(RowError(number, "amount", _(
                "{value!r} has too many decimals for {currency}").format(
                    value=cell("amount"), currency=currency)))
        reference = cell("reference")
        if not reference:
            row_errors.append(RowError(number, "reference", _(
                "is empty: a reference keeps a re-import from paying twice")))
        if refused:  # what the value's own check says of a refused cell adds nothing
            columns = {error.column for error in refused}
            row_errors = refused + [error for error in row_errors if error.column not in columns]
        if row_errors or received_on is None or currency is None or amount is None:
            errors.extend(row_errors)
            continue
        lines.append(PaymentLine(number, "row", creditor, None,
                                 (invoice_number,) if invoice_number else (),
                                 debtor_ref or None, received_on, amount, currency,
                                 reference[:200]))
    return lines, errors


def _where(label: str, line: PaymentLine) -> str:
    """`file: row 12` (a CSV), `entry 3` (camt.053) or `line 40` (CFONB 120, MT940)."""
    if line.unit == "entry":
        return _("{label}: entry {number}").format(label=label, number=line.row)
    if line.unit == "line":
        return _("{label}: line {number}").format(label=label, number=line.row)
    return _("{label}: row {number}").format(label=label, number=line.row)


def _statement_line(entry: BankEntry, unit: str) -> PaymentLine:
    return PaymentLine(entry.number, unit, None,
                       entry.account_iban, entry.candidates, None, entry.booked_on,
                       entry.amount, entry.currency, entry.bank_ref[:200],
                       bank_ref=entry.bank_ref[:120], is_return=entry.kind == EntryKind.RETURN,
                       original_ref=entry.original_ref, return_reason=entry.return_reason)


class _Resolver:
    """Finds the creditor, debtor and invoices a payment line is for."""

    def __init__(self, session: Session, mapping: Mapping) -> None:
        self.session = session
        self.mapping = mapping
        self.creditors: dict[str, int] = {
            code: id_ for id_, code in session.execute(select(Creditor.id, Creditor.code))}
        self.by_iban: dict[str, int] = {
            "".join(iban.split()).upper(): id_ for id_, iban in session.execute(
                select(Creditor.id, Creditor.iban).where(Creditor.iban.is_not(None)))
            if iban}

    def creditor_id(self, line: PaymentLine) -> int | str:
        """The creditor's id, or why it cannot be told."""
        if line.creditor is not None:
            found = self.creditors.get(line.creditor)
            return found if found is not None else _("unknown creditor {code!r}").format(
                code=line.creditor)
        if line.account_iban is not None:
            found = self.by_iban.get("".join(line.account_iban.split()).upper())
            if found is not None:
                return found
        if self.mapping.default_creditor is not None:
            found = self.creditors.get(self.mapping.default_creditor)
            if found is not None:
                return found
        if len(self.creditors) == 1:
            return next(iter(self.creditors.values()))
        return _("cannot tell the creditor: no creditor has the statement's IBAN; set "
                 "default_creditor in a mapping file")

    def invoices(self, creditor_id: int, numbers: tuple[str, ...]) -> list[Invoice]:
        if not numbers:
            return []
        found = self.session.scalars(select(Invoice).where(
            Invoice.creditor_id == creditor_id, Invoice.number.in_(numbers))).all()
        return sorted(found, key=lambda invoice: (invoice.due_date, invoice.id))

    def debtor_id(self, creditor_id: int, ref: str) -> int | None:
        return self.session.execute(select(Debtor.id).where(
            Debtor.creditor_id == creditor_id, Debtor.ref == ref)).scalar()

    def debtor_named(self, creditor_id: int, words: tuple[str, ...]) -> int | None:
        """The one debtor whose account number is among the words, if exactly one is."""
        if not words:
            return None
        found = self.session.scalars(select(Debtor.id).where(
            Debtor.creditor_id == creditor_id, Debtor.ref.in_(words)).limit(2)).all()
        return found[0] if len(found) == 1 else None

    def owing_exactly(self, creditor_id: int, money: Money) -> Invoice | None:
        """The one open invoice of the creditor whose balance is exactly this amount."""
        found = self.session.scalars(select(Invoice).where(
            Invoice.creditor_id == creditor_id, Invoice.currency == money.currency,
            Invoice.balance_minor == money.minor, Invoice.status == InvoiceStatus.OPEN
        ).limit(2)).all()
        return found[0] if len(found) == 1 else None


def _already_imported(session: Session, creditor_id: int, line: PaymentLine,
                      minor: int) -> bool:
    if line.bank_ref is not None:
        column = Payment.reversal_ref if line.is_return else Payment.bank_ref
        return bool(session.execute(select(func.count()).select_from(Payment).where(
            Payment.creditor_id == creditor_id, column == line.bank_ref)).scalar_one())
    return bool(session.execute(select(func.count()).select_from(Payment).where(
        Payment.creditor_id == creditor_id, Payment.reference == line.reference,
        Payment.received_on == line.received_on, Payment.amount_minor == minor,
        Payment.currency == line.currency)).scalar_one())


def _returned_payment(session: Session, creditor_id: int, line: PaymentLine,
                      money: Money, resolver: _Resolver) -> Payment | None:
    """The payment a return gives back: the one the bank names, else the one payment
    of that amount on an invoice the return's texts name."""
    standing = (Payment.creditor_id == creditor_id, Payment.reversed_on.is_(None),
                Payment.amount_minor == money.minor, Payment.currency == money.currency)
    refs = [r for r in (line.original_ref, *line.invoice_numbers) if r]
    if refs:
        named = session.scalars(select(Payment).where(
            *standing, Payment.bank_ref.in_(refs) | Payment.reference.in_(refs))
            .limit(2)).all()
        if len(named) == 1:
            return named[0]
    invoices = [i.id for i in resolver.invoices(creditor_id, line.invoice_numbers)]
    if not invoices:
        return None
    found = session.scalars(select(Payment).where(*standing).join(
        PaymentAllocation, PaymentAllocation.payment_id == Payment.id).where(
        PaymentAllocation.invoice_id.in_(invoices)).distinct().limit(2)).all()
    return found[0] if len(found) == 1 else None


def _read(path: Path, mapping: Mapping) -> tuple[str, list[PaymentLine], list[RowError]]:
    kind, entries, errors = read_statement(path)
    if kind == "csv":
        lines, errors = _csv_lines(path, mapping)
        return kind, lines, errors
    unit = "entry" if kind == "camt053" else "line"
    return kind, [_statement_line(entry, unit) for entry in entries], errors


def import_payments(store: Store, path: Path, *, mapping: Mapping | None = None,
                    actor: str = "import", today: dt.date | None = None) -> PaymentReport:
    """Record the payments of a CSV file or a bank statement (see the module doc)."""
    mapping = mapping or Mapping()
    if not path.is_file():
        raise ImportRefused(path.name, [RowError(0, None, _("no such file"))])
    source, lines, errors = _read(path, mapping)
    if errors:
        raise ImportRefused(path.name, errors)
    report = PaymentReport(file=path.name, format=source, lines=len(lines))
    allocated: dict[str, int] = {}
    today = today or dt.date.today()
    with store.write_transaction() as session:
        resolver = _Resolver(session, mapping)
        for line in lines:
            where = _where(path.name, line)
            creditor_id = resolver.creditor_id(line)
            if isinstance(creditor_id, str):
                errors.append(RowError(line.row, "creditor", creditor_id, line.unit))
                continue
            money = Money(line.currency, to_minor(line.amount, line.currency))
            if _already_imported(session, creditor_id, line, money.minor):
                report.already_imported += 1
                continue
            if line.is_return:
                returned = _returned_payment(session, creditor_id, line, money, resolver)
                said = _("{where}: return of {amount} on {day} ({why})").format(
                    where=where, amount=show_money(money.minor, money.currency),
                    day=show_date(line.received_on),
                    why=line.return_reason or _("no reason given"))
                if returned is None:
                    report.unmatched_returns.append(
                        _("{return_} names no payment recorded here").format(return_=said))
                    continue
                reverse_payment(session, returned.id, on=line.received_on,
                                reason=f"returned by the bank: {line.return_reason or '?'}",
                                actor=actor, today=today, bank_ref=line.bank_ref)
                report.reversed.append(_("{return_}: payment {payment} ({reference}) reversed")
                                       .format(return_=said, payment=returned.id,
                                               reference=returned.reference))
                continue
            matched = resolver.invoices(creditor_id, line.invoice_numbers)
            debtor_id: int | None = None
            if line.debtor_ref is not None:
                debtor_id = resolver.debtor_id(creditor_id, line.debtor_ref)
                if debtor_id is None:
                    errors.append(RowError(line.row, "debtor_ref", _("no debtor {ref!r}").format(
                        ref=line.debtor_ref), line.unit))
                    continue
            if not matched and line.invoice_numbers and line.bank_ref is None:
                errors.append(RowError(line.row, "invoice_number", _(
                    "no invoice {number!r}").format(number=line.invoice_numbers[0]), line.unit))
                continue
            if not matched and debtor_id is None and line.bank_ref is not None:
                debtor_id = resolver.debtor_named(creditor_id, line.invoice_numbers)
                if debtor_id is None:
                    exact = resolver.owing_exactly(creditor_id, money)
                    matched = [exact] if exact is not None else []
            owing = [i for i in matched if i.balance_minor > 0 and i.currency == money.currency]
            if owing:
                # Texts may name invoices of several debtors (a group paying for its
                # members): the first one owing takes the payment, with its siblings.
                matched = [i for i in owing if i.debtor_id == owing[0].debtor_id]
            plan: list[tuple[int, int]] | None = None
            if matched:
                plan = share_out(matched, money.minor, money.currency)
                debtor_id = debtor_id if debtor_id is not None else matched[0].debtor_id
            try:
                payment = record_payment(
                    session, creditor_id=creditor_id, debtor_id=debtor_id, amount=money,
                    received_on=line.received_on, reference=line.reference, actor=actor,
                    allocations=plan, source=source, bank_ref=line.bank_ref, today=today)
            except RelanceError as exc:
                errors.append(RowError(line.row, None, exc.message, line.unit))
                continue
            report.recorded += 1
            if payment.debtor_id is None:
                report.unmatched.append(_(
                    "{where}: {amount} on {day} ({reference}) matches no invoice: in suspense "
                    "as payment {payment}").format(
                        where=where, amount=show_money(money.minor, money.currency),
                        day=show_date(line.received_on), reference=line.reference,
                        payment=payment.id))
            allocated[money.currency] = allocated.get(money.currency, 0) + sum(
                allocation.amount_minor for allocation in payment.allocations)
        if errors:
            raise ImportRefused(path.name, errors)
        report.allocated = {currency: str(Money(currency, minor).amount)
                            for currency, minor in sorted(allocated.items())}
        audit.record(session, actor=actor, kind="import.payments", subject_type="import",
                     subject_id=path.name, data={
                         key: value for key, value in report.as_dict().items()
                         if key not in ("unmatched", "reversed", "unmatched_returns")}
                     | {"unmatched": len(report.unmatched), "reversed": len(report.reversed),
                        "unmatched_returns": len(report.unmatched_returns)})
    return report
