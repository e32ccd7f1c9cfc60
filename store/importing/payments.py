"""`import payments`: money received, from a CSV file or a camt.053 bank statement.

Each line is matched to an invoice (by number) or a debtor (by ref) and recorded with
`relance.store.book.record_payment`, which allocates it and logs it. A line already
imported — same creditor, reference, date, amount and currency — is skipped, so a
statement imported twice records nothing the second time. A faulty file is refused whole.

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

from relance.errors import RelanceError
from relance.store import audit
from relance.store.book import record_payment
from relance.store.db import Store
from relance.store.importing.camt import read_camt053
from relance.store.importing.dates import DateError, parse_date
from relance.store.importing.invoices import ImportRefused
from relance.store.importing.mapping import Mapping
from relance.store.importing.numbers import AmountError, parse_amount
from relance.store.importing.reading import open_source
from relance.store.importing.rows import RowError
from relance.store.models import Creditor, Debtor, Invoice, Payment
from relance.store.money import Money, normalise_currency, to_minor

PAYMENT_COLUMNS = ("creditor", "invoice_number", "debtor_ref", "date", "amount", "currency",
                   "reference")
CAMT_SUFFIXES = (".xml", ".camt", ".053")


@dataclass(frozen=True)
class PaymentLine:
    """One payment to record, as the file describes it."""

    row: int
    unit: str
    creditor: str | None  # a code; None: found from the account or the store
    account_iban: str | None
    invoice_numbers: tuple[str, ...]  # CSV: the one named; camt: candidates
    debtor_ref: str | None
    received_on: dt.date
    amount: Decimal
    currency: str
    reference: str


@dataclass
class PaymentReport:
    file: str
    lines: int = 0
    recorded: int = 0
    already_imported: int = 0
    unmatched: list[str] = field(default_factory=list)
    allocated: dict[str, str] = field(default_factory=dict)  # currency -> amount

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _csv_lines(path: Path, mapping: Mapping) -> tuple[list[PaymentLine], list[RowError]]:
    source = open_source(path, mapping)
    index = {name: position for position, name in enumerate(source.header)}
    errors: list[RowError] = []
    for required in ("date", "amount", "currency", "reference"):
        if required not in index:
            errors.append(RowError(1, required, "this column is missing from the header"))
    if "invoice_number" not in index and "debtor_ref" not in index:
        errors.append(RowError(1, "invoice_number", "the header needs invoice_number or "
                                                    "debtor_ref"))
    if errors:
        return [], errors
    lines: list[PaymentLine] = []
    for number, cells in source.rows:
        cells = cells + [""] * (len(source.header) - len(cells))

        def cell(name: str, cells: list[str] = cells) -> str:
            position = index.get(name)
            return "" if position is None else cells[position].strip()

        row_errors: list[RowError] = []
        width = len(source.header)
        if len(cells) > width and any(extra.strip() for extra in cells[width:]):
            errors.append(RowError(number, None, f"has {len(cells)} cells but the header "
                                                 f"has {width} columns"))
            continue
        creditor = cell("creditor") or mapping.default_creditor
        if not creditor and "creditor" in index:
            row_errors.append(RowError(number, "creditor", "is empty"))
        invoice_number, debtor_ref = cell("invoice_number"), cell("debtor_ref")
        if not invoice_number and not debtor_ref:
            row_errors.append(RowError(number, "invoice_number",
                                       "is empty, and so is debtor_ref"))
        received_on: dt.date | None = None
        try:
            received_on = parse_date(cell("date"), date_format=mapping.date_format)
        except DateError as exc:
            row_errors.append(RowError(number, "date", f"{cell('date')!r} {exc}"))
        currency: str | None = None
        try:
            currency = normalise_currency(cell("currency"))
        except ValueError:
            row_errors.append(RowError(number, "currency", f"{cell('currency')!r} is not a "
                                                           "three-letter currency code"))
        amount: Decimal | None = None
        try:
            amount = parse_amount(cell("amount"), decimal_mark=mapping.decimal_mark)
            if amount <= 0:
                row_errors.append(RowError(number, "amount", f"{cell('amount')!r}: a payment "
                                                             "is positive"))
            elif currency is not None:
                to_minor(amount, currency)
        except AmountError as exc:
            row_errors.append(RowError(number, "amount", f"{cell('amount')!r} {exc}"))
        except ValueError:
            row_errors.append(RowError(number, "amount", f"{cell('amount')!r} has too many "
                                                         f"decimals for {currency}"))
        reference = cell("reference")
        if not reference:
            row_errors.append(RowError(number, "reference", "is empty: a reference keeps a "
                                                            "re-import from paying twice"))
        if row_errors or received_on is None or currency is None or amount is None:
            errors.extend(row_errors)
            continue
        lines.append(PaymentLine(number, "row", creditor, None,
                                 (invoice_number,) if invoice_number else (),
                                 debtor_ref or None, received_on, amount, currency,
                                 reference[:200]))
    return lines, errors


def _camt_lines(path: Path) -> tuple[list[PaymentLine], list[RowError]]:
    credits, errors = read_camt053(path)
    return [PaymentLine(c.entry, "entry", None, c.account_iban, c.candidates, None,
                        c.received_on, c.amount, c.currency, c.reference)
            for c in credits], errors


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
            return found if found is not None else f"unknown creditor {line.creditor!r}"
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
        return ("cannot tell the creditor: no creditor has the statement's IBAN; set "
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


def _already_imported(session: Session, creditor_id: int, line: PaymentLine,
                      minor: int) -> bool:
    return bool(session.execute(select(func.count()).select_from(Payment).where(
        Payment.creditor_id == creditor_id, Payment.reference == line.reference,
        Payment.received_on == line.received_on, Payment.amount_minor == minor,
        Payment.currency == line.currency)).scalar_one())


def import_payments(store: Store, path: Path, *, mapping: Mapping | None = None,
                    actor: str = "import") -> PaymentReport:
    """Record the payments of a CSV file or a camt.053 statement (see the module doc)."""
    mapping = mapping or Mapping()
    is_camt = path.suffix.lower() in CAMT_SUFFIXES
    if not path.is_file():
        raise ImportRefused(path.name, [RowError(0, None, "no such file")])
    lines, errors = _camt_lines(path) if is_camt else _csv_lines(path, mapping)
    if errors:
        raise ImportRefused(path.name, errors)
    report = PaymentReport(file=path.name, lines=len(lines))
    allocated: dict[str, int] = {}
    source = "camt053" if is_camt else "csv"
    with store.write_transaction() as session:
        resolver = _Resolver(session, mapping)
        for line in lines:
            where = f"{path.name}: {line.unit} {line.row}"
            creditor_id = resolver.creditor_id(line)
            if isinstance(creditor_id, str):
                errors.append(RowError(line.row, "creditor", creditor_id, line.unit))
                continue
            money = Money(line.currency, to_minor(line.amount, line.currency))
            if _already_imported(session, creditor_id, line, money.minor):
                report.already_imported += 1
                continue
            matched = resolver.invoices(creditor_id, line.invoice_numbers)
            debtor_id: int | None = None
            if line.debtor_ref is not None:
                debtor_id = resolver.debtor_id(creditor_id, line.debtor_ref)
                if debtor_id is None:
                    errors.append(RowError(line.row, "debtor_ref",
                                           f"no debtor {line.debtor_ref!r}", line.unit))
                    continue
            if not matched and line.invoice_numbers and not is_camt:
                errors.append(RowError(line.row, "invoice_number",
                                       f"no invoice {line.invoice_numbers[0]!r}", line.unit))
                continue
            if not matched and debtor_id is None:
                report.unmatched.append(f"{where}: {money} on {line.received_on.isoformat()} "
                                        f"({line.reference}) matches no invoice")
                continue
            plan: list[tuple[int, int]] | None = None
            if matched:
                plan, remaining = [], money.minor
                for invoice in matched:
                    share = min(remaining, invoice.balance_minor)
                    if share > 0 and invoice.currency == money.currency:
                        plan.append((invoice.id, share))
                        remaining -= share
                debtor_id = debtor_id if debtor_id is not None else matched[0].debtor_id
            try:
                payment = record_payment(
                    session, creditor_id=creditor_id, debtor_id=debtor_id, amount=money,
                    received_on=line.received_on, reference=line.reference, actor=actor,
                    allocations=plan, source=source)
            except RelanceError as exc:
                errors.append(RowError(line.row, None, exc.message, line.unit))
                continue
            report.recorded += 1
            allocated[money.currency] = allocated.get(money.currency, 0) + sum(
                allocation.amount_minor for allocation in payment.allocations)
        if errors:
            raise ImportRefused(path.name, errors)
        report.allocated = {currency: str(Money(currency, minor).amount)
                            for currency, minor in sorted(allocated.items())}
        audit.record(session, actor=actor, kind="import.payments", subject_type="import",
                     subject_id=path.name, data={
                         key: value for key, value in report.as_dict().items()
                         if key != "unmatched"} | {"unmatched": len(report.unmatched)})
    return report
