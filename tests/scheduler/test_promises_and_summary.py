"""The promise check and the morning summary on a real book, SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from relance.scheduler.promises import check_promises
from relance.scheduler.summary import build_summary
from relance.store.audit import verify
from relance.store.db import Store
from relance.store.models import (
    Creditor,
    Debtor,
    Event,
    Invoice,
    InvoiceStatus,
    Payment,
    PaymentAllocation,
    Promise,
    PromiseStatus,
)

TODAY = dt.date(2026, 3, 10)


def book(store: Store) -> dict[str, int]:
    """Two debtors; promises of every kind, some due, one not yet."""
    ids: dict[str, int] = {}
    with store.transaction() as session:
        creditor = Creditor(code="ACME", name="Acme SAS")
        session.add(creditor)
        session.flush()
        debtors = [Debtor(creditor_id=creditor.id, ref=f"D{n}", name=f"Client {n}")
                   for n in (1, 2)]
        session.add_all(debtors)
        session.flush()

        def invoice(number: str, debtor: Debtor, balance: int) -> Invoice:
            inv = Invoice(creditor_id=creditor.id, debtor_id=debtor.id, number=number,
                          issue_date=dt.date(2026, 1, 1), due_date=dt.date(2026, 2, 1),
                          currency="EUR", amount_minor=100_000,
                          paid_minor=100_000 - balance, balance_minor=balance,
                          status=InvoiceStatus.OPEN if balance else InvoiceStatus.PAID)
            session.add(inv)
            session.flush()
            ids[number] = inv.id
            return inv

        unpaid = invoice("F-UNPAID", debtors[0], 100_000)
        paid = invoice("F-PAID", debtors[0], 0)
        partly = invoice("F-PARTLY", debtors[1], 40_000)
        invoice("F-OTHER", debtors[1], 100_000)

        def promise(name: str, debtor: Debtor, on: dt.date, invoice: Invoice | None,
                    amount: int | None = None) -> None:
            made = Promise(creditor_id=creditor.id, debtor_id=debtor.id,
                           invoice_id=None if invoice is None else invoice.id,
                           promised_on=on, amount_minor=amount,
                           currency=None if amount is None else "EUR",
                           created_at=dt.datetime(2026, 2, 20, 9, tzinfo=dt.UTC))
            session.add(made)
            session.flush()
            ids[name] = made.id

        promise("broken", debtors[0], dt.date(2026, 3, 9), unpaid)
        promise("kept", debtors[0], dt.date(2026, 3, 9), paid)
        promise("amount_kept", debtors[1], dt.date(2026, 3, 6), partly, amount=60_000)
        promise("all_broken", debtors[1], dt.date(2026, 3, 2), None)
        promise("not_yet", debtors[0], TODAY, unpaid)  # its day is today: still open
        payment = Payment(creditor_id=creditor.id, debtor_id=debtors[1].id,
                          received_on=dt.date(2026, 3, 5), currency="EUR", amount_minor=60_000)
        payment.allocations.append(PaymentAllocation(invoice_id=partly.id,
                                                     amount_minor=60_000))
        session.add(payment)
    return ids


def test_promises_that_fell_due_are_settled_once(store: Store) -> None:
    ids = book(store)
    result = check_promises(store, TODAY, actor="scheduler")
    assert result.as_dict() == {"checked": 4, "kept": 2, "broken": 2}
    with store.transaction() as session:
        status = {name: session.get(Promise, ids[name]).status  # type: ignore[union-attr]
                  for name in ("broken", "kept", "amount_kept", "all_broken", "not_yet")}
        events = session.execute(select(Event).where(Event.kind.like("promise.%"))
                                 .order_by(Event.id)).scalars().all()
        assert verify(session) == []
    assert status == {"broken": PromiseStatus.BROKEN, "kept": PromiseStatus.KEPT,
                      "amount_kept": PromiseStatus.KEPT, "all_broken": PromiseStatus.BROKEN,
                      "not_yet": PromiseStatus.OPEN}
    broken = [e for e in events if e.kind == "promise.broken"]
    assert sorted(e.subject_id for e in broken) == sorted(
        str(ids[n]) for n in ("broken", "all_broken"))
    assert {e.actor for e in events} == {"scheduler"}
    by_subject = {e.subject_id: e.data for e in broken}
    assert by_subject[str(ids["broken"])]["open_invoices"] == ["F-UNPAID"]
    assert by_subject[str(ids["all_broken"])]["open_invoices"] == ["F-PARTLY", "F-OTHER"]
    # A second check the same day (a catch-up, a second process) changes nothing.
    assert check_promises(store, TODAY).as_dict() == {"checked": 0, "kept": 0, "broken": 0}
    # The next day, the promise whose day was today is broken in its turn.
    assert check_promises(store, TODAY + dt.timedelta(days=1)).broken == 1


def test_the_morning_summary_reads_the_book(store: Store) -> None:
    book(store)
    check_promises(store, TODAY)
    now = dt.datetime(2026, 3, 10, 7, 30, tzinfo=dt.UTC)
    summary = build_summary(store, TODAY, now=now,
                            start_of_day=dt.datetime(2026, 3, 9, 23, tzinfo=dt.UTC))
    assert summary.open_by_currency == {"EUR": 240_000}
    assert summary.overdue_by_currency == {"EUR": 240_000}
    assert summary.open_invoices == 3
    text = summary.render()
    assert "morning summary for 10/03/2026" in text
    assert "Open balance €2,400.00, of which overdue €2,400.00." in text
    assert "Today's run: not done yet." in text
    assert "promises broken today: 2." in text
