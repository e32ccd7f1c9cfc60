"""`load_rules`: files and folders to policies, diagnostics and the exact texts."""

from __future__ import annotations

from pathlib import Path

from relance.dsl.loader import load_rules
from tests.dsl.helpers import EXAMPLE


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_a_folder_gives_every_rules_file_sorted_with_exact_texts(tmp_path: Path) -> None:
    write(tmp_path / "rules" / "b.rules", "policy second when not paused then call\n")
    write(tmp_path / "rules" / "a.rules", "policy first when not paused then call\n")
    write(tmp_path / "rules" / "sub" / "c.rules", "policy third when not paused then call\n")
    write(tmp_path / "rules" / "notes.txt", "not rules")
    loaded = load_rules([tmp_path / "rules"], root=tmp_path)
    assert list(loaded.files) == ["rules/a.rules", "rules/b.rules", "rules/sub/c.rules"]
    assert loaded.files["rules/a.rules"] == "policy first when not paused then call\n"
    assert [p.name for p in loaded.policies] == ["first", "second", "third"]
    assert loaded.ok and loaded.diagnostics == ()
    assert str(loaded.policies[0].span) == "rules/a.rules:1:1"


def test_the_example_loads_clean() -> None:
    loaded = load_rules([EXAMPLE], root=EXAMPLE.parent.parent)
    assert loaded.ok and loaded.diagnostics == ()
    assert list(loaded.files) == ["rules/franchise.rules"]
    assert [p.name for p in loaded.policies] == ["franchise", "calls"]


def test_a_file_named_twice_is_read_once(tmp_path: Path) -> None:
    rules = write(tmp_path / "a.rules", "policy p when not paused then call\n")
    loaded = load_rules([rules, tmp_path], root=tmp_path)
    assert list(loaded.files) == ["a.rules"]
    assert loaded.ok


def test_missing_paths_and_bad_bytes_are_diagnostics(tmp_path: Path) -> None:
    (tmp_path / "latin1.rules").write_bytes(b"policy caf\xe9 when paused then call")
    loaded = load_rules([tmp_path / "missing.rules", tmp_path / "latin1.rules"],
                        root=tmp_path)
    assert not loaded.ok
    assert [(d.code, d.span.file) for d in loaded.diagnostics] == [
        ("E100", "latin1.rules"), ("E100", "missing.rules")]


def test_errors_and_warnings_of_every_file_in_one_result(tmp_path: Path) -> None:
    write(tmp_path / "a.rules", "policy p when overdeu >= 1d then call\n")
    write(tmp_path / "b.rules", "policy p when overdue >= 1d then call\n")
    write(tmp_path / "c.rules", "policy q when overdue >= then call\n")
    loaded = load_rules([tmp_path], root=tmp_path)
    assert [(d.code, d.span.file) for d in loaded.diagnostics] == [
        ("E201", "a.rules"), ("E221", "b.rules"), ("W301", "b.rules"), ("E101", "c.rules")]
    assert [p.name for p in loaded.policies] == ["p", "p"]
    assert "a.rules:1:15: error E201: unknown field 'overdeu'" in loaded.render()


def test_a_file_with_syntax_errors_is_not_checked_until_it_parses(tmp_path: Path) -> None:
    write(tmp_path / "a.rules", "policy p when overdue >= 15days and risk > 5d then call\n")
    loaded = load_rules([tmp_path], root=tmp_path)
    assert [d.code for d in loaded.diagnostics] == ["E105"]


def test_without_root_paths_are_shown_as_given(tmp_path: Path) -> None:
    rules = write(tmp_path / "a.rules", "policy p when not paused then call\n")
    loaded = load_rules([rules])
    assert list(loaded.files) == [rules.as_posix()]
