"""A debtor opens the link of a dispatched e-mail in a real Chromium: the invoices with
their penalties as the letter counted them, the transfer details and EPC QR code, the
letter to download; the visit is recorded and the next run's rules see it."""

from __future__ import annotations

import datetime as dt
import email
import re
from email.message import Message
from pathlib import Path
from typing import Any

import httpx
from pypdf import PdfReader
from sqlalchemy import select

from relance.channels.dispatch import dispatch
from relance.engine.workday import run_workspace_day
from relance.kernel.display import show_money
from relance.store.models import Action, ActionState, Channel, Event, PortalLink
from relance.web.epc_qr import epc_payload, qr_matrix
from tests.web.book import PortalBook, portal_book
from tests.web.conftest import WebServer

LINK = re.compile(r"https?://127\.0\.0\.1:\d+/d/[A-Za-z0-9_-]{35}")


def dispatched(server: WebServer) -> PortalBook:
    """The book, its e-mail and letters sent (the e-mails written to the outbox)."""
    book = portal_book(server.store)
    report = dispatch(server.store, server.workspace, today=server.today)
    assert not report.problems, report.problems
    return book


def mail_text(path: Path) -> str:
    message: Message = email.message_from_bytes(path.read_bytes())
    parts = [part.get_payload(decode=True) for part in message.walk()
             if part.get_content_type() == "text/plain"]
    return "\n".join(bytes(part).decode("utf-8") for part in parts if isinstance(part, bytes))


def action_output(server: WebServer, action_id: int) -> dict[str, Any]:
    with server.store.session() as session:
        action = session.get(Action, action_id)
        assert action is not None and action.state == ActionState.SENT
        return dict(action.output)


def test_the_link_of_a_dispatched_email_opens_the_debtor_page(
        web_server: WebServer, browser_page: Any, tmp_path: Path) -> None:
    book = dispatched(web_server)
    text = mail_text(Path(action_output(web_server, book.email_action_id)["eml"]))
    assert "Régler, contester ou promettre une date en ligne :" in text
    links = LINK.findall(text)
    assert len(links) == 1 and links[0].startswith(web_server.base_url)

    page = browser_page
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.goto(links[0])
    assert page.title() == "Votre compte chez Acme Distribution SAS"
    body = page.locator("main").inner_text()
    assert "FA-2026-0001" in body and "FA-2026-0114" in body
    assert "FA-2026-0999" not in body and "Northern" not in body
    # The total the letter recorded for the same invoices on the same day, penalties
    # and indemnities included.
    letter = action_output(web_server, book.letter_action_id)
    total = show_money(letter["totals"]["EUR"], "EUR", "fr")
    assert page.locator(".due-total").inner_text() == total
    assert "Intérêts de retard" in body and "Indemnité forfaitaire" in body
    assert "FR76 3000 6000 0112 3456 7890 189" in body
    qr = page.locator("svg.qr")
    box = qr.bounding_box()
    assert qr.is_visible() and box is not None and box["width"] >= 150
    assert not errors, errors  # no style or script blocked by the policy

    with page.expect_download() as waited:
        page.locator(".letters a").first.click()
    download = waited.value
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    assert saved.read_bytes() == Path(letter["pdf"]).read_bytes()
    assert "FA-2026-0114" in "".join(p.extract_text() for p in PdfReader(saved).pages)

    with web_server.store.session() as session:
        link = session.scalars(select(PortalLink).where(
            PortalLink.action_id == book.email_action_id)).one()
        opened = session.scalars(select(Event).where(Event.kind == "portal.opened")).all()
    assert link.opened_count == 1 and link.first_opened_at is not None
    assert [(e.debtor_id, e.subject_id) for e in opened] == [(book.debtor_id, str(link.id))]


def test_the_next_run_sees_the_visit(web_server: WebServer, browser_page: Any) -> None:
    book = dispatched(web_server)
    rules = web_server.workspace.rules_dir
    rules.mkdir(exist_ok=True)
    (rules / "web.rules").write_text(
        "policy web_followup for currency = eur\n"
        "rule looked_but_silent:\n"
        "  when portal_visited and overdue >= 1d\n"
        "  then call with priority high\n")
    text = mail_text(Path(action_output(web_server, book.email_action_id)["eml"]))
    browser_page.goto(LINK.findall(text)[0])
    assert browser_page.locator(".due-total").is_visible()
    # The visit happened now: the runs of the days after it see it.
    tomorrow = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=1)
    run_workspace_day(web_server.workspace, web_server.store, tomorrow, actor="test")
    with web_server.store.session() as session:
        calls = session.scalars(select(Action.debtor_id).where(
            Action.channel == Channel.CALL)).all()
    assert calls == [book.debtor_id]


def test_another_debtors_letter_is_out_of_reach(web_server: WebServer,
                                                browser_page: Any) -> None:
    book = dispatched(web_server)
    from relance.engine.portal_links import issue_link

    with web_server.store.transaction() as session:
        mine = issue_link(session, web_server.keys, debtor_id=book.debtor_id).url
        theirs = issue_link(session, web_server.keys, debtor_id=book.other_debtor_id).url
    assert mine and theirs
    browser_page.goto(theirs)
    assert browser_page.title() == "Your account with Acme Distribution SAS"
    their_letter = browser_page.locator(".letters a").first.get_attribute("href")
    assert their_letter is not None
    key = their_letter.rsplit("/", 1)[-1]
    # Their letter's key under my link, or their own path with my token: the neutral page.
    for url in (f"{mine}/letters/{key}", f"{web_server.base_url}{their_letter}".replace(
            theirs.rsplit("/", 1)[-1], mine.rsplit("/", 1)[-1])):
        answer = httpx.get(url)
        assert answer.status_code == 404 and "%PDF" not in answer.text


def test_the_epc_payload_is_the_standard_one() -> None:
    payload = epc_payload(name="Acme Distribution SAS", iban="FR76 3000 6000 0112 3456 7890 189",
                          bic="agrifrppxxx", amount_minor=1_745_278, reference="D-0001")
    assert payload == ("BCD\n002\n1\nSCT\nAGRIFRPPXXX\nAcme Distribution SAS\n"
                       "FR7630006000011234567890189\nEUR17452.78\n\n\nD-0001")
    # A line feed in a name cannot shift the fields; no amount leaves the line empty.
    bare = epc_payload(name="Acme\nDistribution", iban="FR7630006000011234567890189", bic="",
                       amount_minor=None, reference="R\n1")
    assert bare.split("\n") == ["BCD", "002", "1", "SCT", "", "Acme Distribution",
                                "FR7630006000011234567890189", "", "", "", "R 1"]
    # Version 2 with error correction M: a 25-module code (version 2) plus the quiet zone.
    assert len(qr_matrix("BCD\n002")) == 21 + 8
