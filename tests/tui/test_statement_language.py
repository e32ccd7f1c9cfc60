"""The palette's statement (on a case) speaks the debtor's language, as `relance report
statement` does, while the desk goes on speaking its own: an English-speaking debtor's
statement exported from a French desk is in English, the same document the command
line writes, and the desk is French before, during the notice and after."""

from __future__ import annotations

from pathlib import Path

import pytest
from pypdf import PdfReader
from sqlalchemy import update

from relance.kernel.i18n import current_language
from relance.kernel.workspace import Workspace
from relance.store.db import Store
from relance.store.models import Debtor
from relance.tui.app import RelanceApp
from tests.casework.factory import Book
from tests.cli import run_cli
from tests.tui.conftest import NOW, settle
from tests.tui.test_dashboard import screen_text
from tests.tui.test_desk_help import french_app
from tests.tui.test_palette_export import _palette, _said

DAY = NOW.date().isoformat()
PRINTED_AT = ("Édité le", "Made on")  # a report's footer: the minute it was drawn


def _text(path: Path) -> list[str]:
    """The PDF's lines, without the minute it was drawn at."""
    return [line for page in PdfReader(path).pages
            for line in (page.extract_text() or "").splitlines()
            if not line.startswith(PRINTED_AT)]


def _speaks(store: Store, book: Book, ref: str, language: str) -> None:
    with store.transaction() as session:
        session.execute(update(Debtor).where(Debtor.id == book.debtors[ref])
                        .values(language=language))


async def _export_statement(app: RelanceApp, debtor_id: int) -> list[str]:
    """Open the case, export its statement from the palette; what the desk said."""
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        app.open_case(debtor_id)
        await settle(pilot)
        await _palette(pilot, "relevé de compte")
        await settle(pilot)
        assert current_language() == "fr"
        assert "Écrans" in screen_text(app)  # the footer, drawn after the export
        return _said(app)


async def test_an_english_debtors_statement_is_in_english_on_a_french_desk(
        desk_store: tuple[Store, Book, Workspace], capsys: pytest.CaptureFixture[str]
        ) -> None:
    store, book, workspace = desk_store
    _speaks(store, book, "F-0003", "en")
    said = await _export_statement(french_app(store, workspace), book.debtors["F-0003"])
    target = workspace.outbox_dir / "reports" / f"statement-F-0003-{DAY}.pdf"
    # The desk's notice in French, the statement in English.
    assert any(f"Fichier écrit : {target}" in text for text in said), said
    assert said[0] == "Mise en page du relevé…", said
    exported = _text(target)
    assert any(line.startswith("Account statement on 20/11/2026") for line in exported), \
        exported
    assert not any("Relevé de compte" in line for line in exported)
    # The very document `relance report statement` writes for that debtor on that day.
    cli = workspace.root / "cli-statement.pdf"
    code, _out, err = run_cli(capsys, "--workspace", str(workspace.root), "--user", "alice",
                              "report", "statement", "F-0003", "--on", DAY,
                              "--output", str(cli))
    assert code == 0, err
    assert exported == _text(cli)


async def test_a_french_debtors_statement_stays_french(
        desk_store: tuple[Store, Book, Workspace]) -> None:
    store, book, workspace = desk_store
    await _export_statement(french_app(store, workspace), book.debtors["F-0002"])
    exported = _text(workspace.outbox_dir / "reports" / f"statement-F-0002-{DAY}.pdf")
    assert any(line.startswith("Relevé de compte au 20/11/2026") for line in exported), \
        exported
