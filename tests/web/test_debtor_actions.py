"""A debtor acts from the link of a dispatched e-mail, in a real Chromium against the real
server (SQLite and PostgreSQL): promises a date, disputes an invoice, declares a payment
with its proof. Each is in the store with its event, the queue lost what it should, the
acknowledgements go out through the dispatch (once), and the next run's rules see
`promised` and `disputed`."""

from __future__ import annotations

import datetime as dt
import email
import re
import stat
from email.message import Message
from pathlib import Path
from typing import Any

from pypdf import PdfWriter
from sqlalchemy import select

from relance.channels.dispatch import dispatch
from relance.engine.portal_acks import ACK_TEMPLATE
from relance.engine.workday import run_workspace_day
from relance.store.models import (
    Action,
    ActionItem,
    ActionState,
    Channel,
    Debtor,
    Event,
    Invoice,
    PortalRequest,
    Promise,
)
from relance.tui.casefile import load_case
from relance.web.debtor_actions import TEMPLATE_SENTENCES
from relance.web.proof_uploads import UPLOAD_FOLDER
from tests.channels.factory import add_action
from tests.web.book import PortalBook, portal_book
from tests.web.conftest import WebServer

LINK = re.compile(r"https?://127\.0\.0\.1:\d+/d/[A-Za-z0-9_-]{35}")
FIRST, SECOND = "FA-2026-0001", "FA-2026-0114"
TEMPLATES = Path(__file__).resolve().parents[2] / "web" / "templates"


def mail_text(path: Path) -> str:
    message: Message = email.message_from_bytes(path.read_bytes())
    parts = [part.get_payload(decode=True) for part in message.walk()
             if part.get_content_type() == "text/plain"]
    return "\n".join(bytes(part).decode("utf-8") for part in parts if isinstance(part, bytes))


def link_of_dispatched_email(server: WebServer) -> tuple[PortalBook, str, dict[str, int]]:
    """The book dispatched (its e-mail in the outbox), then a new day's reminders queued
    for both invoices: the link the debtor reads, and those reminders."""
    book = portal_book(server.store)
    report = dispatch(server.store, server.workspace, today=server.today)
    assert not report.problems, report.problems
    with server.store.session() as session:
        sent = session.get_one(Action, book.email_action_id)
        assert sent.state == ActionState.SENT
        links = LINK.findall(mail_text(Path(sent.output["eml"])))
    with server.store.transaction() as session:
        debtor = session.get_one(Debtor, book.debtor_id)
        invoices = {i.number: i for i in session.scalars(select(Invoice).where(
            Invoice.debtor_id == debtor.id))}
        waiting = {
            "email": add_action(session, debtor, [invoices[FIRST]], channel="email",
                                template="relance_1", state=ActionState.PROPOSED,
                                key="again:email").id,
            "letter": add_action(session, debtor, [invoices[SECOND]], channel="letter",
                                 template="relance_2", state=ActionState.PROPOSED,
                                 key="again:letter").id}
    assert len(links) == 1
    return book, links[0], waiting


def a_pdf(folder: Path) -> Path:
    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    path = folder / "virement.pdf"
    with path.open("wb") as out:
        writer.write(out)
    return path


def submit(page: Any) -> str:
    page.locator("button[type=submit]").click()
    page.wait_for_load_state()
    done = page.locator("#done")
    assert done.is_visible(), page.locator("main").inner_text()
    return str(done.inner_text())


