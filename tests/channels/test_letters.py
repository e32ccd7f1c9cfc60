"""Letters: PDFs read back for the amounts, penalty lines and the creditor's details; a
page looked at as an image; resource loading confined to the workspace."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import pypdfium2 as pdfium
import pytest
from pypdf import PdfReader

from relance.channels.dispatch import dispatch
from relance.channels.letter import LetterProblem, render_pdf_bytes, write_pdf
from relance.channels.preview import render_preview
from relance.channels.templates import default_templates_dir
from relance.store.db import Store
from relance.store.models import Action, ActionState
from tests.channels.factory import (
    TODAY,
    add_action,
    add_creditor,
    add_debtor,
    add_invoice,
    make_workspace,
    standard_book,
)


def pdf_text(path: Path | str) -> str:
    text = "\n".join(page.extract_text() or "" for page in PdfReader(str(path)).pages)
    # babel separates thousands with U+202F and puts U+00A0 before the euro sign.
    return " ".join(text.replace("\u202f", " ").replace("\xa0", " ").split())


def test_mise_en_demeure_states_amounts_penalties_and_creditor(store: Store,
                                                              tmp_path: Path) -> None:
    ids = standard_book(store)
    workspace = make_workspace(tmp_path / "ws")
    report = dispatch(store, workspace, today=TODAY)
    assert report.sent == 1 and report.failed == 0, report.errors
    [pdf] = report.paths
    assert Path(pdf).is_relative_to(workspace.outbox_dir / "letters" / "2026-11-22")
    text = pdf_text(pdf)
    # The words, each invoice with its dates and amounts, and what is still due.
    assert "Mise en demeure" in text and "mettons en demeure" in text
    assert "FA-2026-0001" in text and "FA-2026-0114" in text
    assert "23/10/2026" in text  # due date of FA-2026-0001 (30 days late)
    assert "15 000,00 €" in text and "2 230,40 €" in text and "2 000,00 €" in text
    # Penalties at the contractual 15 %: 15,000.00 x 15 % x 30 / 365 = 184.93, and
    # 2,000.00 x 15 % x 52 / 365 = 42.74; 40 EUR per late invoice, as separate lines.
    assert "184,93 €" in text and "42,74 €" in text
    assert re.search(r"15 000,00 € × 15,00 % × 30 j / 365", text)
    assert "Principal restant dû (EUR) 17 000,00 €" in text
    assert "Pénalités de retard (EUR) 227,67 €" in text
    assert "Indemnités forfaitaires (2 × 40,00 €) 80,00 €" in text
    assert "Total à régler (EUR) 17 307,67 €" in text
    assert "taux contractuel de 15,00 %" in text  # the method is printed
    # Deadline, counted from receipt as the text says (so no date), and next step.
    assert "dans un délai de 8 jours à compter de la réception de ce courrier" in text
    assert "30 novembre 2026" not in text and "injonction de payer" in text
    # The creditor's details, payment details; nobody else's name.
    assert "Acme Distribution SAS" in text and "SIREN 552100554" in text
    assert "FR76 3000 6000 0112 3456 7890 189" in text and "AGRIFRPPXXX" in text
    assert "RCS Lyon 552 100 554" in text
    assert "relance" not in text.lower().replace("relances", "")
    # One print batch for the mail house, starting each letter on a recto.
    assert report.batch and Path(report.batch).is_file()
    pages = len(PdfReader(pdf).pages)
    assert len(PdfReader(report.batch).pages) == pages + pages % 2
    with store.transaction() as s:
        action = s.get(Action, ids["action"])
        assert action is not None
        assert action.state == ActionState.SENT and action.output["pdf"] == pdf
        assert action.output["totals"] == {"EUR": 1_730_767}


def test_b2c_letters_show_no_penalty_nor_recovery_fees(sqlite_store: Store,
                                                      tmp_path: Path) -> None:
    with sqlite_store.transaction() as s:
        creditor = add_creditor(s)
        debtor = add_debtor(s, creditor, "C-01", is_consumer=True, name="Mme Claire Petit")
        invoice = add_invoice(s, debtor, "FC-9", 12_000, TODAY - dt.timedelta(days=40))
        add_action(s, debtor, [invoice], template="mise_en_demeure")
    report = dispatch(sqlite_store, make_workspace(tmp_path / "ws"), today=TODAY)
    text = pdf_text(report.paths[0]).lower()
    assert "120,00 €" in text
    for forbidden in ("frais de recouvrement", "frais de dossier", "indemnité", "pénalités"):
        assert forbidden not in text


def test_english_letter_and_no_penalties_when_creditor_has_them_off(
        sqlite_store: Store, tmp_path: Path) -> None:
    with sqlite_store.transaction() as s:
        creditor = add_creditor(s, late_penalties=False)
        debtor = add_debtor(s, creditor, "UK-1", language="en", name="Brown Ltd")
        invoice = add_invoice(s, debtor, "INV-7", 123_456, TODAY - dt.timedelta(days=20),
                              currency="GBP")
        add_action(s, debtor, [invoice], template="relance_1")
    report = dispatch(sqlite_store, make_workspace(tmp_path / "ws"), today=TODAY)
    text = pdf_text(report.paths[0])
    assert "Reminder" in text and "£1,234.56" in text and "02/11/2026" in text
    assert "interest" not in text.lower()


def test_a_page_rendered_to_png_shows_ink_where_the_address_window_is(
        sqlite_store: Store, tmp_path: Path) -> None:
    standard_book(sqlite_store)
    report = dispatch(sqlite_store, make_workspace(tmp_path / "ws"), today=TODAY)
    pdf = pdfium.PdfDocument(report.paths[0])
    page = pdf[0]
    width_pt, height_pt = page.get_size()
    assert round(width_pt / 72 * 25.4) == 210 and round(height_pt / 72 * 25.4) == 297  # A4
    image = page.render(scale=2).to_pil().convert("L")
    mm = image.width / 210
    # The window of a DL envelope: 100 mm from the left, 50 mm from the top, 100 x 45 mm.
    window = image.crop((int(100 * mm), int(50 * mm), int(200 * mm), int(95 * mm)))
    assert window.getextrema()[0] < 100, "no address printed in the envelope window"
    # The strip above the window stays clear of text, so nothing else shows through.
    above = image.crop((int(100 * mm), int(8 * mm), int(200 * mm), int(14 * mm)))
    assert above.getextrema()[0] > 200
    image.save(tmp_path / "page1.png")
    # Fonts are embedded (no reliance on the printer's fonts).
    reader = PdfReader(report.paths[0])
    resources: Any = reader.pages[0]["/Resources"]
    for ref in resources["/Font"].values():
        font = ref.get_object()
        if "/DescendantFonts" in font:
            font = font["/DescendantFonts"][0].get_object()
        descriptor = font["/FontDescriptor"]
        assert any(k in descriptor for k in ("/FontFile", "/FontFile2", "/FontFile3"))


HOSTILE_HTML = """<html><body><p>Hello</p>
<img src="file:///etc/passwd">
<img src="http://127.0.0.1:9/x.png">
<img src="https://example.com/track.png">
<link rel="stylesheet" href="file:///etc/hostname">
<link rel="attachment" href="file:///etc/passwd">
</body></html>"""


def test_resources_outside_the_workspace_and_network_are_refused(tmp_path: Path) -> None:
    pdf, _pages, refused = render_pdf_bytes(HOSTILE_HTML, base_dir=tmp_path, roots=[tmp_path])
    refused_text = "\n".join(refused)
    assert "file:///etc/passwd (outside the workspace)" in refused_text
    assert "http://127.0.0.1:9/x.png (http: URLs are not fetched)" in refused_text
    assert "https://example.com/track.png" in refused_text
    assert b"/EmbeddedFile" not in pdf and b"root:x:0:0" not in pdf


def test_an_embedded_file_from_inside_the_workspace_is_refused(tmp_path: Path) -> None:
    (tmp_path / "secret.txt").write_text("ledger")
    html = f'<html><body><a rel="attachment" href="{(tmp_path / "secret.txt").as_uri()}">x</a>'\
           '</body></html>'
    with pytest.raises(LetterProblem, match="embed a file"):
        write_pdf(html, tmp_path / "out.pdf", base_dir=tmp_path, roots=[tmp_path])
    assert not (tmp_path / "out.pdf").exists()


def test_hostile_template_in_the_workspace_fails_the_action_visibly(
        sqlite_store: Store, tmp_path: Path) -> None:
    workspace = make_workspace(tmp_path / "ws")
    folder = workspace.templates_dir / "piege"
    folder.mkdir()
    (folder / "letter.fr.html").write_text("{{ ''.__class__.__mro__ }}")
    (folder / "email.fr.txt").write_text('<img src="file:///etc/passwd">{{ debtor.name }}')
    with sqlite_store.transaction() as s:
        creditor = add_creditor(s)
        debtor = add_debtor(s, creditor, "F-9")
        invoice = add_invoice(s, debtor, "FA-9", 1_000, TODAY - dt.timedelta(days=3))
        bad = add_action(s, debtor, [invoice], template="piege")
        bad_id = bad.id
    report = dispatch(sqlite_store, workspace, today=TODAY)
    assert report.failed == 1 and report.sent == 0
    with sqlite_store.transaction() as s:
        action = s.get(Action, bad_id)
        assert action is not None and action.state == ActionState.FAILED
        assert "refused by the template sandbox" in (action.last_error or "")


def test_creditor_logo_inside_the_workspace_is_used_and_outside_is_not(
        sqlite_store: Store, tmp_path: Path) -> None:
    from PIL import Image

    workspace = make_workspace(tmp_path / "ws")
    Image.new("RGB", (200, 60), (200, 30, 30)).save(workspace.root / "assets" / "logo.png")
    with sqlite_store.transaction() as s:
        creditor = add_creditor(s)
        other = add_creditor(s, code="EVIL", logo_path="/etc/passwd")
        for cred, ref in ((creditor, "A"), (other, "B")):
            debtor = add_debtor(s, cred, ref)
            invoice = add_invoice(s, debtor, f"F-{ref}", 1_000, TODAY - dt.timedelta(days=3))
            add_action(s, debtor, [invoice], template="relance_1")
    report = dispatch(sqlite_store, workspace, today=TODAY)
    assert report.sent == 2
    with_logo, without = (PdfReader(p) for p in sorted(report.paths))
    logo_resources: Any = with_logo.pages[0]["/Resources"]
    plain_resources: Any = without.pages[0]["/Resources"]
    assert logo_resources.get("/XObject")
    assert not plain_resources.get("/XObject")


def test_preview_renders_without_sending(sqlite_store: Store, tmp_path: Path) -> None:
    ids = standard_book(sqlite_store)
    workspace = make_workspace(tmp_path / "ws")
    preview = render_preview(sqlite_store, workspace, ids["action"], today=TODAY)
    assert preview.pdf_path is not None and preview.pdf_path.is_file()
    assert "FA-2026-0001" in preview.text
    with sqlite_store.transaction() as s:
        action = s.get(Action, ids["action"])
        assert action is not None and action.state == ActionState.APPROVED


def test_a_letter_speaks_of_a_previous_reminder_only_when_there_was_one(
        sqlite_store: Store, tmp_path: Path) -> None:
    """An invoice that reached `amiable_2` by jumping over the first reminder (imported
    late) must not read "despite our previous reminder"; after a real reminder it does."""
    with sqlite_store.transaction() as s:
        creditor = add_creditor(s)
        first_contact = add_debtor(s, creditor, "F-1")
        late = add_invoice(s, first_contact, "FA-LATE", 120_000, TODAY - dt.timedelta(days=40))
        jumped = add_action(s, first_contact, [late], template="amiable_2", tone="soft").id
        reminded = add_debtor(s, creditor, "F-2")
        chased = add_invoice(s, reminded, "FA-CHASED", 90_000, TODAY - dt.timedelta(days=40))
        earlier = add_action(s, reminded, [chased], channel="email", template="relance_1",
                             state=ActionState.SENT, key="earlier")
        earlier.created_on = TODAY - dt.timedelta(days=14)
        second = add_action(s, reminded, [chased], template="amiable_2", tone="soft").id
        cancelled_debtor = add_debtor(s, creditor, "F-3")
        other = add_invoice(s, cancelled_debtor, "FA-OTHER", 50_000,
                            TODAY - dt.timedelta(days=40))
        void = add_action(s, cancelled_debtor, [other], channel="email", template="relance_1",
                          state=ActionState.CANCELLED, key="void")
        void.created_on = TODAY - dt.timedelta(days=14)
        after_void = add_action(s, cancelled_debtor, [other], template="amiable_2").id
    workspace = make_workspace(tmp_path / "ws")
    texts = {action_id: pdf_text(render_preview(sqlite_store, workspace, action_id,
                                                today=TODAY).pdf_path or "")
             for action_id in (jumped, second, after_void)}
    assert "précédent rappel" not in texts[jumped]
    assert "Sauf erreur de notre part" in texts[jumped]
    assert "Malgré notre précédent rappel" in texts[second]
    assert "précédent rappel" not in texts[after_void]  # a cancelled e-mail never went


def test_packaged_fonts_ship_with_the_templates() -> None:
    assert (default_templates_dir() / "_base" / "fonts" / "DejaVuSans-Latin.ttf").is_file()


def test_a_workspace_letter_template_cannot_reach_files_or_the_network(
        sqlite_store: Store, tmp_path: Path) -> None:
    workspace = make_workspace(tmp_path / "ws")
    folder = workspace.templates_dir / "espion"
    folder.mkdir()
    (folder / "letter.fr.html").write_text(
        '{% extends "_base/letter.html" %}{% block subject %}Test{% endblock %}'
        '{% block body %}<img src="file:///etc/passwd"><img src="http://127.0.0.1:9/p.png">'
        '<link rel="attachment" href="file:///etc/hostname">'
        "<p>{{ debtor.name }}</p>{% endblock %}")
    with sqlite_store.transaction() as s:
        creditor = add_creditor(s)
        debtor = add_debtor(s, creditor, "E-1")
        invoice = add_invoice(s, debtor, "FE-1", 1_000, TODAY - dt.timedelta(days=3))
        action_id = add_action(s, debtor, [invoice], template="espion").id
    report = dispatch(sqlite_store, workspace, today=TODAY)
    assert report.sent == 1, report.errors
    pdf = Path(report.paths[0]).read_bytes()
    assert b"root:x:0:0" not in pdf and b"/EmbeddedFile" not in pdf
    with sqlite_store.transaction() as s:
        action = s.get(Action, action_id)
        assert action is not None
        refused = "\n".join(action.output["refused"])
    assert "file:///etc/passwd (outside the workspace)" in refused
    assert "http://127.0.0.1:9/p.png (http: URLs are not fetched)" in refused
    assert "file:///etc/hostname (outside the workspace)" in refused


def test_letters_render_in_two_worker_processes_into_one_print_batch(
        sqlite_store: Store, tmp_path: Path) -> None:
    with sqlite_store.transaction() as s:
        creditor = add_creditor(s)
        for k in range(3):
            debtor = add_debtor(s, creditor, f"W-{k}")
            invoice = add_invoice(s, debtor, f"FW-{k}", 10_000 * (k + 1),
                                  TODAY - dt.timedelta(days=12))
            add_action(s, debtor, [invoice], template="relance_1")
    workspace = make_workspace(tmp_path / "ws", {"dispatch": {"letter_processes": 2}})
    report = dispatch(sqlite_store, workspace, today=TODAY)
    assert report.sent == 3 and len(report.paths) == 3
    texts = [pdf_text(p) for p in sorted(report.paths)]
    assert [("FW-0" in t, "FW-1" in t, "FW-2" in t) for t in texts] == [
        (True, False, False), (False, True, False), (False, False, True)]
    assert report.batch is not None
    batch = pdf_text(report.batch)
    assert batch.index("FW-0") < batch.index("FW-1") < batch.index("FW-2")
