"""What a letter may say in law, per kind of debtor and per template, read back from the PDFs.

Business debtors (franchisees, key accounts, small businesses, public bodies) keep the
L441-10 penalty lines, the 40 EUR indemnity and the creditor's penalty clause. Consumers
(the `is_consumer` flag or a consumer segment) never see any of it, nor collection fees
(CPCE L111-8), not even in the creditor's own footer; from the formal notice on they are
told that the sum bears interest at the legal rate. The formal notice's deadline is
counted as its text says.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select

from relance.channels.dispatch import dispatch
from relance.channels.preview import render_preview
from relance.store.db import Store
from relance.store.models import Action, ActionState, Debtor, Invoice
from tests.channels.factory import (
    TODAY,
    add_action,
    add_creditor,
    add_debtor,
    add_invoice,
    make_workspace,
)
from tests.channels.test_letters import pdf_text
from tests.conftest import make_sqlite_store

# The letters are rendered once per module: keep its tests on one xdist worker.
pytestmark = pytest.mark.xdist_group("legal-letters")

# The creditor's legal mentions as many creditors write them: company details and the
# B2B penalty clause in one paragraph, as the demo's creditor has it.
MENTIONS = (
    "Acme Distribution SAS, société par actions simplifiée au capital de 150 000 € – "
    "RCS Lyon 552 100 554. Tout retard de paiement entraîne de plein droit des pénalités "
    "de retard au taux de la BCE majoré de 10 points et une indemnité forfaitaire pour "
    "frais de recouvrement de 40 € (art. L441-10 et D441-5 du Code de commerce). "
    "Conditions générales de vente sur demande."
)

LETTER_TEMPLATES = ("prevenance", "relance_1", "relance_2", "amiable_2", "mise_en_demeure",
                    "escalation_notice")
# name -> (segment, is_consumer)
BUSINESS_KINDS = {
    "business": ("", False),
    "franchisee": ("franchisee", False),
    "key_account": ("key_account", False),
    "smb": ("smb", False),
    "public_body": ("public_body", False),
}
CONSUMER_KINDS = {
    "consumer_flag": ("individual", True),  # as the demo and the import set them
    "individual_segment": ("individual", False),  # the segment alone
    "flag_only": ("", True),  # the flag alone
    "consumer_segment": ("consumer", False),
}
# Every template in both languages for one kind of each side; every other kind on the
# first reminder and the formal notice (what differs between kinds is only whether the
# debtor counts as a consumer, and a PDF takes about half a second).
FULL_KINDS = ("smb", "consumer_flag")
SHORT_TEMPLATES = ("relance_1", "mise_en_demeure")

# What a consumer letter never shows (compared in lower case, spaces normalised).
FORBIDDEN_FOR_CONSUMERS = (
    "l441-10", "d441-5", "pénalités de retard", "pénalité", "frais de recouvrement",
    "frais de dossier", "indemnité forfaitaire", "indemnités forfaitaires", "40,00 €",
    "40 €", "€40", "fixed compensation", "recovery costs", "late-payment interest",
)

LATE_MINOR = 123_456  # 1 234,56 €: no "40" in any amount the letters print
UPCOMING_MINOR = 98_765  # 987,65 €, the invoice the courtesy notice announces


def _cases(kinds: dict[str, tuple[str, bool]]) -> list[tuple[str, str, str]]:
    return [(kind, template, language)
            for kind in kinds
            for language in (("fr", "en") if kind in FULL_KINDS else ("fr",))
            for template in (LETTER_TEMPLATES if kind in FULL_KINDS else SHORT_TEMPLATES)]


@dataclass(frozen=True)
class Rendered:
    text: str
    warnings: tuple[str, ...]


@pytest.fixture(scope="module")
def letters(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[tuple[str, str, str],
                                                                       Rendered]]:
    """The letters of `_cases`, sent in one dispatch on TODAY and read back."""
    folder = tmp_path_factory.mktemp("legal")
    store = make_sqlite_store(folder)
    wanted: dict[int, tuple[str, str, str]] = {}
    try:
        with store.transaction() as s:
            creditor = add_creditor(s, legal_mentions=MENTIONS)
            kinds = {**BUSINESS_KINDS, **CONSUMER_KINDS}
            debtors: dict[tuple[str, str], tuple[Debtor, Invoice, Invoice]] = {}
            for kind, template, language in _cases(kinds):
                if (kind, language) not in debtors:
                    segment, flag = kinds[kind]
                    debtor = add_debtor(s, creditor, f"{kind}-{language}", segment=segment,
                                        is_consumer=flag, language=language,
                                        name=f"Client {kind}")
                    debtors[(kind, language)] = (
                        debtor,
                        add_invoice(s, debtor, f"FL-{kind}-{language}", LATE_MINOR,
                                    TODAY - dt.timedelta(days=45)),
                        add_invoice(s, debtor, f"FU-{kind}-{language}", UPCOMING_MINOR,
                                    TODAY + dt.timedelta(days=5)))
                debtor, late, upcoming = debtors[(kind, language)]
                invoice = upcoming if template == "prevenance" else late
                action = add_action(s, debtor, [invoice], template=template)
                wanted[action.id] = (kind, template, language)
        workspace = make_workspace(folder / "ws", {"dispatch": {"letter_processes": 2}})
        report = dispatch(store, workspace, today=TODAY)
        assert report.failed == 0, report.errors
        out: dict[tuple[str, str, str], Rendered] = {}
        with store.transaction() as s:
            for action in s.scalars(select(Action).where(Action.id.in_(wanted))):
                assert action.state == ActionState.SENT, (wanted[action.id], action.last_error)
                out[wanted[action.id]] = Rendered(pdf_text(action.output["pdf"]),
                                                  tuple(action.output.get("warnings", ())))
        yield out
    finally:
        store.dispose()


def _forbidden_in(text: str) -> list[str]:
    low = text.lower()
    return [term for term in FORBIDDEN_FOR_CONSUMERS if term in low]


@pytest.mark.parametrize(("kind", "template", "language"), _cases(BUSINESS_KINDS))
def test_business_letters_keep_the_penalty_clause_and_the_indemnity(
        letters: dict[tuple[str, str, str], Rendered], kind: str, template: str,
        language: str) -> None:
    text = letters[(kind, template, language)].text
    # The creditor's own clause, in its footer, on every letter to a business.
    assert "L441-10" in text and "frais de recouvrement de 40 €" in text
    assert "RCS Lyon 552 100 554" in text
    if template == "prevenance":
        return  # not yet due: nothing accrued
    if language == "fr":
        assert "Pénalités de retard (EUR)" in text
        assert "Indemnités forfaitaires (1 × 40,00 €) 40,00 €" in text
        assert "article L441-10 du Code de commerce" in text
    else:
        assert "Late-payment interest (EUR)" in text
        assert "Fixed compensation (1 × €40.00) €40.00" in text


@pytest.mark.parametrize(("kind", "template", "language"), _cases(CONSUMER_KINDS))
def test_consumer_letters_never_show_penalties_indemnity_or_fees(
        letters: dict[tuple[str, str, str], Rendered], kind: str, template: str,
        language: str) -> None:
    rendered = letters[(kind, template, language)]
    assert _forbidden_in(rendered.text) == []
    # What the footer may carry still shows; the sum asked is the principal alone.
    assert "RCS Lyon 552 100 554" in rendered.text
    assert "Conditions générales de vente sur demande." in rendered.text
    due = {("fr", True): "987,65 €", ("fr", False): "1 234,56 €",
           ("en", True): "€987.65", ("en", False): "€1,234.56"}
    assert due[(language, template == "prevenance")] in rendered.text
    # The clause left out of the footer is reported, so that someone moves it.
    assert any("legal mentions" in w and "B2B" in w for w in rendered.warnings)


@pytest.mark.parametrize("kind", [*BUSINESS_KINDS, *CONSUMER_KINDS])
def test_formal_notice_deadline_is_counted_as_its_text_says(
        letters: dict[tuple[str, str, str], Rendered], kind: str) -> None:
    """Receipt of a registered letter is unknown when it is printed: the notice gives the
    period from receipt and no date that would be counted from the letter's date."""
    text = letters[(kind, "mise_en_demeure", "fr")].text
    assert "dans un délai de 8 jours à compter de la réception" in text
    assert "au plus tard" not in text and "30 novembre 2026" not in text
    if kind in FULL_KINDS:
        english = letters[(kind, "mise_en_demeure", "en")].text
        assert "within 8 days of receipt of this letter" in english
        assert "30 November 2026" not in english and "at the latest" not in english


