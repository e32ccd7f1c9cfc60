"""Fees and remittances to the cent: a month reconciles, a reversal after a remittance
comes back negative in the next one, the fixed fee is charged once and never more than
the case brought, and a remittance of a period already remitted finds nothing."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import select

from relance.engine import client_funds
from relance.engine.roles import NotAllowed
from relance.kernel.errors import NotFound
from relance.store.db import Store
from relance.store.models import FundEntry, MandateCase, Remittance
from tests.client_funds.factory import MANAGER, OPERATOR, Firm, build_firm, pay, reverse

MARCH = dt.date(2026, 3, 1)


def day(n: int, month: int = 3) -> dt.date:
    return dt.date(2026, month, n)


def _remit(store: Store, until: dt.date, made_on: dt.date,
           code: str = "ACME") -> list[client_funds.RemittanceFigures]:
    with store.write_transaction() as session:
        return client_funds.remit(session, MANAGER, code, until, made_on)


@pytest.mark.parametrize(("collected", "percent", "fee"), [
    (120_005, "12.5", 15_001),   # 150.00625 -> 150.01
    (-120_005, "12.5", -15_001),  # a reversal gives the same cent back
    (100_005, "10", 10_001),     # 10.005 exactly half: up
    (100_004, "10", 10_000),
    (1, "49.99", 0),
    (1, "50", 1),
    (0, "12.5", 0),
])
def test_percentage_fee_rounds_half_away_from_zero(collected: int, percent: str,
                                                   fee: int) -> None:
    assert client_funds.percent_fee(collected, Decimal(percent)) == fee


def test_the_fixed_fee_never_exceeds_what_the_case_brought() -> None:
    assert client_funds.case_fees(3_000, Decimal("10"), 5_000, True) == (300, 2_700)
    assert client_funds.case_fees(100_000, Decimal("10"), 5_000, True) == (10_000, 5_000)
    assert client_funds.case_fees(100_000, Decimal("10"), 5_000, False) == (10_000, 0)
    assert client_funds.case_fees(-4_000, Decimal("10"), 5_000, True) == (-400, 0)
    assert client_funds.case_fees(1_000, Decimal("100"), 5_000, True) == (1_000, 0)


def test_a_month_with_payments_a_reversal_and_fees_reconciles_to_the_cent(
        store: Store) -> None:
    firm = build_firm(store, fee_percent="12.5", fixed_fee_minor=5_000)
    pay(store, firm, "D-1", 120_005, day(10))
    pay(store, firm, "D-2", 30_000, day(12))
    bounced = pay(store, firm, "D-2", 4_000, day(25))
    reverse(store, bounced, day(28))
    pay(store, firm, "D-0", 9_000, day(14))  # the creditor's own: not client funds
    made = _remit(store, day(31), day(2, 4))
    assert len(made) == 1
    march = made[0]
    r = march.remittance
    assert (r.reference, r.currency, r.collected_minor) == ("REM-ACME-1", "EUR", 150_005)
    # D-1: 1,200.05 x 12.5 % = 150.00625 -> 150.01, fixed 50.00;
    # D-2: 300.00 + 40.00 - 40.00 = 300.00 x 12.5 % = 37.50, fixed 50.00.
    assert [(c.debtor_ref, c.collected_minor, c.percent_fee_minor, c.fixed_fee_minor)
            for c in march.cases] == [("D-1", 120_005, 15_001, 5_000),
                                      ("D-2", 30_000, 3_750, 5_000)]
    assert (march.percent_fees_minor, march.fixed_fees_minor) == (18_751, 10_000)
    assert (r.fees_minor, r.net_minor) == (28_751, 121_254)
    assert len(march.lines) == 4

    # Remitting March again finds nothing; April's entries are not taken by it.
    assert _remit(store, day(31), day(3, 4)) == []


def test_a_reversal_after_remittance_is_carried_into_the_next_as_negative(
        store: Store) -> None:
    firm = build_firm(store, fee_percent="10", fixed_fee_minor=5_000)
    first = pay(store, firm, "D-1", 100_000, day(10))
    _remit(store, day(31), day(2, 4))
    reverse(store, first, day(6, 4))
    pay(store, firm, "D-2", 20_000, day(10, 4))
    april = _remit(store, day(30, 4), day(2, 5))[0]
    r = april.remittance
    assert [(line.kind, line.amount_minor) for line in april.lines] == [
        ("reversed", -100_000), ("collected", 20_000)]
    # D-1 gives back its 10 % (its fixed fee stays charged); D-2 pays 10 % and its fixed.
    assert [(c.debtor_ref, c.collected_minor, c.percent_fee_minor, c.fixed_fee_minor)
            for c in april.cases] == [("D-1", -100_000, -10_000, 0),
                                      ("D-2", 20_000, 2_000, 5_000)]
    assert (r.collected_minor, r.fees_minor, r.net_minor) == (-80_000, -3_000, -77_000)
    with store.session() as session:
        charged = session.scalars(select(MandateCase.fixed_fee_charged)
                                  .order_by(MandateCase.id)).all()
    assert charged == [True, True]


def test_the_fixed_fee_is_charged_once_at_the_first_remittance_with_money(
        store: Store) -> None:
    firm = build_firm(store, fee_percent="10", fixed_fee_minor=5_000)
    paid = pay(store, firm, "D-1", 3_000, day(10))
    reverse(store, paid, day(11))
    assert _remit(store, day(15), day(16))[0].fixed_fees_minor == 0  # brought nothing
    pay(store, firm, "D-1", 3_000, day(20))
    assert _remit(store, day(25), day(26))[0].fixed_fees_minor == 2_700  # capped
    pay(store, firm, "D-1", 90_000, day(27))
    assert _remit(store, day(31), day(31))[0].fixed_fees_minor == 0  # charged already


def test_each_currency_has_its_remittance(store: Store) -> None:
    firm = build_firm(store, fee_percent="10", fixed_fee_minor=5_000)
    pay(store, firm, "D-1", 10_000, day(10))
    with store.write_transaction() as session:
        from relance.kernel.money import Money
        from relance.store import book
        book.record_payment(session, creditor_id=firm.creditor_id,
                            debtor_id=firm.debtors["D-2"], amount=Money("USD", 20_000),
                            received_on=day(11), reference="WIRE", actor="bruno",
                            today=day(11))
    made = _remit(store, day(31), day(31))
    assert [(m.remittance.reference, m.remittance.currency, m.remittance.fees_minor)
            for m in made] == [("REM-ACME-1", "EUR", 6_000),  # 10 % + the fixed fee
                               ("REM-ACME-2", "USD", 2_000)]  # 10 %: the fixed is in EUR


def test_only_a_credit_manager_remits_and_only_a_known_creditor(store: Store) -> None:
    build_firm(store)
    with pytest.raises(NotAllowed), store.write_transaction() as session:
        client_funds.remit(session, OPERATOR, "ACME", day(31), day(31))
    with pytest.raises(NotFound), store.write_transaction() as session:
        client_funds.remit(session, MANAGER, "NOPE", day(31), day(31))


def test_funds_not_remitted_within_the_mandate_s_period_are_overdue(store: Store) -> None:
    firm = build_firm(store, remit_within_days=30)
    pay(store, firm, "D-1", 10_000, day(2))
    bounced = pay(store, firm, "D-2", 5_000, day(3))
    reverse(store, bounced, day(4))  # nothing is owed for it
    pay(store, firm, "D-2", 7_000, day(20))
    with store.session() as session:
        assert client_funds.overdue_funds(session, day(1, 4)) == []  # due by 01/04
        late = client_funds.overdue_funds(session, day(3, 4))
        assert [(o.line.debtor_ref, o.line.amount_minor, o.line.due_on, o.days_late)
                for o in late] == [("D-1", 10_000, day(1, 4), 2)]
        assert client_funds.overdue_funds(session, day(2, 4), [firm.creditor_id + 99]) == []
        assert [line.amount_minor for line in client_funds.pending(
            session, firm.creditor_id)] == [10_000, 5_000, -5_000, 7_000]
    _remit(store, day(31), day(3, 4))
    with store.session() as session:
        assert client_funds.overdue_funds(session, day(3, 4)) == []
        assert client_funds.pending(session, firm.creditor_id) == []


def test_every_entry_remitted_belongs_to_exactly_one_remittance(store: Store) -> None:
    firm: Firm = build_firm(store)
    for n in range(1, 6):
        pay(store, firm, "D-1", 1_000 * n, day(n + 2))
    _remit(store, day(4), day(4))
    _remit(store, day(6), day(6))
    _remit(store, day(31), day(31))
    with store.session() as session:
        entries = session.scalars(select(FundEntry)).all()
        remittances = session.scalars(select(Remittance).order_by(Remittance.id)).all()
        assert [r.reference for r in remittances] == ["REM-ACME-1", "REM-ACME-2",
                                                      "REM-ACME-3"]
        assert all(e.remittance_id is not None for e in entries)
        assert sum(r.collected_minor for r in remittances) == sum(
            e.amount_minor for e in entries) == 15_000
