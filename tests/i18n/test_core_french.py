"""The core speaks French: the rule checker's findings, the refusals of casework, the
settings' complaints and the scheduler's summary, with English unchanged beside them."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from relance.dsl.loader import load_text
from relance.engine.case_holds import pause
from relance.engine.case_payments import pay_invoices
from relance.engine.plans import Every
from relance.engine.roles import Actor, NotAllowed, Role, require_credit_manager
from relance.kernel.errors import ConfigError, UsageError
from relance.kernel.i18n import _, using_language
from relance.kernel.money import Money
from relance.kernel.settings import parse_settings
from relance.kernel.starter import create_workspace
from relance.kernel.workspace import find_workspace
from relance.scheduler.summary import MorningSummary
from relance.store.db import Store

MISSPELT = """\
policy chase
rule first:
  when overdeu >= 15d and not paused
  then send letter 'reminder'
"""
CARLA = Actor("carla", Role.AUDITOR)
BRUNO = Actor("bruno", Role.OPERATOR)
# What French puts in an amount: a narrow no-break space between thousands, a no-break
# space before the euro sign.
GROUP, BEFORE_SIGN = "\u202f", "\u00a0"


def _check(language: str) -> str:
    with using_language(language):
        return load_text(MISSPELT, "chase.rules").render()


def test_a_finding_of_the_checker_reads_in_french_with_its_code_and_the_rule_words() -> None:
    text = _check("fr")
    assert "chase.rules:3:8: erreur E201 : champ inconnu 'overdeu'" in text
    assert "conseil : vouliez-vous dire 'overdue' ?" in text
    # The quoted line and its carets are the rule file's, whatever the language.
    assert "  when overdeu >= 15d and not paused" in text


def test_the_english_finding_is_word_for_word_what_it_was() -> None:
    text = _check("en")
    assert "chase.rules:3:8: error E201: unknown field 'overdeu'" in text
    assert "hint: did you mean 'overdue'?" in text


def test_a_syntax_error_lists_what_was_expected_in_french() -> None:
    with using_language("fr"):
        text = load_text("policy p\nrule r:\n  when overdue >= 15d send letter 'x'\n",
                         "p.rules").render()
    assert "erreur E101 : 'send' inattendu : attendu" in text
    assert "conseil : écrivez 'then' avant l’action" in text


def test_a_settings_mistake_is_refused_in_french_then_in_english() -> None:
    config = {"run": {"auto_approve": "false"}}
    with using_language("fr"), pytest.raises(ConfigError) as french:
        parse_settings(config)
    assert french.value.message == ('relance.toml : [run] auto_approve doit être true ou '
                                    'false, et non le texte "false"')
    with using_language("fr"), pytest.raises(ConfigError) as misspelt:
        parse_settings({"run": {"auto_aprove": False}})
    assert ("auto_aprove n’est pas un réglage pour l’exécution quotidienne : vouliez-vous "
            "dire auto_approve ?") in misspelt.value.message
    with using_language("en"), pytest.raises(ConfigError) as english:
        parse_settings(config)
    assert english.value.message == ('relance.toml: [run] auto_approve must be true or '
                                     'false, not the string "false"')


def test_casework_refuses_an_auditor_in_french(sqlite_store: Store) -> None:
    with using_language("fr"), sqlite_store.write_transaction() as session, \
            pytest.raises(NotAllowed) as refused:
        pause(session, CARLA, 1, until=dt.date(2026, 12, 31), reason="congés",
              today=dt.date(2026, 12, 1))
    assert refused.value.message == ("carla est auditeur : les auditeurs ne peuvent pas "
                                     "mettre un dossier en pause")


def test_a_refusal_names_the_role_and_the_money_as_a_french_reader_writes_them(
        sqlite_store: Store) -> None:
    with using_language("fr"), pytest.raises(NotAllowed) as refused:
        require_credit_manager(BRUNO, _("approve an escalation"))
    assert refused.value.message == ("bruno est opérateur : seul un responsable crédit peut "
                                     "approuver une escalade")
    with using_language("fr"), sqlite_store.write_transaction() as session, \
            pytest.raises(UsageError) as negative:
        pay_invoices(session, BRUNO, [1], amount=Money.of("-1250.5", "EUR"),
                     received_on=dt.date(2026, 12, 1), reference="VIR 1")
    assert negative.value.message == (
        f"un paiement doit être positif, et non -1{GROUP}250,50{BEFORE_SIGN}€")
    with using_language("en"), sqlite_store.write_transaction() as session, \
            pytest.raises(UsageError) as english:
        pay_invoices(session, BRUNO, [1], amount=Money.of("-1250.5", "EUR"),
                     received_on=dt.date(2026, 12, 1), reference="VIR 1")
    assert english.value.message == "a payment must be positive, not -€1,250.50"


def test_a_plan_period_typed_wrong_is_refused_in_french() -> None:
    with using_language("fr"), pytest.raises(UsageError) as refused:
        Every.parse("3x")
    assert refused.value.message == ("every '3x' : écrivez un nombre suivi de d, w ou m "
                                     "(15d, 2w, 1m)")


def test_the_morning_summary_is_written_for_a_french_credit_manager() -> None:
    summary = MorningSummary(day=dt.date(2026, 3, 10), open_by_currency={"EUR": 720_000},
                             overdue_by_currency={"EUR": 240_000}, open_invoices=1200,
                             broken_promises_today=2)
    with using_language("fr"):
        text = summary.render()
    assert text.splitlines()[:3] == [
        "relance — résumé du matin du 10/03/2026",
        "Exécution du jour : pas encore faite.",
        f"Encours 7{GROUP}200,00{BEFORE_SIGN}€, dont échu 2{GROUP}400,00{BEFORE_SIGN}€.",
    ]
    assert f"Factures ouvertes : 1{GROUP}200, en litige : 0." in text
    with using_language("en"):
        assert "Open balance €7,200.00, of which overdue €2,400.00." in summary.render()


def test_a_new_workspace_shows_where_to_choose_the_language(tmp_path: Path) -> None:
    create_workspace(tmp_path)
    config = tmp_path / "relance.toml"
    text = config.read_text(encoding="utf-8")
    assert '# [ui]\n# language = "fr"   # or "en"; default: LANG, else French' in text
    # As written, the environment decides; uncommented, the setting does.
    assert find_workspace(tmp_path).settings.ui.language is None
    config.write_text(text.replace('# [ui]\n# language = "fr"', '[ui]\nlanguage = "en"'),
                      encoding="utf-8")
    workspace = find_workspace(tmp_path)
    assert workspace.settings.ui.language == "en" and workspace.language == "en"
