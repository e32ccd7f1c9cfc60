"""Finding one's way on the desk: `?` lists the keys of the screen shown, in the
desk's language; the command palette does what the keys do and finds cases, asking
which one when several match."""

from __future__ import annotations

from sqlalchemy import func, select
from textual.pilot import Pilot
from textual.widgets import OptionList, Static

from relance.kernel.workspace import Workspace, load_config
from relance.store.db import Store
from relance.store.models import Action, ActionState
from relance.tui.app import RelanceApp
from relance.tui.context import TuiContext
from relance.tui.screens.chooser import ChooserScreen, find_cases
from relance.tui.screens.help import HelpScreen
from relance.tui.screens.modals import FormScreen
from tests.casework.factory import Book
from tests.tui.conftest import NOW, MakeApp, settle


def french_app(store: Store, workspace: Workspace, user: str = "alice") -> RelanceApp:
    """The desk of a workspace that asks for French (`[ui] language`)."""
    config = workspace.config_path
    assert config is not None
    text = config.read_text(encoding="utf-8")
    if "[ui]" not in text:
        config.write_text(text + '\n[ui]\nlanguage = "fr"\n', encoding="utf-8")
    french = Workspace(workspace.root, load_config(config), config)
    return RelanceApp(TuiContext.open(store, french, user, clock=lambda: NOW))


def _help_text(app: RelanceApp) -> str:
    screen = app.screen
    assert isinstance(screen, HelpScreen)
    return "\n".join(f"{line.keys} {line.description}" for line in screen.lines) + \
        "\n" + str(screen.query_one("#help-about", Static).render())


async def _palette(pilot: Pilot[None], text: str) -> None:
    await pilot.press("ctrl+p")
    await pilot.pause()
    await pilot.press(*text)
    # The palette searches as one types, in the background: let it finish.
    for _ in range(20):
        await pilot.pause(0.05)


async def test_question_mark_lists_the_keys_of_the_screen_shown(make_app: MakeApp) -> None:
    app = make_app("alice")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("5")
        await settle(pilot)
        await pilot.press("question_mark")
        await settle(pilot)
        text = _help_text(app)
        assert "Dashboard: aged balance, DSO" in text
        for key, what in (("s", "Confirm sent"), ("R", "Resend"), ("v", "View"),
                          ("? / f1", "Help")):
            assert f"{key} {what}" in text
        assert " Screens: 1 Queue · 2 Escalations · 3 Calls" in text
        # Another screen, other keys: escalations have their own, not the dashboard's.
        await pilot.press("escape", "2")
        await settle(pilot)
        await pilot.press("f1")
        await settle(pilot)
        text = _help_text(app)
        assert "a Approve" in text and "r Refuse" in text
        assert "Confirm sent" not in text


async def test_help_and_footer_speak_french(desk_store: tuple[Store, Book, Workspace]
                                            ) -> None:
    store, _book, workspace = desk_store
    app = french_app(store, workspace)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("5")
        await settle(pilot)
        footer = {active.binding.description for active in app.screen.active_bindings.values()
                  if active.binding.show}
        assert {"Confirmer l’envoi", "Renvoyer", "Vue"} <= footer
        await pilot.press("question_mark")
        await settle(pilot)
        text = _help_text(app)
        assert "Synthèse : balance âgée" in text
        assert "s Confirmer l’envoi" in text
        assert " Écrans : 1 File · 2 Escalades" in text
        assert "? / f1 Aide" in text


async def test_palette_approves_the_row_under_the_cursor(make_app: MakeApp,
                                                         store: Store) -> None:
    def proposed() -> int:
        with store.session() as session:
            return int(session.scalar(select(func.count(Action.id)).where(
                Action.state == ActionState.PROPOSED)) or 0)

    before = proposed()
    app = make_app("alice")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await _palette(pilot, "approve")
        await pilot.press("enter")
        await settle(pilot)
    assert proposed() == before - 1


async def test_palette_pause_opens_the_pause_form(make_app: MakeApp) -> None:
    app = make_app("alice")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("4")
        await settle(pilot)
        await _palette(pilot, "pause")
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, FormScreen)
        assert "Pause" in app.screen.title_text


async def test_a_search_of_several_cases_asks_which(make_app: MakeApp, store: Store,
                                                    book: Book) -> None:
    with store.session() as session:
        found = find_cases(session, "salon")
    # Two names hold "Salon"; the desk must not pick one for the operator.
    assert {m.name for m in found} == {"Body Salon Lyon Bellecour", "Salon Lille Centre"}
    app = make_app("alice")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await _palette(pilot, "salon")
        await pilot.press("enter")
        await settle(pilot)
        chooser = app.screen
        assert isinstance(chooser, ChooserScreen)
        options = chooser.query_one(OptionList)
        assert options.option_count == 2
        await pilot.press("down", "enter")
        await settle(pilot)
        assert app.current_mode == "case"
        assert app.case_debtor_id == book.debtors["F-0003"]  # Lille, second by name


async def test_an_invoice_number_finds_its_debtor(make_app: MakeApp, store: Store,
                                                  book: Book) -> None:
    with store.session() as session:
        found = find_cases(session, "FA-3")
    assert [(m.debtor_id, m.invoice, m.exact) for m in found] == [
        (book.debtors["F-0002"], "FA-3", True)]
    app = make_app("alice")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await _palette(pilot, "FA-3")
        await pilot.press("enter")
        await settle(pilot)
        assert app.current_mode == "case"
        assert app.case_debtor_id == book.debtors["F-0002"]