@pytest.mark.parametrize("kind", list(CONSUMER_KINDS))
def test_consumer_formal_notice_states_legal_interest_from_the_notice(
        letters: dict[tuple[str, str, str], Rendered], kind: str) -> None:
    rendered = letters[(kind, "mise_en_demeure", "fr")]
    assert "intérêts au taux de l'intérêt légal à compter de la présente mise en demeure" \
        in rendered.text
    assert "1344-1 du Code civil" in rendered.text
    # 2026-H2 is not in the rates table yet: the letter names the rate without a figure
    # rather than print an old one, and the action says why.
    assert not re.search(r"intérêt légal[^.]*\d+,\d\d %", rendered.text)
    assert any("no legal interest rate for 2026-H2" in w for w in rendered.warnings)
    if kind in FULL_KINDS:
        english = letters[(kind, "mise_en_demeure", "en")].text
        assert "interest at the French legal rate from this formal notice" in english


@pytest.mark.parametrize("kind", list(BUSINESS_KINDS))
def test_business_letters_do_not_speak_of_the_consumer_legal_interest(
        letters: dict[tuple[str, str, str], Rendered], kind: str) -> None:
    for case, rendered in letters.items():
        if case[0] == kind:
            assert "1344-1" not in rendered.text, case


def test_consumer_formal_notice_in_a_known_half_year_prints_the_rate_a_company_may_claim(
        sqlite_store: Store, tmp_path: Path) -> None:
    """A company chasing a consumer claims the legal rate's "autres cas" column (2.62 % in
    2026-H1): the higher column (6.67 %) is for creditors who are private persons
    (Code monétaire et financier L313-2)."""
    on = dt.date(2026, 3, 10)
    with sqlite_store.transaction() as s:
        creditor = add_creditor(s, legal_mentions=MENTIONS)
        ids = []
        for language in ("fr", "en"):
            debtor = add_debtor(s, creditor, f"C-{language}", is_consumer=True,
                                segment="individual", language=language)
            invoice = add_invoice(s, debtor, f"FC-{language}", LATE_MINOR,
                                  on - dt.timedelta(days=40))
            action = add_action(s, debtor, [invoice], template="mise_en_demeure")
            action.created_on = on
            ids.append(action.id)
    workspace = make_workspace(tmp_path / "ws")
    french, english = (pdf_text(render_preview(sqlite_store, workspace, i, today=on).pdf_path
                                or "") for i in ids)
    assert ("à compter de la présente mise en demeure (article 1344-1 du Code civil) ; "
            "ce taux est de 2,62 % l'an pour le premier semestre 2026.") in french
    assert "6,67" not in french
    assert ("from this formal notice (article 1344-1 of the French Civil Code); that rate "
            "is 2.62 % a year for the first half of 2026.") in english
    assert _forbidden_in(french) == [] and _forbidden_in(english) == []


