"""The case is the truth: the desk's lists follow the store (a change made on this desk,
another desk or another process shows without a restart), payments, plans, undo and
suspense, driven by keys on the real app and checked in the database."""

from __future__ import annotations

import asyncio
import datetime as dt
import sys
from typing import Any

import pytest
from sqlalchemy import select, update
from textual.widgets import DataTable

from relance.engine import casework
from relance.engine.roles import Actor, Role
from relance.kernel.money import Money
from relance.store.db import Store
from relance.store.models import (
    Action,
    ActionState,
    Debtor,
    Event,
    Invoice,
    InvoiceStatus,
    Payment,
    PaymentPlan,
    PlanStatus,
)
from relance.tui import data, worklists
from relance.tui.app import RelanceApp
from relance.tui.screens.modals import FormScreen
from relance.tui.widgets.lazy_table import LazyTable
from tests.casework.factory import TODAY, Book, add_tui_debtor_in_every_channel
from tests.tui.conftest import MakeApp, settle

SIZE = (80, 24)
BRUNO = Actor("bruno", Role.OPERATOR)


def states(store: Store, book: Book, *names: str) -> list[ActionState]:
    with store.session() as session:
        return [session.get_one(Action, book.actions[name]).state for name in names]


def balance(store: Store, book: Book, number: str) -> int:
    with store.session() as session:
        return session.get_one(Invoice, book.invoices[number]).balance_minor


def kinds(store: Store) -> list[str]:
    with store.session() as session:
        return list(session.scalars(select(Event.kind).order_by(Event.id)))


def notices(app: RelanceApp) -> list[str]:
    return [str(n.message) for n in app._notifications]


def rows(app: RelanceApp, table_id: str) -> dict[str, list[str]]:
    """The rows of a table on screen, by key, as the text shown."""
    found = app.screen.query_one(table_id)
    if isinstance(found, LazyTable):
        return found.texts()
    table: DataTable[Any] = app.screen.query_one(table_id, DataTable)
    return {str(key.value): [str(cell) for cell in table.get_row(key)]
            for key in table.rows}


def form_error(app: RelanceApp) -> str:
    assert isinstance(app.screen, FormScreen)
    return str(app.screen.query_one("#form-error").render())


async def wait_for_poll(app: RelanceApp) -> None:
    """Long enough for the change counter to be read at least once."""
    await asyncio.sleep(app.POLL_SECONDS * 1.5)


def with_debtor_everywhere(store: Store, book: Book) -> None:
    with store.transaction() as session:
        add_tui_debtor_in_every_channel(session, book)


# --------------------------------------------------------------------------- (a) a payment


@pytest.mark.parametrize("desk_db", ["sqlite", "postgresql"], indirect=True)
async def test_a_payment_settles_every_channel_and_the_lists_follow(
        make_app: MakeApp, store: Store, book: Book) -> None:
    with_debtor_everywhere(store, book)
    everything = ("tui_letter", "tui_email", "tui_call", "tui_escalate")
    call, escalation = str(book.actions["tui_call"]), str(book.actions["tui_escalate"])
    app = make_app("bruno")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("3")
        await settle(pilot)
        assert rows(app, "#calls-table")[call][3] == "€3,000.00"
        await pilot.press("down", "c", "m")  # Rennes' call, its case, a payment
        await settle(pilot)
        await pilot.press(*"1000", "enter", "enter", *"VIR 12", "enter", "enter")
        await settle(pilot)
        assert "Payment of €1,000.00 recorded: FA-9 €1,000.00" in notices(app)
        # Reduced, not cancelled: each waiting action now says what is owed.
        assert states(store, book, *everything) == [
            ActionState.PROPOSED, ActionState.PROPOSED, ActionState.APPROVED,
            ActionState.PROPOSED]
        await pilot.press("3")
        await settle(pilot)
        assert rows(app, "#calls-table")[call][3] == "€2,000.00"
        await pilot.press("2")
        await settle(pilot)
        assert rows(app, "#esc-table")[escalation][4] == "€2,000.00"
        await pilot.press("4", "m", *"2500", "enter", "enter", "enter", "enter")
        await settle(pilot)
        assert ("Payment of €2,500.00 recorded: FA-9 €2,000.00; €500.00 on account"
                in notices(app))
        assert states(store, book, *everything) == [ActionState.CANCELLED] * 4
        await pilot.press("3")
        await settle(pilot)
        assert list(rows(app, "#calls-table")) == [str(book.actions["call"])]
        await pilot.press("2")
        await settle(pilot)
        assert list(rows(app, "#esc-table")) == [str(book.actions["escalate"])]
    assert balance(store, book, "FA-9") == 0
    # Each payment and the settling of the four actions, one transaction each: the
    # settlement's events follow their payment's and name it.
    with store.session() as session:
        log = session.scalars(select(Event).order_by(Event.id)).all()
    assert [e.kind for e in log] == ["payment.recorded"] + ["action.settled"] * 4 + [
        "payment.recorded"] + ["action.settled"] * 4
    assert {e.data["cause"] for e in log[6:]} == {f"payment {log[5].subject_id}"}


