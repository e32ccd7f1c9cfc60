"""Money on a case from a person: payments, credit notes, reversals and allocations of
what sits in suspense, checked for the actor's role and handed to `relance.store.book`,
which allocates and settles the queue (the same rules as the imports)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy.orm import Session

from relance.engine.case_locking import locked_invoices
from relance.engine.roles import Actor, require_write
from relance.engine.scope import require_visible
from relance.kernel.display import show_money
from relance.kernel.errors import UsageError
from relance.kernel.i18n import _
from relance.kernel.money import Money
from relance.store import book
from relance.store.models import Payment, PaymentKind


def record_payment(session: Session, actor: Actor, *, creditor_id: int,
                   debtor_id: int | None, amount: Money, received_on: dt.date,
                   reference: str, allocations: Sequence[tuple[int, int]] | None = None,
                   today: dt.date | None = None) -> Payment:
    """`relance.store.book.record_payment` for a person: operators and credit managers."""
    require_write(actor, _("record a payment"))
    require_visible(session, actor, creditor_id,
                    _("no creditor {code}").format(code=creditor_id))
    return book.record_payment(session, creditor_id=creditor_id, debtor_id=debtor_id,
                               amount=amount, received_on=received_on, reference=reference,
                               actor=actor.name, allocations=allocations, today=today)


def pay_invoices(session: Session, actor: Actor, invoice_ids: Sequence[int], *,
                 amount: Money, received_on: dt.date, reference: str,
                 today: dt.date | None = None) -> Payment:
    """A payment for these invoices, in the order given, each up to its balance; more
    than they owe is recorded whole and the surplus stays on the debtor's account (the
    same rule for `relance pay`, the TUI and the imports)."""
    require_write(actor, _("record a payment"))
    if amount.minor <= 0:
        raise UsageError(_("a payment must be positive, not {amount}").format(
            amount=show_money(amount.minor, amount.currency)))
    invoices = locked_invoices(session, invoice_ids, actor)
    order = {invoice_id: n for n, invoice_id in enumerate(invoice_ids)}
    invoices.sort(key=lambda invoice: order[invoice.id])
    debtors = {invoice.debtor_id for invoice in invoices}
    if len(debtors) != 1:
        raise UsageError(_("one payment pays invoices of one debtor"))
    first = invoices[0]
    allocations = book.share_out(invoices, amount.minor, amount.currency)
    if not allocations:
        raise UsageError(_("invoice {number} has nothing left to pay (balance {balance})")
                         .format(number=first.number,
                                 balance=show_money(first.balance_minor, first.currency))
                         if len(invoices) == 1 else
                         _("the invoices named have nothing left to pay"))
    return book.record_payment(session, creditor_id=first.creditor_id,
                               debtor_id=first.debtor_id, amount=amount,
                               received_on=received_on, reference=reference,
                               actor=actor.name, allocations=allocations, today=today)


def record_credit_note(session: Session, actor: Actor, invoice_id: int, *, amount: Money,
                       on: dt.date, reference: str, today: dt.date | None = None) -> Payment:
    """A credit note granted on an invoice: its balance goes down as by a payment, and
    the book says it was a credit note. It cannot exceed the invoice's balance."""
    require_write(actor, _("record a credit note"))
    if not reference.strip():
        raise UsageError(_("a credit note needs its number (the reference)"))
    invoice = locked_invoices(session, [invoice_id], actor)[0]
    return book.record_payment(session, creditor_id=invoice.creditor_id,
                               debtor_id=invoice.debtor_id, amount=amount, received_on=on,
                               reference=reference.strip(), actor=actor.name,
                               allocations=[(invoice.id, amount.minor)],
                               kind=PaymentKind.CREDIT_NOTE, source="manual", today=today)


def _require_payment_visible(session: Session, actor: Actor, payment_id: int) -> None:
    """A payment of a creditor the actor may not see is refused as one that does not
    exist (the store's own refusal of an unknown id says the same)."""
    payment = session.get(Payment, payment_id)
    if payment is not None:
        require_visible(session, actor, payment.creditor_id,
                        _("no payment {id}").format(id=payment_id))


def reverse_payment(session: Session, actor: Actor, payment_id: int, *, on: dt.date,
                    reason: str, today: dt.date | None = None) -> Payment:
    """A payment that did not hold (a direct debit returned, a cheque bounced): its
    invoices reopen and are chased again."""
    require_write(actor, _("reverse a payment"))
    _require_payment_visible(session, actor, payment_id)
    return book.reverse_payment(session, payment_id, on=on, reason=reason, actor=actor.name,
                                today=today)


def allocate_payment(session: Session, actor: Actor, payment_id: int, *,
                     debtor_id: int | None = None,
                     allocations: Sequence[tuple[int, int]] | None = None,
                     today: dt.date | None = None) -> list[book.Allocation]:
    """Allocate a payment in suspense (or a credit on account) to a debtor's invoices."""
    require_write(actor, _("allocate a payment"))
    _require_payment_visible(session, actor, payment_id)
    return book.allocate_payment(session, payment_id, actor=actor.name, debtor_id=debtor_id,
                                 allocations=allocations, today=today)
