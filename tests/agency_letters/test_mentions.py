"""The R124-4 validator: the firm's first letter passes whole, and loses its pass when any
one mention is taken out of it (one test per mention); a later message passes only
with the recall of the first letter."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from relance.channels.agency_law import L111_8_PARAGRAPHS
from relance.channels.agency_mentions import (
    MENTIONS,
    check_firm_letter,
    firm_letter_problems,
    plain_text,
    recall_of_first_letter,
    refusal,
)
from relance.channels.legal import consumer_terms
from relance.kernel.i18n import using_language
from relance.store.db import Store
from relance.store.models import Stage
from tests.agency_letters.firm import (
    CASE_REF,
    FIRM_IBAN,
    FIRM_NAME,
    firm_book,
    firm_workspace,
    mark_first_letter_sent,
    prepare,
    queue,
)
from tests.channels.factory import TODAY

NAMES = {m.number: m.name for m in MENTIONS}


@pytest.fixture
def first_letter(sqlite_store: Store, tmp_path: Path) -> tuple[str, dict[str, Any]]:
    """The firm's first letter as rendered for dispatch (HTML) and its context."""
    workspace = firm_workspace(tmp_path / "ws")
    with sqlite_store.transaction() as session:
        book = firm_book(session, stage=Stage.AMICABLE, mandate=True)
        action_id = queue(session, book, channel="letter", template="agency_first").id
    prepared = prepare(sqlite_store, workspace, action_id)
    assert prepared.error is None and prepared.letter_html
    return prepared.letter_html, prepared.data.context


def without(text: str, *pieces: str) -> str:
    """`text` with every occurrence of each piece taken out, whatever its case and
    however HTML escaped its apostrophes."""
    for piece in pieces:
        for form in (piece, piece.replace("'", "&#39;")):
            text = re.sub(re.escape(form), "", text, flags=re.IGNORECASE)
    return text


def refused_for(text: str, context: dict[str, Any]) -> list[str]:
    return check_firm_letter(text, context)


def test_the_whole_letter_passes(first_letter: tuple[str, dict[str, Any]]) -> None:
    text, context = first_letter
    assert refused_for(text, context) == []
    assert refusal("letter", context, letter_html=text) is None


def test_without_the_firms_activity_statement_mention_1_is_missing(
        first_letter: tuple[str, dict[str, Any]]) -> None:
    text, context = first_letter
    cut = without(text, "exerce une activité de recouvrement amiable")
    assert refused_for(cut, context) == [NAMES[1]]


def test_without_the_firms_address_mention_1_is_missing(
        first_letter: tuple[str, dict[str, Any]]) -> None:
    text, context = first_letter
    [problem] = firm_letter_problems(without(text, "12 quai Saint-Antoine"), context)
    assert problem.mention.number == 1
    assert "12 quai Saint-Antoine" in problem.reason.english


def test_without_the_creditor_mention_2_is_missing(
        first_letter: tuple[str, dict[str, Any]]) -> None:
    text, context = first_letter
    assert refused_for(without(text, "12 rue des Tanneurs"), context) == [NAMES[2]]
    assert refused_for(without(text, "Acme Distribution SAS"), context) == [NAMES[2]]


def test_without_an_invoice_or_a_part_of_the_debt_mention_3_is_missing(
        first_letter: tuple[str, dict[str, Any]]) -> None:
    text, context = first_letter
    assert refused_for(without(text, "FA-F-0001-1"), context) == [NAMES[3]]
    # The interest shown without its own line: only as part of the total.
    merged = re.sub(r"<tr><td>Intérêts \(EUR\)</td>.*?</tr>", "", text)
    merged = without(merged, "227,67", "Pénalités", "pénalités")
    [problem] = firm_letter_problems(merged, context)
    assert problem.mention.number == 3 and "interest" in problem.reason.english


def test_collection_fees_charged_to_the_debtor_break_mention_3(
        first_letter: tuple[str, dict[str, Any]]) -> None:
    text, context = first_letter
    fees = text.replace("</table>", "<tr><td>Frais de dossier</td><td>45,00 €</td></tr>"
                        "</table>", 1)
    [problem] = firm_letter_problems(fees, context)
    assert problem.mention.number == 3 and "frais de dossier" in problem.reason.english


def test_without_the_firms_account_mention_4_is_missing(
        first_letter: tuple[str, dict[str, Any]]) -> None:
    text, context = first_letter
    assert refused_for(without(text, FIRM_IBAN), context) == [NAMES[4]]


def test_without_the_demand_to_pay_mention_4_is_missing(
        first_letter: tuple[str, dict[str, Any]]) -> None:
    text, context = first_letter
    cut = without(text, "Nous vous demandons de régler")
    assert refused_for(cut, context) == [NAMES[4]]


def test_without_either_paragraph_of_l111_8_mention_5_is_missing(
        first_letter: tuple[str, dict[str, Any]]) -> None:
    text, context = first_letter
    for paragraph in L111_8_PARAGRAPHS:
        # A paragraph is cut if a single word of it is changed.
        cut = without(text, paragraph).replace("« »", "")
        assert refused_for(cut, context) == [NAMES[5]]
    altered = text.replace("de mauvaise foi", "de bonne foi")
    assert refused_for(altered, context) == [NAMES[5]]


def test_the_names_are_translated_and_the_refusal_names_each_missing_mention(
        first_letter: tuple[str, dict[str, Any]]) -> None:
    text, context = first_letter
    cut = without(text, FIRM_IBAN, "12 rue des Tanneurs")
    with using_language("fr"):
        names = refused_for(cut, context)
        why = refusal("letter", context, letter_html=cut)
    assert names == ["les nom et adresse du créancier", "la demande de payer et la "
                     "manière de payer"]
    assert why is not None
    assert "R124-4 2°" in why.english and "R124-4 4°" in why.english
    assert "R124-4 2°" in why.shown and "créancier" in why.shown
    assert CASE_REF in why.english


def test_a_later_message_passes_only_with_the_recall(sqlite_store: Store,
                                                     tmp_path: Path) -> None:
    workspace = firm_workspace(tmp_path / "ws")
    with sqlite_store.transaction() as session:
        book = firm_book(session, stage=Stage.AMICABLE, mandate=True)
        first = mark_first_letter_sent(session, book, on=TODAY)
        later = queue(session, book, channel="email", template="relance_2").id
    prepared = prepare(sqlite_store, workspace, later)
    assert prepared.error is None, prepared.error
    context = prepared.data.context
    text = prepared.text or ""
    assert recall_of_first_letter(text, context) == []
    cut = without(text, f"ACME-{first.id}")
    assert [r.english for r in recall_of_first_letter(cut, context)] == [
        f"the first letter's reference ACME-{first.id}"]
    why = refusal("email", context, text=cut)
    assert why is not None and f"ACME-{first.id}" in why.english


def test_quoting_the_law_is_no_fee_claim_but_a_fee_still_is() -> None:
    quoted = " ".join(f"« {p} »" for p in L111_8_PARAGRAPHS)
    assert consumer_terms(quoted) == []
    assert consumer_terms(quoted + " Frais de recouvrement : 30 €") == [
        "Frais de recouvrement"]


def test_plain_text_undoes_html_and_spacing() -> None:
    assert plain_text("<p>L&#39;exécution\u202fà <b>FIRME</b></p>") == "l'exécution à firme"
    assert FIRM_NAME.casefold() in plain_text(f"<style>x</style>{FIRM_NAME}")