# --------------------------------------------------------------------------- (b) polling


async def test_a_change_from_another_process_shows_after_the_poll(
        make_app: MakeApp, store: Store, book: Book) -> None:
    url = store.engine.url.render_as_string(hide_password=False)
    nantes = book.debtors["F-0002"]
    script = (
        "import datetime as dt\n"
        "from relance.engine import casework\n"
        "from relance.engine.roles import Actor, Role\n"
        "from relance.store.db import open_store\n"
        "from relance.kernel.money import Money\n"
        f"store = open_store({url!r})\n"
        "with store.write_transaction() as session:\n"
        "    casework.record_payment(session, Actor('alice', Role.CREDIT_MANAGER),\n"
        f"        creditor_id={book.creditor_id}, debtor_id={nantes},\n"
        "        amount=Money('EUR', 40_050), received_on=dt.date(2026, 11, 20),\n"
        "        reference='VIR 7', today=dt.date(2026, 11, 20))\n"
    )
    call = str(book.actions["call"])
    app = make_app("bruno")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("3")
        await pilot.pause()
        assert rows(app, "#calls-table")[call][3] == "€2,400.50"
        process = await asyncio.create_subprocess_exec(sys.executable, "-c", script)
        assert await process.wait() == 0
        await wait_for_poll(app)
        await pilot.pause()
        assert rows(app, "#calls-table")[call][3] == "€2,000.00"


async def test_a_promise_proposes_what_is_owed_now(make_app: MakeApp, store: Store,
                                                   book: Book) -> None:
    app = make_app("bruno")
    app.POLL_SECONDS = 1000  # no reload: the form itself must read what is owed
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("3")
        await pilot.pause()
        with store.write_transaction() as session:  # a payment on another desk
            casework.record_payment(session, BRUNO, creditor_id=book.creditor_id,
                                    debtor_id=book.debtors["F-0002"],
                                    amount=Money("EUR", 40_050), received_on=TODAY,
                                    reference="VIR 8", today=TODAY)
        assert rows(app, "#calls-table")[str(book.actions["call"])][3] == "€2,400.50"
        await pilot.press("p")
        await pilot.pause()
        assert isinstance(app.screen, FormScreen)
        assert app.screen.answers()["amount"] == "2000.00"


async def test_the_queue_keeps_its_cursor_on_the_action(make_app: MakeApp, store: Store,
                                                        book: Book) -> None:
    with_debtor_everywhere(store, book)  # Rennes' letter and e-mail after Nantes' e-mail
    app = make_app("bruno")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("down")  # Nantes' e-mail, under Lyon's letter
        await pilot.pause()
        table = app.screen.query_one("#queue-table")
        assert table.current.action_id == book.actions["email"]  # type: ignore[attr-defined]
        with store.write_transaction() as session:  # another desk pauses Lyon
            casework.pause(session, BRUNO, book.debtors["F-0001"], until=dt.date(2026, 12, 1),
                           reason="accord", today=TODAY)
        await wait_for_poll(app)
        await pilot.pause()
        # Lyon's letter is gone: the e-mail moved up a row, and the cursor with it.
        assert table.row_count == 3  # type: ignore[attr-defined]
        assert table.cursor == 0  # type: ignore[attr-defined]
        assert table.current.action_id == book.actions["email"]  # type: ignore[attr-defined]


