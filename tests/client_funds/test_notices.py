"""The receipt and the creditor's notice go out once each, to the right person: the
receipt to the debtor (by e-mail with the receipt as PDF, or as a letter), the notice
to the creditor's contact address from the firm; a creditor without a contact address
is refused with the field to fill in."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import io
from email.message import EmailMessage
from pathlib import Path

import pypdf
from sqlalchemy import select

from relance.channels.dispatch import dispatch
from relance.store.db import Store
from relance.store.models import Action, Creditor, Debtor
from tests.channels.smtp_server import LoopbackSmtp, Recorder
from tests.client_funds.factory import AGENCY, build_firm, make_workspace, pay

DAY = dt.date(2026, 3, 10)


def plain(text: str) -> str:
    """Text as a reader sees it: no-break spaces as spaces, lines ending in LF."""
    return text.replace("\u202f", " ").replace("\xa0", " ").replace("\r\n", "\n")


def text_of(message: EmailMessage) -> str:
    """The plain-text body of an e-mail, as a reader sees it."""
    body = message.get_body(("plain",))
    assert body is not None
    return plain(body.get_content())


def _eml(path: Path) -> EmailMessage:
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def _states(store: Store) -> dict[str, tuple[str, str | None]]:
    with store.session() as session:
        return {a.idempotency_key: (a.state.value, a.last_error)
                for a in session.scalars(select(Action))}


def test_receipt_to_the_debtor_and_notice_to_the_creditor_sent_once(
        store: Store, tmp_path: Path) -> None:
    firm = build_firm(store)
    paid = pay(store, firm, "D-1", 120_005, DAY)
    recorder = Recorder()
    with LoopbackSmtp(recorder) as server:
        workspace = make_workspace(tmp_path / "ws", smtp=server.config(),
                                   dispatch={"retry_base_seconds": 0})
        first = dispatch(store, workspace, today=DAY)
        again = dispatch(store, workspace, today=DAY)
    assert (first.sent, again.sent) == (2, 0)
    # Sent side by side: told apart by their one recipient each.
    by_recipient = {to[0]: message for (_from, to), message
                    in zip(recorder.envelopes, recorder.messages, strict=True)
                    if len(to) == 1}
    assert sorted(by_recipient) == ["compta@acme-distribution.fr", "d-1@client.example"]
    receipt = by_recipient["d-1@client.example"]
    notice = by_recipient["compta@acme-distribution.fr"]
    assert plain(str(receipt["Subject"])).startswith("Quittance – paiement de 1 200,05 €")
    body = text_of(receipt)
    assert "Cabinet Durand Recouvrement, qui exerce une activité de recouvrement amiable" \
        in body
    assert "facture FA-1-1 : 1 000,00 € (soldée)" in body
    assert "il reste dû 2 299,95 € au titre de ce dossier" in body
    assert "MD-ACME-2026/0001" in body and "R124-6" in body
    # The firm received the money: its receipt comes from the firm, as the notice does.
    assert str(receipt["From"]).startswith(AGENCY["name"])
    assert AGENCY["email"] in str(receipt["From"])
    # The receipt goes along as the letter's PDF.
    attached = [part for part in receipt.iter_attachments()
                if part.get_content_type() == "application/pdf"]
    assert len(attached) == 1
    text = plain("".join(page.extract_text() for page in
                         pypdf.PdfReader(io.BytesIO(attached[0].get_content())).pages))
    assert "Quittance" in text and "1 200,05" in text
    # The notice: from the firm, to the creditor, R124-5.
    assert str(notice["From"]).startswith(AGENCY["name"])
    assert AGENCY["email"] in str(notice["From"])
    notice_text = text_of(notice)
    assert "R124-5" in notice_text and "1 200,05 €" in notice_text
    assert "Boulangerie D-1" in notice_text
    assert _states(store)[f"receipt:{paid}"][0] == "sent"


def test_an_english_creditor_is_told_in_english(store: Store, tmp_path: Path) -> None:
    firm = build_firm(store)
    with store.write_transaction() as session:
        session.get_one(Creditor, firm.creditor_id).languages = ["en", "fr"]
    pay(store, firm, "D-1", 5_000, DAY)
    dispatch(store, make_workspace(tmp_path / "ws"), today=DAY)
    sent = sorted((tmp_path / "ws" / "outbox" / "emails").rglob("*.eml"))
    notice = [text_of(_eml(p)) for p in sent if "avis" in p.name]
    assert len(notice) == 1 and "collected on your behalf, on 10 March 2026" in notice[0]


def test_a_creditor_without_contact_address_is_refused_by_name(
        store: Store, tmp_path: Path) -> None:
    firm = build_firm(store)
    with store.write_transaction() as session:
        session.get_one(Creditor, firm.creditor_id).contact_email = None
    paid = pay(store, firm, "D-1", 5_000, DAY)
    report = dispatch(store, make_workspace(tmp_path / "ws"), today=DAY)
    states = _states(store)
    assert states[f"receipt:{paid}"][0] == "sent"
    state, error = states[f"funds-notice:{paid}"]
    assert state == "failed" and error is not None
    assert "creditor ACME has no contact e-mail address" in error
    assert "--contact-email" in error
    assert report.failed == 1


def test_a_debtor_without_e_mail_gets_a_letter_receipt(store: Store, tmp_path: Path) -> None:
    firm = build_firm(store)
    with store.write_transaction() as session:
        debtor = session.get_one(Debtor, firm.debtors["D-2"])
        debtor.email, debtor.language = None, "en"
    pay(store, firm, "D-2", 30_000, DAY)
    report = dispatch(store, make_workspace(tmp_path / "ws"), today=DAY)
    assert report.sent == 2
    letters = sorted((tmp_path / "ws" / "outbox" / "letters").rglob("*quittance*.pdf"))
    assert len(letters) == 1
    text = plain("".join(page.extract_text()
                       for page in pypdf.PdfReader(letters[0]).pages))
    assert "Receipt" in text and "€300.00" in text and "R124-6" in text
    assert "FA-2-1" in text and "€700.00" in text  # what remains on the invoice


def test_the_receipt_recalls_the_firm_s_first_letter(store: Store, tmp_path: Path) -> None:
    from relance.store.models import ActionState, Channel, MandateCase
    firm = build_firm(store)
    with store.write_transaction() as session:
        first = Action(idempotency_key="first-letter", creditor_id=firm.creditor_id,
                       debtor_id=firm.debtors["D-1"], created_on=dt.date(2026, 3, 5),
                       channel=Channel.LETTER, template="escalation_notice",
                       state=ActionState.SENT)
        session.add(first)
        session.flush()
        case = session.get_one(MandateCase, firm.cases["D-1"])
        case.first_letter_action_id, case.first_letter_on = first.id, dt.date(2026, 3, 5)
        first_id = first.id
    pay(store, firm, "D-1", 5_000, DAY)
    dispatch(store, make_workspace(tmp_path / "ws"), today=DAY)
    sent = sorted((tmp_path / "ws" / "outbox" / "emails").rglob("*quittance*.eml"))
    assert len(sent) == 1
    body = text_of(_eml(sent[0]))
    assert (f"Notre premier courrier sur ce dossier : référence ACME-{first_id}, du 5 mars "
            "2026.") in body
