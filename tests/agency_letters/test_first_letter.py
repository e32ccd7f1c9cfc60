"""The firm's first letter on a case under mandate, dispatched for real (a PDF read back
with pypdf): it carries every mention of CPCE R124-4, it is recorded on the case, and
the messages after it recall its reference and date; a first message that lacks the
mentions, or an SMS, is refused before anything goes out."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from pypdf import PdfReader
from sqlalchemy import select

from relance.channels.agency_law import L111_8_PARAGRAPHS
from relance.channels.agency_mentions import (
    check_firm_letter,
    creditor_identity,
    debt_basis_and_amount,
    demand_to_pay,
    firm_identity,
    law_reproduced,
)
from relance.channels.context import date_text
from relance.channels.dispatch import dispatch
from relance.channels.in_doubt import confirm_sent
from relance.kernel.display import show_date
from relance.store.db import Store
from relance.store.models import Action, ActionState, MandateCase, Stage
from tests.agency_letters.firm import (
    CASE_REF,
    FIRM_DOMAIN,
    FIRM_IBAN,
    FIRM_NAME,
    FIRM_SIREN,
    everything_read,
    firm_book,
    firm_workspace,
    prepare,
    queue,
)
from tests.channels.factory import TODAY


def pdf_text(path: Path | str) -> str:
    text = "\n".join(page.extract_text() or "" for page in PdfReader(str(path)).pages)
    return " ".join(text.replace("\u202f", " ").replace("\xa0", " ").split())


def test_the_first_letter_carries_each_mention_and_later_messages_recall_it(
        store: Store, tmp_path: Path) -> None:
    workspace = firm_workspace(tmp_path / "ws")
    with store.transaction() as session:
        book = firm_book(session, stage=Stage.AMICABLE, mandate=True)
        first_id = queue(session, book, channel="letter", template="agency_first").id
    context = prepare(store, workspace, first_id).data.context

    report = dispatch(store, workspace, today=TODAY)
    assert report.sent == 1 and report.failed == 0, report.errors
    text = pdf_text(report.paths[0])
    # Each mention, checked on what the PDF says, one function per mention.
    for mention in (firm_identity, creditor_identity, debt_basis_and_amount, demand_to_pay,
                    law_reproduced):
        assert mention(text, context) == [], mention.__name__
    assert check_firm_letter(text, context) == []
    # What a reader sees: the firm, its statement, the creditor, the parts of the debt,
    # the demand with the firm's client account, and the law's words.
    assert FIRM_NAME in text and "exerce une activité de recouvrement amiable" in text
    assert "Acme Distribution SAS" in text and "12 rue des Tanneurs" in text
    assert "Principal (EUR) 17 000,00 €" in text
    assert "Intérêts (EUR) 227,67 €" in text and "Autres accessoires (EUR) 80,00 €" in text
    assert "Total dû (EUR) 17 307,67 €" in text
    assert FIRM_IBAN in text and CASE_REF in text and "30 novembre 2026" in text
    assert " ".join(L111_8_PARAGRAPHS[1].replace("'", "’").split())[:60] in text.replace(
        "'", "’")
    assert FIRM_SIREN in text and FIRM_DOMAIN in text

    with store.transaction() as session:
        case = session.scalars(select(MandateCase)).one()
        assert case.first_letter_action_id == first_id
        sent_on = case.first_letter_on
        assert sent_on is not None
        later = queue(session, book, channel="letter", template="relance_2",
                      key="later-letter").id
    report = dispatch(store, workspace, today=TODAY)
    assert report.sent == 1, report.errors
    later_text = pdf_text(report.paths[0])
    # The later letter recalls the first: its reference and its date, and the case.
    assert f"réf. ACME-{first_id}" in later_text
    assert date_text(sent_on, "fr", "long") in later_text
    assert CASE_REF in later_text and FIRM_NAME in later_text
    with store.transaction() as session:
        case = session.scalars(select(MandateCase)).one()
        assert case.first_letter_action_id == first_id  # the first stays the first
        action = session.get(Action, later)
        assert action is not None and action.state == ActionState.SENT


def test_a_first_firm_letter_missing_mentions_is_refused_before_it_goes_out(
        store: Store, tmp_path: Path) -> None:
    workspace = firm_workspace(tmp_path / "ws")
    with store.transaction() as session:
        book = firm_book(session, stage=Stage.AMICABLE, mandate=True)
        # A plain reminder as the firm's first message: it lacks the law's text.
        action_id = queue(session, book, channel="letter", template="relance_2").id
    report = dispatch(store, workspace, today=TODAY)
    assert report.sent == 0 and report.failed == 1 and report.paths == []
    [error] = report.errors
    assert "R124-4 5°" in error and "L111-8" in error
    with store.transaction() as session:
        action = session.get(Action, action_id)
        assert action is not None and action.state == ActionState.FAILED
        assert "paragraph 2 of article L111-8" in (action.last_error or "")
        case = session.scalars(select(MandateCase)).one()
        assert case.first_letter_action_id is None  # nothing went out


def test_an_sms_cannot_be_the_firms_first_message(store: Store, tmp_path: Path) -> None:
    workspace = firm_workspace(tmp_path / "ws")
    with store.transaction() as session:
        book = firm_book(session, stage=Stage.AMICABLE, mandate=True)
        action_id = queue(session, book, channel="sms", template="relance_1").id
    prepared = prepare(store, workspace, action_id)
    assert prepared.error is not None and "SMS" in prepared.error
    assert CASE_REF in prepared.error


def test_english_and_consumer_first_letters_pass_and_the_consumer_one_claims_no_penalty(
        store: Store, tmp_path: Path) -> None:
    workspace = firm_workspace(tmp_path / "ws")
    with store.transaction() as session:
        english = firm_book(session, stage=Stage.AMICABLE, mandate=True, ref="UK-1",
                            debtor={"language": "en", "name": "Brown Ltd"})
        consumer = firm_book(session, stage=Stage.AMICABLE, mandate=True, ref="C-1",
                             debtor={"is_consumer": True, "name": "Mme Claire Petit"})
        ids = {"en": queue(session, english, channel="letter", template="agency_first").id,
               "consumer": queue(session, consumer, channel="email",
                                 template="agency_first").id}
    for name, action_id in ids.items():
        prepared = prepare(store, workspace, action_id)
        assert prepared.error is None, (name, prepared.error)
        assert check_firm_letter(everything_read(prepared), prepared.data.context) == []
    text = everything_read(prepare(store, workspace, ids["consumer"]))
    # The law's words are quoted; no penalty, no indemnity is claimed from a consumer.
    assert "Les frais de recouvrement entrepris sans titre exécutoire" in text
    assert "pénalités" not in text.lower() and "indemnité" not in text.lower()
    assert "Intérêts (EUR) : 0,00 €" in text
    english_text = everything_read(prepare(store, workspace, ids["en"]))
    assert "carries on amicable debt collection" in english_text
    assert "Unofficial translation" in english_text


def test_a_first_letter_sent_outside_the_dispatcher_is_found_again(
        store: Store, tmp_path: Path) -> None:
    """An uncertain send an operator confirms never passes `finish`: the later message
    finds the first letter among the case's sent letters."""
    workspace = firm_workspace(tmp_path / "ws")
    with store.transaction() as session:
        book = firm_book(session, stage=Stage.AMICABLE, mandate=True)
        first = queue(session, book, channel="email", template="agency_first")
        first.state = ActionState.UNCERTAIN
        first_id = first.id
        later_id = queue(session, book, channel="sms", template="relance_1").id
    confirm_sent(store, first_id, "alice")
    with store.transaction() as session:
        sent = session.get(Action, first_id)
        assert sent is not None and sent.sent_at is not None
        sent_on = sent.sent_at.date()
    prepared = prepare(store, workspace, later_id)
    assert prepared.error is None, prepared.error
    assert f"réf. ACME-{first_id}" in (prepared.text or "")
    assert show_date(sent_on, "fr") in (prepared.text or "")


