"""Changes to the book itself: money received and where it goes.

`record_payment` is the one way a payment (or a credit note) enters the store, whether
an operator types it, `relance pay` records it or an import reads a bank statement: it
allocates the amount to invoices (the ones named, or the debtor's oldest due first),
updates their paid amount, balance and status, appends the audit event and settles the
plans and the queue (`settle_case`), all in the caller's transaction. `reverse_payment`
takes a payment back (a returned direct debit, a bounced cheque, an undo) and
`allocate_payment` places what a payment left unallocated (suspense, or a credit on the
debtor's account).

One rule for more money than is owed, whatever the entry point: the payment is recorded
whole, and what no invoice can take stays on the debtor's account as a credit.

A payment the collection firm received for a case under mandate, and its reversal, also
post to the creditor's client funds, with the receipt and the creditor's notice queued
(`store/client_funds.py`), in the same transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from relance.kernel.display import show_date, show_money
from relance.kernel.errors import NotFound, UsageError
from relance.kernel.i18n import N_, _
from relance.kernel.money import Money
from relance.store import audit, client_funds
from relance.store.instalments import follow_plans
from relance.store.models import (
    Creditor,
    Debtor,
    Invoice,
    InvoiceStatus,
    Payment,
    PaymentAllocation,
    PaymentKind,
)
from relance.store.settle import Settlement, settle_queue

T = TypeVar("T", Invoice, Debtor)


@dataclass(frozen=True)
class Allocation:
    """What a payment did to one invoice."""

    invoice_id: int
    number: str
    amount_minor: int
    balance_after_minor: int


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


def settle_case(session: Session, *, debtor_ids: Sequence[int] | set[int], today: dt.date,
                actor: str, cause: str) -> Settlement:
    """After any change to these debtors' cases: their plans' instalments, then their
    queue, brought in line with the book (in the caller's transaction)."""
    if not debtor_ids:
        return Settlement()
    follow_plans(session, debtor_ids=debtor_ids, today=today, actor=actor)
    return settle_queue(session, debtor_ids=debtor_ids, today=today, actor=actor, cause=cause)


def share_out(invoices: Sequence[Invoice], minor: int, currency: str) -> list[tuple[int, int]]:
    """`minor` allocated to these invoices in the order given, each up to its balance;
    what is left over is for the debtor's account."""
    plan: list[tuple[int, int]] = []
    left = minor
    for invoice in invoices:
        share = min(left, invoice.balance_minor)
        if share > 0 and invoice.currency == currency:
            plan.append((invoice.id, share))
            left -= share
    return plan


def _checked(session: Session, allocations: Sequence[tuple[int, int]], *, creditor_id: int,
             debtor_id: int | None, amount: Money) -> list[tuple[Invoice, int]]:
    """Named allocations, refused (`UsageError` naming the invoice, nothing written)
    unless each is positive, in the payment's currency, for this creditor (and debtor),
    within the invoice's balance, and all within the payment."""
    ids = [invoice_id for invoice_id, _ in allocations]
    if len(set(ids)) != len(ids):
        raise UsageError(_("an invoice appears twice in the payment's allocations"))
    invoices = _lock_invoices(session, ids)
    planned: list[tuple[Invoice, int]] = []
    for invoice_id, minor in allocations:
        invoice = invoices.get(invoice_id)
        if invoice is None or invoice.creditor_id != creditor_id:
            raise NotFound(_("no invoice {invoice} for creditor {creditor}").format(
                invoice=invoice_id, creditor=creditor_id))
        if debtor_id is not None and invoice.debtor_id != debtor_id:
            raise UsageError(_("invoice {number} belongs to another debtor than the "
                               "payment's").format(number=invoice.number))
        if invoice.currency != amount.currency:
            raise UsageError(_("invoice {number} is in {currency}, the payment in {other}")
                             .format(number=invoice.number, currency=invoice.currency,
                                     other=amount.currency))
        if minor <= 0:
            raise UsageError(_("the amount allocated to invoice {number} must be positive")
                             .format(number=invoice.number))
        if minor > invoice.balance_minor:
            raise UsageError(_("invoice {number}: {amount} is more than its balance of "
                               "{balance}").format(
                number=invoice.number, amount=show_money(minor, amount.currency),
                balance=show_money(invoice.balance_minor, invoice.currency)))
        planned.append((invoice, minor))
    total = sum(minor for _invoice, minor in planned)
    if total > amount.minor:
        raise UsageError(_("the allocations add up to {total}, more than the payment of "
                           "{amount}").format(total=show_money(total, amount.currency),
                                              amount=_shown(amount)))
    return planned


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
    kind: PaymentKind = PaymentKind.PAYMENT,
    bank_ref: str | None = None,
    today: dt.date | None = None,
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
        raise UsageError(_("a payment must be positive, not {amount}").format(
            amount=_shown(amount)))
    if debtor_id is not None:
        debtor = session.get(Debtor, debtor_id)
        if debtor is None or debtor.creditor_id != creditor_id:
            raise NotFound(_("no debtor {debtor} for creditor {creditor}").format(
                debtor=debtor_id, creditor=creditor_id))

    planned: list[tuple[Invoice, int]] = []
    if allocations is None:
        if debtor_id is not None:
            planned = _by_id(session, share_out(_open_invoices_oldest_first(
                session, creditor_id=creditor_id, debtor_id=debtor_id,
                currency=amount.currency), amount.minor, amount.currency))
    else:
        planned = _checked(session, allocations, creditor_id=creditor_id,
                           debtor_id=debtor_id, amount=amount)
    if kind == PaymentKind.CREDIT_NOTE and sum(m for _invoice, m in planned) != amount.minor:
        raise UsageError(_("a credit note of {amount} must go to invoices whose balance "
                           "takes it whole").format(amount=_shown(amount)))

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
        kind=kind,
        bank_ref=bank_ref,
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
        kind="credit_note.recorded" if kind == PaymentKind.CREDIT_NOTE else "payment.recorded",
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
            **({"bank_ref": bank_ref} if bank_ref else {}),
        },
    )
    touched = {invoice.debtor_id for invoice, _ in planned}
    # Money the collection firm received for the creditor: ledger, receipt, notice.
    client_funds.post_collected(session, payment, actor=actor,
                                today=today or dt.date.today())
    settle_case(session, debtor_ids=touched, today=today or dt.date.today(), actor=actor,
                cause=f"payment {payment.id}")
    return payment


