"""`relance check` on hostile rule files (issue 19): a finding used to quote its whole
source line, a caret under the whole span and the whole offending word, so a file with
one very long line printed megabytes. A finding now quotes a window around its column
and shortens what its sentence quotes; a file prints at most 50 findings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from relance.dsl.ast import Span
from relance.dsl.diagnostics import MAX_SHOWN_PER_FILE, error, render_all
from tests.dsl.test_cli import run

MEGABYTE = 1_000_000
HINT = "  hint: did you mean 'overdue'?"


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "relance.toml").write_text("[workspace]\n", encoding="utf-8")
    (tmp_path / "rules").mkdir()
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write(workspace: Path, name: str, text: str) -> str:
    (workspace / "rules" / name).write_text(text, encoding="utf-8")
    return f"rules/{name}"


def test_a_megabyte_line_is_quoted_as_a_window_at_the_start(
        workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    line = "policy p when not paused and overdeu >= 1d and segment = " + "x" * MEGABYTE
    path = write(workspace, "big.rules", line + " then call\n")
    code, out, err = run(capsys, "check", path)
    assert (code, err) == (1, "")
    assert len(out) < 2_000
    assert out == (
        f"{path}:1:30: error E201: unknown field 'overdeu'\n"
        f"  1 | {line[:120]}…\n"
        f"    | {' ' * 29}^^^^^^^\n"
        f"{HINT}\n"
        "\n"
        "1 file, 1 rule: 1 error\n")


def test_a_fault_deep_in_a_long_line_is_shown_with_its_neighbours(
        workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    line = ("policy p when not paused and segment = " + "y" * 500_000
            + " and overdeu >= 1d then call # a comment of " + "z" * MEGABYTE)
    path = write(workspace, "deep.rules", line + "\n")
    column = line.index("overdeu") + 1
    code, out, _ = run(capsys, "check", path)
    assert code == 1
    assert len(out) < 2_000
    start = column - 1 - 40  # 40 characters of context before the fault
    assert out.startswith(
        f"{path}:1:{column}: error E201: unknown field 'overdeu'\n"
        f"  1 | …{line[start:start + 120]}…\n"
        f"    | {' ' * 41}^^^^^^^\n"
        f"{HINT}\n")


def test_a_megabyte_word_is_shortened_in_the_sentence_and_under_the_caret(
        workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    line = "policy p when not paused then call " + "w" * MEGABYTE
    path = write(workspace, "word.rules", line + "\n")
    code, out, _ = run(capsys, "check", path)
    assert code == 1
    assert len(out) < 2_000
    assert out.startswith(f"{path}:1:36: error E101: unexpected '{'w' * 40}…'")
    assert f"  1 | {line[:120]}…\n    | {' ' * 35}{'^' * 85}\n" in out
    code, out, _ = run(capsys, "--json", "check", path)
    assert code == 1
    assert len(out) < 2_000
    (finding,) = json.loads(out)["diagnostics"]
    assert (finding["line"], finding["column"]) == (1, 36)
    assert finding["message"].startswith(f"unexpected '{'w' * 40}…'")


def test_at_most_50_findings_are_printed_per_file(
        workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    many = write(workspace, "many.rules", "".join(
        f"policy p{n} when overdeu >= 1d and not paused then call\n" for n in range(1, 201)))
    few = write(workspace, "few.rules", "policy q when overdeu >= 1d and not paused then call\n")
    code, out, _ = run(capsys, "check", many, few)
    assert code == 1
    assert MAX_SHOWN_PER_FILE == 50
    assert out.count(": error E201:") == 51
    assert f"{many}:50:" in out and f"{many}:51:" not in out
    assert f"{many}: and 150 more findings not shown\n" in out
    assert f"{few}:1:15: error E201" in out
    assert out.endswith("2 files, 201 rules: 201 errors\n")  # the summary counts them all
    code, out, _ = run(capsys, "--json", "check", many)
    assert len(json.loads(out)["diagnostics"]) == 200  # tooling gets every finding


def test_a_long_line_with_a_short_span_keeps_short_lines_unchanged() -> None:
    short = error("E201", "unknown field 'overdeu'", Span("t.rules", 1, 6, 1, 13))
    assert render_all([short], {"t.rules": "when overdeu >= 1d"}) == (
        "t.rules:1:6: error E201: unknown field 'overdeu'\n"
        "  1 | when overdeu >= 1d\n"
        "    |      ^^^^^^^")
    exactly = "when overdeu >= 1d " + "a" * 101  # 120 characters: shown whole
    assert render_all([short], {"t.rules": exactly}).splitlines()[1] == f"  1 | {exactly}"