def test_after_a_formal_notice_a_consumer_letter_says_since_when_interest_runs(
        sqlite_store: Store, tmp_path: Path) -> None:
    with sqlite_store.transaction() as s:
        creditor = add_creditor(s)
        debtor = add_debtor(s, creditor, "C-1", is_consumer=True, segment="individual")
        invoice = add_invoice(s, debtor, "FC-1", LATE_MINOR, TODAY - dt.timedelta(days=60))
        notice = add_action(s, debtor, [invoice], template="mise_en_demeure",
                            state=ActionState.SENT, key="notice")
        notice.created_on = dt.date(2026, 11, 2)
        notice.sent_at = dt.datetime(2026, 11, 2, 9, 30)
        later = add_action(s, debtor, [invoice], template="escalation_notice").id
        business = add_debtor(s, creditor, "B-1", segment="smb")
        b_invoice = add_invoice(s, business, "FB-1", LATE_MINOR, TODAY - dt.timedelta(days=60))
        b_notice = add_action(s, business, [b_invoice], template="mise_en_demeure",
                              state=ActionState.SENT, key="b-notice")
        b_notice.sent_at = dt.datetime(2026, 11, 2, 9, 30)
        b_later = add_action(s, business, [b_invoice], template="escalation_notice").id
    workspace = make_workspace(tmp_path / "ws")
    text = pdf_text(render_preview(sqlite_store, workspace, later, today=TODAY).pdf_path or "")
    assert ("intérêts au taux de l'intérêt légal depuis notre mise en demeure du "
            "2 novembre 2026") in text
    assert _forbidden_in(text) == []
    b_text = pdf_text(render_preview(sqlite_store, workspace, b_later,
                                     today=TODAY).pdf_path or "")
    assert "1344-1" not in b_text and "Pénalités de retard (EUR)" in b_text


