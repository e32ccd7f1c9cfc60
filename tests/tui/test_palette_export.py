"""The command palette exports what `relance report` writes: the aged balance as CSV,
XLSX or PDF and, on a case, the debtor's statement as a PDF, under the outbox's
`reports/`, in the desk's language, and says where the file is."""

from __future__ import annotations

from pathlib import Path

from openpyxl import load_workbook
from pypdf import PdfReader
from textual.command import CommandList
from textual.pilot import Pilot

from relance.kernel.workspace import Workspace
from relance.store.db import Store
from relance.tui.app import RelanceApp
from tests.casework.factory import Book
from tests.tui.conftest import NOW, MakeApp, settle
from tests.tui.test_desk_help import french_app

DAY = NOW.date().isoformat()


async def _palette(pilot: Pilot[None], text: str) -> None:
    """Type `text` in the palette and choose its best match."""
    await pilot.press("ctrl+p")
    await pilot.pause()
    await pilot.press(*text)
    for _ in range(20):  # the palette searches in the background as one types
        await pilot.pause(0.05)
    await pilot.press("enter")
    await settle(pilot)
    await pilot.pause()


def _said(app: RelanceApp) -> list[str]:
    return [str(notification.message) for notification in app._notifications]


def _pdf_text(path: Path) -> str:
    return "\n".join(page.extract_text() or "" for page in PdfReader(path).pages)


async def test_palette_writes_the_aged_balance_as_a_workbook(
        make_app: MakeApp, desk_store: tuple[Store, Book, Workspace]) -> None:
    workspace = desk_store[2]
    app = make_app("alice")
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await _palette(pilot, "Export the aged balance (XLSX)")
        said = _said(app)
    target = workspace.outbox_dir / "reports" / f"aged-balance-{DAY}.xlsx"
    assert target.is_file()
    assert any(f"Wrote {target}" in text for text in said), said
    sheet = load_workbook(target).worksheets[0]
    header = [cell.value for cell in sheet[1]]
    assert header[:3] == ["segment", "name", "currency"]
    assert header[-2:] == ["total", "invoices"]
    cells = [str(cell.value) for row in sheet.iter_rows(min_row=2) for cell in row]
    assert any(text.startswith("=SUM(") for text in cells), cells
    # The key account's debtor is a line of the balance, amounts as numbers.
    assert "key_account" in cells


async def test_palette_writes_the_aged_balance_as_csv(
        make_app: MakeApp, desk_store: tuple[Store, Book, Workspace]) -> None:
    workspace = desk_store[2]
    app = make_app("alice")
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await _palette(pilot, "Export the aged balance (CSV)")
    target = workspace.outbox_dir / "reports" / f"aged-balance-{DAY}.csv"
    # Excel in French opens it as it is: a byte order mark, `;` and a decimal comma.
    text = target.read_text(encoding="utf-8")
    assert text.startswith("\ufeffsegment;name;currency;")
    assert "\nkey_account;key_account;EUR;500,00;0,00;0,00;0,00;7200,00;7700,00;2\n" in text


async def test_in_french_the_pdf_and_the_notice_are_french(
        desk_store: tuple[Store, Book, Workspace]) -> None:
    store, _book, workspace = desk_store
    app = french_app(store, workspace)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await _palette(pilot, "Exporter la balance âgée (PDF)")
        said = _said(app)
    target = workspace.outbox_dir / "reports" / f"aged-balance-{DAY}.pdf"
    assert any(f"Fichier écrit : {target}" in text for text in said), said
    text = _pdf_text(target)
    assert "Balance âgée au 20/11/2026" in text
    assert "Salon Lille Centre" in text or "key_account" in text


async def test_on_a_case_the_palette_writes_the_debtors_statement(
        desk_store: tuple[Store, Book, Workspace]) -> None:
    store, book, workspace = desk_store
    app = french_app(store, workspace)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        app.open_case(book.debtors["F-0003"])
        await settle(pilot)
        await _palette(pilot, "relevé de compte")
        said = _said(app)
    target = workspace.outbox_dir / "reports" / f"statement-F-0003-{DAY}.pdf"
    assert any(f"Fichier écrit : {target}" in text for text in said), said
    text = _pdf_text(target)
    assert "Relevé de compte au 20/11/2026" in text
    assert "Salon Lille Centre" in text


async def test_the_statement_is_offered_only_on_a_case(make_app: MakeApp) -> None:
    app = make_app("alice")
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"export")
        for _ in range(20):
            await pilot.pause(0.05)
        offered = app.screen.query_one(CommandList)
        titles = [str(offered.get_option_at_index(index).prompt)
                  for index in range(offered.option_count)]
    assert any("aged balance (PDF)" in title for title in titles), titles
    assert not any("statement" in title for title in titles), titles
