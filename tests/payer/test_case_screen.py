"""The case screen of the desk shows the debtor's payer profile under its balance, as
the last run stored it, and nothing when no run has profiled the debtor yet."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from relance.kernel.workspace import Workspace
from relance.store.db import Store
from relance.store.models import PayerProfile
from relance.tui.app import RelanceApp
from tests.casework.factory import Book
from tests.tui.conftest import MakeApp, desk_db, desk_store, make_app, settle

__all__ = ["desk_db", "desk_store", "make_app"]  # the desk's fixtures, used by name

COMPUTED_ON = dt.date(2026, 11, 20)


@pytest.fixture
def store(desk_store: tuple[Store, Book, Workspace]) -> Store:
    return desk_store[0]


@pytest.fixture
def book(desk_store: tuple[Store, Book, Workspace]) -> Book:
    return desk_store[1]


async def _case_head(app: RelanceApp, debtor_id: int) -> str:
    async with app.run_test(size=(120, 30)) as pilot:
        app.case_debtor_id = debtor_id
        await pilot.press("4")
        await settle(pilot)
        assert type(app.screen).__name__ == "CaseScreen"
        return str(app.screen.query_one("#case-head").render())


def test_the_case_head_shows_the_payer_profile(make_app: MakeApp, store: Store,
                                               book: Book) -> None:
    debtor_id = book.debtors["F-0002"]
    with store.transaction() as session:
        session.add(PayerProfile(debtor_id=debtor_id, computed_on=COMPUTED_ON,
                                 days_late_hundredths=1867, reminders_hundredths=50,
                                 promises_kept_hundredths=33, disputes_12m=2,
                                 payer_class="bad"))
    head = asyncio.run(_case_head(make_app("bruno"), debtor_id))
    assert ("Payer profile (the 12 months before 20/11/2026): bad payer · 18.67 days late "
            "on average · 0.50 reminders on average before paying · 33.00 % of promises "
            "kept · 2 disputes") in head.replace("\n", " ")


def test_a_debtor_no_run_profiled_shows_no_profile(make_app: MakeApp, book: Book) -> None:
    head = asyncio.run(_case_head(make_app("bruno"), book.debtors["F-0002"]))
    assert "Owes" in head
    assert "Payer profile" not in head
