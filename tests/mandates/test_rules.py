"""The mandate's rules as `relance.engine.mandates` applies them, on SQLite and
PostgreSQL: what is stored, what is refused (nothing stored then), which mandate is in
force on a day, and who may record one."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select

from relance.engine import mandates
from relance.engine.roles import Actor, NotAllowed, Role
from relance.kernel.errors import NotFound, UsageError
from relance.kernel.money import Money
from relance.store.db import Store
from relance.store.models import Event, Mandate, MandateScope, Stage
from tests.casework.factory import Book, add_creditor
from tests.mandates.conftest import ALICE, BRUNO

JAN = dt.date(2026, 1, 1)


def add(store: Store, actor: Actor = ALICE, **changes: Any) -> Mandate:
    values: dict[str, Any] = dict(
        creditor_code="JCDA", reference="MD-JCDA-2026", signed_on=dt.date(2025, 12, 15),
        scope=MandateScope.AMICABLE, fee_percent=Decimal("12.5"),
        fixed_fee=Money.of("50", "EUR"), starts_on=JAN)
    values.update(changes)
    with store.write_transaction() as session:
        mandate = mandates.add_mandate(session, actor, **values)
        session.expunge(mandate)
        return mandate


def count(store: Store) -> int:
    with store.session() as session:
        return int(session.scalar(select(func.count(Mandate.id))) or 0)


def test_a_mandate_is_stored_exactly_with_its_event(store: Store, book: Book) -> None:
    mandate = add(store, fee_percent=Decimal("12.50"), remit_within_days=45,
                  ends_on=dt.date(2026, 12, 31))
    with store.session() as session:
        stored = session.scalars(select(Mandate)).one()
        assert (stored.reference, stored.fee_percent, stored.fixed_fee_minor,
                stored.currency) == ("MD-JCDA-2026", "12.5", 5000, "EUR")
        assert (stored.scope, stored.starts_on, stored.ends_on, stored.remit_within_days,
                stored.recorded_by) == (MandateScope.AMICABLE, JAN, dt.date(2026, 12, 31), 45,
                                        "alice")
        event = session.scalars(select(Event)).one()
    assert event.kind == "mandate.added" and event.subject_id == str(mandate.id)
    assert event.creditor_id == book.creditor_id
    assert event.data["fee_percent"] == "12.5" and event.data["fixed_fee"] == "50.00 EUR"


@pytest.mark.parametrize("percent, stored", [("0", "0"), ("100", "100"), ("7.25", "7.25"),
                                             ("12.500", "12.5")])
def test_fee_percent_is_kept_as_exact_text(store: Store, book: Book, percent: str,
                                            stored: str) -> None:
    assert add(store, fee_percent=Decimal(percent)).fee_percent == stored


@pytest.mark.parametrize("changes, message", [
    ({"fee_percent": Decimal("100.01")}, "fee percent 100.01: a percentage between 0 and 100"),
    ({"fee_percent": Decimal("-1")}, "fee percent -1: a percentage between 0 and 100"),
    ({"fee_percent": Decimal("12.345")}, "fee percent 12.345: at most two decimals"),
    ({"fee_percent": Decimal("NaN")}, "a percentage between 0 and 100"),
    ({"fixed_fee": Money.of("-5", "EUR")}, "fixed fee -5.00 EUR: a fee cannot be negative"),
    ({"ends_on": dt.date(2025, 12, 31)}, "ends on 31/12/2025, before it starts on 01/01/2026"),
    ({"signed_on": dt.date(2026, 1, 2)}, "signed on 02/01/2026, after it starts on 01/01/2026"),
    ({"reference": "  "}, "a mandate needs a reference"),
    ({"reference": "M" * 61}, "at most 60 characters"),
    ({"reference": "MD\n1"}, "control characters"),
    ({"remit_within_days": 0}, "between 1 and 366 days"),
    ({"creditor_code": "NOPE"}, "no creditor 'NOPE'"),
])
def test_bad_values_are_refused_and_nothing_is_stored(store: Store, book: Book,
                                                      changes: dict[str, Any],
                                                      message: str) -> None:
    with pytest.raises(UsageError, match=message.replace("(", r"\(")):
        add(store, **changes)
    assert count(store) == 0


def test_a_reference_is_used_once(store: Store, book: Book) -> None:
    add(store, ends_on=dt.date(2026, 6, 30))
    with store.transaction() as session:
        add_creditor(session, "BELLE")
    with pytest.raises(UsageError, match="'MD-JCDA-2026' is already used"):
        add(store, creditor_code="BELLE")
    assert count(store) == 1


def test_two_mandates_of_one_creditor_never_share_a_day(store: Store, book: Book) -> None:
    add(store, reference="MD-1", ends_on=dt.date(2026, 6, 30))
    # The day after the first one's last: fine.
    add(store, reference="MD-2", signed_on=dt.date(2026, 6, 1), starts_on=dt.date(2026, 7, 1))
    # Starting inside the second, which is open-ended.
    with pytest.raises(UsageError, match=r"JCDA already has mandate MD-2 from 01/07/2026, "
                                         r"open-ended: end it first \(relance mandate end "
                                         r"MD-2 --on DATE\)"):
        add(store, reference="MD-3", starts_on=dt.date(2027, 1, 1))
    # Ending on the first one's last day: shares 30/06/2026 with it.
    with pytest.raises(UsageError, match="already has mandate MD-1 from 01/01/2026 to "
                                         "30/06/2026"):
        add(store, reference="MD-0", signed_on=dt.date(2025, 1, 1),
            starts_on=dt.date(2025, 1, 1), ends_on=dt.date(2026, 1, 1))
    assert count(store) == 2
    # Another creditor's mandates are another matter.
    with store.transaction() as session:
        add_creditor(session, "BELLE")
    add(store, reference="MD-B", creditor_code="BELLE")
    assert count(store) == 3


def test_only_a_credit_manager_records_or_ends_a_mandate(store: Store, book: Book) -> None:
    with pytest.raises(NotAllowed, match="bruno is operator: only a credit manager can "
                                         "record a mandate"):
        add(store, actor=BRUNO)
    add(store)
    with pytest.raises(NotAllowed, match="only a credit manager can end a mandate"), \
            store.write_transaction() as session:
        mandates.end_mandate(session, BRUNO, "MD-JCDA-2026", dt.date(2026, 6, 30))


def test_a_user_of_another_creditor_cannot_see_this_one(store: Store, book: Book) -> None:
    elsewhere = Actor("eve", Role.CREDIT_MANAGER, frozenset({"BELLE"}))
    # Worded as for a creditor that does not exist (engine/scope.py).
    with pytest.raises(UsageError, match="no creditor 'JCDA'"):
        add(store, actor=elsewhere)
    add(store)
    with store.session() as session:
        assert mandates.list_mandates(session, elsewhere) == []
        assert [m.reference for m in mandates.list_mandates(session, ALICE)] == ["MD-JCDA-2026"]
        with pytest.raises(UsageError, match="no mandate 'MD-JCDA-2026'"):
            mandates.find_mandate(session, elsewhere, "MD-JCDA-2026")


def test_in_force_from_its_first_to_its_last_day(store: Store, book: Book) -> None:
    add(store, ends_on=dt.date(2026, 6, 30))
    with store.session() as session:
        def found(day: dt.date, stage: Stage = Stage.AMICABLE) -> str | None:
            mandate = mandates.mandate_in_force(session, book.creditor_id, day, stage)
            return mandate.reference if mandate else None

        assert found(dt.date(2025, 12, 31)) is None
        assert found(JAN) == "MD-JCDA-2026"
        assert found(dt.date(2026, 6, 30)) == "MD-JCDA-2026"
        assert found(dt.date(2026, 7, 1)) is None
        # Amicable only: no litigation under it.
        assert found(dt.date(2026, 3, 1), Stage.LITIGATION) is None


def test_litigation_is_covered_by_an_amicable_and_litigation_mandate(store: Store,
                                                                     book: Book) -> None:
    add(store, scope=MandateScope.AMICABLE_AND_LITIGATION)
    with store.session() as session:
        mandate = mandates.mandate_in_force(session, book.creditor_id, dt.date(2026, 3, 1),
                                            Stage.LITIGATION)
        assert mandate is not None and mandate.reference == "MD-JCDA-2026"


def test_ending_a_mandate(store: Store, book: Book) -> None:
    add(store)
    with store.write_transaction() as session:
        with pytest.raises(UsageError, match="starts on 01/01/2026: it cannot end on "
                                             "31/12/2025"):
            mandates.end_mandate(session, ALICE, "MD-JCDA-2026", dt.date(2025, 12, 31))
        mandates.end_mandate(session, ALICE, "MD-JCDA-2026", dt.date(2026, 9, 30))
    with store.write_transaction() as session:
        # Later than its end would reach into what a next mandate may cover.
        with pytest.raises(UsageError, match="already ends on 30/09/2026: it can only be "
                                             "ended earlier"):
            mandates.end_mandate(session, ALICE, "MD-JCDA-2026", dt.date(2026, 10, 31))
        mandates.end_mandate(session, ALICE, "MD-JCDA-2026", dt.date(2026, 8, 31))
        with pytest.raises(NotFound, match="no mandate 'MD-X'"):
            mandates.end_mandate(session, ALICE, "MD-X", dt.date(2026, 8, 31))
    with store.session() as session:
        stored = session.scalars(select(Mandate)).one()
        assert stored.ends_on == dt.date(2026, 8, 31)
        kinds = [e.kind for e in session.scalars(select(Event).order_by(Event.id))]
        assert kinds == ["mandate.added", "mandate.ended", "mandate.ended"]
        assert mandates.mandate_in_force(session, book.creditor_id,
                                         dt.date(2026, 9, 1)) is None


def test_a_fee_percent_typed_by_a_person(store: Store) -> None:
    assert mandates.parse_fee_percent("12,5 %") == Decimal("12.5")
    with pytest.raises(UsageError, match="--fee-percent 'douze': write a percentage"):
        mandates.parse_fee_percent("douze", what="--fee-percent")