def test_stale_rows_are_hidden_and_amounts_are_current(store: Store, book: Book) -> None:
    """A change that bypassed the settle step (a row fixed by hand) still shows right."""
    with store.transaction() as session:
        session.execute(update(Debtor).where(Debtor.id == book.debtors["F-0002"])
                        .values(paused_until=dt.date(2026, 11, 20)))  # paused today
        session.execute(update(Invoice).where(Invoice.id == book.invoices["FA-4"])
                        .values(dispute_reason="livraison", disputed_since=TODAY))
        session.execute(update(Invoice).where(Invoice.id == book.invoices["FA-1"])
                        .values(paid_minor=25_000, balance_minor=100_000))
    with store.session() as session:
        assert worklists.call_list(session, TODAY) == []
        assert worklists.escalations(session, TODAY) == []
        queue = data.queue_page(session, data.QueueFilter(), 0, 10, today=TODAY)
        assert [(r.action_id, r.amount_minor) for r in queue] == [
            (book.actions["letter"], 100_000 + 98_040)]
        assert data.count_queue(session, data.QueueFilter(), today=TODAY) == 1
        # Tomorrow the pause is over: Nantes' e-mail and call are back.
        tomorrow = TODAY + dt.timedelta(days=1)
        assert data.count_queue(session, data.QueueFilter(), today=tomorrow) == 2
        assert len(worklists.call_list(session, tomorrow)) == 1


# --------------------------------------------------------------------------- (c) payments


async def test_an_empty_payment_form_records_nothing(make_app: MakeApp, store: Store) -> None:
    app = make_app("bruno")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("4", "m")
        await pilot.pause()
        await pilot.press("enter", "enter", "enter", "enter")
        await pilot.pause()
        assert form_error(app) == "Enter the amount received."
        await pilot.press("escape")
        await pilot.pause()
    with store.session() as session:
        assert session.scalars(select(Payment)).all() == []
    assert kinds(store) == []


async def test_named_invoices_are_paid_in_order(make_app: MakeApp, store: Store,
                                                book: Book) -> None:
    app = make_app("bruno")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("4", "m")
        await pilot.pause()
        await pilot.press(*"1000", "enter", "enter", "enter", *"FA-2, FA-1", "enter")
        await pilot.pause()
        assert "Payment of €1,000.00 recorded: FA-2 €980.40, FA-1 €19.60" in notices(app)
    assert (balance(store, book, "FA-1"), balance(store, book, "FA-2")) == (123_040, 0)


# --------------------------------------------------------------------------- (d) plans


async def test_a_payment_plan_from_the_case(make_app: MakeApp, store: Store,
                                            book: Book) -> None:
    app = make_app("bruno")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("4", "l")  # Lyon: FA-1 and FA-2, 2 230.40 EUR
        await pilot.pause()
        await pilot.press(*["enter"] * 5)  # both invoices proposed; no count
        await pilot.pause()
        assert form_error(app) == "Number of instalments: a whole number, e.g. 3."
        await pilot.press(*["shift+tab"] * 3)  # back to the count
        await pilot.press(*"3", "enter", *"30/11/2026", "enter", "enter", "enter")
        await pilot.pause()
        with store.session() as session:
            plan = session.scalars(select(PaymentPlan)).one()
            assert plan.status == PlanStatus.ACTIVE
            assert [(i.due_on, i.amount_minor) for i in plan.instalments] == [
                (dt.date(2026, 11, 30), 74_347), (dt.date(2026, 12, 30), 74_347),
                (dt.date(2027, 1, 30), 74_346)]
        # The letter about those invoices stops: they are in a plan.
        assert states(store, book, "letter") == [ActionState.CANCELLED]
        await pilot.press("t")
        await pilot.pause()
        text = str(app.screen.query_one("#case-notes").render())
        assert f"#{plan.id} in force" in text and "30/12/2026" in text
        await pilot.press("e", "enter", *"accord rompu", "enter")  # the one plan in force
        await pilot.pause()
        # A plan given instalment by instalment (a decimal comma inside the list).
        await pilot.press("l", "enter", "enter", "enter", "enter",
                          *"30/11/2026:1230,40, 31/12/2026:1000", "enter")
        await pilot.pause()
    with store.session() as session:
        first, second = session.scalars(select(PaymentPlan).order_by(PaymentPlan.id)).all()
        assert (first.status, first.ended_on) == (PlanStatus.CANCELLED, TODAY)
        assert second.status == PlanStatus.ACTIVE
        assert [(i.due_on, i.amount_minor) for i in second.instalments] == [
            (dt.date(2026, 11, 30), 123_040), (dt.date(2026, 12, 31), 100_000)]
    assert kinds(store) == ["plan.created", "action.settled", "plan.cancelled", "plan.created"]


