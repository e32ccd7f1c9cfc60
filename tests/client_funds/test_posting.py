"""A payment the firm collected posts to the creditor's client funds once, with its
receipt to the debtor and its notice to the creditor queued in the same transaction,
whatever records it: a person, a bank statement import, an allocation out of suspense."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import func, select

from relance.dsl.loader import load_rules
from relance.engine.run import run_day
from relance.kernel.money import Money
from relance.store import book
from relance.store.db import Store
from relance.store.importing import import_payments
from relance.store.models import (
    Action,
    ActionState,
    Channel,
    Event,
    FundEntry,
    FundEntryKind,
    PaymentKind,
)
from relance.store.settle import settle_queue
from tests.client_funds.factory import OPENED, Firm, build_firm, pay, reverse

DAY = dt.date(2026, 3, 10)


def _entries(store: Store) -> list[tuple[int, str, int, dt.date, int | None]]:
    with store.session() as session:
        return [(e.payment_id, e.kind.value, e.amount_minor, e.booked_on, e.remittance_id)
                for e in session.scalars(select(FundEntry).order_by(FundEntry.id))]


def _actions(store: Store) -> list[tuple[str, str, str, str]]:
    with store.session() as session:
        return [(a.idempotency_key, a.channel.value, a.template or "", a.state.value)
                for a in session.scalars(select(Action).order_by(Action.id))]


@pytest.fixture
def firm(store: Store) -> Firm:
    return build_firm(store)


def test_a_collected_payment_posts_once_with_its_receipt_and_notice(
        store: Store, firm: Firm) -> None:
    paid = pay(store, firm, "D-1", 120_005, DAY)
    assert _entries(store) == [(paid, "collected", 120_005, DAY, None)]
    assert _actions(store) == [
        (f"receipt:{paid}", "email", "quittance", "approved"),
        (f"funds-notice:{paid}", "email", "avis_encaissement", "approved")]
    with store.session() as session:
        notice = session.scalars(select(Action).where(
            Action.idempotency_key == f"funds-notice:{paid}")).one()
        facts = notice.output["fund_notice"]
        assert notice.output["addressee"] == "creditor"
        assert notice.created_on == DAY
        assert facts["paid"] == [
            {"number": "FA-1-1", "amount_minor": 100_000, "balance_after_minor": 0},
            {"number": "FA-1-2", "amount_minor": 20_005, "balance_after_minor": 229_995}]
        assert facts["still_owed_minor"] == 229_995
        assert facts["case_reference"] == "MD-ACME-2026/0001"
        kinds = session.scalars(select(Event.kind).order_by(Event.id)).all()
        assert kinds[-1] == "funds.collected"
        # Posting again (a retried call) adds nothing.
        from relance.store.client_funds import post_collected
        again = post_collected(session, book._lock_payment(session, paid), actor="x",
                               today=DAY)
        assert again is None


def test_what_the_firm_did_not_collect_does_not_post(store: Store, firm: Firm) -> None:
    pay(store, firm, "D-0", 10_000, DAY)  # no case under mandate
    pay(store, firm, "D-1", 10_000, OPENED - dt.timedelta(days=1))  # before the case
    with store.write_transaction() as session:  # a credit note is not money received
        book.record_payment(session, creditor_id=firm.creditor_id,
                            debtor_id=firm.debtors["D-2"], amount=Money("EUR", 5_000),
                            received_on=DAY, reference="AV-1", actor="bruno",
                            allocations=[(firm.invoices["FA-2-1"], 5_000)],
                            kind=PaymentKind.CREDIT_NOTE, today=DAY)
    assert _entries(store) == []
    assert _actions(store) == []


def test_a_debtor_without_e_mail_gets_the_receipt_by_letter(store: Store, firm: Firm) -> None:
    with store.write_transaction() as session:
        from relance.store.models import Debtor
        session.get_one(Debtor, firm.debtors["D-2"]).email = None
    paid = pay(store, firm, "D-2", 1_000, DAY)
    assert (f"receipt:{paid}", "letter", "quittance", "approved") in _actions(store)


def test_a_reversal_posts_a_negative_entry_and_stops_unsent_messages(
        store: Store, firm: Firm) -> None:
    paid = pay(store, firm, "D-1", 30_000, DAY)
    reverse(store, paid, DAY + dt.timedelta(days=4))
    assert _entries(store) == [(paid, "collected", 30_000, DAY, None),
                               (paid, "reversed", -30_000, DAY + dt.timedelta(days=4), None)]
    assert {state for *_, state in _actions(store)} == {"cancelled"}


def test_a_reversal_of_a_payment_the_firm_did_not_collect_posts_nothing(
        store: Store, firm: Firm) -> None:
    reverse(store, pay(store, firm, "D-0", 30_000, DAY), DAY)
    assert _entries(store) == []


def test_settling_the_queue_and_a_run_leave_the_messages_alone(
        store: Store, firm: Firm, tmp_path: Path) -> None:
    """The receipt speaks of invoices now paid: settling the queue (a later payment, a
    dispatch's recheck) must not drop it, and the rules' run must not cancel it."""
    paid = pay(store, firm, "D-1", 100_000, DAY)  # pays FA-1-1 whole
    later = pay(store, firm, "D-1", 50_000, DAY + dt.timedelta(days=1))  # FA-1-2 in part
    with store.write_transaction() as session:
        settle_queue(session, debtor_ids=[firm.debtors["D-1"]], today=DAY, actor="t",
                     cause="test")
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "r.rules").write_text(
        "policy p\n\nrule r1:\n  when overdue >= 1d\n  then send email 'relance_1'\n",
        encoding="utf-8")
    report = run_day(store, load_rules([rules], root=tmp_path), DAY + dt.timedelta(days=2),
                     actor="scheduler", rules_dir=rules)
    assert report is not None
    with store.session() as session:
        states = dict(session.execute(select(Action.idempotency_key, Action.state)).all())
        reminders = session.scalar(select(func.count()).select_from(Action).where(
            Action.template == "relance_1"))
    assert reminders and reminders > 0  # the run did act on the open invoices
    for key in (f"receipt:{paid}", f"funds-notice:{paid}", f"receipt:{later}",
                f"funds-notice:{later}"):
        assert states[key] == ActionState.APPROVED


CSV = ("creditor;invoice_number;date;amount;currency;reference\n"
       "ACME;FA-1-1;10/03/2026;400,00;EUR;VIR-BANQUE-1\n"
       "ACME;FA-0-1;10/03/2026;90,00;EUR;VIR-BANQUE-2\n")


def test_a_statement_import_posts_and_queues_once(store: Store, firm: Firm,
                                                  tmp_path: Path) -> None:
    path = tmp_path / "payments.csv"
    path.write_text(CSV, encoding="utf-8")
    import_payments(store, path, today=DAY)
    import_payments(store, path, today=DAY)  # the same file again: nothing new
    entries = _entries(store)
    assert [(kind, minor) for _p, kind, minor, *_ in entries] == [("collected", 40_000)]
    with store.session() as session:
        count = session.scalar(select(func.count()).select_from(Action).where(
            Action.channel == Channel.EMAIL))
    assert count == 2


def test_a_payment_allocated_out_of_suspense_posts_then(store: Store, firm: Firm) -> None:
    with store.write_transaction() as session:
        payment = book.record_payment(session, creditor_id=firm.creditor_id, debtor_id=None,
                                      amount=Money("EUR", 7_000), received_on=DAY,
                                      reference="VIR ?", actor="import", today=DAY)
        payment_id = payment.id
    assert _entries(store) == []
    with store.write_transaction() as session:
        book.allocate_payment(session, payment_id, actor="bruno",
                              debtor_id=firm.debtors["D-2"], today=DAY)
    assert _entries(store) == [(payment_id, "collected", 7_000, DAY, None)]
    assert len(_actions(store)) == 2


def test_one_entry_per_payment_and_kind_is_the_database_s_rule(store: Store,
                                                                 firm: Firm) -> None:
    paid = pay(store, firm, "D-1", 1_000, DAY)
    with pytest.raises(Exception), store.write_transaction() as session:  # noqa: B017
        first = session.scalars(select(FundEntry)).one()
        session.add(FundEntry(
            creditor_id=first.creditor_id, mandate_id=first.mandate_id,
            mandate_case_id=first.mandate_case_id, debtor_id=first.debtor_id,
            payment_id=paid, kind=FundEntryKind.COLLECTED, amount_minor=1_000,
            currency="EUR", booked_on=DAY))
        session.flush()