def test_the_firm_stays_silent_while_the_invoices_are_at_the_reminder_stage(
        store: Store, tmp_path: Path) -> None:
    """A case under mandate for invoices still at the reminder stage (new invoices of a
    debtor whose older ones went to recovery): their reminders stay white label."""
    workspace = firm_workspace(tmp_path / "ws")
    with store.transaction() as session:
        book = firm_book(session, stage=Stage.REMINDER, mandate=True)
        action_id = queue(session, book, channel="letter", template="relance_1").id
    prepared = prepare(store, workspace, action_id)
    assert prepared.error is None and prepared.data.context["agency"] is None
    assert FIRM_NAME not in everything_read(prepared)
    assert prepared.data.context["payment"]["beneficiary"] == "Acme Distribution SAS"


def test_a_recorded_first_letter_dated_on_its_sending_day(store: Store,
                                                          tmp_path: Path) -> None:
    workspace = firm_workspace(tmp_path / "ws")
    with store.transaction() as session:
        book = firm_book(session, stage=Stage.LITIGATION, mandate=True)
        queue(session, book, channel="email", template="agency_first")
    before = dt.datetime.now(dt.UTC).date()
    report = dispatch(store, workspace, today=TODAY)
    assert report.sent == 1, report.errors
    with store.transaction() as session:
        case = session.scalars(select(MandateCase)).one()
        assert case.first_letter_on is not None
        assert before <= case.first_letter_on <= dt.datetime.now(dt.UTC).date()
