"""At 80 columns the footer's keys overflow: the palette's key, docked on the right,
must cover the last column, or a letter of the key hidden beneath shows after it
("^p paletter"). Checked on every screen and under the preview dialog, in both
languages (their keys overflow at different places)."""

from __future__ import annotations

import pytest
from textual.widgets import Footer

from relance.kernel.workspace import Workspace
from relance.store.db import Store
from relance.tui.app import RelanceApp
from relance.tui.context import TuiContext
from relance.tui.screens.document import DocumentScreen
from tests.casework.factory import Book
from tests.tui.conftest import NOW, settle
from tests.tui.test_dashboard import screen_text
from tests.tui.test_desk_help import french_app

WIDTH = 80
PALETTE_KEY = "▏^p palette"  # Textual's key display; "palette" is the same word in French
# The screens' keys, then Enter on the queue: the preview dialog over the queue.
SHOWN = ["1", "2", "3", "4", "5", "6", "7", "8"]


def _desk(desk_store: tuple[Store, Book, Workspace], language: str) -> RelanceApp:
    store, _book, workspace = desk_store
    if language == "fr":
        return french_app(store, workspace)
    return RelanceApp(TuiContext.open(store, workspace, "alice", clock=lambda: NOW))


def _footer(app: RelanceApp) -> str:
    line = screen_text(app).splitlines()[-1]
    assert len(line) <= WIDTH
    return line.ljust(WIDTH)


@pytest.mark.parametrize("language", ["fr", "en"])
async def test_the_palette_key_ends_every_footer_on_the_last_column(
        desk_store: tuple[Store, Book, Workspace], language: str) -> None:
    app = _desk(desk_store, language)
    footers: dict[str, str] = {}
    overflowing = False
    async with app.run_test(size=(WIDTH, 24)) as pilot:
        for key in SHOWN:
            await pilot.press(key)
            await settle(pilot)
            footers[app.current_mode] = _footer(app)
            if app.current_mode == "queue":
                overflowing = app.screen.query_one(Footer).virtual_size.width > WIDTH
        await pilot.press("1")
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, DocumentScreen)
        footers["preview"] = _footer(app)
    assert set(footers) == {*RelanceApp.MODES, "preview"}
    assert overflowing, "the queue's keys no longer overflow: this test checks nothing"
    wrong = {name: line for name, line in footers.items()
             if not line.endswith(PALETTE_KEY)}
    assert not wrong, wrong