def unallocated_minor(payment: Payment) -> int:
    """What of a payment no invoice has taken: a credit on the account, or suspense."""
    if payment.reversed_on is not None:
        return 0
    return payment.amount_minor - sum(a.amount_minor for a in payment.allocations)


def _lock_payment(session: Session, payment_id: int) -> Payment:
    payment = session.scalars(
        select(Payment).where(Payment.id == payment_id).with_for_update()).one_or_none()
    if payment is None:
        raise NotFound(_("no payment {payment}").format(payment=payment_id))
    return payment


def reverse_payment(session: Session, payment_id: int, *, on: dt.date, reason: str,
                    actor: str, today: dt.date | None = None,
                    data: dict[str, object] | None = None,
                    bank_ref: str | None = None) -> Payment:
    """Take a payment back: its allocations are removed and its invoices reopened; the
    payment stays, marked reversed, and the event lists what was undone."""
    text = reason.strip()
    if not text:
        raise UsageError(_("a reversal needs a reason"))
    payment = _lock_payment(session, payment_id)
    if payment.reversed_on is not None:
        raise UsageError(_("payment {payment} was already reversed on {day} ({reason})")
                         .format(payment=payment_id, day=show_date(payment.reversed_on),
                                 reason=payment.reversal_reason))
    invoices = _lock_invoices(session, [a.invoice_id for a in payment.allocations])
    undone = []
    for allocation in list(payment.allocations):
        invoice = invoices[allocation.invoice_id]
        apply_to_invoice(invoice, -allocation.amount_minor)
        undone.append({"invoice_id": invoice.id, "number": invoice.number,
                       "amount_minor": allocation.amount_minor,
                       "balance_after_minor": invoice.balance_minor})
        payment.allocations.remove(allocation)
    payment.reversed_on, payment.reversal_reason = on, text
    payment.reversal_ref = bank_ref
    session.flush()
    audit.record(session, actor=actor, kind="payment.reversed", subject_type="payment",
                 subject_id=payment.id, creditor_id=payment.creditor_id,
                 debtor_id=payment.debtor_id,
                 data={"amount_minor": payment.amount_minor, "currency": payment.currency,
                       "reversed_on": on.isoformat(), "reason": text,
                       "reference": payment.reference, "allocations": undone,
                       **(data or {})})
    client_funds.post_reversed(session, payment, on=on, actor=actor)
    settle_case(session, debtor_ids={i.debtor_id for i in invoices.values()},
                today=today or dt.date.today(), actor=actor, cause=f"reversal of {payment.id}")
    return payment


