"""The `creditor` fact in the language: policies scoped `for creditor = X`, and rule
conditions on the creditor's code; read, checked, formatted, and, when the book is at
hand, compared with the codes its creditors have (W307)."""

from __future__ import annotations

from pathlib import Path

from relance.dsl import ast
from relance.dsl.checker import check_policies
from relance.dsl.formatter import format_text
from relance.dsl.loader import load_rules, load_text
from tests.dsl.helpers import codes, parse_ok

AGENCY = """# two client companies, each with its own track
policy maison_network for creditor = MAISON and not paused

rule nudge:
  when overdue >= 7d and not disputed
  then send email 'relance_1' with tone soft

policy others for creditor not in [MAISON, 'bellerose-2']

rule ladder:
  when overdue >= 15d and creditor in [ACME, BELLEROSE] and not paused
  then send letter 'amiable_2'

rule not_acme:
  when overdue >= 45d and creditor != ACME and not paused
  then send letter 'mise_en_demeure', requires approval
"""

CATALOGUE = {"relance_1": frozenset({"email"}), "amiable_2": frozenset({"letter"}),
             "mise_en_demeure": frozenset({"letter"})}
BOOK = frozenset({"MAISON", "ACME", "BELLEROSE", "bellerose-2"})


def _warnings(text: str, creditors: frozenset[str] | None) -> list[tuple[str, str, str]]:
    """(code, message, hint) of what the check finds with the book's codes known."""
    rule_file = parse_ok(text)
    return [(d.code, d.message, d.hint or "")
            for d in check_policies([rule_file], CATALOGUE, creditors=creditors)]


def test_a_policy_scoped_to_a_creditor_reads_as_written() -> None:
    first, second = parse_ok(AGENCY).policies
    assert first.scope == ast.And((
        ast.Compare(ast.FieldRef("creditor"), "=", ast.WordValue("MAISON")),
        ast.Not(ast.FlagTest(ast.FieldRef("paused"))),
    ))
    assert second.scope == ast.InList(
        ast.FieldRef("creditor"),
        ast.ListValue((ast.WordValue("MAISON"), ast.TextValue("bellerose-2"))), True)
    ladder, not_acme = second.rules
    assert isinstance(ladder.condition, ast.And) and isinstance(not_acme.condition, ast.And)
    assert ast.Compare(ast.FieldRef("creditor"), "!=", ast.WordValue("ACME")) in \
        not_acme.condition.operands
    assert ladder.condition.operands[1] == ast.InList(
        ast.FieldRef("creditor"),
        ast.ListValue((ast.WordValue("ACME"), ast.WordValue("BELLEROSE"))), False)


def test_it_checks_clean_and_is_already_in_the_canonical_layout() -> None:
    loaded = load_text(AGENCY, "agency.rules", catalogue=CATALOGUE)
    assert loaded.diagnostics == (), loaded.render()
    formatted, problems = format_text(AGENCY, "agency.rules")
    assert problems == []
    assert formatted == AGENCY


def test_the_formatter_lays_it_out_and_keeps_its_meaning() -> None:
    messy = ("policy   m   for creditor=MAISON\n"
             "when overdue>=7d and creditor!=\"ACME\" and not paused then call\n")
    formatted, problems = format_text(messy, "m.rules")
    assert problems == [] and formatted is not None
    assert formatted == ("policy m for creditor = MAISON\n\n"
                         "when overdue >= 7d and creditor != 'ACME' and not paused then call\n")
    assert parse_ok(formatted).policies == parse_ok(messy).policies
    assert format_text(formatted, "m.rules")[0] == formatted


def test_the_creditor_is_a_word_compared_with_equal_or_a_list() -> None:
    assert codes("policy p\nwhen creditor > ACME and not paused then call") == ["E205"]
    assert codes("policy p\nwhen creditor = 5 and not paused then call") == ["E202"]
    assert codes("policy p\nwhen creditor = 2026-01-31 and not paused then call") == ["E202"]
    assert codes("policy p\nwhen creditor and not paused then call") == ["E207"]
    assert codes("policy p\nwhen 'ACME' in creditor and not paused then call") == ["E206"]
    assert codes("policy p\nwhen creditor = 'ACME-FR' and not paused then call") == []


def test_a_rule_for_another_creditor_than_its_policy_can_never_act() -> None:
    scoped = "policy p for creditor = ACME\nwhen creditor = {code} and not paused then call"
    assert codes(scoped.format(code="BELLEROSE")) == ["E230"]
    # Codes compare ignoring case: `acme` is the policy's own creditor.
    assert codes(scoped.format(code="acme")) == []
    assert codes(scoped.format(code="'Acme'")) == []


def test_without_the_book_any_code_is_accepted() -> None:
    text = "policy p for creditor = NOBODY\nwhen overdue >= 1d and not paused then call"
    assert _warnings(text, None) == []
    assert load_text(text, "t.rules").diagnostics == ()


def test_with_the_book_a_code_no_creditor_has_is_a_warning_with_the_nearest() -> None:
    text = "policy p for creditor = ACMEE\nwhen overdue >= 1d and not paused then call"
    assert _warnings(text, BOOK) == [
        ("W307", "no creditor has the code 'ACMEE'", "did you mean 'ACME'?")]
    # A warning, not an error: the rules still run.
    assert not check_policies([parse_ok(text)], creditors=BOOK)[0].is_error


def test_codes_of_the_book_match_ignoring_case_and_in_lists_and_negations() -> None:
    assert _warnings(AGENCY, BOOK) == []
    text = ("policy p for creditor != acme\n"
            "when creditor != 'Bellerose-2' and creditor in [maison, bellerose] "
            "and not paused then call")
    assert _warnings(text, BOOK) == []


def test_each_unknown_code_of_a_list_is_named_with_the_codes_to_choose_from() -> None:
    text = ("policy p\nwhen creditor not in [ACME, zorro] and creditor != 'x-1' "
            "and not paused then call")
    codes_listed = "the creditors' codes are: ACME, BELLEROSE, MAISON, bellerose-2"
    assert _warnings(text, BOOK) == [
        ("W307", "no creditor has the code 'zorro'", codes_listed),
        ("W307", "no creditor has the code 'x-1'", codes_listed),
    ]


def test_a_book_without_creditors_says_so() -> None:
    text = "policy p for creditor = ACME\nwhen overdue >= 1d and not paused then call"
    assert _warnings(text, frozenset()) == [
        ("W307", "no creditor has the code 'ACME'", "the book has no creditor yet")]


def test_a_condition_with_a_type_error_is_not_also_warned_about() -> None:
    text = "policy p\nwhen creditor = NOBODY and overdue >= 15 and not paused then call"
    assert [code for code, _, _ in _warnings(text, BOOK)] == ["E202"]


def test_the_loader_takes_the_book_s_codes_and_points_at_the_value(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "agency.rules").write_text(
        "policy p for creditor = MAISN\nwhen overdue >= 1d and not paused then call\n",
        encoding="utf-8")
    loaded = load_rules([rules], root=tmp_path, creditors=BOOK)
    assert loaded.ok
    assert loaded.render() == (
        "rules/agency.rules:1:25: warning W307: no creditor has the code 'MAISN'\n"
        "  1 | policy p for creditor = MAISN\n"
        "    |                         ^^^^^\n"
        "  hint: did you mean 'MAISON'?")
    assert load_rules([rules], root=tmp_path).diagnostics == ()
