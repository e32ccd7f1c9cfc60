"""The customer sub-ledger (grand livre auxiliaire clients): every movement of each
debtor's account, per currency, with its running balance.

The book keeps invoices with what is paid on them, and payments with where they went;
an account is rebuilt from both. A movement is debited (an invoice, a payment taken
back) or credited (a credit note, a payment, a part settled before relance knew of it,
an invoice cancelled); allocations (lettrage) move no money and are listed so that an
auditor sees which payment settled which invoice. Summed, an account's movements give
what the debtor owes now: the open balances of its invoices less what it paid that no
invoice took.

Two dates are not in the book and are taken as near as it allows: a part paid that an
import brought (`paid_amount` of the ERP, not a payment recorded in relance) is dated
the day the invoice was first imported, never before its issue; a cancelled invoice's
write-off, the day it was last changed. Both stay put when the report is run again.

Data only: the files and pages people read are made in `relance.channels.reports`.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from relance.store.models import (
    Creditor,
    Debtor,
    Invoice,
    InvoiceStatus,
    Payment,
    PaymentAllocation,
    PaymentKind,
)

_invoice = Invoice.__table__
_payment = Payment.__table__
_allocation = PaymentAllocation.__table__
_debtor = Debtor.__table__
_creditor = Creditor.__table__


class MovementKind(StrEnum):
    """What moved an account, in the order the movements of one day are listed."""

    INVOICE = "invoice"
    CREDIT_NOTE = "credit_note"
    PAYMENT = "payment"
    ALLOCATION = "allocation"
    SETTLEMENT = "settlement"  # paid as the ERP said on import, no payment in relance
    WRITE_OFF = "write_off"  # what a cancelled invoice still had open
    REVERSAL = "reversal"  # a payment taken back


_ORDER = {kind: position for position, kind in enumerate(MovementKind)}


@dataclass(frozen=True)
class Movement:
    """One line of an account, amounts in minor units (debit and credit never both)."""

    day: dt.date
    kind: MovementKind
    piece: str  # the invoice number, or the payment's reference
    currency: str
    debit: int = 0
    credit: int = 0
    due: dt.date | None = None
    invoice_id: int | None = None
    payment_id: int | None = None
    # The invoice an allocation, settlement or write-off concerns.
    invoice_number: str = ""
    # Allocations: the amount lettered; invoices: their open balance now.
    allocated: int = 0
    remaining: int | None = None
    # The invoices a payment went to.
    matched: tuple[str, ...] = ()
    note: str = ""  # a reversal's reason, a payment's bank reference
    reversed_on: dt.date | None = None  # a payment taken back since

    @property
    def signed(self) -> int:
        """What the movement adds to what the debtor owes."""
        return self.debit - self.credit

    def sort_key(self) -> tuple[dt.date, int, str, int]:
        return (self.day, _ORDER[self.kind], self.piece, self.invoice_id or 0)


@dataclass(frozen=True)
class Party:
    """Whose account: a debtor of a creditor."""

    debtor_id: int
    creditor_id: int
    creditor_code: str
    ref: str
    name: str


@dataclass(frozen=True)
class LedgerLine:
    movement: Movement
    balance: int  # after this movement


@dataclass(frozen=True)
class Account:
    """One debtor's account in one currency over a period."""

    party: Party
    currency: str
    opening: int
    lines: tuple[LedgerLine, ...]

    @property
    def debit(self) -> int:
        return sum(line.movement.debit for line in self.lines)

    @property
    def credit(self) -> int:
        return sum(line.movement.credit for line in self.lines)

    @property
    def closing(self) -> int:
        return self.opening + self.debit - self.credit


@dataclass(frozen=True)
class CurrencyTotal:
    currency: str
    opening: int = 0
    debit: int = 0
    credit: int = 0

    @property
    def closing(self) -> int:
        return self.opening + self.debit - self.credit


@dataclass(frozen=True)
class SubLedger:
    """The accounts of the period `start`–`end` (both included), in order of creditor,
    debtor and currency; an account with no movement and nothing open is left out."""

    start: dt.date
    end: dt.date
    accounts: tuple[Account, ...]
    totals: tuple[CurrencyTotal, ...] = field(default=())


