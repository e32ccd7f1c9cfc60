"""Documents on the desk: a letter's page as an image or as laid-out text, an e-mail's
headers, the very document an action sent (not rendered again), `o` without a viewer,
and the case in French and in English. Real app, real store, real PDFs (WeasyPrint)."""

from __future__ import annotations

import asyncio
import os
import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update
from textual.widgets import DataTable, Static

from relance.channels.dispatch import dispatch
from relance.engine import casework
from relance.engine.roles import Actor, Role
from relance.kernel.i18n import using_language
from relance.kernel.money import Money
from relance.kernel.workspace import Workspace
from relance.store.db import Store
from relance.store.models import Action, ActionState, Creditor
from relance.tui.app import RelanceApp
from relance.tui.screens.document import DocumentScreen
from relance.tui.widgets.page_image import ENVIRONMENT, is_image
from tests.casework.factory import TODAY, Book
from tests.tui.conftest import MakeApp

SIZE = (120, 40)
LETTER = """{% extends "_base/letter.html" %}
{% block subject %}Relance{% endblock %}
{% block body %}<p>VERSION du courrier</p>{% include "_base/invoices.fr.html" %}{% endblock %}
"""


def real_letters(store: Store, book: Book) -> None:
    """Lyon's letter on a template the package ships, and a creditor with an address
    for its e-mails."""
    with store.transaction() as session:
        session.execute(update(Action).where(Action.id == book.actions["letter"])
                        .values(template="amiable_2"))
        session.execute(update(Creditor).values(email="relance@jcd.fr"))


def document(app: RelanceApp) -> DocumentScreen:
    assert isinstance(app.screen, DocumentScreen)
    return app.screen


def page_text(app: RelanceApp) -> str:
    return "\n".join(str(widget.render()) for widget in
                     document(app).query(".page-text").results(Static))


def notices(app: RelanceApp) -> list[str]:
    return [str(n.message) for n in app._notifications]


async def test_a_letter_preview_keeps_the_page_layout_without_images(
        make_app: MakeApp, store: Store, book: Book, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENVIRONMENT, "text")
    real_letters(store, book)
    app = make_app("bruno")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("enter")  # Lyon's letter, first in the queue
        await pilot.pause()
        assert not any(is_image(w) for w in document(app).query("*"))
        lines = page_text(app).splitlines()
    fa1 = next(line for line in lines if line.lstrip().startswith("FA-1"))
    fa2 = next(line for line in lines if line.lstrip().startswith("FA-2"))
    # One invoice a line, its dates and amounts in the page's columns, in order...
    assert re.split(" +", fa1.strip()) == [
        "FA-1", "01/08/2026", "31/08/2026", "1\u202f250,00\u00a0€", "0,00\u00a0€",
        "1\u202f250,00\u00a0€"]
    # ...and under each other: dates start together, amounts end together.
    assert fa1.index("31/08/2026") == fa2.index("01/10/2026")
    assert len(fa1.rstrip()) == len(fa2.rstrip())
    assert fa2.rstrip().endswith("980,40\u00a0€")
    heading = next(line for line in lines if "Échéance" in line)
    assert abs(heading.index("Échéance") - fa1.index("31/08/2026")) <= 1


async def test_a_letter_preview_draws_the_page_where_the_terminal_can(
        make_app: MakeApp, store: Store, book: Book, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENVIRONMENT, "sixel")
    real_letters(store, book)
    app = make_app("bruno")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("enter")
        await pilot.pause()
        images = [w for w in document(app).query("*") if is_image(w)]
        assert len(images) == 1  # a one-page letter
        assert page_text(app) == ""


async def test_an_email_preview_shows_from_to_and_subject(
        make_app: MakeApp, store: Store, book: Book, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENVIRONMENT, "text")
    real_letters(store, book)
    app = make_app("bruno")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("down", "enter")  # Nantes' e-mail
        await pilot.pause()
        headers = dict(document(app).document.headers)
        assert headers["From"] == "Jean Coutu Diffusion <relance@jcd.fr>"
        assert headers["To"] == "Institut Nantes Graslin <f-0002@example.fr>"
        assert headers["Subject"] == "Jean Coutu Diffusion – rappel de facture échue"
        assert "FA-3" in document(app).document.text
        shown = str(document(app).query_one("#doc-headers", Static).render())
        assert re.search(r"^Subject: +Jean Coutu Diffusion – rappel de facture échue$",
                         shown, re.MULTILINE)
        assert re.search(r"^To: +Institut Nantes Graslin <f-0002@example.fr>$", shown,
                         re.MULTILINE)


def send_lyon_letter(store: Store, book: Book, workspace: Workspace, version: str) -> None:
    templates = workspace.templates_dir / "amiable_2"
    templates.mkdir(parents=True, exist_ok=True)
    (templates / "letter.fr.html").write_text(LETTER.replace("VERSION", version),
                                              encoding="utf-8")
    with store.transaction() as session:
        session.execute(update(Action).where(Action.id == book.actions["letter"])
                        .values(state=ActionState.APPROVED, approved_by="alice"))
    report = dispatch(store, workspace, today=TODAY, channels={"letter"})
    assert report.sent == 1, report.errors


