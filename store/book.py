"""Changes to the book itself: money received and where it goes.

`record_payment` is the one way a payment enters the store, whether an operator types
it, `relance pay` records it or an import reads a bank statement: it allocates the
amount to invoices (the ones named, or the debtor's oldest due first), updates their
paid amount, balance and status, and appends the audit event, all in the caller's
transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from relance.errors import NotFound, UsageError
from relance.store import audit
from relance.store.models import (
    Creditor,
    Debtor,
    Invoice,
    InvoiceStatus,
    Payment,
    PaymentAllocation,
)
from relance.store.money import Money, to_decimal


@dataclass(frozen=True)
class Allocation:
    """What a payment did to one invoice."""

    invoice_id: int
    number: str
    amount_minor: int
    balance_after_minor: int


def _money(minor: int, currency: str) -> str:
    return f"{to_decimal(minor, currency)} {currency}"


def _lock_invoices(session: Session, ids: Sequence[int]) -> dict[int, Invoice]:
    # FOR UPDATE: two operators paying the same invoice on PostgreSQL must not both read
    # the old balance (SQLite serialises writers with BEGIN IMMEDIATE instead).
    rows = session.scalars(
        select(Invoice).where(Invoice.id.in_(list(ids))).with_for_update()
    ).all()
    return {row.id: row for row in rows}


def _open_invoices_oldest_first(
    session: Session, *, creditor_id: int, debtor_id: int, currency: str
) -> list[Invoice]:
    return list(
        session.scalars(
            select(Invoice)
            .where(
                Invoice.creditor_id == creditor_id,
                Invoice.debtor_id == debtor_id,
                Invoice.currency == currency,
                Invoice.balance_minor > 0,
                Invoice.status != InvoiceStatus.CANCELLED,
            )
            .order_by(Invoice.due_date, Invoice.issue_date, Invoice.id)
            .with_for_update()
        ).all()
    )


def apply_to_invoice(invoice: Invoice, minor: int) -> None:
    """Add `minor` to what is paid on `invoice` and settle its status."""
    invoice.paid_minor += minor
    invoice.balance_minor -= minor
    if invoice.balance_minor <= 0 and invoice.status == InvoiceStatus.OPEN:
        invoice.status = InvoiceStatus.PAID
    elif invoice.balance_minor > 0 and invoice.status == InvoiceStatus.PAID:
        invoice.status = InvoiceStatus.OPEN


def record_payment(
    session: Session,
    *,
    creditor_id: int,
    debtor_id: int | None,
    amount: Money,
    received_on: dt.date,
    reference: str,
    actor: str,
    allocations: Sequence[tuple[int, int]] | None = None,
    source: str = "manual",
) -> Payment:
    """Record money received and allocate it; returns the flushed `Payment`.

    `allocations` are `(invoice_id, minor)` pairs; `None` allocates to the debtor's open
    invoices in the payment's currency, oldest due date first, and leaves any surplus
    unallocated (on account); a payment with neither debtor nor allocations is kept
    unallocated until someone identifies it. Named allocations must be positive, in the payment's
    currency, for this creditor (and debtor, when given), no larger than the invoice's
    balance, and must not add up to more than the payment: otherwise a `UsageError`
    naming the invoice is raised and nothing is written.
    """
    if amount.minor <= 0:
        raise UsageError(f"a payment must be positive, not {amount}")
    if debtor_id is not None:
        debtor = session.get(Debtor, debtor_id)
        if debtor is None or debtor.creditor_id != creditor_id:
            raise NotFound(f"no debtor {debtor_id} for creditor {creditor_id}")

    planned: list[tuple[Invoice, int]] = []
    if allocations is None:
        if debtor_id is not None:
            remaining = amount.minor
            for invoice in _open_invoices_oldest_first(
                session, creditor_id=creditor_id, debtor_id=debtor_id, currency=amount.currency
            ):
                if remaining <= 0:
                    break
                share = min(remaining, invoice.balance_minor)
                planned.append((invoice, share))
                remaining -= share
    else:
        ids = [invoice_id for invoice_id, _ in allocations]
        if len(set(ids)) != len(ids):
            raise UsageError("an invoice appears twice in the payment's allocations")
        invoices = _lock_invoices(session, ids)
        for invoice_id, minor in allocations:
            found = invoices.get(invoice_id)
            if found is None or found.creditor_id != creditor_id:
                raise NotFound(f"no invoice {invoice_id} for creditor {creditor_id}")
            invoice = found
            if debtor_id is not None and invoice.debtor_id != debtor_id:
                raise UsageError(
                    f"invoice {invoice.number} belongs to another debtor than the payment's"
                )
            if invoice.currency != amount.currency:
                raise UsageError(
                    f"invoice {invoice.number} is in {invoice.currency}, "
                    f"the payment in {amount.currency}"
                )
            if minor <= 0:
                raise UsageError(f"the amount allocated to invoice {invoice.number} "
                                 "must be positive")
            if minor > invoice.balance_minor:
                raise UsageError(
                    f"invoice {invoice.number}: {_money(minor, amount.currency)} is more than "
                    f"its balance of {_money(invoice.balance_minor, invoice.currency)}"
                )
            planned.append((invoice, minor))
        total = sum(minor for _, minor in planned)
        if total > amount.minor:
            raise UsageError(
                f"the allocations add up to {_money(total, amount.currency)}, more than the "
                f"payment of {amount}"
            )

    if debtor_id is None and planned:
        debtors = {invoice.debtor_id for invoice, _ in planned}
        if len(debtors) == 1:
            debtor_id = debtors.pop()

    payment = Payment(
        creditor_id=creditor_id,
        debtor_id=debtor_id,
        received_on=received_on,
        currency=amount.currency,
        amount_minor=amount.minor,
        reference=reference,
        source=source,
        recorded_by=actor,
    )
    session.add(payment)
    done: list[Allocation] = []
    for invoice, minor in planned:
        apply_to_invoice(invoice, minor)
        payment.allocations.append(PaymentAllocation(invoice_id=invoice.id, amount_minor=minor))
        done.append(Allocation(invoice.id, invoice.number, minor, invoice.balance_minor))
    session.flush()
    allocated = sum(a.amount_minor for a in done)
    audit.record(
        session,
        actor=actor,
        kind="payment.recorded",
        subject_type="payment",
        subject_id=payment.id,
        creditor_id=creditor_id,
        debtor_id=debtor_id,
        data={
            "amount_minor": amount.minor,
            "currency": amount.currency,
            "received_on": received_on.isoformat(),
            "reference": reference,
            "source": source,
            "allocations": [
                {"invoice_id": a.invoice_id, "number": a.number, "amount_minor": a.amount_minor,
                 "balance_after_minor": a.balance_after_minor}
                for a in done
            ],
            "unallocated_minor": amount.minor - allocated,
        },
    )
    return payment


def find_invoice(session: Session, number: str, *, creditor_code: str | None = None) -> Invoice:
    """The invoice with this number; ambiguous across creditors unless one is named."""
    query = select(Invoice).where(Invoice.number == number)
    if creditor_code is not None:
        query = query.join(Creditor, Creditor.id == Invoice.creditor_id).where(
            Creditor.code == creditor_code
        )
    found = session.scalars(query.limit(2)).all()
    if not found:
        suffix = f" for creditor {creditor_code}" if creditor_code else ""
        raise NotFound(f"no invoice {number}{suffix}")
    if len(found) > 1:
        raise UsageError(f"invoice number {number} exists for several creditors: "
                         "name the creditor with --creditor")
    return found[0]