def test_the_b2b_part_of_the_mentions_can_be_kept_apart_in_the_creditor_settings(
        sqlite_store: Store, tmp_path: Path) -> None:
    with sqlite_store.transaction() as s:
        creditor = add_creditor(s, settings={
            "legal_mentions_b2b": "Pénalités de retard : taux BCE + 10 points ; "
                                  "indemnité forfaitaire de 40 € (L441-10).",
            "legal_mentions_b2c": "Médiateur de la consommation : CM2C, Paris.",
        })
        ids = {}
        for ref, flag in (("B-1", False), ("C-1", True)):
            debtor = add_debtor(s, creditor, ref, is_consumer=flag)
            invoice = add_invoice(s, debtor, f"F{ref}", LATE_MINOR,
                                  TODAY - dt.timedelta(days=20))
            ids[ref] = add_action(s, debtor, [invoice], template="relance_1").id
    report = dispatch(sqlite_store, make_workspace(tmp_path / "ws"), today=TODAY)
    assert report.sent == 2, report.errors
    with sqlite_store.transaction() as s:
        outputs = {ref: s.get_one(Action, i).output for ref, i in ids.items()}
    texts = {ref: pdf_text(output["pdf"]) for ref, output in outputs.items()}
    warned = outputs["C-1"].get("warnings", [])
    assert "taux BCE + 10 points" in texts["B-1"] and "Médiateur" not in texts["B-1"]
    assert "RCS Lyon 552 100 554" in texts["B-1"] and "RCS Lyon 552 100 554" in texts["C-1"]
    assert "Médiateur de la consommation : CM2C, Paris." in texts["C-1"]
    assert _forbidden_in(texts["C-1"]) == []
    assert not any("legal mentions" in w for w in warned)  # nothing had to be left out


