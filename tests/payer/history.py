"""A hand-built history of three debtors, written through the real case functions
(payments through `store.book`, disputes through `engine.case_holds`), with the payer
profile each should get on D worked out by hand below.

D = 2026-06-15; the window is 2025-06-15 .. 2026-06-14 (365 days, D excluded).

Debtor A (a promise breaker):
  I1 1000.00 due 2026-03-01: 400.00 on 03-11 (10 days late), 600.00 on 04-10 (40 days)
  I2  500.00 due 2026-05-01: 500.00 on 04-28 (early: 0 days)
  I3 2000.00 due 2025-05-01: paid 2025-06-01, before the window: not counted
  I4  300.00 due 2026-05-15: open; a 50.00 credit note on 06-01 (not a payment)
  days_late_avg = (40000*10 + 60000*40 + 50000*0) / (40000 + 60000 + 50000)
                = 2800000 / 150000 = 18.666... -> 18.67
  reminders before payment: I1 (paid 04-10): letter 03-05 sent, e-mail 03-20 sent -> 2;
    not the SMS queued 04-10 (the day of payment), the rejected letter of 03-25, the
    call of 03-28 (a call is no reminder); I2 (paid 04-28): none -> 0
  paid_after_reminders = (2 + 0) / 2 = 1.00
  promises: 03-01 kept, 04-01 broken, 05-01 open and past (broken); not counted: 05-10
    cancelled, 07-01 still to come, 2025-06-01 before the window
  promises_kept_ratio = 1 / 3 = 0.333... -> 0.33
  disputes: I4 opened 05-20 and still open, I1 opened 02-01 and closed since -> 2
    (I3's dispute of 2025-05-02, closed since, is before the window)
  payer_class: 18.67 days is neither good (<= 5) nor bad (>= 30), but 0.33 of promises
    kept is at most 0.5 -> bad; with bad_max_promises_kept = 0.3 -> slow

Debtor B (a good payer):
  I5 1000.00 due 2026-04-01: paid 04-03 (2 days late)
  I8  100.00 due 2025-06-05: paid 2025-06-15, the window's first day (10 days late)
  I6  200.00 due 2026-06-10: 50.00 paid on D itself (not history yet), open
  days_late_avg = (100000*2 + 10000*10) / (100000 + 10000) = 300000 / 110000
                = 2.7272... -> 2.73
  reminders: I5: the letter of 04-02, sent -> 1; I8: none -> 0; mean 0.5 -> 0.50
  promises: none -> no ratio; disputes: 0
  payer_class: 2.73 <= 5 -> good

Debtor C (new): I7 200.00 due 2026-06-10, open, nothing else: no averages, 0 disputes,
  class new.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from relance.engine import case_holds
from relance.engine.fixtures import write_book
from relance.engine.roles import Actor, Role
from relance.kernel.money import Money
from relance.store import book
from relance.store.db import Store
from relance.store.models import Invoice, PaymentKind

D = dt.date(2026, 6, 15)
CLERK = Actor("clerk", Role.CREDIT_MANAGER)

# What the rules read, hand-computed above (averages as the decimal texts recorded).
EXPECTED: dict[str, dict[str, Any]] = {
    "A": {"days_late_avg": "18.67", "paid_after_reminders": "1.00",
          "promises_kept_ratio": "0.33", "disputes_12m": 2, "payer_class": "bad"},
    "B": {"days_late_avg": "2.73", "paid_after_reminders": "0.50",
          "promises_kept_ratio": None, "disputes_12m": 0, "payer_class": "good"},
    "C": {"days_late_avg": None, "paid_after_reminders": None,
          "promises_kept_ratio": None, "disputes_12m": 0, "payer_class": "new"},
}


def day(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def _invoice(number: str, debtor: str, amount: str, due: str) -> dict[str, Any]:
    due_on = day(due)
    return {"number": number, "debtor": debtor, "amount": amount, "due_date": due_on,
            "issue_date": due_on - dt.timedelta(days=30)}


def _sent(invoice: str, acted_on: str, channel: str = "letter",
          state: str = "sent") -> dict[str, Any]:
    return {"invoice": invoice, "policy": "dunning", "rule": f"{channel}_{acted_on}",
            "channel": channel, "acted_on": day(acted_on), "state": state}


BOOK: dict[str, Any] = {
    "creditor": {"code": "C", "country": "FR"},
    "debtors": [{"ref": "A"}, {"ref": "B"}, {"ref": "C"}],
    "invoices": [
        _invoice("I1", "A", "1000.00", "2026-03-01"),
        _invoice("I2", "A", "500.00", "2026-05-01"),
        _invoice("I3", "A", "2000.00", "2025-05-01"),
        _invoice("I4", "A", "300.00", "2026-05-15"),
        _invoice("I5", "B", "1000.00", "2026-04-01"),
        _invoice("I8", "B", "100.00", "2025-06-05"),
        _invoice("I6", "B", "200.00", "2026-06-10"),
        _invoice("I7", "C", "200.00", "2026-06-10"),
    ],
    "promises": [
        {"debtor": "A", "promised_on": day("2026-03-01"), "status": "kept"},
        {"debtor": "A", "promised_on": day("2026-04-01"), "status": "broken"},
        {"debtor": "A", "promised_on": day("2026-05-01")},
        {"debtor": "A", "promised_on": day("2026-05-10"), "status": "cancelled"},
        {"debtor": "A", "promised_on": day("2026-07-01")},
        {"debtor": "A", "promised_on": day("2025-06-01"), "status": "broken"},
    ],
    "history": [
        _sent("I1", "2026-03-05"),
        _sent("I1", "2026-03-20", "email"),
        _sent("I1", "2026-04-10", "sms"),
        _sent("I1", "2026-03-25", state="rejected"),
        _sent("I1", "2026-03-28", "call"),
        _sent("I5", "2026-04-02"),
    ],
}

# (invoice, amount, received on, kind)
PAYMENTS = [
    ("I1", "400.00", "2026-03-11", PaymentKind.PAYMENT),
    ("I1", "600.00", "2026-04-10", PaymentKind.PAYMENT),
    ("I2", "500.00", "2026-04-28", PaymentKind.PAYMENT),
    ("I3", "2000.00", "2025-06-01", PaymentKind.PAYMENT),
    ("I4", "50.00", "2026-06-01", PaymentKind.CREDIT_NOTE),
    ("I5", "1000.00", "2026-04-03", PaymentKind.PAYMENT),
    ("I8", "100.00", "2025-06-15", PaymentKind.PAYMENT),
    ("I6", "50.00", "2026-06-15", PaymentKind.PAYMENT),
]

# (invoice, opened on, closed afterwards)
DISPUTES = [("I3", "2025-05-02", True), ("I1", "2026-02-01", True), ("I4", "2026-05-20", False)]


def write_history(store: Store) -> dict[str, int]:
    """The history above, through the real case functions; invoice number -> id."""
    with store.transaction() as session:
        ids = write_book(session, BOOK)
        for number, amount, received, kind in PAYMENTS:
            invoice = session.get(Invoice, ids[number])
            assert invoice is not None
            money = Money.of(amount, "EUR")
            book.record_payment(
                session, creditor_id=invoice.creditor_id, debtor_id=invoice.debtor_id,
                amount=money, received_on=day(received), reference=f"{number} {received}",
                actor="clerk", allocations=[(invoice.id, money.minor)], kind=kind,
                today=day(received))
        for number, opened, closed in DISPUTES:
            case_holds.open_dispute(session, CLERK, [ids[number]], reason="quality",
                                    today=day(opened))
            if closed:
                case_holds.close_dispute(session, CLERK, [ids[number]], resolution="settled")
    return ids
