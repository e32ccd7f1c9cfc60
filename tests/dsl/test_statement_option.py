"""The `with statement` option: read, written back, and refused where nothing can carry it."""

from __future__ import annotations

import pytest

from relance.dsl import ast
from relance.dsl.formatter import format_text
from relance.engine.explain import _rule_actions
from relance.kernel.i18n import using_language
from tests.dsl.helpers import codes, only_rule, report

CATALOGUE = {
    "amiable_2": frozenset({"letter", "email"}),
    "relance_1": frozenset({"email", "sms", "letter"}),
    "late_alert": frozenset({"notify"}),
}

NAMED = """policy reminders

rule second_notice:
  when overdue >= 30d and not paused
  then send letter 'amiable_2' with tone firm and send email 'amiable_2', requires approval, every 2w, per invoice, with statement
"""  # noqa: E501 - the formatter keeps a rule's `then` on one line


def test_the_option_is_read_on_letters_and_emails() -> None:
    rule = only_rule("policy p\nwhen overdue >= 30d and not paused "
                     "then send letter 'amiable_2', with statement")
    assert rule.options == ast.Options(with_statement=True)
    assert rule.options.statement_span.line == 2
    assert not only_rule("policy p\nwhen overdue >= 30d then send letter 'amiable_2'"
                         ).options.with_statement
    assert codes(NAMED, CATALOGUE) == []


def test_it_formats_back_identically_in_the_canonical_order() -> None:
    assert format_text(NAMED, "t.rules")[0] == NAMED
    messy = ("policy reminders\nwhen overdue >= 30d and not paused then send email "
             "'amiable_2' ,with   statement,requires approval\n")
    assert format_text(messy, "t.rules")[0] == (
        "policy reminders\n\nwhen overdue >= 30d and not paused then send email "
        "'amiable_2', requires approval, with statement\n")


def test_given_twice_it_is_e109() -> None:
    text = ("policy p\nwhen overdue >= 30d and not paused "
            "then send letter 'amiable_2', with statement, with statement\n")
    assert codes(text, CATALOGUE) == ["E109"]
    assert "'with statement'" in report(text, catalogue=CATALOGUE)


@pytest.mark.parametrize(("action", "what"), [
    ("send sms 'relance_1'", "an SMS"),
    ("call with priority high", "a call"),
    ("notify sales_rep 'late_alert'", "an internal alert"),
    ("escalate to litigation", "an escalation"),
])
def test_an_action_without_a_document_refuses_it_with_e213(action: str, what: str) -> None:
    text = f"policy p\nwhen overdue >= 30d and not paused then {action}, with statement\n"
    assert codes(text, CATALOGUE) == ["E213"]
    shown = report(text, catalogue=CATALOGUE)
    assert f"t.rules:2:{text.splitlines()[1].index('with statement') + 1}: error E213" in shown
    assert f"{what} cannot carry the account statement" in shown


def test_every_action_of_the_rule_must_carry_it() -> None:
    text = ("policy p\nrule both:\n  when overdue >= 30d and not paused\n"
            "  then send letter 'amiable_2' and send sms 'relance_1', with statement\n")
    assert codes(text, CATALOGUE) == ["E213"]


def test_the_refusal_reads_in_french() -> None:
    text = "policy p\nwhen overdue >= 30d and not paused then send sms 'relance_1', " \
           "with statement\n"
    with using_language("fr"):
        shown = report(text, catalogue=CATALOGUE)
    assert "erreur E213" in shown
    assert "un SMS ne peut pas porter le relevé de compte" in shown


def test_explain_shows_it_with_the_actions() -> None:
    rule = only_rule("policy p\nwhen overdue >= 30d and not paused "
                     "then send email 'amiable_2', requires approval, with statement")
    assert _rule_actions(rule) == ("email 'amiable_2', requires approval, with statement",)