def _parties(db: Connection | Session, debtor_ids: Sequence[int] | None,
             creditor_ids: Sequence[int] | None) -> dict[int, Party]:
    query = (select(_debtor.c.id, _debtor.c.creditor_id, _creditor.c.code, _debtor.c.ref,
                    _debtor.c.name)
             .join(_creditor, _creditor.c.id == _debtor.c.creditor_id))
    if debtor_ids is not None:
        query = query.where(_debtor.c.id.in_(list(debtor_ids)))
    if creditor_ids is not None:
        query = query.where(_debtor.c.creditor_id.in_(list(creditor_ids)))
    return {row[0]: Party(row[0], row[1], row[2], row[3], row[4] or row[3])
            for row in db.execute(query)}


def _day(moment: dt.datetime | dt.date | None, floor: dt.date) -> dt.date:
    if moment is None:
        return floor
    day = moment.date() if isinstance(moment, dt.datetime) else moment
    return max(day, floor)


def _payment_piece(reference: str | None, bank_ref: str | None, payment_id: int) -> str:
    return (reference or "").strip() or (bank_ref or "").strip() or f"#{payment_id}"


def load_movements(db: Connection | Session, *, debtor_ids: Sequence[int] | None = None,
                   creditor_ids: Sequence[int] | None = None,
                   ) -> tuple[dict[int, Party], dict[int, list[Movement]]]:
    """Every movement of these debtors' accounts (all debtors by default), by debtor,
    in date order; with the debtors themselves."""
    parties = _parties(db, debtor_ids, creditor_ids)
    wanted = list(parties)
    found: dict[int, list[Movement]] = defaultdict(list)
    if not wanted:
        return parties, found

    def only(column: Any) -> Any:
        # The statement asks for one debtor; the ledger for everything of some creditors.
        if debtor_ids is not None:
            return column.in_(wanted)
        return column.is_not(None)

    invoices: dict[int, Any] = {}
    for row in db.execute(select(
            _invoice.c.id, _invoice.c.debtor_id, _invoice.c.number, _invoice.c.issue_date,
            _invoice.c.due_date, _invoice.c.currency, _invoice.c.amount_minor,
            _invoice.c.paid_minor, _invoice.c.balance_minor, _invoice.c.status,
            _invoice.c.created_at, _invoice.c.updated_at).where(only(_invoice.c.debtor_id))):
        if row.debtor_id in parties:
            invoices[row.id] = row
    allocated: dict[int, int] = defaultdict(int)
    matched: dict[int, list[str]] = defaultdict(list)
    for link in db.execute(
            select(_allocation.c.invoice_id, _allocation.c.amount_minor, _payment.c.id,
                   _payment.c.received_on, _payment.c.reference, _payment.c.bank_ref)
            .join(_payment, _payment.c.id == _allocation.c.payment_id)
            .where(only(_payment.c.debtor_id))
            .order_by(_payment.c.id, _allocation.c.id)):
        invoice = invoices.get(link.invoice_id)
        if invoice is None:
            continue
        allocated[invoice.id] += int(link.amount_minor)
        matched[link.id].append(invoice.number)
        found[invoice.debtor_id].append(Movement(
            link.received_on, MovementKind.ALLOCATION,
            _payment_piece(link.reference, link.bank_ref, link.id), invoice.currency,
            invoice_id=invoice.id, payment_id=link.id, invoice_number=invoice.number,
            allocated=int(link.amount_minor)))
    for invoice in invoices.values():
        found[invoice.debtor_id].extend(_invoice_movements(invoice, allocated[invoice.id]))
    for row in db.execute(select(
            _payment.c.id, _payment.c.debtor_id, _payment.c.received_on, _payment.c.currency,
            _payment.c.amount_minor, _payment.c.reference, _payment.c.bank_ref,
            _payment.c.kind, _payment.c.reversed_on, _payment.c.reversal_reason)
            .where(only(_payment.c.debtor_id))):
        if row.debtor_id not in parties:
            continue
        piece = _payment_piece(row.reference, row.bank_ref, row.id)
        kind = (MovementKind.CREDIT_NOTE if row.kind == PaymentKind.CREDIT_NOTE
                else MovementKind.PAYMENT)
        found[row.debtor_id].append(Movement(
            row.received_on, kind, piece, row.currency, credit=int(row.amount_minor),
            payment_id=row.id, matched=tuple(matched.get(row.id, ())),
            note=row.bank_ref or "", reversed_on=row.reversed_on))
        if row.reversed_on is not None:
            found[row.debtor_id].append(Movement(
                row.reversed_on, MovementKind.REVERSAL, piece, row.currency,
                debit=int(row.amount_minor), payment_id=row.id,
                note=row.reversal_reason or ""))
    for movements in found.values():
        movements.sort(key=Movement.sort_key)
    return parties, found