def allocate_payment(session: Session, payment_id: int, *, actor: str,
                     debtor_id: int | None = None,
                     allocations: Sequence[tuple[int, int]] | None = None,
                     today: dt.date | None = None) -> list[Allocation]:
    """Place what a payment left unallocated: on the invoices named, or on the debtor's
    (the payment's, or `debtor_id` for a payment in suspense) oldest due first."""
    payment = _lock_payment(session, payment_id)
    left = unallocated_minor(payment)
    if left <= 0:
        raise UsageError(_("payment {payment} has nothing left to allocate").format(
            payment=payment_id))
    if debtor_id is not None and payment.debtor_id not in (None, debtor_id):
        raise UsageError(_("payment {payment} belongs to another debtor").format(
            payment=payment_id))
    debtor = debtor_id if debtor_id is not None else payment.debtor_id
    if debtor is not None:
        found = session.get(Debtor, debtor)
        if found is None or found.creditor_id != payment.creditor_id:
            raise NotFound(_("no debtor {debtor} for this payment's creditor").format(
                debtor=debtor))
    if allocations is None:
        if debtor is None:
            raise UsageError(_("name the debtor or the invoices this payment is for"))
        planned = [(invoice, minor) for invoice, minor in _by_id(session, share_out(
            _open_invoices_oldest_first(session, creditor_id=payment.creditor_id,
                                        debtor_id=debtor, currency=payment.currency),
            left, payment.currency))]
    else:
        planned = _checked(session, allocations, creditor_id=payment.creditor_id,
                           debtor_id=debtor, amount=Money(payment.currency, left))
    if not planned:
        raise UsageError(_("no open invoice to allocate this payment to"))
    if payment.debtor_id is None:
        payment.debtor_id = planned[0][0].debtor_id
    done = []
    for invoice, minor in planned:
        apply_to_invoice(invoice, minor)
        payment.allocations.append(PaymentAllocation(invoice_id=invoice.id, amount_minor=minor))
        done.append(Allocation(invoice.id, invoice.number, minor, invoice.balance_minor))
    session.flush()
    audit.record(session, actor=actor, kind="payment.allocated", subject_type="payment",
                 subject_id=payment.id, creditor_id=payment.creditor_id,
                 debtor_id=payment.debtor_id,
                 data={"allocations": [
                     {"invoice_id": a.invoice_id, "number": a.number,
                      "amount_minor": a.amount_minor,
                      "balance_after_minor": a.balance_after_minor} for a in done],
                     "unallocated_minor": unallocated_minor(payment)})
    # A payment out of suspense may turn out to be a debtor's under mandate.
    client_funds.post_collected(session, payment, actor=actor,
                                today=today or dt.date.today())
    settle_case(session, debtor_ids={i.debtor_id for i, _ in planned},
                today=today or dt.date.today(), actor=actor,
                cause=f"allocation of payment {payment.id}")
    return done


