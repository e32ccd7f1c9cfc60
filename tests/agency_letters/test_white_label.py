"""White label until the mandate, the firm by name after it: every template shipped
(every folder of templates/, every channel and language it has, every tone) rendered
as the dispatcher renders it, at each stage of a case.

- reminder stage, no case under mandate: the firm's name, SIREN, e-mail domain and
  client-funds IBAN appear nowhere;
- amicable stage, the firm's first message: the firm's letter carries them (and passes
  the R124-4 check); any other letter or e-mail is refused as a first letter, an SMS too;
- amicable and litigation stages after the first letter: every letter and e-mail names
  the firm (name, SIREN, domain) and recalls the first letter's reference and date; an
  SMS names the firm and recalls them (it has no room for the SIREN and the address).

Internal alerts (`notify`) go to the creditor's staff, not to the debtor: they are
checked for the white label before the mandate only. The receipt and the creditor's
notice of collected money (`quittance`, `avis_encaissement`) exist only for money the
firm collected on a case under mandate: they are rendered from their payment's facts
in the client-funds tests, never before a mandate, and are left out here.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from relance.channels.context import date_text
from relance.channels.templates import default_templates_dir, scan
from relance.kernel.display import show_date
from relance.store.db import Store
from relance.store.models import Stage
from tests.agency_letters.firm import (
    FIRM_IBAN,
    FIRM_MARKS,
    FIRM_NAME,
    FirmBook,
    everything_read,
    firm_book,
    firm_workspace,
    mark_first_letter_sent,
    prepare,
    queue,
)
from tests.channels.factory import TODAY

# Templates that exist only for money the firm collected (see the module's docstring),
# and the acknowledgement of what a debtor did on their page (engine/portal_acks.py):
# each renders the facts its own action carries, and nothing without them.
FUNDS_TEMPLATES = frozenset({"quittance", "avis_encaissement", "portal_ack"})
TEMPLATES = sorted({(f.name, f.channel, f.language, f.tone)
                    for f in scan(default_templates_dir()) if f.name not in FUNDS_TEMPLATES},
                   key=lambda t: (t[0], t[1], t[2], t[3] or ""))
LANGUAGES = sorted({language for _n, _c, language, _t in TEMPLATES})
FIRST_LETTER = "agency_first"


def test_every_shipped_template_is_covered() -> None:
    names = {name for name, *_ in TEMPLATES}
    assert {"relance_1", "relance_2", "mise_en_demeure", FIRST_LETTER, "late_alert"} <= names
    assert {channel for _n, channel, *_ in TEMPLATES} == {"letter", "email", "sms", "notify"}
    assert LANGUAGES == ["en", "fr"]


def _queue_all(session: Session, books: dict[str, FirmBook], stage: str) -> dict[
        tuple[str, str, str, str | None], int]:
    actions = {}
    for name, channel, language, tone in TEMPLATES:
        key = f"{stage}:{name}:{channel}:{language}:{tone}"
        actions[(name, channel, language, tone)] = queue(
            session, books[language], channel=channel, template=name, tone=tone, key=key).id
    return actions


def _books(session: Session, stage: Stage, *, mandate: bool, tag: str) -> dict[str, FirmBook]:
    return {language: firm_book(session, stage=stage, mandate=mandate,
                                ref=f"{tag}-{language.upper()}",
                                debtor={"language": language})
            for language in LANGUAGES}


def test_before_the_mandate_no_template_shows_the_firm(sqlite_store: Store,
                                                       tmp_path: Path) -> None:
    workspace = firm_workspace(tmp_path / "ws")
    with sqlite_store.transaction() as session:
        actions = _queue_all(session, _books(session, Stage.REMINDER, mandate=False,
                                             tag="R"), "reminder")
    for template, action_id in actions.items():
        prepared = prepare(sqlite_store, workspace, action_id)
        assert prepared.error is None, (template, prepared.error)
        assert prepared.data.context["agency"] is None
        text = everything_read(prepared)
        for mark in (*FIRM_MARKS, FIRM_IBAN):
            assert mark.lower() not in text.lower(), (template, mark)
        assert "Acme Distribution SAS" in text, template  # the creditor's own voice


def test_the_firms_first_message_is_its_letter_and_nothing_else(sqlite_store: Store,
                                                                tmp_path: Path) -> None:
    workspace = firm_workspace(tmp_path / "ws")
    with sqlite_store.transaction() as session:
        actions = _queue_all(session, _books(session, Stage.AMICABLE, mandate=True,
                                             tag="A"), "first")
    for (name, channel, language, tone), action_id in actions.items():
        prepared = prepare(sqlite_store, workspace, action_id)
        template = (name, channel, language, tone)
        if channel == "notify":
            continue  # to the creditor's staff: no R124-4 letter
        if name == FIRST_LETTER:
            assert prepared.error is None, (template, prepared.error)
            text = everything_read(prepared)
            case = prepared.data.context["agency"]["case_reference"]
            for mark in (*FIRM_MARKS, FIRM_IBAN, case):
                assert mark in text, (template, mark)
            continue
        assert prepared.error is not None, template
        assert "MD-ACME-2026/" in prepared.error, template
        assert ("R124-4" in prepared.error), template


@pytest.mark.parametrize("stage", [Stage.AMICABLE, Stage.LITIGATION])
def test_after_the_first_letter_every_message_names_the_firm_and_recalls_it(
        sqlite_store: Store, tmp_path: Path, stage: Stage) -> None:
    workspace = firm_workspace(tmp_path / "ws")
    sent_on = TODAY.replace(day=10)
    with sqlite_store.transaction() as session:
        books = _books(session, stage, mandate=True, tag="L")
        firsts = {language: mark_first_letter_sent(session, book, on=sent_on).id
                  for language, book in books.items()}
        actions = _queue_all(session, books, str(stage))
    for (name, channel, language, tone), action_id in actions.items():
        template = (name, channel, language, tone)
        prepared = prepare(sqlite_store, workspace, action_id)
        if channel == "notify":
            assert prepared.error is None, (template, prepared.error)
            continue
        assert prepared.error is None, (template, prepared.error)
        assert prepared.data.context["agency"]["first"] is False
        text = everything_read(prepared)
        reference = f"ACME-{firsts[language]}"
        assert reference in text, template
        assert prepared.data.context["agency"]["case_reference"] in text, template
        if channel == "sms":
            assert FIRM_NAME in text, template
            assert show_date(sent_on, language) in text, template
            continue
        assert date_text(sent_on, language, "long") in text, template
        for mark in FIRM_MARKS:
            assert mark in text, (template, mark)
        # The debtor pays the firm's client-funds account from now on.
        assert FIRM_IBAN in text, template
