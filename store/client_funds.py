"""Posting to the client-funds ledger: money the firm collected for a creditor.

When a collection firm has taken a debtor's case under a creditor's mandate, the
debtor pays the firm, and the firm holds that money for the creditor until it remits it
(CPCE R124-6). `store/book.py` calls this module in the transaction that records or
reverses a payment, so the book, the ledger and the messages the law asks for land
together or not at all:

- `post_collected`: a payment (not a credit note) of a debtor whose case is under
  mandate, received on or after the day the case was opened, was collected by the firm.
  It posts one `COLLECTED` entry (booked on the day received) and queues, approved, a
  receipt to the debtor (R124-6: by e-mail when the debtor has an address, else by
  letter) and a notice of the payment to the creditor (R124-5: an e-mail to its
  contact address). A payment posts at most once: the ledger's (payment, kind) is
  unique and the actions' idempotency keys are `receipt:{payment}` and
  `funds-notice:{payment}`.
- `post_reversed`: a collected payment taken back posts one negative `REVERSED` entry
  (booked on the day of the reversal); a receipt or notice not sent yet is cancelled,
  since the money did not hold.

The facts a receipt states (amount, day, what it paid, what remains, the case's
reference) are written on the action when it is queued, as they were at that moment:
the message says what happened then, not what the book says on the day it is sent.
`relance.channels.fund_notices` turns them into the template's words.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from relance.store import audit
from relance.store.content import content_hash
from relance.store.models import (
    Action,
    ActionState,
    Channel,
    Creditor,
    Debtor,
    FundEntry,
    FundEntryKind,
    Invoice,
    InvoiceStatus,
    Mandate,
    MandateCase,
    Payment,
    PaymentKind,
    utcnow,
)

RECEIPT_TEMPLATE = "quittance"
CREDITOR_NOTICE_TEMPLATE = "avis_encaissement"
# The key of `Action.output` holding the facts a receipt or a notice states.
NOTICE_KEY = "fund_notice"
# The key of `Action.output` that sends an e-mail to the creditor's contact address
# instead of the debtor. Not "to": the dispatcher writes the address it used there.
ADDRESSEE_KEY = "addressee"
# What may still be stopped: actions not yet taken by a dispatcher.
_UNSENT = (ActionState.PROPOSED, ActionState.APPROVED, ActionState.RETRY_WAIT)


def receipt_key(payment_id: int) -> str:
    return f"receipt:{payment_id}"  # not for people: an idempotency key


def creditor_notice_key(payment_id: int) -> str:
    return f"funds-notice:{payment_id}"  # not for people: an idempotency key


def case_under_mandate(session: Session, debtor_id: int,
                       on: dt.date) -> tuple[MandateCase, Mandate] | None:
    """The debtor's case the firm holds under a mandate on day `on` (opened that day or
    before), with its mandate; the latest opened when there are several."""
    row = session.execute(
        select(MandateCase, Mandate)
        .join(Mandate, Mandate.id == MandateCase.mandate_id)
        .where(MandateCase.debtor_id == debtor_id, MandateCase.opened_on <= on)
        .order_by(MandateCase.opened_on.desc(), MandateCase.id.desc())
        .limit(1)).first()
    return (row[0], row[1]) if row is not None else None


def _entry(session: Session, payment_id: int, kind: FundEntryKind) -> FundEntry | None:
    return session.scalars(select(FundEntry).where(
        FundEntry.payment_id == payment_id, FundEntry.kind == kind)).one_or_none()


def _still_owed(session: Session, debtor_id: int, currency: str) -> int:
    """What the debtor still owes in this currency, after the payment."""
    return int(session.scalar(select(func.coalesce(func.sum(Invoice.balance_minor), 0)).where(
        Invoice.debtor_id == debtor_id, Invoice.currency == currency,
        Invoice.balance_minor > 0, Invoice.status != InvoiceStatus.CANCELLED)) or 0)


def _facts(session: Session, payment: Payment, case: MandateCase,
           mandate: Mandate) -> dict[str, Any]:
    """What the receipt and the notice state, exact (minor units, ISO days)."""
    invoices = {invoice.id: invoice for invoice in session.scalars(select(Invoice).where(
        Invoice.id.in_([a.invoice_id for a in payment.allocations])))}
    numbers = {invoice_id: invoice.number for invoice_id, invoice in invoices.items()}
    balances = {invoice_id: invoice.balance_minor for invoice_id, invoice in invoices.items()}
    allocated = sum(a.amount_minor for a in payment.allocations)
    assert payment.debtor_id is not None  # only a debtor's payment is collected
    return {
        "payment_id": payment.id,
        "amount_minor": payment.amount_minor,
        "currency": payment.currency,
        "received_on": payment.received_on.isoformat(),
        "reference": payment.reference,
        "paid": [{"number": numbers[a.invoice_id], "amount_minor": a.amount_minor,
                  "balance_after_minor": balances[a.invoice_id]}
                 for a in sorted(payment.allocations, key=lambda a: numbers[a.invoice_id])],
        "on_account_minor": payment.amount_minor - allocated,
        "still_owed_minor": _still_owed(session, payment.debtor_id, payment.currency),
        "case_reference": case.reference,
        "case_opened_on": case.opened_on.isoformat(),
        "mandate_reference": mandate.reference,
    }


def _notice_language(creditor: Creditor) -> str:
    """The creditor is written to in the first language of its list (French if none)."""
    languages = [str(code) for code in (creditor.languages or []) if code]
    return languages[0] if languages else "fr"


def _queue(session: Session, *, key: str, payment: Payment, channel: Channel,
           template: str, output: dict[str, Any], today: dt.date, actor: str) -> Action:
    assert payment.debtor_id is not None
    action = Action(
        idempotency_key=key, creditor_id=payment.creditor_id, debtor_id=payment.debtor_id,
        created_on=today, channel=channel, template=template, state=ActionState.APPROVED,
        requires_approval=False, proposed_by=actor, approved_by=actor,
        approved_at=utcnow(),
        # No invoice lines: the queue's settling leaves the action as it is (the law
        # asks for the message whatever the invoices become).
        content_hash=content_hash(debtor_id=payment.debtor_id, channel=channel.value,
                                  template=template, tone=None, target_stage=None,
                                  lines=[]),
        output=output)
    session.add(action)
    return action


def post_collected(session: Session, payment: Payment, *, actor: str,
                   today: dt.date) -> FundEntry | None:
    """Post `payment` to its creditor's client funds if the firm collected it (see the
    module doc), with its receipt and the creditor's notice; None when it is not the
    firm's, or was posted already. Runs in the caller's transaction."""
    if payment.kind != PaymentKind.PAYMENT or payment.debtor_id is None:
        return None
    if payment.reversed_on is not None:
        return None
    found = case_under_mandate(session, payment.debtor_id, payment.received_on)
    if found is None or _entry(session, payment.id, FundEntryKind.COLLECTED) is not None:
        return None
    case, mandate = found
    entry = FundEntry(
        creditor_id=payment.creditor_id, mandate_id=mandate.id, mandate_case_id=case.id,
        debtor_id=payment.debtor_id, payment_id=payment.id, kind=FundEntryKind.COLLECTED,
        amount_minor=payment.amount_minor, currency=payment.currency,
        booked_on=payment.received_on)
    session.add(entry)
    session.flush()
    facts = _facts(session, payment, case, mandate)
    debtor = session.get(Debtor, payment.debtor_id)
    creditor = session.get(Creditor, payment.creditor_id)
    assert debtor is not None and creditor is not None  # foreign keys
    receipt = _queue(
        session, key=receipt_key(payment.id), payment=payment,
        channel=Channel.EMAIL if debtor.email else Channel.LETTER,
        template=RECEIPT_TEMPLATE, output={NOTICE_KEY: facts}, today=today, actor=actor)
    notice = _queue(
        session, key=creditor_notice_key(payment.id), payment=payment,
        channel=Channel.EMAIL, template=CREDITOR_NOTICE_TEMPLATE,
        output={NOTICE_KEY: facts, ADDRESSEE_KEY: "creditor",
                "language": _notice_language(creditor)},
        today=today, actor=actor)
    session.flush()
    audit.record(session, actor=actor, kind="funds.collected", subject_type="fund_entry",
                 subject_id=entry.id, creditor_id=payment.creditor_id,
                 debtor_id=payment.debtor_id,
                 data={"payment_id": payment.id, "amount_minor": payment.amount_minor,
                       "currency": payment.currency,
                       "booked_on": entry.booked_on.isoformat(),
                       "mandate": mandate.reference, "case": case.reference,
                       "receipt_action": receipt.id, "creditor_notice_action": notice.id})
    return entry


def post_reversed(session: Session, payment: Payment, *, on: dt.date,
                  actor: str) -> FundEntry | None:
    """A collected payment taken back: its negative entry, booked on `on`, and its
    receipt and notice cancelled if not sent yet; None when the payment was never
    collected by the firm, or its reversal was posted already."""
    collected = _entry(session, payment.id, FundEntryKind.COLLECTED)
    if collected is None or _entry(session, payment.id, FundEntryKind.REVERSED) is not None:
        return None
    entry = FundEntry(
        creditor_id=collected.creditor_id, mandate_id=collected.mandate_id,
        mandate_case_id=collected.mandate_case_id, debtor_id=collected.debtor_id,
        payment_id=payment.id, kind=FundEntryKind.REVERSED,
        amount_minor=-collected.amount_minor, currency=collected.currency, booked_on=on)
    session.add(entry)
    cancelled = []
    for action in session.scalars(select(Action).where(
            Action.idempotency_key.in_([receipt_key(payment.id),
                                        creditor_notice_key(payment.id)]),
            Action.state.in_(_UNSENT)).with_for_update()):
        action.state = ActionState.CANCELLED
        cancelled.append(action.id)
    session.flush()
    audit.record(session, actor=actor, kind="funds.reversed", subject_type="fund_entry",
                 subject_id=entry.id, creditor_id=entry.creditor_id,
                 debtor_id=entry.debtor_id,
                 data={"payment_id": payment.id, "amount_minor": entry.amount_minor,
                       "currency": entry.currency, "booked_on": on.isoformat(),
                       "collected_entry": collected.id,
                       "remitted_already": collected.remittance_id is not None,
                       "cancelled_actions": cancelled})
    return entry


__all__ = [
    "ADDRESSEE_KEY",
    "CREDITOR_NOTICE_TEMPLATE",
    "NOTICE_KEY",
    "RECEIPT_TEMPLATE",
    "case_under_mandate",
    "creditor_notice_key",
    "post_collected",
    "post_reversed",
    "receipt_key",
]