def test_a_debtor_promises_disputes_and_declares_from_their_email(
        web_server: WebServer, browser_page: Any, tmp_path: Path) -> None:
    server, page = web_server, browser_page
    book, link, waiting = link_of_dispatched_email(server)
    dialogs: list[str] = []

    def on_dialog(dialog: Any) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.goto(link)
    promised_on = server.today + dt.timedelta(days=10)

    page.locator("a.action-link[href$='/promise']").click()
    assert page.locator("h1").inner_text() == "Promettre de payer avant une date"
    page.fill("#promised_on", promised_on.isoformat())
    page.locator(f"input[name=invoice][value='{SECOND}']").check()
    assert "2 décembre 2026" in submit(page)

    page.goto(link)
    page.locator("a.action-link[href$='/dispute']").click()
    page.locator(f"input[name=invoice][value='{FIRST}']").check()
    page.select_option("#reason", "delivery")
    page.fill("#message", "Jamais livrée <script>alert(1)</script>")
    assert FIRST in submit(page)

    page.goto(link)
    page.locator("a.action-link[href$='/declare']").click()
    page.fill("#amount", "2 000,00")
    page.fill("#paid_on", (server.today - dt.timedelta(days=1)).isoformat())
    page.fill("#reference", "VIR 2026-11-21")
    page.locator(f"input[name=invoice][value='{SECOND}']").check()
    proof = a_pdf(tmp_path)
    page.set_input_files("#proof", str(proof))
    said = submit(page)
    assert "2 000,00" in said.replace("\u202f", " ").replace("\xa0", " ")
    assert not dialogs

    # The store: each change with its event, made by the debtor.
    with server.store.session() as session:
        promise = session.scalars(select(Promise)).one()
        invoices = {i.number: i for i in session.scalars(select(Invoice))}
        assert (promise.promised_on, promise.invoice_id) == (promised_on, invoices[SECOND].id)
        assert invoices[FIRST].dispute_reason == (
            "delivery: Jamais livrée <script>alert(1)</script>")
        request = session.scalars(select(PortalRequest)).one()
        assert (request.kind, request.state, request.data["amount_minor"]) == (
            "payment_declared", "open", 200_000)
        debtor = session.get_one(Debtor, book.debtor_id)
        assert debtor.paused_until == server.today + dt.timedelta(days=15)
        events = [(e.kind, e.actor) for e in session.scalars(select(Event).where(
            Event.debtor_id == book.debtor_id, Event.actor == "debtor:D-0001"))]
        states = {name: session.get_one(Action, action_id).state
                  for name, action_id in waiting.items()}
        case = load_case(session, book.debtor_id)
    assert [kind for kind, _actor in events if not kind.startswith("action.")] == [
        "promise.added", "invoice.dispute_opened", "portal.payment_declared",
        "debtor.paused"]
    # The reminders queued before lost their invoices: promised, disputed, then paused.
    assert states == {"email": ActionState.CANCELLED, "letter": ActionState.CANCELLED}
    # The proof, as sent, outside any web root, readable by its owner only.
    stored = server.workspace.root / str(request.proof_path)
    assert stored.parent == server.workspace.root / UPLOAD_FOLDER
    assert stored.read_bytes() == proof.read_bytes()
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    assert proof.name not in str(request.proof_path)
    # The desk's case shows each change at once.
    assert case is not None
    kinds = {line.kind for line in case.history}
    assert {"promise.added", "invoice.dispute_opened", "portal.payment_declared"} <= kinds

    # Three acknowledgements, sent by the dispatch in French, once.
    report = dispatch(server.store, server.workspace, today=server.today)
    assert not report.problems and report.sent == 3, report
    with server.store.session() as session:
        acks = session.scalars(select(Action).where(
            Action.template == ACK_TEMPLATE).order_by(Action.id)).all()
        texts = [mail_text(Path(ack.output["eml"])) for ack in acks]
    assert [ack.state for ack in acks] == [ActionState.SENT] * 3
    assert "au plus tard le 2 décembre 2026" in texts[0]
    assert f"contestation de la facture {FIRST}" in texts[1]
    assert "Vous nous avez indiqué avoir réglé 2" in texts[2]
    again = dispatch(server.store, server.workspace, today=server.today)
    assert again.sent == 0

    # The next run's rules see the promise and the dispute.
    rules = server.workspace.rules_dir
    rules.mkdir(exist_ok=True)
    (rules / "web.rules").write_text(
        "policy promised_followup for currency = eur\n"
        "rule check_promise:\n"
        "  when promised and overdue >= 1d\n"
        "  then call with priority low\n\n"
        "policy disputed_followup for currency = eur\n"
        "rule check_dispute:\n"
        "  when disputed and overdue >= 1d\n"
        "  then call with priority high\n")
    run_workspace_day(server.workspace, server.store, server.today + dt.timedelta(days=1),
                      actor="test")
    with server.store.session() as session:
        fired = sorted(session.execute(
            select(Invoice.number, ActionItem.rule).join(ActionItem,
                                                          ActionItem.invoice_id == Invoice.id)
            .join(Action, Action.id == ActionItem.action_id)
            .where(Action.channel == Channel.CALL)).all())
    assert [tuple(row) for row in fired] == [(FIRST, "check_dispute"),
                                             (SECOND, "check_promise")]


def test_a_plan_is_asked_for_on_a_phone(web_server: WebServer, browser_page: Any) -> None:
    server, page = web_server, browser_page
    page.set_viewport_size({"width": 390, "height": 844})
    book, link, _waiting = link_of_dispatched_email(server)
    page.goto(link)
    page.locator("a.action-link[href$='/plan']").click()
    page.select_option("#instalments", "3")
    page.fill("#first_on", (server.today + dt.timedelta(days=7)).isoformat())
    assert "3 mensualités" in submit(page)
    with server.store.session() as session:
        request = session.scalars(select(PortalRequest)).one()
    assert (request.debtor_id, request.kind, request.data["instalments"]) == (
        book.debtor_id, "plan_requested", 3)
    # A refusal shows the form again with the sentence, and the typed values.
    page.goto(link + "/plan")
    page.select_option("#instalments", "4")
    page.fill("#first_on", (server.today + dt.timedelta(days=7)).isoformat())
    page.locator("button[type=submit]").click()
    page.wait_for_load_state()
    assert "est à l’étude" in page.locator("#form-error").inner_text()
    assert page.locator("#instalments").input_value() == "4"


def test_every_sentence_of_the_action_pages_is_in_the_catalogs() -> None:
    """The action templates call `_()` on literals: each must be one the module declares,
    so that the catalogs have it ("disputed" is the page's own word, web.po)."""
    said: set[str] = set()
    for template in TEMPLATES.glob("action_*.html"):
        said |= set(re.findall(r'_\("([^"]+)"\)', template.read_text(encoding="utf-8")))
    assert len(said) > 20
    assert said - set(TEMPLATE_SENTENCES) == {"disputed"}
