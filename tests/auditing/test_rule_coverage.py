"""`relance test --coverage`: what the rule tests made each rule do, and what they never
tried, on rules and tests written here."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from relance.engine.rule_coverage import CoverageRecorder, RuleCoverage
from relance.engine.ruletests import run_file
from tests.cli import run_cli

# `first` acts on FA-1, not on FA-2 (too recent) nor FA-3 (paused): every part of its
# condition is seen true and false. `big` acts on both key accounts' invoices and is
# never evaluated without acting; `overdue >= 1d` is never false for it.
RULES = """\
policy reminders for segment = franchisee

rule first:
  when overdue >= 10d and not paused
  then send email 'relance_1' with tone soft

policy calls for segment = key_account

rule big:
  when overdue >= 1d and (balance >= 1000 EUR or 'vip' in tags)
  then call with priority high
"""

BOOK = """\
[creditor]
code = "JCDA"
country = "FR"

[[debtors]]
ref = "F-1"
segment = "franchisee"
[[debtors]]
ref = "F-2"
segment = "franchisee"
[[debtors]]
ref = "F-3"
segment = "franchisee"
paused_until = 2026-12-31
[[debtors]]
ref = "K-1"
segment = "key_account"
[[debtors]]
ref = "K-2"
segment = "key_account"
tags = ["vip"]