def _invoice_movements(invoice: Any, allocated: int) -> Iterable[Movement]:
    """The invoice (or credit note) itself, and what settled it outside any payment."""
    amount = int(invoice.amount_minor)
    balance = int(invoice.balance_minor)
    cancelled = invoice.status == InvoiceStatus.CANCELLED
    common = {"currency": invoice.currency, "invoice_id": invoice.id,
              "invoice_number": invoice.number}
    yield Movement(
        invoice.issue_date,
        MovementKind.CREDIT_NOTE if amount < 0 else MovementKind.INVOICE, invoice.number,
        debit=max(amount, 0), credit=max(-amount, 0),
        due=invoice.due_date if amount >= 0 else None,  # a credit note falls due on nothing
        remaining=0 if cancelled else balance, **common)
    elsewhere = int(invoice.paid_minor) - allocated
    if elsewhere:
        yield Movement(_day(invoice.created_at, invoice.issue_date), MovementKind.SETTLEMENT,
                       invoice.number, debit=max(-elsewhere, 0), credit=max(elsewhere, 0),
                       **common)
    if cancelled and balance:
        yield Movement(_day(invoice.updated_at, invoice.issue_date), MovementKind.WRITE_OFF,
                       invoice.number, debit=max(-balance, 0), credit=max(balance, 0),
                       **common)


def with_balances(opening: int, movements: Iterable[Movement]) -> tuple[LedgerLine, ...]:
    """The movements with the balance after each, from `opening`."""
    balance = opening
    lines = []
    for movement in movements:
        balance += movement.signed
        lines.append(LedgerLine(movement, balance))
    return tuple(lines)


def sub_ledger(db: Connection | Session, *, start: dt.date, end: dt.date,
               creditor_ids: Sequence[int] | None = None,
               debtor_ids: Sequence[int] | None = None) -> SubLedger:
    """Each debtor's account per currency over `start`–`end`: the balance brought
    forward from before `start`, then every movement of the period."""
    if end < start:
        raise ValueError(f"the period ends ({end}) before it starts ({start})")
    parties, found = load_movements(db, debtor_ids=debtor_ids, creditor_ids=creditor_ids)
    accounts: list[Account] = []
    for debtor_id, movements in found.items():
        by_currency: dict[str, list[Movement]] = defaultdict(list)
        for movement in movements:
            if movement.day <= end:
                by_currency[movement.currency].append(movement)
        for currency, items in by_currency.items():
            opening = sum(m.signed for m in items if m.day < start)
            inside = [m for m in items if m.day >= start]
            if not inside and not opening:
                continue
            accounts.append(Account(parties[debtor_id], currency, opening,
                                    with_balances(opening, inside)))
    accounts.sort(key=lambda a: (a.party.creditor_code, a.party.ref, a.currency))
    totals: dict[str, CurrencyTotal] = {}
    for account in accounts:
        now = totals.get(account.currency, CurrencyTotal(account.currency))
        totals[account.currency] = CurrencyTotal(
            account.currency, now.opening + account.opening, now.debit + account.debit,
            now.credit + account.credit)
    return SubLedger(start, end, tuple(accounts),
                     tuple(totals[currency] for currency in sorted(totals)))
