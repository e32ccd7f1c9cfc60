"""Whatever sequence of payments, reversals, credit notes, allocations, plans and undos
an operator makes, every invoice's paid and open amounts add up to its amount to the
cent, and no waiting action still chases an invoice that is settled."""

from __future__ import annotations

import contextlib
import datetime as dt
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from relance.engine import casework, plans, undo
from relance.engine.casework import Conflict
from relance.engine.roles import Actor, Role
from relance.kernel.errors import RelanceError
from relance.kernel.money import Money
from relance.store.db import Store, open_store
from relance.store.models import Action, Event, Invoice, ItemState, Payment
from relance.store.settle import PENDING_STATES
from tests.casework.factory import TODAY, Book, build_book
from tests.conftest import PG_URL, PostgresSchemas

# Long hypothesis campaigns (dozens of random books each): not in the quick set.
pytestmark = pytest.mark.slow

BRUNO = Actor("bruno", Role.OPERATOR)
NUMBERS = ("FA-1", "FA-2", "FA-3", "FA-4", "FA-5")

steps = st.lists(st.one_of(
    st.tuples(st.just("pay"), st.sampled_from(NUMBERS), st.integers(1, 900_000)),
    st.tuples(st.just("pay_debtor"), st.sampled_from(("F-0001", "F-0002", "F-0003")),
              st.integers(1, 900_000)),
    st.tuples(st.just("credit"), st.sampled_from(NUMBERS), st.integers(1, 400_000)),
    st.tuples(st.just("reverse"), st.integers(0, 9), st.just(0)),
    st.tuples(st.just("allocate"), st.integers(0, 9), st.just(0)),
    st.tuples(st.just("plan"), st.sampled_from(NUMBERS), st.integers(1, 4)),
    st.tuples(st.just("undo"), st.integers(0, 30), st.just(0)),
), min_size=1, max_size=12)


def _apply(store: Store, book: Book, step: tuple[str, Any, int]) -> None:
    kind, target, number = step
    with store.write_transaction() as session:
        payments = list(session.scalars(select(Payment.id).order_by(Payment.id)))
        if kind == "pay":
            casework.pay_invoices(session, BRUNO, [book.invoices[target]],
                                  amount=Money("EUR", number), received_on=TODAY,
                                  reference=f"P{number}", today=TODAY)
        elif kind == "pay_debtor":
            casework.record_payment(session, BRUNO, creditor_id=book.creditor_id,
                                    debtor_id=book.debtors[target],
                                    amount=Money("EUR", number), received_on=TODAY,
                                    reference=f"D{number}", today=TODAY)
        elif kind == "credit":
            casework.record_credit_note(session, BRUNO, book.invoices[target],
                                        amount=Money("EUR", number), on=TODAY,
                                        reference=f"AV{number}", today=TODAY)
        elif kind in ("reverse", "allocate") and payments:
            payment_id = payments[target % len(payments)]
            if kind == "reverse":
                casework.reverse_payment(session, BRUNO, payment_id, on=TODAY,
                                         reason="cheque unpaid", today=TODAY)
            else:
                casework.allocate_payment(session, BRUNO, payment_id, today=TODAY)
        elif kind == "plan":
            plans.create_plan(session, BRUNO, [book.invoices[target]], today=TODAY,
                              count=number, first=TODAY + dt.timedelta(days=10))
        elif kind == "undo":
            events = list(session.scalars(select(Event).order_by(Event.id)))
            undoable = [e for e in events if undo.can_undo(e)]
            if undoable:
                undo.undo(session, BRUNO, undoable[target % len(undoable)].id,
                          reason="test", today=TODAY)


def _check(store: Store) -> None:
    with store.session() as session:
        for invoice in session.scalars(select(Invoice)):
            assert invoice.paid_minor + invoice.balance_minor == invoice.amount_minor
            assert invoice.balance_minor >= 0
            assert (invoice.status.value == "paid") == (invoice.balance_minor == 0)
        for payment in session.scalars(select(Payment)):
            allocated = sum(a.amount_minor for a in payment.allocations)
            assert 0 <= allocated <= payment.amount_minor
            assert payment.reversed_on is None or allocated == 0
        for action in session.scalars(select(Action).where(Action.state.in_(PENDING_STATES))):
            for item in action.items:
                if item.state == ItemState.ACTIVE:
                    invoice = session.get_one(Invoice, item.invoice_id)
                    assert invoice.balance_minor > 0, (action.id, invoice.number)
                    assert item.balance_minor == invoice.balance_minor


def _run(store: Store, sequence: list[tuple[str, Any, int]]) -> None:
    with store.transaction() as session:
        book = build_book(session)
    for step in sequence:
        # A refused step is refused whole: nothing of it may remain, which _check sees.
        with contextlib.suppress(RelanceError, Conflict):
            _apply(store, book, step)
        _check(store)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sequence=steps)
def test_any_sequence_keeps_the_book_exact_and_the_queue_true_on_sqlite(
        sequence: list[tuple[str, Any, int]]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        store = open_store(f"sqlite:///{Path(folder) / 'relance.sqlite'}")
        try:
            _run(store, sequence)
        finally:
            store.dispose()


@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(sequence=steps)
def test_any_sequence_keeps_the_book_exact_and_the_queue_true_on_postgresql(
        pg_schemas: PostgresSchemas, sequence: list[tuple[str, Any, int]]) -> None:
    name = pg_schemas.create()
    store = open_store(PG_URL, schema=name)
    try:
        _run(store, sequence)
    finally:
        store.dispose()
        pg_schemas.drop(name)
