"""The Cases screen follows the store debtor by debtor: after a commit it rewrites the
rows of the debtors the new events name, and reads the whole book again only when an
event names none."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import update

from relance.kernel.money import Money
from relance.store import audit
from relance.store import book as money_book
from relance.store.db import Store
from relance.store.models import Invoice
from relance.tui.app import RelanceApp
from relance.tui.widgets.lazy_table import LazyTable
from tests.casework.factory import Book
from tests.tui.conftest import MakeApp, settle

RECEIVED = dt.date(2026, 11, 20)


def balances(app: RelanceApp) -> dict[str, str]:
    """Each row's balance, by debtor name."""
    table = app.screen.query_one(".list-table", LazyTable)
    rows = [table.texts_of(i) for i in range(table.row_count)]
    return {cells[0]: cells[3] for cells in rows}


def pay_lyon_and_change_nantes_unlogged(store: Store, book: Book) -> None:
    """One commit: 300.00 paid on Lyon's first invoice (an event naming Lyon), and, as
    no part of relance does, Nantes's balance changed in place with no event."""
    with store.write_transaction() as session:
        money_book.record_payment(
            session, creditor_id=book.creditor_id, debtor_id=book.debtors["F-0001"],
            amount=Money("EUR", 30_000), received_on=RECEIVED, reference="VIR LYON",
            actor="bruno", allocations=[(book.invoices["FA-1"], 30_000)], today=RECEIVED)
        session.execute(update(Invoice).where(Invoice.id == book.invoices["FA-3"])
                        .values(balance_minor=1_000))


@pytest.mark.parametrize("desk_db", ["sqlite", "postgresql"], indirect=True)
async def test_a_payment_rewrites_its_debtors_row_only(make_app: MakeApp, store: Store,
                                                        book: Book) -> None:
    app = make_app("bruno")
    async with app.run_test(size=(100, 24)) as pilot:
        await pilot.press("7")
        await settle(pilot)
        before = balances(app)
        assert before["Body Salon Lyon Bellecour"] == "€2,230.40"
        pay_lyon_and_change_nantes_unlogged(store, book)
        app.follow_changes()
        await settle(pilot)
        after = balances(app)
        assert after["Body Salon Lyon Bellecour"] == "€1,930.40"
        # Nantes was not read again: no event named it.
        assert after["Institut Nantes Graslin"] == before["Institut Nantes Graslin"]
        assert after["Salon Lille Centre"] == before["Salon Lille Centre"]


async def test_an_event_naming_no_debtor_reads_the_whole_book(
        make_app: MakeApp, store: Store, book: Book) -> None:
    app = make_app("bruno")
    async with app.run_test(size=(100, 24)) as pilot:
        await pilot.press("7")
        await settle(pilot)
        pay_lyon_and_change_nantes_unlogged(store, book)
        with store.write_transaction() as session:  # as an import of invoices logs
            audit.record(session, actor="bruno", kind="import.invoices",
                         subject_type="import", subject_id="invoices.csv",
                         creditor_id=book.creditor_id)
        app.follow_changes()
        await settle(pilot)
        after = balances(app)
        assert after["Body Salon Lyon Bellecour"] == "€1,930.40"
        assert after["Institut Nantes Graslin"] == "€10.00"
