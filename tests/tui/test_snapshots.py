"""The main screens at 80x24 on a fixed book and a fixed day (SVG snapshots), and every
screen in French and in English at 80x24 and 120x40 (`test_every_screen`).

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
from relance.kernel.workspace import Workspace
from relance.store.db import Store
from relance.tui.app import RelanceApp
from relance.tui.context import TuiContext
from relance.tui.screens.chooser import choose_case, find_cases
from tests.casework.factory import TODAY, Book
from tests.tui.conftest import NOW, MakeApp, settle
from tests.tui.test_desk_help import french_app

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


# --------------------------------------------------------------- every screen, both ways

SIZES = {"80x24": (80, 24), "120x40": (120, 40)}
EVERY_SCREEN: dict[str, list[str]] = {
    "queue": [],
    "escalations": ["2"],
    "calls": ["3"],
    "case": ["4"],
    "dashboard": ["5"],
    # The trends view is left to tests/tui/test_dashboard.py: plotext's styling of the
    # axes' blank cells depends on the plots drawn before in the process.
    "suspense": ["6"],
    "help": ["5", "question_mark"],
    "chooser": ["5"],  # pushed by `_choose` over the dashboard: "salon" finds two debtors
    **({"cases": ["7"]} if "cases" in RelanceApp.MODES else {}),
    "creditors": ["8"],
}


def _choose(pilot: Pilot[None]) -> Awaitable[None]:
    async def run() -> None:
        app = pilot.app
        assert isinstance(app, RelanceApp)
        with app.ctx.reading() as session:
            matches = find_cases(session, "salon")
        choose_case(app, "salon", matches, app.open_case)
        await settle(pilot)

    return run()


@pytest.mark.parametrize("screen", list(EVERY_SCREEN))
@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("language", ["fr", "en"])
def test_every_screen(snap_compare: SnapCompare, desk_store: tuple[Store, Book, Workspace],
                      language: str, size: str, screen: str) -> None:
    """Each screen in French and in English, at the smallest size and a roomy one."""
    store, book, workspace = desk_store
    _money_book(store, book)
    app = french_app(store, workspace) if language == "fr" else RelanceApp(
        TuiContext.open(store, workspace, "alice", clock=lambda: NOW))
    keys = EVERY_SCREEN[screen]

    async def run(pilot: Pilot[None]) -> None:
        await settle(pilot)
        await pilot.press(*keys)
        await settle(pilot)
        # A view drawn from a background read (the trends) needs one more frame.
        await settle(pilot)
        if screen == "chooser":
            await _choose(pilot)

    assert snap_compare(app, terminal_size=SIZES[size], run_before=run)