def test_a_consumer_email_carries_neither_the_clause_nor_a_miscounted_deadline(
        sqlite_store: Store, tmp_path: Path) -> None:
    with sqlite_store.transaction() as s:
        creditor = add_creditor(s, legal_mentions=MENTIONS)
        ids = {}
        for ref, flag in (("B-1", False), ("C-1", True)):
            debtor = add_debtor(s, creditor, ref, is_consumer=flag)
            invoice = add_invoice(s, debtor, f"F{ref}", LATE_MINOR,
                                  TODAY - dt.timedelta(days=20))
            ids[ref] = add_action(s, debtor, [invoice], channel="email",
                                  template="mise_en_demeure").id
    workspace = make_workspace(tmp_path / "ws")
    texts = {ref: " ".join(render_preview(sqlite_store, workspace, i, today=TODAY).text
                           .replace("\u202f", " ").replace("\xa0", " ").split())
             for ref, i in ids.items()}
    assert _forbidden_in(texts["C-1"]) == []
    assert "taux de l'intérêt légal à compter de notre mise en demeure du 22 novembre 2026" \
        in texts["C-1"]
    assert "L441-10" in texts["B-1"] and "40,00 €" in texts["B-1"]
    for text in texts.values():
        assert "dans un délai de 8 jours à compter de la réception" in text
        assert "au plus tard" not in text and "30 novembre 2026" not in text


def test_a_template_that_charges_fees_to_a_consumer_fails_instead_of_going_out(
        sqlite_store: Store, tmp_path: Path) -> None:
    workspace = make_workspace(tmp_path / "ws")
    folder = workspace.templates_dir / "frais"
    folder.mkdir()
    (folder / "letter.fr.html").write_text(
        '{% extends "_base/letter.html" %}{% block subject %}Relance{% endblock %}'
        "{% block body %}<p>Des frais de dossier de 25 € s'ajoutent à la somme due.</p>"
        "{% endblock %}")
    with sqlite_store.transaction() as s:
        creditor = add_creditor(s)
        ids = {}
        for ref, flag in (("B-1", False), ("C-1", True)):
            debtor = add_debtor(s, creditor, ref, is_consumer=flag)
            invoice = add_invoice(s, debtor, f"F{ref}", LATE_MINOR,
                                  TODAY - dt.timedelta(days=20))
            ids[ref] = add_action(s, debtor, [invoice], template="frais").id
    report = dispatch(sqlite_store, workspace, today=TODAY)
    assert (report.sent, report.failed) == (1, 1)
    with sqlite_store.transaction() as s:
        consumer = s.get(Action, ids["C-1"])
        assert consumer is not None and consumer.state == ActionState.FAILED
        assert "frais de dossier" in (consumer.last_error or "")
        assert "consumer" in (consumer.last_error or "")


def test_one_rule_decides_who_is_a_consumer() -> None:
    from relance.channels.legal import is_consumer

    def debtor(segment: str, flag: bool) -> Debtor:
        return Debtor(ref="X", name="X", segment=segment, is_consumer=flag)

    for segment, flag in CONSUMER_KINDS.values():
        assert is_consumer(debtor(segment, flag)), (segment, flag)
    assert is_consumer(debtor(" Individual ", False))
    for segment, flag in BUSINESS_KINDS.values():
        assert not is_consumer(debtor(segment, flag)), segment


def test_only_the_b2b_sentences_of_a_creditors_mentions_are_left_out_for_consumers() -> None:
    from relance.channels.legal import mentions_for

    general = [
        "Acme SAS au capital de 150 000 € — RCS Lyon 552 100 554 — TVA FR40552100554. En "
        "cas de retard, pénalités au taux BCE + 10 points et indemnité de 40 € pour frais "
        "de recouvrement (art. L441-10 du Code de commerce). Pas d'escompte.",
        "Indemnité forfaitaire : 40 euros.",
        "Siège : 12 rue des Tanneurs, 69002 Lyon.",
    ]
    business = mentions_for(general, consumer=False)
    assert business.lines == tuple(general) and business.left_out == ()
    consumer = mentions_for(general, consumer=True)
    assert consumer.lines == (
        "Acme SAS au capital de 150 000 € — RCS Lyon 552 100 554 — TVA FR40552100554. "
        "Pas d'escompte.",
        "Siège : 12 rue des Tanneurs, 69002 Lyon.",
    )
    assert len(consumer.left_out) == 2
