"""Case changes settle the queue in their own transaction; plans follow payments and
break when an instalment is missed; every change can be undone, once."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from relance.engine import casework, plans, undo
from relance.engine.casework import Conflict
from relance.engine.roles import Actor, Role
from relance.kernel.errors import UsageError
from relance.kernel.money import Money
from relance.store import book as book_
from relance.store.db import Store
from relance.store.models import (
    Action,
    ActionState,
    Channel,
    Event,
    Invoice,
    ItemState,
    Note,
    Payment,
    PaymentPlan,
    PlanStatus,
    Promise,
    PromiseStatus,
)
from tests.casework.factory import TODAY, Book

BRUNO = Actor("bruno", Role.OPERATOR)


def state(store: Store, action_id: int) -> ActionState:
    with store.session() as session:
        return session.get_one(Action, action_id).state


def active_items(store: Store, action_id: int) -> list[tuple[int, int]]:
    with store.session() as session:
        return [(i.invoice_id, i.balance_minor) for i in session.get_one(Action, action_id).items
                if i.state == ItemState.ACTIVE]


def event_ids(store: Store, kind: str) -> list[int]:
    with store.session() as session:
        return list(session.scalars(select(Event.id).where(Event.kind == kind)
                                    .order_by(Event.id)))


def test_a_partial_payment_reduces_a_grouped_letter_and_a_full_one_drops_its_invoice(
        store: Store, book: Book) -> None:
    fa1, fa2 = book.invoices["FA-1"], book.invoices["FA-2"]
    with store.write_transaction() as session:
        casework.pay_invoices(session, BRUNO, [fa2], amount=Money.of("300", "EUR"),
                              received_on=TODAY, reference="VIR 1", today=TODAY)
    assert active_items(store, book.actions["letter"]) == [(fa1, 125_000), (fa2, 68_040)]
    with store.write_transaction() as session:
        casework.pay_invoices(session, BRUNO, [fa1], amount=Money.of("1250", "EUR"),
                              received_on=TODAY, reference="VIR 2", today=TODAY)
    assert active_items(store, book.actions["letter"]) == [(fa2, 68_040)]
    assert state(store, book.actions["letter"]) == ActionState.PROPOSED


def test_an_overpayment_is_recorded_whole_with_the_surplus_on_account(
        store: Store, book: Book) -> None:
    with store.write_transaction() as session:
        payment = casework.pay_invoices(session, BRUNO, [book.invoices["FA-4"]],
                                        amount=Money.of("7500", "EUR"), received_on=TODAY,
                                        reference="VIR 3", today=TODAY)
        assert book_.unallocated_minor(payment) == 30_000
    # Everything queued for the paid invoice is gone: the escalation too.
    assert state(store, book.actions["escalate"]) == ActionState.CANCELLED


def test_pause_dispute_and_promise_each_settle_the_queue_at_once(
        store: Store, book: Book) -> None:
    nantes, lyon = book.debtors["F-0002"], book.debtors["F-0001"]
    with store.write_transaction() as session:
        casework.pause(session, BRUNO, nantes, until=TODAY + dt.timedelta(days=30),
                       reason="accord", today=TODAY)
    # A paused debtor's call leaves the call list, and the e-mail is not sent.
    assert state(store, book.actions["call"]) == ActionState.CANCELLED
    assert state(store, book.actions["email"]) == ActionState.CANCELLED
    with store.write_transaction() as session:
        casework.open_dispute(session, BRUNO, [book.invoices["FA-1"]], reason="quality",
                              today=TODAY)
    assert active_items(store, book.actions["letter"]) == [(book.invoices["FA-2"], 98_040)]
    with store.write_transaction() as session:
        casework.add_promise(session, BRUNO, lyon, promised_on=TODAY + dt.timedelta(days=10),
                             today=TODAY)
    assert state(store, book.actions["letter"]) == ActionState.CANCELLED


def test_an_approved_letter_whose_content_changed_must_be_approved_again(
        store: Store, book: Book) -> None:
    from tests.casework.test_casework import seen

    with store.write_transaction() as session:
        casework.approve(session, BRUNO, seen(store, book.actions["letter"]))
    with store.write_transaction() as session:
        casework.pay_invoices(session, BRUNO, [book.invoices["FA-1"]],
                              amount=Money.of("100", "EUR"), received_on=TODAY,
                              reference="VIR 4", today=TODAY)
    assert state(store, book.actions["letter"]) == ActionState.PROPOSED
    with store.session() as session:
        settled = session.scalars(select(Event).where(Event.kind == "action.settled")).one()
        assert (settled.data["from"], settled.data["state"]) == ("approved", "proposed")


def test_a_plan_drops_its_invoices_from_the_queue_follows_payments_and_breaks(
        store: Store, book: Book) -> None:
    lille = [book.invoices["FA-4"], book.invoices["FA-5"]]
    with store.write_transaction() as session:
        plan = plans.create_plan(session, BRUNO, lille, today=TODAY, count=3,
                                 first=dt.date(2026, 12, 31), every=plans.Every.parse("1m"))
        plan_id = plan.id
        assert [(i.due_on, i.amount_minor) for i in plan.instalments] == [
            (dt.date(2026, 12, 31), 256_667), (dt.date(2027, 1, 31), 256_667),
            (dt.date(2027, 2, 28), 256_666)]
    assert state(store, book.actions["escalate"]) == ActionState.CANCELLED
    with store.write_transaction() as session:
        casework.record_payment(session, BRUNO, creditor_id=book.creditor_id,
                                debtor_id=book.debtors["F-0003"],
                                amount=Money.of("3000", "EUR"), received_on=TODAY,
                                reference="VIR 5", today=TODAY)
    with store.session() as session:
        plan = session.get_one(PaymentPlan, plan_id)
        assert [i.paid_minor for i in sorted(plan.instalments, key=lambda i: i.due_on)] == [
            256_667, 43_333, 0]
    with store.write_transaction() as session:  # nothing due yet
        assert plans.check_plans(session, dt.date(2027, 1, 31)) == []
    with store.write_transaction() as session:
        assert plans.check_plans(session, dt.date(2027, 2, 1)) == [plan_id]
    with store.session() as session:
        plan = session.get_one(PaymentPlan, plan_id)
        assert (plan.status, plan.ended_on) == (PlanStatus.BROKEN, dt.date(2027, 2, 1))
        alert = session.scalars(select(Action).where(Action.channel == Channel.NOTIFY)).one()
        assert (alert.template, alert.notify_role, alert.state) == (
            "plan_broken", "operator", ActionState.APPROVED)
        broken = session.scalars(select(Event).where(Event.kind == "plan.broken")).one()
        assert broken.data["instalment_due_on"] == "2027-01-31"


def test_a_plan_must_add_up_to_what_is_owed(store: Store, book: Book) -> None:
    with pytest.raises(UsageError, match=r"add up to €100\.00, the invoices owe €7,200\.00"), \
            store.write_transaction() as session:
        plans.create_plan(session, BRUNO, [book.invoices["FA-4"]], today=TODAY,
                          schedule=[(dt.date(2026, 12, 1), 10_000)])
    with pytest.raises(UsageError, match=r"every '1y'"):
        plans.Every.parse("1y")


def test_undo_of_a_payment_reopens_the_invoice_and_keeps_both_events(
        store: Store, book: Book) -> None:
    fa4 = book.invoices["FA-4"]
    with store.write_transaction() as session:
        casework.pay_invoices(session, BRUNO, [fa4], amount=Money.of("7200", "EUR"),
                              received_on=TODAY, reference="VIR 6", today=TODAY)
    [recorded] = event_ids(store, "payment.recorded")
    with store.write_transaction() as session:
        undo.undo(session, BRUNO, recorded, reason="wrong debtor", today=TODAY)
    with store.session() as session:
        invoice = session.get_one(Invoice, fa4)
        assert (invoice.balance_minor, invoice.paid_minor, invoice.status.value) == (
            720_000, 0, "open")
        payment = session.scalars(select(Payment)).one()
        assert payment.reversed_on == TODAY and payment.allocations == []
        reversal = session.scalars(select(Event).where(Event.kind == "payment.reversed")).one()
        assert reversal.data["undoes"] == recorded
    with pytest.raises(UsageError, match=f"already undone by event {reversal.id}"), \
            store.write_transaction() as session:
        undo.undo(session, BRUNO, recorded, reason="again", today=TODAY)


def test_undo_of_a_pause_a_dispute_a_promise_a_note_and_a_plan(
        store: Store, book: Book) -> None:
    lyon = book.debtors["F-0001"]
    fa1 = book.invoices["FA-1"]
    with store.write_transaction() as session:
        casework.pause(session, BRUNO, lyon, until=TODAY + dt.timedelta(days=5),
                       reason="vacances", today=TODAY)
        casework.open_dispute(session, BRUNO, [fa1], reason="price", today=TODAY)
        casework.add_promise(session, BRUNO, lyon, promised_on=TODAY, today=TODAY)
        casework.add_note(session, BRUNO, lyon, "rappeler lundi")
        plans.create_plan(session, BRUNO, [book.invoices["FA-2"]], today=TODAY, count=2,
                          first=TODAY + dt.timedelta(days=15))
    for kind in ("debtor.paused", "invoice.dispute_opened", "promise.added", "note.added",
                 "plan.created"):
        [event_id] = event_ids(store, kind)
        with store.write_transaction() as session:
            undo.undo(session, BRUNO, event_id, reason="erreur de saisie", today=TODAY)
    with store.session() as session:
        debtor_invoice = session.get_one(Invoice, fa1)
        assert debtor_invoice.dispute_reason is None
        assert session.scalars(select(Promise.status)).one() == PromiseStatus.CANCELLED
        assert session.scalars(select(Note.retracted_at)).one() is not None
        assert session.scalars(select(PaymentPlan.status)).one() == PlanStatus.CANCELLED
        paused = session.get_one(Invoice, fa1).debtor_id
        assert paused == lyon
    assert [len(event_ids(store, k)) for k in (
        "debtor.pause_undone", "invoice.dispute_undone", "promise.undone", "note.retracted",
        "plan.undone")] == [1, 1, 1, 1, 1]


def test_undo_refuses_what_changed_since_and_what_cannot_be_undone(
        store: Store, book: Book) -> None:
    lyon = book.debtors["F-0001"]
    with store.write_transaction() as session:
        casework.pause(session, BRUNO, lyon, until=TODAY + dt.timedelta(days=5),
                       reason="a", today=TODAY)
    with store.write_transaction() as session:
        casework.pause(session, BRUNO, lyon, until=TODAY + dt.timedelta(days=9),
                       reason="b", today=TODAY)
    first, _second = event_ids(store, "debtor.paused")
    with pytest.raises(Conflict, match="changed since event"), \
            store.write_transaction() as session:
        undo.undo(session, BRUNO, first, reason="x", today=TODAY)
    [settled, *_] = event_ids(store, "action.settled")
    with pytest.raises(UsageError, match="cannot be undone"), \
            store.write_transaction() as session:
        undo.undo(session, BRUNO, settled, reason="x", today=TODAY)
