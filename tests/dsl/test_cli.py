"""`relance check` and `relance fmt` as a credit manager runs them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from relance.cli import main
from tests.dsl.helpers import EXAMPLE


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "relance.toml").write_text("[workspace]\n", encoding="utf-8")
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "franchise.rules").write_text(
        EXAMPLE.read_text(encoding="utf-8"), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_check_of_the_workspace_rules_by_default(
        workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "check")
    assert code == 0
    assert out == "1 file, 6 rules: no problems\n"


def test_check_prints_each_fault_like_a_compiler_and_exits_1(
        workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = workspace / "rules" / "bad.rules"
    bad.write_text("policy late\n\nrule r:\n  when overdeu >= 15 and not paused\n"
                   "  then send letter 'amiable_2'\n", encoding="utf-8")
    code, out, _ = run(capsys, "check", "rules/bad.rules")
    assert code == 1
    assert out == (
        "rules/bad.rules:4:8: error E201: unknown field 'overdeu'\n"
        "  4 |   when overdeu >= 15 and not paused\n"
        "    |        ^^^^^^^\n"
        "  hint: did you mean 'overdue'?\n"
        "\n"
        "1 file, 1 rule: 1 error\n")


def test_check_reports_templates_unknown_to_the_workspace(
        workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (workspace / "rules" / "more.rules").write_text(
        "policy more\nwhen overdue >= 3d and not paused then send letter 'no_such_letter'\n",
        encoding="utf-8")
    code, out, _ = run(capsys, "check")
    assert code == 1
    assert "error E212: unknown template 'no_such_letter'" in out


def test_warnings_alone_exit_0(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (workspace / "rules" / "franchise.rules").write_text(
        "policy p\nwhen overdue >= 1d then send email 'relance_1'\n", encoding="utf-8")
    code, out, _ = run(capsys, "check")
    assert code == 0
    assert "warning W301" in out and out.endswith("1 file, 1 rule: 1 warning\n")


def test_check_json_for_tooling(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (workspace / "rules" / "franchise.rules").write_text(
        "policy p\nwhen overdue >= 15 and not paused then call\n", encoding="utf-8")
    code, out, _ = run(capsys, "--json", "check")
    assert code == 1
    payload = json.loads(out)
    assert payload["ok"] is False
    assert payload["files"] == ["rules/franchise.rules"]
    (diagnostic,) = payload["diagnostics"]
    assert diagnostic | {"message": ""} == {
        "severity": "error", "code": "E202", "message": "", "file": "rules/franchise.rules",
        "line": 2, "column": 17, "end_line": 2, "end_column": 19,
        "hint": "write 15d (days), 15w (weeks) or 15bd (business days)"}
    code, out, _ = run(capsys, "check", "--json")
    assert json.loads(out)["diagnostics"][0]["code"] == "E202"


def test_fmt_check_lists_files_that_would_change_and_changes_nothing(
        workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    messy = workspace / "rules" / "messy.rules"
    messy.write_text("policy  p  when overdue>=1d and not paused then call\n", encoding="utf-8")
    code, out, _ = run(capsys, "fmt", "--check")
    assert code == 1
    assert out == "would reformat rules/messy.rules\n1 file would reformat, 1 already formatted\n"
    assert messy.read_text(encoding="utf-8").startswith("policy  p")


def test_fmt_rewrites_then_check_is_clean(
        workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    messy = workspace / "rules" / "messy.rules"
    messy.write_text("# keep me\npolicy  p  when overdue>=1d and not paused then call\n",
                     encoding="utf-8")
    code, out, _ = run(capsys, "fmt")
    assert code == 0
    assert out == "reformatted rules/messy.rules\n1 file reformatted, 1 already formatted\n"
    assert messy.read_text(encoding="utf-8") == (
        "# keep me\npolicy p\n\nwhen overdue >= 1d and not paused then call\n")
    code, out, _ = run(capsys, "fmt", "--check")
    assert code == 0


def test_fmt_leaves_a_broken_file_alone_and_says_why(
        workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = workspace / "rules" / "broken.rules"
    broken.write_text("policy p when overdue >= 1d then\n", encoding="utf-8")
    code, _out, err = run(capsys, "fmt", "rules/broken.rules")
    assert code == 1
    assert "rules/broken.rules:1:33: error E102: the file ends too early" in err
    assert broken.read_text(encoding="utf-8") == "policy p when overdue >= 1d then\n"


def test_a_missing_path_is_bad_usage(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for command in ("check", "fmt"):
        code, out, err = run(capsys, command, "nowhere")
        assert (code, out) == (2, "")
        assert err == "relance: no such file or folder: nowhere\n"


def test_check_levels_reads_the_store_for_removed_rules(
        workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from relance.engine.fixtures import write_book
    from relance.store.db import open_store

    store = open_store(f"sqlite:///{workspace / 'relance.sqlite'}")
    try:
        with store.transaction() as session:
            write_book(session, {
                "creditor": {"code": "ACME", "country": "FR"},
                "debtors": [{"ref": "D1", "segment": "franchisee"}],
                "invoices": [{"number": "F1", "debtor": "D1", "issue_date": "2026-01-01",
                              "due_date": "2026-01-31", "amount": "100.00",
                              "currency": "EUR"}],
                "history": [{"invoice": "F1", "policy": "franchise", "rule": "relance_0",
                             "channel": "email", "acted_on": "2026-02-05",
                             "template": "relance_0"}],
            })
    finally:
        store.dispose()
    code, out, _ = run(capsys, "check")
    assert (code, out) == (0, "1 file, 6 rules: no problems\n")
    code, out, _ = run(capsys, "check", "--levels")
    assert code == 0
    assert out.startswith(
        "rules/franchise.rules:2:1: warning W306: 1 open invoice sits on rule 'relance_0' "
        "of policy 'franchise', which is no longer there\n")


def test_check_levels_names_a_creditor_code_no_creditor_has(
        workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from relance.engine.fixtures import write_book
    from relance.store.db import open_store

    store = open_store(f"sqlite:///{workspace / 'relance.sqlite'}")
    try:
        with store.transaction() as session:
            write_book(session, {"creditor": {"code": "ACME", "country": "FR"},
                                 "debtors": [], "invoices": []})
    finally:
        store.dispose()
    (workspace / "rules" / "acme.rules").write_text(
        "policy acme for creditor = ACMEE\n\nrule r1:\n  when overdue >= 5d\n"
        "  then send email 'relance_1'\n", encoding="utf-8")
    code, out, _ = run(capsys, "check")
    assert code == 0 and "W307" not in out
    code, out, _ = run(capsys, "check", "--levels")
    assert code == 0
    assert "warning W307: no creditor has the code 'ACMEE'" in out
    assert "did you mean 'ACME'?" in out
