"""The main screens at 80x24 on a fixed book and a fixed day (SVG snapshots).

Update after an intended change with `pytest tests/tui --snapshot-update`, then look at
the SVG files under `tests/tui/__snapshots__/`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable

import pytest
from textual.pilot import Pilot

from relance.engine import casework, plans
from relance.engine.roles import Actor, Role
from relance.kernel.money import Money
from relance.store.db import Store
from tests.casework.factory import TODAY, Book
from tests.tui.conftest import MakeApp, settle

SnapCompare = Callable[..., bool]


def _after(keys: list[str]) -> Callable[[Pilot[None]], Awaitable[None]]:
    async def run(pilot: Pilot[None]) -> None:
        await pilot.press(*keys)
        await settle(pilot)

    return run


@pytest.mark.parametrize(("name", "keys"), [
    ("queue", []),
    ("queue_filter_form", ["f"]),
    ("escalations", ["2"]),
    ("calls", ["3"]),
    ("case", ["4"]),
    ("case_history", ["4", "h"]),
    ("dashboard", ["5"]),
])
def test_screen(snap_compare: SnapCompare, make_app: MakeApp, name: str,
                keys: list[str]) -> None:
    assert snap_compare(make_app("alice"), terminal_size=(80, 24), run_before=_after(keys))


def _money_book(store: Store, book: Book) -> None:
    """A payment nobody identified, a surplus on Nantes' account, and a plan for Lyon."""
    actor = Actor("bruno", Role.OPERATOR)
    with store.write_transaction() as session:
        casework.record_payment(session, actor, creditor_id=book.creditor_id, debtor_id=None,
                                amount=Money("EUR", 50_000), received_on=TODAY,
                                reference="VIR INCONNU 42", today=TODAY)
        casework.pay_invoices(session, actor, [book.invoices["FA-3"]],
                              amount=Money("EUR", 250_000), received_on=TODAY,
                              reference="VIR NANTES", today=TODAY)
        plans.create_plan(session, actor, [book.invoices["FA-1"], book.invoices["FA-2"]],
                          today=TODAY, count=3, first=dt.date(2026, 11, 30))


@pytest.mark.parametrize(("name", "keys"), [
    ("suspense", ["6"]),
    ("case_plans", ["4", "t"]),
])
def test_money_screen(snap_compare: SnapCompare, make_app: MakeApp, store: Store, book: Book,
                      name: str, keys: list[str]) -> None:
    _money_book(store, book)
    assert snap_compare(make_app("alice"), terminal_size=(80, 24), run_before=_after(keys))
