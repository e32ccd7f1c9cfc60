"""`with statement` in the preview: what the queue (and the case, for an action not
sent yet) shows before approving is what the dispatch will send, the debtor's account
statement included: its pages after the letter's in one PDF, or the e-mail's second
PDF. Without the option, the letter alone. A real run queues the actions, WeasyPrint
draws them, pypdf reads them back."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from relance.channels.preview import render_preview
from relance.channels.reports.statement_pdf import statement_pdf
from relance.channels.templates import catalogue
from relance.dsl.loader import LoadedRules, load_text
from relance.engine.run import run_day
from relance.kernel.workspace import Workspace
from relance.store.db import Store, open_store
from relance.store.models import Action
from relance.tui.app import RelanceApp
from relance.tui.context import TuiContext
from relance.tui.preview import preview_document
from relance.tui.screens.document import DocumentScreen
from tests.channels.factory import add_creditor, add_debtor, add_invoice, make_workspace
from tests.conftest import PG_URL, PostgresSchemas
from tests.tui.conftest import NOW, settle

DAY = NOW.date()
STATEMENT_TITLE = "Relevé de compte"  # the French statement's title, on its first page
PRINTED_AT = "Édité le"  # a report's footer: the day and minute it was drawn


def _rules(then: str) -> LoadedRules:
    loaded = load_text(f"policy reminders\nwhen overdue >= 10d and not paused then {then}\n",
                       "reminders.rules", catalogue=catalogue(None))
    assert loaded.ok, loaded.render()
    return loaded


@pytest.fixture(params=["sqlite", "postgresql"])
def book_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A French debtor with two late invoices, on SQLite and on PostgreSQL."""
    schemas: PostgresSchemas | None = None
    schema = None
    if request.param == "postgresql":
        schemas = request.getfixturevalue("pg_schemas")
        schema = schemas.create()
        store = open_store(PG_URL, schema=schema)
    else:
        store = open_store(f"sqlite:///{tmp_path / 'relance.sqlite'}")
    with store.transaction() as session:
        debtor = add_debtor(session, add_creditor(session), "F-FR", language="fr")
        add_invoice(session, debtor, "FA-1", 120_000, DAY - dt.timedelta(days=40))
        add_invoice(session, debtor, "FA-2", 35_050, DAY - dt.timedelta(days=25),
                    paid_minor=5_050)
    try:
        yield store
    finally:
        store.dispose()
        if schemas is not None and schema is not None:
            schemas.drop(schema)


def _workspace(root: Path) -> Workspace:
    return make_workspace(root, {"users": {"alice": "credit_manager"}})


def _desk(store: Store, workspace: Workspace) -> TuiContext:
    return TuiContext.open(store, workspace, "alice", clock=lambda: NOW)


def _queued(store: Store, then: str) -> dict[str, int]:
    """Run the day with `then` and return the action id of each channel it queued."""
    run_day(store, _rules(then), DAY, actor="alice", auto_approve=False)
    with store.transaction() as session:
        return {str(action.channel): action.id for action in session.scalars(select(Action))}


def _pages(source: Path | bytes) -> list[str]:
    """Each page's text, words joined by single spaces, without the time it was drawn
    at ("Édité le 20/11/2026 09:34": two drawings a minute apart differ by it)."""
    reader = PdfReader(io.BytesIO(source) if isinstance(source, bytes) else source)
    return [" ".join(" ".join(line.split()) for line in (page.extract_text() or "").splitlines()
                     if not line.startswith(PRINTED_AT))
            for page in reader.pages]


def _statement(store: Store) -> list[str]:
    """The statement as `relance report statement` draws it for the debtor today."""
    with store.transaction() as session:
        debtor_id = session.scalars(select(Action.debtor_id)).first()
        assert debtor_id is not None
        return _pages(statement_pdf(session, debtor_id, on=DAY))


def _letter_alone(store: Store, workspace: Workspace, letter: int) -> list[str]:
    """The letter's own pages: what the preview showed before the statement went along."""
    preview = render_preview(store, workspace, letter, today=DAY)
    assert preview.pdf_path is not None
    pages = _pages(preview.pdf_path)
    return pages[:len(pages) - preview.statement_pages]


def test_a_letter_with_statement_previews_with_the_statement_pages(
        book_store: Store, tmp_path: Path) -> None:
    workspace = _workspace(tmp_path / "ws")
    actions = _queued(book_store, "send letter 'amiable_2', with statement")
    statement = _statement(book_store)
    preview = render_preview(book_store, workspace, actions["letter"], today=DAY)
    assert preview.pdf_path is not None and preview.statement_pages == len(statement)
    pages = _pages(preview.pdf_path)
    letter = _letter_alone(book_store, workspace, actions["letter"])
    # The letter first, then the statement's pages, as the dispatch puts them on paper.
    assert len(pages) == len(letter) + len(statement) > len(letter)
    assert STATEMENT_TITLE not in "".join(letter)
    assert STATEMENT_TITLE in pages[len(letter)]
    assert pages[len(letter):] == statement
    # The desk's document is that PDF, and says where the statement is.
    document = preview_document(_desk(book_store, workspace),
                                actions["letter"])
    assert isinstance(document.pdf, Path)
    assert _pages(document.pdf) == pages
    headers = dict(document.headers)
    assert headers["Account statement"] == (
        f"{len(statement)} page{'s' if len(statement) > 1 else ''}, after the letter's")


def test_without_the_option_the_letter_goes_alone(book_store: Store, tmp_path: Path) -> None:
    workspace = _workspace(tmp_path / "ws")
    actions = _queued(book_store, "send letter 'amiable_2'")
    preview = render_preview(book_store, workspace, actions["letter"], today=DAY)
    assert preview.pdf_path is not None and preview.statement_pages == 0
    assert not any(STATEMENT_TITLE in page for page in _pages(preview.pdf_path))
    document = preview_document(_desk(book_store, workspace),
                                actions["letter"])
    assert "Account statement" not in dict(document.headers)


async def test_the_queue_shows_an_emails_statement_after_its_letter(
        book_store: Store, tmp_path: Path) -> None:
    workspace = _workspace(tmp_path / "ws")
    actions = _queued(book_store, "send email 'amiable_2', with statement")
    statement = _statement(book_store)
    app = RelanceApp(_desk(book_store, workspace))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("enter")  # the e-mail, alone in the queue
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, DocumentScreen)
        document = screen.document
    assert document.title == f"Preview of action {actions['email']}"
    headers = dict(document.headers)
    assert headers["Attached"] == "amiable_2-F-FR.pdf, releve-F-FR.pdf"
    assert isinstance(document.pdf, bytes)
    pages = _pages(document.pdf)
    # The letter attached, then the statement attached: both PDFs' pages, in order.
    assert STATEMENT_TITLE not in pages[0]
    assert len(pages) > len(statement)
    assert pages[-len(statement):] == statement