# --------------------------------------------------------------------------- (e) undo


async def test_undo_a_payment_from_the_history(make_app: MakeApp, store: Store,
                                               book: Book) -> None:
    app = make_app("bruno")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("4", "m", *"1300", "enter", "enter", "enter", "enter")
        await pilot.pause()
        assert balance(store, book, "FA-1") == 0
        with store.session() as session:
            paid = session.scalars(select(Event).where(Event.kind == "payment.recorded")).one()
        await pilot.press("h")
        await pilot.pause()
        history: DataTable[Any] = app.screen.query_one("#case-history", DataTable)
        await pilot.press("ctrl+home", *["down"] * history.get_row_index(f"e{paid.id}"), "u")
        await pilot.pause()
        await pilot.press("enter")  # no reason: refused
        await pilot.pause()
        assert form_error(app) == "An undo needs a reason."
        await pilot.press(*"erreur de saisie", "enter")
        await pilot.pause()
        assert (balance(store, book, "FA-1"), balance(store, book, "FA-2")) == (
            125_000, 98_040)
        with store.session() as session:
            payment = session.scalars(select(Payment)).one()
            assert payment.reversed_on == TODAY
            assert payment.reversal_reason == "erreur de saisie"
            undone = session.scalars(select(Event).where(Event.kind == "payment.reversed")).one()
        line = rows(app, "#case-history")[f"e{paid.id}"]
        assert line[4].startswith(f"↶ undone by #{undone.id}")
        assert history.get_row_index(f"e{paid.id}") == history.cursor_row  # still on it
        await pilot.press("u")  # the same line again
        await pilot.pause()
        assert f"#{paid.id} was already undone by #{undone.id}" in notices(app)
        letter = history.get_row_index(f"a{book.actions['letter']}")
        await pilot.press("ctrl+home", *["down"] * letter, "u")  # the run's letter
        await pilot.pause()
        assert any("an action of the rules" in n for n in notices(app))
        await pilot.press("ctrl+home", *["down"] * history.get_row_index(f"e{undone.id}"), "u")
        await pilot.pause()
        assert f"#{undone.id} Payment reversed cannot be undone" in notices(app)
        assert type(app.screen).__name__ == "CaseScreen"


# --------------------------------------------------------------------------- (f) suspense


async def test_allocate_a_payment_in_suspense(make_app: MakeApp, store: Store,
                                              book: Book) -> None:
    with store.write_transaction() as session:
        payment = casework.record_payment(
            session, BRUNO, creditor_id=book.creditor_id, debtor_id=None,
            amount=Money("EUR", 50_000), received_on=TODAY, reference="VIR INCONNU 42",
            today=TODAY)
        key = str(payment.id)
    app = make_app("bruno")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("6")
        await pilot.pause()
        assert rows(app, "#suspense-table")[key][3:5] == ["€500.00", "— suspense"]
        await pilot.press("a", *"Nantes", "enter", *"FA-3:200", "enter")
        await pilot.pause()
        left, debtor = rows(app, "#suspense-table")[key][3:5]
        assert (left, debtor[:15]) == ("€300.00", "Institut Nantes")
        await pilot.press("a", "enter", "enter")  # the same debtor, oldest due first
        await pilot.pause()
        assert rows(app, "#suspense-table") == {}
    assert balance(store, book, "FA-3") == 240_050 - 50_000
    with store.session() as session:
        assert session.get_one(Invoice, book.invoices["FA-3"]).status == InvoiceStatus.OPEN
    # Each allocation settled Nantes' e-mail and call (their amount went down).
    assert kinds(store)[1:] == ["payment.allocated", "action.settled", "action.settled"] * 2
