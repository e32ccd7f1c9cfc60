"""The check of promises to pay that fell due.

An open promise whose date has passed (`promised_on < today`) is settled once:

- kept when the invoices it covers are no longer open, or, for a promise of an amount,
  when payments received since it was made reach that amount;
- broken otherwise: the promise becomes `broken` and the event `promise.broken` is
  written in the same transaction, so rules (`promise_broken`), the operators' screens
  and the audit trail all see it.

The check is idempotent: a settled promise is never looked at again.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from relance.store import audit
from relance.store.db import Store
from relance.store.models import (
    Invoice,
    InvoiceStatus,
    Payment,
    PaymentAllocation,
    Promise,
    PromiseStatus,
)


@dataclass(frozen=True)
class PromiseCheck:
    checked: int
    kept: int
    broken: int

    def as_dict(self) -> dict[str, int]:
        return {"checked": self.checked, "kept": self.kept, "broken": self.broken}


def _still_open(invoice: Invoice) -> bool:
    return invoice.status == InvoiceStatus.OPEN and invoice.balance_minor > 0


def check_promises(store: Store, today: dt.date, *, actor: str = "scheduler") -> PromiseCheck:
    """Settle every open promise whose date is before `today` (see the module text)."""
    kept = broken = 0
    with store.write_transaction() as session:
        promises = session.execute(
            select(Promise)
            .where(Promise.status == PromiseStatus.OPEN, Promise.promised_on < today)
            .order_by(Promise.id)
            .with_for_update(skip_locked=True)
        ).scalars().all()
        for promise in promises:
            if promise.invoice_id is not None:
                invoices = list(session.execute(
                    select(Invoice).where(Invoice.id == promise.invoice_id)).scalars())
            else:
                # A promise without an invoice covers the debtor's invoices open when made.
                invoices = list(session.execute(
                    select(Invoice).where(Invoice.debtor_id == promise.debtor_id,
                                          Invoice.status == InvoiceStatus.OPEN,
                                          Invoice.balance_minor > 0)).scalars())
            open_ones = [inv for inv in invoices if _still_open(inv)]
            is_kept = not open_ones
            paid = None
            if not is_kept and promise.amount_minor is not None:
                paid = _paid_since(session, promise, [inv.id for inv in invoices])
                is_kept = paid >= promise.amount_minor
            promise.status = PromiseStatus.KEPT if is_kept else PromiseStatus.BROKEN
            data: dict[str, object] = {
                "promised_on": promise.promised_on.isoformat(),
                "invoice_id": promise.invoice_id,
                "amount_minor": promise.amount_minor,
                "currency": promise.currency,
                "checked_on": today.isoformat(),
                "open_invoices": [inv.number for inv in open_ones],
            }
            if paid is not None:
                data["paid_since_minor"] = paid
            audit.record(
                session, actor=actor,
                kind="promise.kept" if is_kept else "promise.broken",
                subject_type="promise", subject_id=promise.id, data=data,
                creditor_id=promise.creditor_id, debtor_id=promise.debtor_id,
            )
            if is_kept:
                kept += 1
            else:
                broken += 1
    return PromiseCheck(checked=kept + broken, kept=kept, broken=broken)


def _paid_since(session: Session, promise: Promise, invoice_ids: list[int]) -> int:
    made_on = promise.created_at.date()
    query = (
        select(func.coalesce(func.sum(PaymentAllocation.amount_minor), 0))
        .join(Payment, Payment.id == PaymentAllocation.payment_id)
        .where(Payment.received_on >= made_on)
    )
    if invoice_ids:
        query = query.where(PaymentAllocation.invoice_id.in_(invoice_ids))
    else:
        query = query.where(Payment.debtor_id == promise.debtor_id)
    return int(session.execute(query).scalar_one())
