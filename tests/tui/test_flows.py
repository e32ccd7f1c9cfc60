"""Every operator flow driven by keys on the real app, then checked in the database."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from relance.engine.case_holds import add_note
from relance.engine.casework import Seen, approve
from relance.engine.roles import Actor, Role
from relance.store.db import Store
from relance.store.models import (
    Action,
    ActionState,
    Approval,
    Debtor,
    Event,
    Invoice,
    InvoiceLevel,
    InvoiceStatus,
    Payment,
    Promise,
    Stage,
)
from relance.tui.app import RelanceApp
from tests.casework.factory import Book
from tests.tui.conftest import MakeApp, settle

SIZE = (80, 24)


def state(store: Store, action_id: int) -> ActionState:
    with store.session() as session:
        action = session.get(Action, action_id)
        assert action is not None
        return action.state


def events(store: Store) -> list[tuple[str, str]]:
    with store.session() as session:
        return [(e.actor, e.kind) for e in session.scalars(select(Event).order_by(Event.id))]


def notices(app: RelanceApp) -> list[str]:
    return [str(n.message) for n in app._notifications]


async def test_approve_the_current_action(make_app: MakeApp, store: Store, book: Book) -> None:
    app = make_app("bruno")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("a")
        await pilot.pause()
    assert state(store, book.actions["letter"]) == ActionState.APPROVED
    assert state(store, book.actions["email"]) == ActionState.PROPOSED
    assert events(store) == [("bruno", "action.approved")]


async def test_select_then_approve_and_approve_all(make_app: MakeApp, store: Store,
                                                  book: Book) -> None:
    app = make_app("bruno")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("space")  # selects the letter, moves to the e-mail
        await pilot.press("a")
        await pilot.pause()
        assert state(store, book.actions["letter"]) == ActionState.APPROVED
        assert state(store, book.actions["email"]) == ActionState.PROPOSED
        await pilot.press("A")  # all that the filter shows: the e-mail is left
        await pilot.press("y")
        await pilot.pause()
    assert state(store, book.actions["email"]) == ActionState.APPROVED
    assert [kind for _, kind in events(store)] == ["action.approved", "action.approved"]


async def test_reject_with_a_reason(make_app: MakeApp, store: Store, book: Book) -> None:
    app = make_app("bruno")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("down", "r")
        await pilot.press("enter")  # no reason: refused, the form stays
        await pilot.pause()
        assert state(store, book.actions["email"]) == ActionState.PROPOSED
        await pilot.press(*"client en litige", "enter")
        await pilot.pause()
    assert state(store, book.actions["email"]) == ActionState.REJECTED
    with store.session() as session:
        approval = session.scalars(select(Approval)).one()
    assert (approval.user, approval.decision, approval.reason) == (
        "bruno", "reject", "client en litige")


async def test_a_decision_taken_meanwhile_is_reported(make_app: MakeApp, store: Store,
                                                     book: Book) -> None:
    app = make_app("bruno")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)  # the queue read
        with store.write_transaction() as session:  # alice, on another desk
            action = session.get(Action, book.actions["letter"])
            assert action is not None
            approve(session, Actor("alice", Role.CREDIT_MANAGER), Seen.of(action))
            session.flush()
            action.state = ActionState.REJECTED  # and then somebody rejected it
        await pilot.press("a")
        await settle(pilot)  # the decision runs off the screen's thread
        assert any("changed it since you loaded it" in n for n in notices(app))
    assert state(store, book.actions["letter"]) == ActionState.REJECTED
    assert [a for a, _ in events(store)] == ["alice"]


async def test_filter_and_search(make_app: MakeApp, book: Book) -> None:
    app = make_app("bruno")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f")
        await pilot.pause()
        await pilot.press("enter", *"email", "enter", "enter", "enter", "enter", "enter",
                          "enter")
        await pilot.pause()
        table = app.screen.query_one("#queue-table")
        assert table.row_count == 1  # type: ignore[attr-defined]
        await pilot.press("x", "slash", *"Lyon", "enter")
        await pilot.pause()
        assert table.row_count == 1  # type: ignore[attr-defined]
        assert table.current.action_id == book.actions["letter"]  # type: ignore[attr-defined]


async def test_an_auditor_changes_nothing(make_app: MakeApp, store: Store,
                                          book: Book) -> None:
    app = make_app("carla")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("a")
        await pilot.pause()
        assert any("auditor" in n for n in notices(app))
    assert state(store, book.actions["letter"]) == ActionState.PROPOSED
    assert events(store) == []


async def test_escalation_with_four_eyes(make_app: MakeApp, store: Store, book: Book) -> None:
    escalation = book.actions["escalate"]
    operator = make_app("bruno")
    async with operator.run_test(size=SIZE) as pilot:
        await pilot.press("2", "a")
        await pilot.pause()
        assert any("only a credit manager" in n for n in notices(operator))
    first = make_app("alice")
    async with first.run_test(size=SIZE) as pilot:
        await pilot.press("2", "a")
        await pilot.pause()
        assert any("second credit manager" in n for n in notices(first))
        await pilot.press("a")  # alice again: not a second pair of eyes
        await pilot.pause()
    assert state(store, escalation) == ActionState.PROPOSED
    second = make_app("david")
    async with second.run_test(size=SIZE) as pilot:
        await pilot.press("2", "a")
        await pilot.pause()
    assert state(store, escalation) == ActionState.SENT
    with store.session() as session:
        invoice = session.get(Invoice, book.invoices["FA-4"])
        assert invoice is not None and invoice.stage == Stage.AMICABLE
        action = session.get(Action, escalation)
        assert action is not None and action.approved_by == "alice, david"
    assert events(store) == [("alice", "escalation.first_approval"),
                             ("david", "escalation.approved")]


async def test_refuse_an_escalation(make_app: MakeApp, store: Store, book: Book) -> None:
    app = make_app("alice")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2", "r", *"trop tôt", "enter")
        await pilot.pause()
    assert state(store, book.actions["escalate"]) == ActionState.REJECTED


async def test_partial_payment_on_a_chosen_invoice(make_app: MakeApp, store: Store,
                                                  book: Book) -> None:
    app = make_app("bruno")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("4")  # the first debtor: Lyon, FA-1 and FA-2
        await pilot.press("down", "space")  # choose FA-2
        await pilot.press("m")
        await pilot.pause()
        await pilot.press(*"500,00", "enter")  # the form proposes no amount
        await pilot.press("enter", *"VIR 889", "enter", "enter")
        await pilot.pause()
    with store.session() as session:
        fa1 = session.get(Invoice, book.invoices["FA-1"])
        fa2 = session.get(Invoice, book.invoices["FA-2"])
        payment = session.scalars(select(Payment)).one()
    assert fa1 is not None and fa1.balance_minor == 125_000
    assert fa2 is not None and (fa2.paid_minor, fa2.balance_minor, fa2.status) == (
        50_000, 48_040, InvoiceStatus.OPEN)
    assert (payment.amount_minor, payment.reference, payment.recorded_by) == (
        50_000, "VIR 889", "bruno")
    # The payment reduced the queued action on FA-2 in the same transaction.
    assert events(store) == [("bruno", "payment.recorded"), ("bruno", "action.settled")]


async def test_payment_oldest_first_by_default(make_app: MakeApp, store: Store,
                                               book: Book) -> None:
    app = make_app("bruno")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("4", "m")
        await pilot.pause()
        await pilot.press(*"1300", "enter", "enter", "enter", "enter")
        await pilot.pause()
    with store.session() as session:
        fa1 = session.get(Invoice, book.invoices["FA-1"])
        fa2 = session.get(Invoice, book.invoices["FA-2"])
    assert fa1 is not None and fa1.status == InvoiceStatus.PAID
    assert fa2 is not None and fa2.balance_minor == 98_040 - 5_000


async def test_pause_then_resume(make_app: MakeApp, store: Store, book: Book) -> None:
    app = make_app("bruno")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("4", "z")
        await pilot.pause()
        await pilot.press(*"31/12/2026", "enter", *"accord du directeur", "enter")
        await pilot.pause()
        with store.session() as session:
            debtor = session.get(Debtor, book.debtors["F-0001"])
            assert debtor is not None
            assert (debtor.paused_until, debtor.pause_reason) == (
                dt.date(2026, 12, 31), "accord du directeur")
        await pilot.press("z", *"fin de l'accord", "enter")
        await pilot.pause()
    with store.session() as session:
        debtor = session.get(Debtor, book.debtors["F-0001"])
        assert debtor is not None and debtor.paused_until is None
    # The pause cancelled the letter waiting for Lyon in the same transaction.
    assert [k for _, k in events(store)] == ["debtor.paused", "action.settled",
                                             "debtor.resumed"]


async def test_open_and_close_a_dispute(make_app: MakeApp, store: Store, book: Book) -> None:
    app = make_app("bruno")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("4", "d", *"livraison incomplète", "enter")
        await pilot.pause()
        with store.session() as session:
            invoice = session.get(Invoice, book.invoices["FA-1"])
            assert invoice is not None
            assert (invoice.dispute_reason, invoice.disputed_since) == (
                "livraison incomplète", dt.date(2026, 11, 20))
        await pilot.press("d", *"avoir émis", "enter")
        await pilot.pause()
    with store.session() as session:
        invoice = session.get(Invoice, book.invoices["FA-1"])
        assert invoice is not None and invoice.dispute_reason is None


async def test_note_and_promise_in_the_case(make_app: MakeApp, store: Store,
                                            book: Book) -> None:
    app = make_app("bruno")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("4", "n", *"rappelle lundi", "enter")
        await pilot.press("p", *"15/12/2026", "enter", *"300", "enter")
        await pilot.pause()
    with store.session() as session:
        promise = session.scalars(select(Promise)).one()
    assert (promise.promised_on, promise.amount_minor) == (dt.date(2026, 12, 15), 30_000)
    assert [k for _, k in events(store)] == ["note.added", "promise.added", "action.settled"]


async def test_call_outcome_promise(make_app: MakeApp, store: Store, book: Book) -> None:
    app = make_app("bruno")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("3", "p")
        await pilot.pause()
        await pilot.press(*"30/11/2026", "enter", *"1200", "enter", *"virement", "enter")
        await pilot.pause()
        assert app.screen.query_one("#calls-table").row_count == 0  # type: ignore[attr-defined]
    assert state(store, book.actions["call"]) == ActionState.SENT
    with store.session() as session:
        promise = session.scalars(select(Promise)).one()
    assert (promise.promised_on, promise.amount_minor, promise.debtor_id) == (
        dt.date(2026, 11, 30), 120_000, book.debtors["F-0002"])
    # The promise took Nantes' e-mail off the queue in the same transaction.
    assert [k for _, k in events(store)] == ["promise.added", "action.settled", "note.added",
                                             "call.outcome"]


async def test_call_no_answer_and_wrong_number(make_app: MakeApp, store: Store,
                                               book: Book) -> None:
    app = make_app("bruno")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("3", "n", "enter")  # retry on the next business day proposed
        await pilot.pause()
        assert app.screen.query_one("#calls-table").row_count == 0  # type: ignore[attr-defined]
    with store.session() as session:
        action = session.get(Action, book.actions["call"])
        assert action is not None and action.attempts == 1
        assert action.state == ActionState.APPROVED
        event = session.scalars(select(Event)).one()
    assert event.data["retry_on"] == "2026-11-23"  # Friday → Monday


async def test_every_screen_from_keys_and_palette(make_app: MakeApp) -> None:
    app = make_app("bruno")
    async with app.run_test(size=SIZE) as pilot:
        for key, name in (("2", "Escalations"), ("3", "Calls"), ("4", "Case"),
                          ("5", "Dashboard"), ("6", "Suspense"), ("1", "Queue")):
            await pilot.press(key)
            await pilot.pause()
            assert type(app.screen).__name__ == f"{name}Screen"
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"Dashboard", "enter")
        await pilot.pause()
        assert type(app.screen).__name__ == "DashboardScreen"


async def test_case_opens_from_the_queue(make_app: MakeApp, book: Book) -> None:
    app = make_app("bruno")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("down", "c")
        await pilot.pause()
        assert app.case_debtor_id == book.debtors["F-0002"]
        assert type(app.screen).__name__ == "CaseScreen"


async def test_preview_shows_what_will_be_sent(make_app: MakeApp) -> None:
    app = make_app("bruno")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("enter")
        await pilot.pause()
        assert type(app.screen).__name__ == "DocumentScreen"
        # No letter template `amiable_1` in this book: the action as stored, and why.
        document = app.screen.document  # type: ignore[attr-defined]
        assert "amiable_1" in document.note
        assert "FA-1" in document.text and "€1,250.00" in document.text
        await pilot.press("escape")
        await pilot.pause()
        assert type(app.screen).__name__ == "QueueScreen"


async def test_confirm_an_uncertain_send(make_app: MakeApp, store: Store, book: Book) -> None:
    with store.write_transaction() as session:
        action = session.get(Action, book.actions["email"])
        assert action is not None
        action.state = ActionState.UNCERTAIN
    app = make_app("bruno")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("5")
        await settle(pilot)
        await pilot.press("s", "y")
        await pilot.pause()
    assert state(store, book.actions["email"]) == ActionState.SENT
    assert events(store) == [("bruno", "action.confirmed_sent")]


async def test_reset_a_level_and_find_a_debtor(make_app: MakeApp, store: Store,
                                              book: Book) -> None:
    app = make_app("alice")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("4", "slash", *"Lille", "enter")
        await pilot.pause()
        assert app.case_debtor_id == book.debtors["F-0003"]
        await pilot.press("L", "enter", *"nouvel accord", "enter")  # the one policy
        await pilot.pause()
    with store.session() as session:
        level = session.get(InvoiceLevel, (book.invoices["FA-4"], "franchise"))
        assert level is not None and level.rule is None
    assert events(store) == [("alice", "level.reset")]


async def test_an_auditor_gets_no_form(make_app: MakeApp) -> None:
    app = make_app("carla")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("4", "m")
        await pilot.pause()
        assert type(app.screen).__name__ == "CaseScreen"
        assert any("auditor" in n for n in notices(app))


async def test_a_change_seen_while_the_desk_closes_is_left_alone(
        make_app: MakeApp, store: Store, book: Book) -> None:
    """The poll can tick while the desk is being taken down (its screens losing their
    widgets, then the stack emptied): a change committed then is not read into them."""
    app = make_app("bruno")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("4")
        await pilot.pause()
        with store.transaction() as session:
            add_note(session, Actor("alice", Role.CREDIT_MANAGER), book.debtors["F-0001"],
                     "written on another desk")
        app.exit()
        app.follow_changes()  # between exit() and the stack's teardown
    with store.transaction() as session:
        add_note(session, Actor("alice", Role.CREDIT_MANAGER), book.debtors["F-0001"],
                 "written on another desk after this one closed")
    app.follow_changes()  # a last tick after the teardown: no screen left on the stack
