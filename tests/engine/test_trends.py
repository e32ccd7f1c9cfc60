"""The dashboard's trends, on a book small enough to age by hand: each month-end's aged
balance per bucket and DSO, rebuilt from the invoices and the payments' dates."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from relance.engine import aging
from relance.engine.case_payments import pay_invoices
from relance.engine.roles import Actor, Role
from relance.engine.trends import month_ends, trends
from relance.kernel.money import Money
from relance.store.db import Store
from relance.store.models import InvoiceStatus
from tests.casework.factory import add_creditor, add_debtor, add_invoice

TODAY = dt.date(2026, 11, 20)
BRUNO = Actor("bruno", Role.OPERATOR)


def _book(store: Store) -> None:
    """EUR: A (1 000.00, issued 1 June, due 1 July; 400.00 paid on 15 September) and
    B (500.00, issued 10 October, due 9 November); a cancelled invoice. CHF: C (200.00,
    issued 1 August, due 31 August, paid in full on 5 October)."""
    with store.write_transaction() as session:
        creditor = add_creditor(session)
        debtor = add_debtor(session, creditor, "F-1", "Salon Lyon")
        a = add_invoice(session, debtor, "A", 100_000, dt.date(2026, 7, 1))
        add_invoice(session, debtor, "B", 50_000, dt.date(2026, 11, 9))
        gone = add_invoice(session, debtor, "X", 900_000, dt.date(2026, 9, 1))
        gone.status = InvoiceStatus.CANCELLED
        c = add_invoice(session, debtor, "C", 20_000, dt.date(2026, 8, 31), currency="CHF")
        session.flush()
        pay_invoices(session, BRUNO, [a.id], amount=Money("EUR", 40_000),
                     received_on=dt.date(2026, 9, 15), reference="VIR A", today=TODAY)
        pay_invoices(session, BRUNO, [c.id], amount=Money("CHF", 20_000),
                     received_on=dt.date(2026, 10, 5), reference="VIR C", today=TODAY)


def test_month_ends_run_to_today() -> None:
    ends = month_ends(TODAY)
    assert len(ends) == 12
    assert ends[0] == dt.date(2025, 12, 31)
    assert ends[1] == dt.date(2026, 1, 31)
    assert ends[2] == dt.date(2026, 2, 28)
    assert ends[-2:] == [dt.date(2026, 10, 31), TODAY]


def test_each_month_aged_as_it_stood(store: Store) -> None:
    _book(store)
    with store.session() as session:
        found = {trend.currency: trend for trend in trends(session, TODAY)}
    assert list(found) == ["EUR", "CHF"]  # the most owed today first
    eur = {point.on: point for point in found["EUR"].points}
    chf = {point.on: point for point in found["CHF"].points}
    # Before A was issued nothing was owed, and nothing was sold.
    assert eur[dt.date(2026, 5, 31)].buckets == (0, 0, 0, 0, 0)
    assert eur[dt.date(2026, 5, 31)].dso is None
    # A not due yet, the only sale of the last 90 days: DSO 90 days.
    assert eur[dt.date(2026, 6, 30)].buckets == (100_000, 0, 0, 0, 0)
    assert eur[dt.date(2026, 6, 30)].dso == Decimal("90.0")
    assert eur[dt.date(2026, 7, 31)].buckets == (0, 100_000, 0, 0, 0)
    # 61 days late; A was sold more than 90 days before: no DSO.
    assert eur[dt.date(2026, 8, 31)].buckets == (0, 0, 0, 100_000, 0)
    assert eur[dt.date(2026, 8, 31)].dso is None
    # The 400.00 of 15 September counts from September on.
    assert eur[dt.date(2026, 9, 30)].buckets == (0, 0, 0, 0, 60_000)
    # B sold in October: 1 100.00 owed for 500.00 sold in 90 days, 198 days.
    assert eur[dt.date(2026, 10, 31)].buckets == (50_000, 0, 0, 0, 60_000)
    assert eur[dt.date(2026, 10, 31)].dso == Decimal("198.0")
    assert eur[TODAY].buckets == (0, 50_000, 0, 0, 60_000)
    assert chf[dt.date(2026, 8, 31)].buckets == (20_000, 0, 0, 0, 0)
    assert chf[dt.date(2026, 8, 31)].dso == Decimal("90.0")
    assert chf[dt.date(2026, 9, 30)].buckets == (0, 20_000, 0, 0, 0)
    # Paid in full on 5 October.
    assert chf[dt.date(2026, 10, 31)].buckets == (0, 0, 0, 0, 0)
    assert chf[TODAY].total == 0


def test_today_is_the_aged_balance_of_today(store: Store) -> None:
    _book(store)
    with store.session() as session:
        found = {trend.currency: trend.points[-1] for trend in trends(session, TODAY)}
        today = aging.aged_balance(session, on=TODAY, by="currency")
    for total in today.totals:
        assert found[total.currency].buckets == total.buckets
        assert found[total.currency].dso == today.dso[total.currency]