def unallocate(session: Session, payment_id: int, invoice_ids: Sequence[int], *, actor: str,
               today: dt.date | None = None) -> None:
    """Take back allocations of a payment (an undo of `allocate_payment`): the amounts
    return to the payment's unallocated part and the invoices reopen."""
    payment = _lock_payment(session, payment_id)
    invoices = _lock_invoices(session, invoice_ids)
    undone = []
    for allocation in [a for a in payment.allocations if a.invoice_id in invoices]:
        invoice = invoices[allocation.invoice_id]
        apply_to_invoice(invoice, -allocation.amount_minor)
        undone.append({"invoice_id": invoice.id, "number": invoice.number,
                       "amount_minor": allocation.amount_minor})
        payment.allocations.remove(allocation)
    session.flush()
    audit.record(session, actor=actor, kind="payment.unallocated", subject_type="payment",
                 subject_id=payment.id, creditor_id=payment.creditor_id,
                 debtor_id=payment.debtor_id, data={"allocations": undone})
    settle_case(session, debtor_ids={i.debtor_id for i in invoices.values()},
                today=today or dt.date.today(), actor=actor,
                cause=f"allocation of payment {payment.id} undone")


def _by_id(session: Session, pairs: list[tuple[int, int]]) -> list[tuple[Invoice, int]]:
    invoices = _lock_invoices(session, [invoice_id for invoice_id, _ in pairs])
    return [(invoices[invoice_id], minor) for invoice_id, minor in pairs]


def find_invoice(session: Session, number: str, *, creditor_code: str | None = None,
                 within: Collection[int] | None = None) -> Invoice:
    """The invoice with this number; ambiguous across creditors unless one is named.
    `within`: the ids of the creditors the user may see (engine.scope.creditor_ids);
    another creditor's invoice is answered as if it did not exist."""
    return _one_of_a_creditor(session, Invoice, Invoice.number, number, creditor_code,
                              _INVOICE_WORDS, within)


def find_debtor(session: Session, ref: str, *, creditor_code: str | None = None,
                within: Collection[int] | None = None) -> Debtor:
    """The debtor with this reference; ambiguous across creditors unless one is named.
    `within`: as for `find_invoice`."""
    return _one_of_a_creditor(session, Debtor, Debtor.ref, ref, creditor_code,
                              _DEBTOR_WORDS, within)


# What `_one_of_a_creditor` says of an invoice or a debtor: none, none for this creditor,
# several.
_INVOICE_WORDS = (N_("no invoice {value}"), N_("no invoice {value} for creditor {creditor}"),
                  N_("invoice number {value} exists for several creditors: name the creditor "
                     "with --creditor"))
_DEBTOR_WORDS = (N_("no debtor {value}"), N_("no debtor {value} for creditor {creditor}"),
                 N_("debtor reference {value} exists for several creditors: name the "
                    "creditor with --creditor"))


def _shown(amount: Money) -> str:
    return show_money(amount.minor, amount.currency)


def _one_of_a_creditor(session: Session, model: type[T], column: Any, value: str,
                       creditor_code: str | None, words: tuple[str, str, str],
                       within: Collection[int] | None = None) -> T:
    # Numbers and references are unique per creditor only: two creditors may share one.
    query = select(model).where(column == value)
    if within is not None:
        # Rows of creditors the user may not see do not exist for them: not found, and
        # never "exists for several creditors" because of one they cannot see.
        query = query.where(model.creditor_id.in_(list(within)))
    if creditor_code is not None:
        query = query.join(Creditor, Creditor.id == model.creditor_id).where(
            Creditor.code == creditor_code)
    found = session.scalars(query.limit(2)).all()
    none, none_for, several = words
    if not found:
        raise NotFound(_(none_for if creditor_code else none).format(
            value=value, creditor=creditor_code))
    if len(found) > 1:
        raise UsageError(_(several).format(value=value))
    return found[0]
