"""`with statement`: a rule's option carried from the queue to the letter and the e-mail.

The statement is the debtor's account statement (relevé de compte) as of the day of
sending, in the debtor's language: its pages follow a letter's in one PDF, and an
e-mail carries it as a PDF of its own next to the letter's.
"""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

from pypdf import PdfReader
from sqlalchemy import select

from relance.channels.dispatch import dispatch
from relance.channels.reports.statement_pdf import statement_pdf
from relance.channels.templates import catalogue
from relance.dsl.loader import load_text
from relance.engine.run import run_day
from relance.store.content import ContentLine, content_hash
from relance.store.db import Store
from relance.store.models import Action, ActionState, Invoice
from relance.store.settle import settle_queue
from tests.channels.factory import (
    TODAY,
    add_creditor,
    add_debtor,
    add_invoice,
    make_workspace,
)
from tests.channels.smtp_server import LoopbackSmtp, Recorder


def _rules(action: str, option: str = ", with statement") -> object:
    loaded = load_text(f"policy reminders\n"
                       f"when overdue >= 10d and not paused then {action}{option}\n",
                       "reminders.rules", catalogue=catalogue(None))
    assert loaded.ok, loaded.render()
    return loaded


def _book(store: Store, *languages: str) -> dict[str, int]:
    """A debtor per language, each with two late invoices (ref F-<LANGUAGE>)."""
    debtors = {}
    with store.transaction() as s:
        creditor = add_creditor(s)
        for language in languages:
            debtor = add_debtor(s, creditor, f"F-{language.upper()}", language=language)
            add_invoice(s, debtor, f"FA-{language}-1", 120_000, TODAY - dt.timedelta(days=40))
            add_invoice(s, debtor, f"FA-{language}-2", 35_050, TODAY - dt.timedelta(days=25),
                        paid_minor=5_050)
            debtors[language] = debtor.id
    return debtors


def _texts(pdf: bytes) -> list[str]:
    return [page.extract_text() or "" for page in PdfReader(io.BytesIO(pdf)).pages]


def _statement_pages(store: Store, debtor_id: int, language: str) -> list[str]:
    with store.transaction() as s:
        return _texts(statement_pdf(s, debtor_id, on=TODAY, language=language))


def test_a_run_queues_the_option_and_the_approval_covers_it(store: Store) -> None:
    debtors = _book(store, "fr")
    run_day(store, _rules("send letter 'amiable_2'"), TODAY, actor="alice",
            auto_approve=False)
    with store.transaction() as s:
        [action] = s.scalars(select(Action)).all()
        assert action.debtor_id == debtors["fr"]
        assert action.output == {"with_statement": True}
        lines = [ContentLine(i.invoice_id, i.balance_minor, i.currency) for i in action.items]
        bare = content_hash(debtor_id=action.debtor_id, channel="letter",
                            template="amiable_2", tone=None, target_stage=None, lines=lines)
        with_it = content_hash(debtor_id=action.debtor_id, channel="letter",
                               template="amiable_2", tone=None, target_stage=None,
                               lines=lines, statement=True)
    # What an operator approves is the letter with its statement, not the letter alone.
    assert action.content_hash == with_it != bare


def test_a_part_payment_rehashes_the_letter_with_its_statement(store: Store) -> None:
    debtors = _book(store, "fr")
    run_day(store, _rules("send letter 'amiable_2'"), TODAY, actor="alice",
            auto_approve=False)
    with store.transaction() as s:
        invoice = s.scalars(select(Invoice).where(Invoice.number == "FA-fr-1")).one()
        invoice.paid_minor, invoice.balance_minor = 20_000, 100_000
        s.flush()
        settle_queue(s, debtor_ids=[debtors["fr"]], today=TODAY, actor="alice",
                     cause="payment")
        [action] = s.scalars(select(Action)).all()
        lines = [ContentLine(i.invoice_id, i.balance_minor, i.currency) for i in action.items]
        assert any(line.balance_minor == 100_000 for line in lines)
        assert action.content_hash == content_hash(
            debtor_id=action.debtor_id, channel="letter", template="amiable_2", tone=None,
            target_stage=None, lines=lines, statement=True)


def test_without_the_option_nothing_goes_along(store: Store, tmp_path: Path) -> None:
    _book(store, "fr")
    run_day(store, _rules("send letter 'amiable_2'", option=""), TODAY, actor="alice")
    report = dispatch(store, make_workspace(tmp_path / "ws"), today=TODAY,
                      channels={"letter"})
    assert report.sent == 1, report.errors
    with store.transaction() as s:
        [action] = s.scalars(select(Action)).all()
        assert "with_statement" not in action.output
        pdf = Path(action.output["pdf"]).read_bytes()
    assert not any("Relevé de compte" in text for text in _texts(pdf))


def test_a_letter_is_followed_by_the_statement_pages(store: Store, tmp_path: Path) -> None:
    debtors = _book(store, "fr")
    run_day(store, _rules("send letter 'amiable_2'"), TODAY, actor="alice")
    report = dispatch(store, make_workspace(tmp_path / "ws"), today=TODAY,
                      channels={"letter"})
    assert report.sent == 1 and report.failed == 0, report.errors
    with store.transaction() as s:
        [action] = s.scalars(select(Action)).all()
        assert action.state == ActionState.SENT
        output = dict(action.output)
    texts = _texts(Path(output["pdf"]).read_bytes())
    statement = _statement_pages(store, debtors["fr"], "fr")
    letter_pages = len(texts) - len(statement)
    assert letter_pages >= 1 and output["pages"] == len(texts)
    letter = "\n".join(texts[:letter_pages])
    assert "FA-fr-1" in letter and "Relevé de compte" not in letter
    tail = "\n".join(texts[letter_pages:])
    assert "Relevé de compte au 22/11/2026" in tail
    assert "Solde (EUR)" in tail and "F-FR" in tail
    # The running balance: both invoices, then what they add up to (1 200,00 + 300,00).
    flat = tail.replace("\u202f", " ").replace("\u00a0", " ")
    assert "1 200,00" in flat and "1 500,00" in flat


def test_an_email_carries_the_letter_and_the_statement(store: Store, tmp_path: Path) -> None:
    _book(store, "fr", "en")
    run_day(store, _rules("send email 'amiable_2'"), TODAY, actor="alice")
    recorder = Recorder()
    with LoopbackSmtp(recorder) as server:
        workspace = make_workspace(tmp_path / "ws", {"smtp": server.config()})
        report = dispatch(store, workspace, today=TODAY, channels={"email"})
    assert report.sent == 2 and report.failed == 0, report.errors
    by_to = {str(m["To"]).split("<")[1].rstrip(">"): m for m in recorder.messages}
    for ref, title in (("f-fr", "Relevé de compte"), ("f-en", "Account statement")):
        attachments = list(by_to[f"{ref}@client.example"].iter_attachments())
        assert [a.get_content_type() for a in attachments] == ["application/pdf"] * 2
        letter, statement = attachments
        assert letter.get_filename() == f"amiable_2-F-{ref[2:].upper()}.pdf"
        texts = _texts(statement.get_content())
        assert title in texts[0] and f"F-{ref[2:].upper()}" in texts[0]
        assert not any(title in text for text in _texts(letter.get_content()))
    names = {a.get_filename() for m in recorder.messages for a in m.iter_attachments()}
    assert {"releve-F-FR.pdf", "statement-F-EN.pdf"} <= names
