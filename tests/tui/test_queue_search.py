"""Searching the queue as one types: the read runs off the UI thread, a pause in the
typing starts it, and the latest search is the one shown."""

from __future__ import annotations

from dataclasses import replace

from textual.pilot import Pilot
from textual.widgets import Static

from relance.tui import data
from relance.tui.screens.queue import TYPING_PAUSE, QueueScreen
from tests.casework.factory import Book
from tests.tui.conftest import MakeApp, settle

SIZE = (100, 30)


async def typed(pilot: Pilot[None]) -> None:
    """Past the typing pause, then until the read it started is shown."""
    await pilot.pause(TYPING_PAUSE * 3)
    await settle(pilot)


def queue(pilot: Pilot[None]) -> QueueScreen:
    screen = pilot.app.screen
    assert isinstance(screen, QueueScreen)
    return screen


def bar(screen: QueueScreen) -> str:
    return str(screen.query_one("#queue-bar", Static).render())


async def test_typing_narrows_the_queue(make_app: MakeApp, book: Book) -> None:
    app = make_app("bruno")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = queue(pilot)
        everything = screen.table.row_count
        assert everything > 1
        await pilot.press("slash", *"lyon")
        await typed(pilot)
        assert list(screen.table.texts()) == [str(book.actions["letter"])]
        # The count line: what is shown of how many, and what it adds up to (FA-1, FA-2).
        assert bar(screen).startswith(f"1 action shown of {everything} · €2,230.40")
        assert "searching" not in bar(screen)
        # Invoice numbers from their start, whatever the case typed.
        await pilot.press(*["backspace"] * 4, *"fa-3")
        await typed(pilot)
        assert list(screen.table.texts()) == [str(book.actions["email"])]
        await pilot.press("enter")
        await settle(pilot)
        assert screen.table.row_count == 1 and screen.filter.search == "fa-3"


async def test_the_latest_search_wins(make_app: MakeApp, book: Book) -> None:
    app = make_app("bruno")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = queue(pilot)
        # Typed fast, within the pause: one read, of the last text.
        # (Whether "searching" still shows when the keys return depends on how long the
        # machine took to deliver them: the queue held in memory answers as soon as the
        # pause ends, so only the result is asserted.)
        await pilot.press("slash", *"lyon", *["backspace"] * 4, *"nantes")
        await typed(pilot)
        assert list(screen.table.texts()) == [str(book.actions["email"])]
        # Two reads in flight: whichever ends last, the newer one is shown.
        screen._search_for("Nantes")
        screen._search_for("Lyon")
        await settle(pilot)
        assert list(screen.table.texts()) == [str(book.actions["letter"])]
        assert "“Lyon”" in bar(screen) and "searching" not in bar(screen)
        # A read asked for before the last one, ending after it, is not shown.
        with screen.ctx.reading() as session:
            late = data.read_queue(session, replace(screen.filter, search="Nantes"),
                                   today=screen.ctx.today, page_size=100)
        screen._show(screen._generation - 1, late, True)
        await pilot.pause()
        assert list(screen.table.texts()) == [str(book.actions["letter"])]