async def open_history_line(app: RelanceApp, pilot: Any, key: str) -> None:
    await pilot.press("4", "h")
    await pilot.pause()
    history: DataTable[Any] = app.screen.query_one("#case-history", DataTable)
    await pilot.press("ctrl+home", *["down"] * history.get_row_index(key), "enter")
    await pilot.pause()


async def test_the_history_opens_the_letter_that_was_sent(
        make_app: MakeApp, store: Store, book: Book,
        desk_store: tuple[Store, Book, Workspace], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENVIRONMENT, "text")
    workspace = desk_store[2]
    real_letters(store, book)
    send_lyon_letter(store, book, workspace, "Première version")
    # The template changes after the send: the history still shows what went out.
    (workspace.templates_dir / "amiable_2" / "letter.fr.html").write_text(
        LETTER.replace("VERSION", "Seconde version"), encoding="utf-8")
    app = make_app("bruno")
    async with app.run_test(size=SIZE) as pilot:
        await open_history_line(app, pilot, f"a{book.actions['letter']}")
        shown = document(app)
        assert shown.document.title.startswith("letter sent")
        text = page_text(app)
        assert "Première version du courrier" in text
        assert "Seconde version" not in text
        sent = shown.document.file
        assert sent is not None and sent.parent.parent.name == "letters"


async def test_open_without_a_viewer_shows_the_path(
        make_app: MakeApp, store: Store, book: Book, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENVIRONMENT, "text")
    real_letters(store, book)
    empty = tmp_path / "no-viewer"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))  # no xdg-open
    app = make_app("bruno")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("enter", "o")
        await pilot.pause()
        path = document(app).document.file
        assert path is not None and path.suffix == ".pdf"
        said = notices(app)[-1]
        assert said.startswith("No viewer on this machine")
        assert str(path) in said


async def test_open_with_a_viewer_runs_it_detached(
        make_app: MakeApp, store: Store, book: Book, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENVIRONMENT, "text")
    real_letters(store, book)
    folder = tmp_path / "bin"
    folder.mkdir()
    opened = tmp_path / "opened.txt"
    viewer = folder / "xdg-open"  # the machine's opener, as a desktop would have it
    viewer.write_text(f'#!/bin/sh\necho "$1" > {opened}\n', encoding="utf-8")
    viewer.chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}/usr/bin:/bin")
    monkeypatch.setenv("DISPLAY", ":0")
    app = make_app("bruno")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("enter", "o")
        await pilot.pause()
        path = document(app).document.file
        assert notices(app)[-1] == f"Opened {path} with xdg-open"
    for _ in range(50):
        if opened.exists() and opened.read_text().strip():
            break
        await asyncio.sleep(0.1)
    assert opened.read_text().strip() == str(path)


def pay_lyon(store: Store, book: Book) -> None:
    with store.write_transaction() as session:
        casework.record_payment(session, Actor("bruno", Role.OPERATOR),
                                creditor_id=book.creditor_id, debtor_id=book.debtors["F-0001"],
                                amount=Money("EUR", 300_000), received_on=TODAY,
                                reference="VIR 3000", today=TODAY)


def headings(app: RelanceApp, table_id: str) -> list[str]:
    table: DataTable[Any] = app.screen.query_one(table_id, DataTable)
    return [str(column.label) for column in table.columns.values()]


def history_cells(app: RelanceApp) -> list[str]:
    table: DataTable[Any] = app.screen.query_one("#case-history", DataTable)
    return [str(cell) for key in table.rows for cell in table.get_row(key)]


@pytest.mark.parametrize(("language", "invoice_headings", "what", "amount", "day"), [
    ("fr", ["Facture", "Échéance", "Montant", "Reste dû"], "Règlement enregistré",
     "3\u202f000,00\u00a0€", "20/11/2026"),
    ("en", ["Invoice", "Due", "Amount", "Balance"], "Payment recorded", "€3,000.00",
     "20/11/2026"),
])
async def test_the_case_speaks_the_desk_language(
        make_app: MakeApp, store: Store, book: Book, monkeypatch: pytest.MonkeyPatch,
        language: str, invoice_headings: list[str], what: str, amount: str, day: str) -> None:
    pay_lyon(store, book)
    monkeypatch.setenv("LANGUAGE", language)  # the desk takes it from the environment
    with using_language("en"):  # and speaks it until this block ends
        app = make_app("bruno")
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("4")
            await pilot.pause()
            assert headings(app, "#case-invoices")[1:5] == invoice_headings
            await pilot.press("h")
            await pilot.pause()
            cells = history_cells(app)
    assert what in cells and day in cells
    assert any(cell.startswith(amount) for cell in cells)


async def test_an_event_opens_with_all_its_details(make_app: MakeApp, store: Store,
                                                   book: Book) -> None:
    pay_lyon(store, book)
    app = make_app("bruno")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("4", "h", "ctrl+home", "v")
        await pilot.pause()
        shown = document(app).document
        assert shown.title.endswith("Payment recorded")
        assert "€3,000.00" in shown.text and "VIR 3000" in shown.text