[[invoices]]
number = "FA-1"
debtor = "F-1"
issue_date = 2026-10-01
due_date = 2026-11-01
amount = "500.00"
[[invoices]]
number = "FA-2"
debtor = "F-2"
issue_date = 2026-10-20
due_date = 2026-11-20
amount = "500.00"
[[invoices]]
number = "FA-3"
debtor = "F-3"
issue_date = 2026-10-01
due_date = 2026-11-01
amount = "500.00"
[[invoices]]
number = "FA-4"
debtor = "K-1"
issue_date = 2026-10-01
due_date = 2026-11-01
amount = "5000.00"
[[invoices]]
number = "FA-5"
debtor = "K-2"
issue_date = 2026-10-01
due_date = 2026-11-01
amount = "200.00"
"""

CASE = """
[[case]]
name = "one day"
on = 2026-11-22
expect = [
  "2026-11-22 F-1 email relance_1 tone soft, approved: FA-1",
  "2026-11-22 K-1 call priority high, approved: FA-4",
  "2026-11-22 K-2 call priority high, approved: FA-5",
]
"""


@pytest.fixture
def rules_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "rules"
    folder.mkdir()
    (folder / "dunning.rules").write_text(RULES, encoding="utf-8")
    (folder / "dunning.rules.test").write_text(BOOK + CASE, encoding="utf-8")
    return folder


def _rules(recorder: CoverageRecorder) -> dict[str, RuleCoverage]:
    return {rule.identity: rule for rule in recorder.report().rules()}


def test_a_rule_tried_both_ways_is_covered_and_one_that_only_acts_is_not(
    rules_dir: Path,
) -> None:
    recorder = CoverageRecorder()
    results = run_file(rules_dir / "dunning.rules.test", recorder)
    assert [r.passed for r in results] == [True], results[0].diff()
    rules = _rules(recorder)
    first, big = rules["first"], rules["big"]
    assert first.place == "dunning.rules:3" and big.place == "dunning.rules:9"
    assert (first.acted, first.not_acted, first.never_false, first.never_true) == (
        True, True, [], [])
    assert first.not_acted_because == {"its condition does not hold"}
    assert first.covered
    assert (big.acted, big.not_acted) == (True, False)
    assert big.never_false == ["overdue >= 1d"]
    assert big.never_true == []
    assert [c.text for c in big.conditions] == [
        "overdue >= 1d", "balance >= 1000 EUR", "'vip' in tags"]
    assert not big.covered
    report = recorder.report()
    assert (report.covered, report.total, str(report.percent)) == (1, 2, "50.00")


def test_only_invoices_a_case_compares_count(rules_dir: Path) -> None:
    # Comparing FA-1's actions only: FA-2 and FA-3 are not checked, so `first` was
    # never seen not acting, nor `overdue` or `paused` the other way.
    only = CASE.replace('expect = [', 'only = ["FA-1"]\nexpect = [').replace(
        '  "2026-11-22 K-1 call priority high, approved: FA-4",\n'
        '  "2026-11-22 K-2 call priority high, approved: FA-5",\n', "")
    (rules_dir / "dunning.rules.test").write_text(BOOK + only, encoding="utf-8")
    recorder = CoverageRecorder()
    assert [r.passed for r in run_file(rules_dir / "dunning.rules.test", recorder)] == [True]
    first, big = _rules(recorder)["first"], _rules(recorder)["big"]
    assert (first.acted, first.not_acted) == (True, False)
    assert first.never_false == ["overdue >= 10d", "not paused"]
    assert (big.acted, big.not_acted, big.evaluations) == (False, False, 0)
    assert big.never_true == ["overdue >= 1d", "balance >= 1000 EUR", "'vip' in tags"]


def test_the_cli_reports_coverage_as_json_and_as_a_table(
    rules_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_cli(capsys, "--json", "test", "--coverage", str(rules_dir))
    assert code == 0, err
    document = json.loads(out)
    assert (document["passed"], document["failed"]) == (1, 0)
    coverage = document["coverage"]
    assert (coverage["rules"], coverage["covered"], coverage["percent"]) == (2, 1, "50.00")
    policies = {p["policy"]: p for p in coverage["policies"]}
    assert policies["calls"]["place"] == "dunning.rules:7"
    assert policies["calls"]["scope"]["never_false"] == []
    [big] = policies["calls"]["rules"]
    assert {key: big[key] for key in ("rule", "place", "covered", "acted", "not_acted",
                                      "never_false", "never_true")} == {
        "rule": "big", "place": "dunning.rules:9", "covered": False, "acted": True,
        "not_acted": False, "never_false": ["overdue >= 1d"], "never_true": []}
    [first] = policies["reminders"]["rules"]
    assert (first["covered"], first["acted"], first["not_acted"]) == (True, True, True)

    code, out, _err = run_cli(capsys, "test", "--coverage", str(rules_dir))
    assert code == 0
    assert "policy calls (dunning.rules:7)" in out
    big_row = next(line for line in out.splitlines() if line.strip().startswith("big "))
    assert big_row.split() == ["big", "dunning.rules:9", "yes", "no", "overdue", ">=", "1d",
                               "—"]
    assert "rules fully covered: 1/2 (50.00 %)" in out

    # Without --coverage, the report is as before: no coverage at all.
    code, out, _err = run_cli(capsys, "--json", "test", str(rules_dir))
    assert code == 0 and "coverage" not in json.loads(out)


def test_fail_under_fails_on_too_little_coverage_and_refuses_nonsense(
    rules_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _err = run_cli(capsys, "test", "--fail-under", "50", str(rules_dir))
    assert code == 0, out
    code, out, _err = run_cli(capsys, "test", "--fail-under", "75", str(rules_dir))
    assert code == 1
    assert "1 passed, 0 failed" in out
    assert "coverage 50.00 % is under --fail-under 75.00 %" in out
    code, _out, err = run_cli(capsys, "test", "--fail-under", "150", str(rules_dir))
    assert code == 2 and "--fail-under" in err and "Traceback" not in err


def test_a_rule_file_tested_twice_is_covered_by_both_tests(
    rules_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A second test file on the same rules, where FA-4 is not due yet and paid down to
    # 200 EUR: `big` does not act on it and `overdue >= 1d` is false, which the first
    # file never showed.
    second = BOOK + """
[[case]]
name = "small key account, not due yet"
on = 2026-11-22
only = ["FA-4"]
expect = []
[[case.invoices]]
number = "FA-4"
due_date = 2026-11-30
paid = "4800.00"
"""
    (rules_dir / "small.rules.test").write_text(
        'rules = ["dunning.rules"]\n' + second, encoding="utf-8")
    code, out, err = run_cli(capsys, "--json", "test", "--coverage", str(rules_dir))
    assert code == 0, out + err
    coverage = json.loads(out)["coverage"]
    assert (coverage["rules"], coverage["covered"]) == (2, 2)
    big = next(p for p in coverage["policies"] if p["policy"] == "calls")["rules"][0]
    assert (big["acted"], big["not_acted"], big["never_false"]) == (True, True, [])
