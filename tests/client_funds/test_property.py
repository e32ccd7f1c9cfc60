"""Whatever happens (payments, reversals, remittances at random days, any fee rate),
every cent collected is remitted, kept as fees or still pending, and no entry is ever
remitted twice. Checked against an oracle that rounds with fractions, on SQLite and on
PostgreSQL."""

from __future__ import annotations

import datetime as dt
import itertools
from collections import defaultdict
from decimal import Decimal
from fractions import Fraction

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from relance.engine import client_funds
from relance.store.db import Store
from relance.store.models import FundEntry, Mandate, MandateCase, Remittance
from tests.client_funds.factory import MANAGER, OPENED, build_firm, pay, reverse

START = OPENED - dt.timedelta(days=3)  # some payments come before the case is opened
_codes = itertools.count(1)

Step = tuple[str, int, int, int]  # (what, debtor or payment index, amount, day)
steps = st.lists(st.one_of(
    st.tuples(st.just("pay"), st.integers(0, 2), st.integers(1, 400_000),
              st.integers(0, 60)),
    st.tuples(st.just("reverse"), st.integers(0, 30), st.just(0), st.integers(0, 60)),
    st.tuples(st.just("remit"), st.just(0), st.integers(0, 10), st.integers(0, 60)),
), min_size=1, max_size=14)
percents = st.decimals(min_value=0, max_value=100, places=2)


def _half_away(value: Fraction) -> int:
    """The oracle's rounding: to the nearest integer, halves away from zero."""
    sign = -1 if value < 0 else 1
    return sign * int(abs(value) + Fraction(1, 2))


def _check(store: Store, creditor_id: int, taken: dict[int, str]) -> None:
    with store.session() as session:
        entries = session.scalars(select(FundEntry).where(
            FundEntry.creditor_id == creditor_id)).all()
        made = session.scalars(select(Remittance).where(
            Remittance.creditor_id == creditor_id)).all()
        mandate = session.scalars(select(Mandate).where(
            Mandate.creditor_id == creditor_id)).one()
        cases = session.scalars(select(MandateCase).where(
            MandateCase.creditor_id == creditor_id)).all()
        collected = sum(e.amount_minor for e in entries)
        pending = sum(e.amount_minor for e in entries if e.remittance_id is None)
        remitted = sum(r.net_minor for r in made)
        fees = sum(r.fees_minor for r in made)
        assert collected == remitted + fees + pending
        by_remittance: dict[int, list[FundEntry]] = defaultdict(list)
        for entry in entries:
            if entry.remittance_id is not None:
                by_remittance[entry.remittance_id].append(entry)
                # The remittance that took it is the one that says so, and only it.
                assert taken[entry.id] == next(
                    r.reference for r in made if r.id == entry.remittance_id)
        rate = Fraction(Decimal(mandate.fee_percent)) / 100
        fixed_charged = 0
        for remittance in made:
            mine = by_remittance[remittance.id]
            assert remittance.collected_minor == sum(e.amount_minor for e in mine)
            per_case: dict[int, int] = defaultdict(int)
            for entry in mine:
                per_case[entry.mandate_case_id] += entry.amount_minor
            percent_part = sum(_half_away(amount * rate) for amount in per_case.values())
            fixed_part = remittance.fees_minor - percent_part
            assert 0 <= fixed_part <= mandate.fixed_fee_minor * len(per_case)
            fixed_charged += fixed_part
            assert remittance.net_minor == remittance.collected_minor - remittance.fees_minor
        assert fixed_charged <= mandate.fixed_fee_minor * sum(
            1 for case in cases if case.fixed_fee_charged)


@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(plan=steps, percent=percents, fixed=st.integers(0, 20_000))
def test_collected_is_always_remitted_plus_fees_plus_pending(
        store: Store, plan: list[Step], percent: Decimal, fixed: int) -> None:
    code = f"P{next(_codes)}"
    firm = build_firm(store, fee_percent=format(percent.normalize(), "f"),
                      fixed_fee_minor=fixed, code=code)
    payments: list[tuple[int, dt.date]] = []
    reversed_ids: set[int] = set()
    taken: dict[int, str] = {}
    for what, index, amount, offset in plan:
        on = START + dt.timedelta(days=offset)
        if what == "pay":
            payments.append((pay(store, firm, f"D-{index}", amount, on), on))
        elif what == "reverse" and payments:
            payment_id, received = payments[index % len(payments)]
            if payment_id not in reversed_ids:
                reverse(store, payment_id, max(on, received))
                reversed_ids.add(payment_id)
        elif what == "remit":
            with store.write_transaction() as session:
                made = client_funds.remit(session, MANAGER, code, on,
                                          on + dt.timedelta(days=amount))
                for figures in made:
                    for line in figures.lines:
                        assert line.entry_id not in taken, "an entry remitted twice"
                        taken[line.entry_id] = figures.remittance.reference
        _check(store, firm.creditor_id, taken)
