"""The portal's pages for real: uvicorn over the store (SQLite and PostgreSQL), people
signed in by a session opened as the sign-in link opens one, Chromium for what a person
does, httpx for what a browser would not send (forged forms, another rep's address)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from relance.engine.contacts import log_call
from relance.engine.roles import Actor, Role
from relance.kernel.i18n import using_language
from relance.store.db import Store
from relance.store.models import Creditor, Event, Note
from relance.tui.casefile import load_case
from tests.channels.factory import TODAY, add_debtor, add_invoice
from tests.web.conftest import WebServer
from tests.web.portal_book import (
    SOFIA_NAME,
    PortalPagesBook,
    cookie_for,
    portal_pages_book,
    portal_server,
)

CSRF = re.compile(r'name="csrf" value="([0-9a-f]+)"')
SOFIA_PAGE = "/portal/debtors/ACME/C-100"
PAUL_PAGE = "/portal/debtors/ACME/C-200"
BELLEROSE_PAGE = "/portal/debtors/BELLEROSE/B-7"


@pytest.fixture
def book(store: Store) -> PortalPagesBook:
    return portal_pages_book(store)


@pytest.fixture
def server(store: Store, book: PortalPagesBook, tmp_path: Path) -> Iterator[WebServer]:
    with portal_server(store, tmp_path / "workspace") as running:
        yield running


def client_of(server: WebServer, user: str) -> httpx.Client:
    cookie = cookie_for(server, server.store, user)
    return httpx.Client(base_url=server.base_url, cookies={cookie["name"]: cookie["value"]},
                        follow_redirects=False, timeout=20)


def notes_and_events(store: Store) -> tuple[int, int]:
    with store.session() as s:
        return (int(s.scalar(select(func.count()).select_from(Note)) or 0),
                int(s.scalar(select(func.count()).select_from(Event)) or 0))


def csrf_of(page: str) -> str:
    found = CSRF.search(page)
    assert found, "the page has no form"
    return found[1]


def in_browser(page: Any, server: WebServer, user: str) -> None:
    page.context.add_cookies([{**cookie_for(server, server.store, user),
                               "url": server.base_url}])


def test_without_a_session_the_pages_send_to_the_sign_in(server: WebServer) -> None:
    with httpx.Client(base_url=server.base_url, follow_redirects=False) as anonymous:
        for path in ("/portal/", SOFIA_PAGE):
            answer = anonymous.get(path)
            assert answer.status_code == 303
            assert answer.headers["location"] == "/portal/sign-in"


def test_a_sales_rep_sees_only_their_debtors(server: WebServer) -> None:
    with client_of(server, "sofia") as sofia:
        home = sofia.get("/portal/")
        assert home.status_code == 200
        text = home.text
        # Her late invoices, with what they owe and the last reminder.
        assert "Boulangerie Sofia" in text and "FA-1001" in text and "12\u202f500,00\xa0€" in text
        assert "Épicerie des Halles" in text and "BL-77" in text
        assert "lettre le 12/11/2026" in text
        assert "FA-1003" not in text  # not due yet: not late
        # The dispute, with its reason.
        assert "FA-1002" in text and "delivery" in text
        # Nothing of Paul's customer.
        assert "Garage Paul" not in text and "FA-2001" not in text
        assert f'href="{SOFIA_PAGE}"' in text

        assert sofia.get(SOFIA_PAGE).status_code == 200
        assert sofia.get(BELLEROSE_PAGE).status_code == 200
        before = notes_and_events(server.store)
        refused = sofia.get(PAUL_PAGE)
        assert refused.status_code == 404
        assert "Garage Paul" not in refused.text
        # A forged note on Paul's customer, with her own valid token: the same 404.
        token = csrf_of(sofia.get(SOFIA_PAGE).text)
        for what in ("note", "call"):
            forged = sofia.post(PAUL_PAGE, data={"csrf": token, "what": what,
                                                 "text": "vu avec le gérant"})
            assert forged.status_code == 404
        assert sofia.get("/portal/debtors/ACME/NOPE").status_code == 404
    assert notes_and_events(server.store) == before


def test_a_sales_rep_writes_a_note_and_logs_a_call(server: WebServer, book: PortalPagesBook,
                                                    browser_page: Any) -> None:
    page = browser_page
    blocked: list[str] = []
    page.on("console", lambda message: blocked.append(message.text)
            if "Content Security Policy" in message.text else None)
    in_browser(page, server, "sofia")
    page.goto(server.base_url + "/portal/")
    page.get_by_role("link", name="Boulangerie Sofia").first.click()
    page.wait_for_url(server.base_url + SOFIA_PAGE)
    assert page.get_by_role("heading", name="Boulangerie Sofia").is_visible()
    assert "lettre" in page.locator("#reminders-title + ul").inner_text()

    page.fill("#note-text", "Le gérant paiera après l'inventaire <script>alert(1)</script>")
    page.get_by_role("button", name="Ajouter la note").click()
    page.wait_for_url(re.compile(r".*\?saved=note$"))
    assert page.get_by_role("status").inner_text() == "Votre note est au dossier."
    shown = page.locator(".note-body").first.inner_text()
    assert shown == "Le gérant paiera après l'inventaire <script>alert(1)</script>"
    assert page.locator("main script").count() == 0

    page.fill("#call-text", "Appelé : virement promis vendredi")
    page.get_by_role("button", name="Noter l’appel").click()
    page.wait_for_url(re.compile(r".*\?saved=call$"))
    first = page.locator(".note").first
    assert "Appelé : virement promis vendredi" in first.inner_text()
    assert first.locator(".tag").inner_text() == "appel"
    assert blocked == []

    # The desk reads both on the case, and the log holds their events, by Sofia.
    with server.store.session() as s:
        case = load_case(s, book.sofia_debtor)
        assert case is not None
        assert [n.body for n in case.notes] == [
            "Appelé : virement promis vendredi",
            "Le gérant paiera après l'inventaire <script>alert(1)</script>"]
        assert {n.author for n in case.notes} == {"sofia"}
        events = s.scalars(select(Event).where(Event.kind == "note.added")
                           .order_by(Event.id)).all()
        assert [(e.actor, e.debtor_id, e.data.get("contact")) for e in events] == [
            ("sofia", book.sofia_debtor, None), ("sofia", book.sofia_debtor, "call")]
        # The case's history titles the call as a call, the note as a note.
        with using_language("fr"):
            assert sorted((line.what, line.detail) for line in case.history
                          if line.kind == "note.added") == [
                ("Appel", "Appelé : virement promis vendredi"),
                ("Note", "Le gérant paiera après l'inventaire <script>alert(1)</script>")]


def test_an_empty_note_is_refused_and_nothing_written(server: WebServer) -> None:
    with client_of(server, "sofia") as sofia:
        token = csrf_of(sofia.get(SOFIA_PAGE).text)
        before = notes_and_events(server.store)
        answer = sofia.post(SOFIA_PAGE, data={"csrf": token, "what": "note", "text": "   "})
        assert answer.status_code == 400
        assert "une note ne peut pas être vide" in answer.text
        too_long = sofia.post(SOFIA_PAGE, data={"csrf": token, "what": "call",
                                                "text": "x" * 4001})
        assert too_long.status_code == 400
        assert "4\u202f000" in too_long.text
    assert notes_and_events(server.store) == before


def test_a_form_without_its_token_is_refused(server: WebServer) -> None:
    with client_of(server, "sofia") as sofia:
        before = notes_and_events(server.store)
        for data in ({"what": "note", "text": "sans jeton"},
                     {"csrf": "0" * 64, "what": "note", "text": "faux jeton"}):
            answer = sofia.post(SOFIA_PAGE, data=data)
            assert answer.status_code == 403
    # Another person's token does not fit Sofia's session either.
    with client_of(server, "claire") as claire:
        theirs = csrf_of(claire.get(SOFIA_PAGE).text)
    with client_of(server, "sofia") as sofia:
        assert sofia.post(SOFIA_PAGE, data={"csrf": theirs, "what": "note",
                                            "text": "jeton d'un autre"}).status_code == 403
    assert notes_and_events(server.store) == before


def test_a_client_company_sees_only_its_creditors(server: WebServer) -> None:
    with client_of(server, "acme") as acme:
        home = acme.get("/portal/")
        assert home.status_code == 200
        text = home.text
        assert "Vos créances" in text
        assert "DRS-ACME-0001" in text and "Boulangerie Sofia" in text
        assert "REM-ACME-0001" in text and "1\u202f800,00\xa0€" in text
        assert "lettre" in text and "courriel" in text  # the actions taken
        assert "BELLEROSE" not in text and "REM-BELLE-0001" not in text
        assert "Épicerie des Halles" not in text
        assert acme.get(PAUL_PAGE).status_code == 200  # ACME's, not under mandate
        assert acme.get(BELLEROSE_PAGE).status_code == 404
        page = acme.get(SOFIA_PAGE).text
        assert "Ajouter une note" in page and "J’ai appelé" not in page


def test_a_client_company_reads_what_was_done_not_who_did_it(
        server: WebServer, book: PortalPagesBook) -> None:
    """The firm's staff stay the firm's: a call one of them logged shows on the client's
    page as a call, on its day, without the person's name."""
    with server.store.transaction() as s:
        log_call(s, Actor("jeanne.morel", Role.OPERATOR), book.sofia_debtor,
                 "Le gérant règle vendredi", TODAY)
    with client_of(server, "acme") as acme:
        section = acme.get("/portal/").text.split('id="actions-title"', 1)[1]
    assert "appel" in section and "Boulangerie Sofia" in section
    assert "jeanne.morel" not in section


