"""Recording payments: allocation, balances, status and the event, on both databases."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from relance.kernel.errors import NotFound, UsageError
from relance.kernel.money import Money
from relance.store.book import record_payment
from relance.store.db import Store
from relance.store.models import Event, Invoice, InvoiceStatus, Payment
from tests.casework.factory import Book

ON = dt.date(2026, 11, 21)


def _invoice(store: Store, invoice_id: int) -> Invoice:
    with store.session() as session:
        found = session.get(Invoice, invoice_id)
        assert found is not None
        return found


def test_oldest_due_first_and_surplus_on_account(store: Store, book: Book) -> None:
    with store.transaction() as session:
        payment = record_payment(
            session, creditor_id=book.creditor_id, debtor_id=book.debtors["F-0001"],
            amount=Money.of("1500.00", "EUR"), received_on=ON, reference="VIR 123",
            actor="alice")
        payment_id = payment.id
    first, second = _invoice(store, book.invoices["FA-1"]), _invoice(store, book.invoices["FA-2"])
    assert (first.paid_minor, first.balance_minor, first.status) == (125_000, 0, InvoiceStatus.PAID)
    assert (second.paid_minor, second.balance_minor, second.status) == (
        25_000, 73_040, InvoiceStatus.OPEN)
    with store.session() as session:
        event = session.scalars(select(Event).where(Event.kind == "payment.recorded")).one()
        assert event.actor == "alice" and event.subject_id == str(payment_id)
        assert [a["number"] for a in event.data["allocations"]] == ["FA-1", "FA-2"]
        assert event.data["unallocated_minor"] == 0


def test_overpayment_keeps_the_surplus_unallocated(store: Store, book: Book) -> None:
    with store.transaction() as session:
        record_payment(session, creditor_id=book.creditor_id, debtor_id=book.debtors["F-0001"],
                       amount=Money.of("3000", "EUR"), received_on=ON, reference="",
                       actor="alice")
    with store.session() as session:
        event = session.scalars(select(Event).where(Event.kind == "payment.recorded")).one()
        assert event.data["unallocated_minor"] == 300_000 - 125_000 - 98_040


def test_chosen_allocation_partial(store: Store, book: Book) -> None:
    with store.transaction() as session:
        record_payment(session, creditor_id=book.creditor_id, debtor_id=book.debtors["F-0001"],
                       amount=Money.of("400", "EUR"), received_on=ON, reference="CHQ 9",
                       actor="alice", allocations=[(book.invoices["FA-2"], 40_000)])
    assert _invoice(store, book.invoices["FA-1"]).balance_minor == 125_000
    assert _invoice(store, book.invoices["FA-2"]).balance_minor == 58_040


def test_over_allocation_is_refused_and_nothing_written(store: Store, book: Book) -> None:
    with pytest.raises(UsageError, match=r"FA-2.*more than its balance"), \
            store.transaction() as session:
        record_payment(session, creditor_id=book.creditor_id, debtor_id=book.debtors["F-0001"],
                       amount=Money.of("2000", "EUR"), received_on=ON, reference="",
                       actor="alice", allocations=[(book.invoices["FA-1"], 100_000),
                                                   (book.invoices["FA-2"], 98_041)])
    with store.session() as session:
        assert session.scalars(select(Payment)).all() == []
        assert session.scalars(select(Event)).all() == []
    assert _invoice(store, book.invoices["FA-1"]).balance_minor == 125_000


def test_allocations_beyond_the_payment_are_refused(store: Store, book: Book) -> None:
    with pytest.raises(UsageError, match="more than the payment"), \
            store.transaction() as session:
        record_payment(session, creditor_id=book.creditor_id, debtor_id=None,
                       amount=Money.of("100", "EUR"), received_on=ON, reference="",
                       actor="alice", allocations=[(book.invoices["FA-1"], 20_000)])


def test_currency_mismatch_names_the_invoice(store: Store, book: Book) -> None:
    with pytest.raises(UsageError, match="invoice FA-4 is in EUR, the payment in CHF"), \
            store.transaction() as session:
        record_payment(session, creditor_id=book.creditor_id, debtor_id=None,
                       amount=Money.of("100", "CHF"), received_on=ON, reference="",
                       actor="alice", allocations=[(book.invoices["FA-4"], 10_000)])


def test_unknown_invoice_and_non_positive_amount(store: Store, book: Book) -> None:
    with pytest.raises(NotFound), store.transaction() as session:
        record_payment(session, creditor_id=book.creditor_id, debtor_id=None,
                       amount=Money.of("1", "EUR"), received_on=ON, reference="",
                       actor="alice", allocations=[(999_999, 100)])
    with pytest.raises(UsageError, match="positive"), store.transaction() as session:
        record_payment(session, creditor_id=book.creditor_id, debtor_id=None,
                       amount=Money.of("0", "EUR"), received_on=ON, reference="", actor="a")


def test_payment_without_debtor_takes_the_invoices_debtor(store: Store, book: Book) -> None:
    with store.transaction() as session:
        payment = record_payment(
            session, creditor_id=book.creditor_id, debtor_id=None,
            amount=Money.of("100", "EUR"), received_on=ON, reference="", actor="alice",
            allocations=[(book.invoices["FA-4"], 10_000)], source="csv")
        assert payment.debtor_id == book.debtors["F-0003"]
