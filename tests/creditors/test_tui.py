"""The desk's Creditors screen (key 8) under Textual's pilot: the list says what each
creditor lacks, Enter opens its fields, a change is saved with its event, a bad IBAN is
refused in the form naming the field, and an operator cannot edit."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from textual.widgets import DataTable, Input, Static

from relance.kernel.workspace import Workspace
from relance.store.db import Store
from relance.store.models import Creditor, Event
from relance.tui.app import RelanceApp
from relance.tui.screens.creditors import CreditorForm, CreditorsScreen
from tests.casework.factory import Book
from tests.tui.conftest import MakeApp, settle

SIZE = (110, 32)
BOTH = pytest.mark.parametrize("desk_db", ["sqlite", "postgresql"], indirect=True)


def _creditor(store: Store) -> Creditor:
    with store.session() as session:
        found = session.scalars(select(Creditor).where(Creditor.code == "JCDA")).one()
        session.expunge_all()
        return found


def _kinds(store: Store) -> list[tuple[str, str]]:
    with store.session() as session:
        return [(e.actor, e.kind) for e in session.scalars(select(Event).order_by(Event.id))]


def _without_siren_and_iban(store: Store) -> None:
    """The book's creditor as an import leaves it: no SIREN, no IBAN."""
    with store.write_transaction() as session:
        creditor = session.scalars(select(Creditor).where(Creditor.code == "JCDA")).one()
        creditor.siren = creditor.iban = None


def _detail(app: RelanceApp) -> str:
    return str(app.screen.query_one("#creditors-detail", Static).render())


async def _fill_and_save(app: RelanceApp, pilot: object, values: dict[str, str]) -> None:
    form = app.screen
    assert isinstance(form, CreditorForm)
    for key, value in values.items():
        form.query_one(f"#field-{key}", Input).value = value
    form.query(Input).last().focus()
    await pilot.press("enter")  # type: ignore[attr-defined]
    await settle(pilot)  # type: ignore[arg-type]


@BOTH
async def test_edit_a_creditor_from_the_desk(make_app: MakeApp, desk_store: tuple[
        Store, Book, Workspace]) -> None:
    store = desk_store[0]
    _without_siren_and_iban(store)
    app = make_app("alice")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("8")
        await settle(pilot)
        assert isinstance(app.screen, CreditorsScreen)
        table = app.screen.query_one("#creditors-table", DataTable)
        assert table.row_count == 1
        assert "Letters: lacks SIREN, IBAN" in _detail(app)
        await pilot.press("enter")
        await settle(pilot)
        await _fill_and_save(app, pilot, {"siren": "552 100 554",
                                          "iban": "FR76 3000 6000 0112 3456 7890 189"})
        assert isinstance(app.screen, CreditorsScreen)
        assert "Letters:" not in _detail(app)
    saved = _creditor(store)
    assert (saved.siren, saved.iban, saved.name) == (
        "552100554", "FR7630006000011234567890189", "Jean Coutu Diffusion")
    assert _kinds(store)[-1] == ("alice", "creditor.edited")


async def test_a_bad_iban_is_refused_in_the_form(make_app: MakeApp, desk_store: tuple[
        Store, Book, Workspace]) -> None:
    store = desk_store[0]
    _without_siren_and_iban(store)
    events = len(_kinds(store))
    app = make_app("alice")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("8")
        await settle(pilot)
        await pilot.press("e")
        await settle(pilot)
        await _fill_and_save(app, pilot, {"iban": "FR76 3000 6000 0112 3456 7890 188",
                                          "name": "Renamed"})
        form = app.screen
        assert isinstance(form, CreditorForm)  # still open, nothing saved
        error = str(form.query_one("#form-error", Static).render())
        assert error.startswith("IBAN: 'FR76 3000 6000 0112 3456 7890 188' is not an IBAN")
        await pilot.press("escape")
        await settle(pilot)
    assert _creditor(store).iban is None and _creditor(store).name == "Jean Coutu Diffusion"
    assert len(_kinds(store)) == events


async def test_an_operator_sees_the_creditors_but_cannot_edit(make_app: MakeApp) -> None:
    app = make_app("bruno")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("8")
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, CreditorsScreen)
        assert any("only a credit manager can change a creditor" in str(n.message)
                   for n in app._notifications)