def test_an_auditor_reads_but_cannot_write(server: WebServer) -> None:
    with client_of(server, "audrey") as audrey:
        page = audrey.get(SOFIA_PAGE)
        assert page.status_code == 200 and "Boulangerie Sofia" in page.text
        assert "<textarea" not in page.text
        assert audrey.get("/portal/").status_code == 200
        # Its session token, from the sign-out form of the layout.
        token = csrf_of(page.text)
        before = notes_and_events(server.store)
        for what in ("note", "call"):
            forged = audrey.post(SOFIA_PAGE, data={"csrf": token, "what": what,
                                                   "text": "je ne devrais pas"})
            assert forged.status_code == 403
    assert notes_and_events(server.store) == before


def test_a_credit_manager_reads_the_dashboard(server: WebServer, browser_page: Any) -> None:
    page = browser_page
    blocked: list[str] = []
    page.on("console", lambda message: blocked.append(message.text)
            if "Content Security Policy" in message.text else None)
    in_browser(page, server, "claire")
    answer = page.goto(server.base_url + "/portal/")
    assert answer is not None and answer.status == 200
    assert page.get_by_role("heading", name="Synthèse").is_visible()
    assert page.get_by_role("heading", name="Encours en EUR").is_visible()
    # Both creditors' open balance: 12 500 + 3 100,50 + 999 + 480 + 7 777 EUR.
    assert "24\u202f856,50\xa0€" in page.locator(".figures").inner_text()
    assert page.locator("svg.chart").count() == 2
    aged = page.get_by_role("img", name=re.compile("Balance âgée en EUR"))
    assert aged.locator("rect").count() == 5
    trend = page.get_by_role("img", name=re.compile("douze derniers mois"))
    assert trend.locator("polyline.dso-line").count() == 1
    # The bars are painted by the style sheet (no inline style): not black.
    fill = aged.locator("rect.bucket-4").evaluate("r => getComputedStyle(r).fill")
    assert fill not in ("rgb(0, 0, 0)", "")
    work = page.locator(".work-strip").inner_text()
    assert "1 facture en litige" in work
    # The largest overdue balances, each opening its debtor's page.
    largest = page.locator("#most-overdue-title + table tbody tr")
    assert [row.locator("a").inner_text() for row in largest.all()] == [
        "Boulangerie Sofia", "Garage Paul", "Épicerie des Halles"]
    largest.first.locator("a").click()
    page.wait_for_url(server.base_url + SOFIA_PAGE)
    assert page.get_by_role("button", name="Noter l’appel").is_visible()
    assert blocked == []


def test_a_reference_with_a_slash_has_its_own_page(server: WebServer) -> None:
    with server.store.transaction() as s:
        acme = s.scalars(select(Creditor).where(Creditor.code == "ACME")).one()
        debtor = add_debtor(s, acme, "C/300", name="Atelier Barre Oblique",
                            sales_rep=SOFIA_NAME)
        add_invoice(s, debtor, "FA-3001", 12_000, TODAY - dt.timedelta(days=3))
    with client_of(server, "sofia") as sofia:
        home = sofia.get("/portal/").text
        assert 'href="/portal/debtors/ACME/C%2F300"' in home
        page = sofia.get("/portal/debtors/ACME/C%2F300")
        assert page.status_code == 200 and "Atelier Barre Oblique" in page.text
        token = csrf_of(page.text)
        added = sofia.post("/portal/debtors/ACME/C%2F300",
                           data={"csrf": token, "what": "note", "text": "vu"})
        assert added.status_code == 303
        assert added.headers["location"] == "/portal/debtors/ACME/C%2F300?saved=note"
