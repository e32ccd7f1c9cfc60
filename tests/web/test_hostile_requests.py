"""Hostile requests against the debtor's forms, on the real server (SQLite and
PostgreSQL): forged, expired and revoked tokens, missing or foreign CSRF tokens, another
debtor's invoices, script and markup in every field, files too large or of the wrong
type, absurd dates and amounts. Each gets a refusal (the neutral page, or the form again
with the sentence saying why) and leaves the store as it was: every table's row count,
the head of the audit chain, holds and disputes, and no file kept."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from textual.widgets import DataTable

from relance.engine.portal_links import issue_link, revoke
from relance.store.models import PortalLink
from relance.tui.app import RelanceApp
from relance.tui.context import TuiContext
from relance.web.proof_uploads import UPLOAD_FOLDER
from tests.web.book import PortalBook, portal_book
from tests.web.conftest import WebServer
from tests.web.store_state import store_state

NEUTRAL = "Ce lien n’ouvre aucune page"
FORBIDDEN = "This form has expired"
SCRIPT = "<script>alert(1)</script>"
MARKUP = "[/] [bold red]PAYEZ[/bold red] [link=https://evil.example]ici[/link]"
FIRST, SECOND, THEIRS = "FA-2026-0001", "FA-2026-0114", "FA-2026-0999"
CSRF = re.compile(r'name="csrf" value="([0-9a-f]{64})"')


@dataclass
class Portal:
    server: WebServer
    book: PortalBook
    url: str  # the debtor's page
    other_url: str  # the other debtor's page
    client: httpx.Client

    def csrf(self, url: str | None = None) -> str:
        found = CSRF.search(self.client.get(f"{url or self.url}/promise").text)
        assert found is not None
        return found.group(1)

    def post(self, action: str, data: dict[str, Any], *, files: Any = None,
             csrf: str | None = "mine", url: str | None = None) -> httpx.Response:
        fields = dict(data)
        if csrf == "mine":
            fields["csrf"] = self.csrf(url)
        elif csrf is not None:
            fields["csrf"] = csrf
        if action == "declare" and files is None:
            files = {"proof": ("", b"", "application/octet-stream")}
        return self.client.post(f"{url or self.url}/{action}", data=fields, files=files)


@pytest.fixture
def portal(web_server: WebServer) -> Iterator[Portal]:
    book = portal_book(web_server.store)
    with web_server.store.transaction() as session:
        mine = issue_link(session, web_server.keys, debtor_id=book.debtor_id).url
        theirs = issue_link(session, web_server.keys, debtor_id=book.other_debtor_id).url
    assert mine and theirs
    with httpx.Client(timeout=60) as client:
        yield Portal(web_server, book, mine, theirs, client)


def uploads(server: WebServer) -> list[str]:
    folder = server.workspace.root / UPLOAD_FOLDER
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def good(action: str, today: dt.date) -> dict[str, Any]:
    """A valid form of each action (the refusals below spoil one field at a time)."""
    return {
        "promise": {"promised_on": (today + dt.timedelta(days=5)).isoformat()},
        "dispute": {"invoice": FIRST, "reason": "price", "message": "wrong price"},
        "declare": {"amount": "100", "paid_on": today.isoformat(), "invoice": SECOND},
        "plan": {"instalments": "3", "first_on": (today + dt.timedelta(days=5)).isoformat()},
    }[action]


ACTIONS = ("promise", "dispute", "declare", "plan")


def test_tokens_that_open_nothing_get_the_neutral_page(portal: Portal) -> None:
    server = portal.server
    with server.store.transaction() as session:
        expired = issue_link(session, server.keys, debtor_id=portal.book.debtor_id,
                             now=dt.datetime(2020, 1, 1, tzinfo=dt.UTC)).url
        revoked_link = issue_link(session, server.keys, debtor_id=portal.book.debtor_id)
        revoke(session, [session.get_one(PortalLink, revoked_link.link_id)], actor="alice")
    assert expired and revoked_link.url
    token = portal.url.rsplit("/", 1)[-1]
    forged = portal.url[:-1] + ("A" if token[-1] != "A" else "B")
    before = store_state(server.store)
    for url in (forged, expired, revoked_link.url, f"{server.base_url}/d/{'x' * 35}"):
        for action in ACTIONS:
            answer = portal.client.post(f"{url}/{action}",
                                        data={**good(action, server.today), "csrf": "0" * 64})
            assert answer.status_code == 404 and NEUTRAL in answer.text, (url, action)
            assert portal.client.get(f"{url}/{action}").status_code == 404
    assert store_state(server.store) == before


def test_a_form_without_this_visits_csrf_token_is_refused(portal: Portal) -> None:
    server = portal.server
    before = store_state(server.store)
    theirs = portal.csrf(portal.other_url)
    for action in ACTIONS:
        for csrf in (None, "", theirs, "0" * 64):
            answer = portal.post(action, good(action, server.today), csrf=csrf)
            assert answer.status_code == 403 and FORBIDDEN in answer.text, (action, csrf)
    # A body that is no form at all carries no token either.
    answer = portal.client.post(f"{portal.url}/promise", json={"promised_on": "2026-12-01"})
    assert answer.status_code == 403
    assert store_state(server.store) == before


def test_another_debtors_invoices_are_refused_as_unknown_ones(portal: Portal) -> None:
    server = portal.server
    before = store_state(server.store)
    for action in ACTIONS:
        said = []
        for number in (THEIRS, "FA-9999-9999"):
            answer = portal.post(action, {**good(action, server.today), "invoice": number})
            assert answer.status_code == 400, (action, answer.text[:300])
            said.append(re.sub(r"FA-\d{4}-\d{4}", "N", answer.text.split('id="form-error">')[1]
                               .split("</p>")[0]))
        assert said[0] == said[1] and "ne fait pas partie de vos factures" in said[0]
    assert store_state(server.store) == before
    # The other debtor's page does not know this debtor's invoices either.
    answer = portal.post("dispute", good("dispute", server.today), url=portal.other_url)
    assert answer.status_code == 400 and FIRST in answer.text
    assert store_state(server.store) == before


@pytest.mark.parametrize("action", ACTIONS)
def test_script_in_every_field_is_shown_as_text_and_changes_nothing(portal: Portal,
                                                                    action: str) -> None:
    server = portal.server
    before = store_state(server.store)
    fields = {name: SCRIPT for name in ("promised_on", "reason", "message", "amount",
                                        "paid_on", "reference", "instalments", "first_on",
                                        "invoice")}
    answer = portal.post(action, fields)
    assert answer.status_code == 400
    assert SCRIPT not in answer.text and "<script" not in answer.text
    assert "&lt;script&gt;" in answer.text
    assert store_state(server.store) == before


def test_script_and_markup_a_debtor_wrote_stay_text_on_the_operators_desk(
        portal: Portal) -> None:
    server = portal.server
    answer = portal.post("dispute", {"invoice": FIRST, "reason": "price",
                                     "message": f"{SCRIPT} {MARKUP}"})
    assert answer.status_code == 200, answer.text[:400]
    answer = portal.post("declare", {"amount": "10", "paid_on": server.today.isoformat(),
                                     "invoice": SECOND, "reference": MARKUP[:100]})
    assert answer.status_code == 200, answer.text[:400]
    page = portal.client.get(portal.url)
    assert page.status_code == 200 and "<script" not in page.text

    async def the_desk() -> tuple[list[str], list[str]]:
        app = RelanceApp(TuiContext.open(server.store, server.workspace, "bruno"))
        async with app.run_test(size=(200, 50)) as pilot:
            app.open_case(portal.book.debtor_id)
            await pilot.pause()
            await app.workers.wait_for_complete()
            await pilot.pause()
            invoices: DataTable[Any] = app.screen.query_one("#case-invoices", DataTable)
            history: DataTable[Any] = app.screen.query_one("#case-history", DataTable)
            return ([str(c) for key in invoices.rows for c in invoices.get_row(key)],
                    [str(c) for key in history.rows for c in history.get_row(key)])

    # In a thread of its own: Playwright's sync API may keep an event loop running in
    # this one (a browser test run before in the same process).
    shown: list[tuple[list[str], list[str]]] = []
    desk = threading.Thread(target=lambda: shown.append(asyncio.run(the_desk())))
    desk.start()
    desk.join(timeout=120)
    assert shown, "the desk did not open the case"
    invoice_cells, history_cells = shown[0]
    # As typed, markup and all: the desk reads none of it as its own.
    assert any(f"price: {SCRIPT} [/] [bold red]PAYEZ" in cell for cell in invoice_cells)
    assert any("[/] [bold red]PAYEZ" in cell for cell in history_cells)


def test_files_too_large_or_not_a_proof_are_refused_and_not_kept(portal: Portal) -> None:
    server = portal.server
    most = server.workspace.settings.web.upload_max_kb * 1024
    before = store_state(server.store)
    form = good("declare", server.today)
    for name, content, kind in (
            ("big.pdf", b"%PDF-1.4\n" + b"0" * most, "application/pdf"),
            ("page.pdf", b"<html><script>alert(1)</script></html>", "application/pdf"),
            ("image.png", b"<svg xmlns='http://www.w3.org/2000/svg'/>", "image/png"),
            ("setup.jpg", b"MZ\x90\x00" + b"\x00" * 100, "image/jpeg"),
            ("empty.pdf", b"", "application/pdf")):
        answer = portal.post("declare", form, files={"proof": (name, content, kind)})
        assert answer.status_code == 400, name
        error = answer.text.split('id="form-error">')[1].split("</p>")[0]
        assert ("trop volumineux" in error if name == "big.pdf"
                else "PDF, PNG ou JPEG" in error), (name, error)
    # A body far past the limit is refused before it is read whole.
    huge = portal.client.post(f"{portal.url}/declare", files={
        "proof": ("huge.pdf", b"%PDF-" + b"0" * (most * 4), "application/pdf")},
        data={**form, "csrf": portal.csrf()})
    assert huge.status_code == 400 and "trop volumineux" in huge.text
    assert store_state(server.store) == before
    assert uploads(server) == []


@pytest.mark.parametrize(("action", "field", "value"), [
    ("promise", "promised_on", "9999-12-31"),
    ("promise", "promised_on", "2026-02-30"),
    ("promise", "promised_on", "0000-00-00"),
    ("promise", "promised_on", "demain"),
    ("promise", "promised_on", ""),
    ("promise", "promised_on", "2001-01-01"),
    ("declare", "paid_on", "2999-01-01"),
    ("declare", "paid_on", "1900-01-01"),
    ("declare", "amount", "1e999"),
    ("declare", "amount", "-1"),
    ("declare", "amount", "NaN"),
    ("declare", "amount", "0"),
    ("declare", "amount", "99999999999999999999999"),
    ("declare", "amount", "12,345,678.90.1"),
    ("plan", "instalments", "0"),
    ("plan", "instalments", "1"),
    ("plan", "instalments", "13"),
    ("plan", "instalments", "-2"),
    ("plan", "instalments", "9" * 50),
    ("plan", "first_on", "2099-01-01"),
    ("dispute", "reason", "made_up"),
    ("dispute", "message", ""),
    ("dispute", "message", "x" * 2001),
    ("dispute", "message", "nul\x00byte"),
])
def test_absurd_values_are_refused_with_a_sentence(portal: Portal, action: str, field: str,
                                                   value: str) -> None:
    server = portal.server
    before = store_state(server.store)
    answer = portal.post(action, {**good(action, server.today), field: value})
    assert answer.status_code == 400, answer.text[:300]
    assert 'id="form-error"' in answer.text and "Traceback" not in answer.text
    assert store_state(server.store) == before


def test_unknown_pages_and_methods_get_the_neutral_page(portal: Portal) -> None:
    before = store_state(portal.server.store)
    for method, path in (("GET", "/steal"), ("POST", "/steal"), ("PUT", "/promise"),
                         ("DELETE", "/declare"), ("GET", "/promise/../../etc/passwd")):
        answer = portal.client.request(method, f"{portal.url}{path}")
        assert answer.status_code == 404, (method, path)
    assert store_state(portal.server.store) == before
