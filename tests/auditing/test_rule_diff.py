"""`relance diff OLD NEW`: a rule change reviewed before it lands.

A real git repository is made of a workspace created by `relance init` (the demo's
starter rules) with the worked example's book imported; a second commit changes two
rules and reflows others. The diff between the two revisions must say which rules
changed (and only those), list the actions the change moves on the book, and leave the
repository and the store as they were.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from relance.store.db import open_store
from relance.store.models import Action, Event
from tests.cli import run_cli

FIRST, LAST = "2026-11-22", "2026-12-31"

# One condition and one action changed; the rest of the edit is layout: a named rule
# reflowed over three lines with double quotes, an unnamed rule's spacing, comments.
CHANGES = [
    ("rules/franchise.rules",
     "  when overdue >= 1d and not paused and not disputed\n",
     "  when overdue >= 8d and not paused and not disputed\n"),
    ("rules/standard.rules",
     "  then send letter 'relance_1' with tone courteous\n",
     "  then send email 'relance_1' with tone courteous\n"),
    ("rules/franchise.rules",
     "rule prevenance:\n  when due_in <= 5d and due_in >= 0d and not paused\n"
     "  then send email 'prevenance' with tone courteous\n",
     "# reflowed by hand\nrule prevenance:\n    when due_in <= 5d\n"
     "      and due_in >= 0d and not paused   # two conditions\n"
     '    then send email "prevenance"  with tone courteous\n'),
    ("rules/franchise.rules",
     "when overdue >= 15d and segment = franchisee and not paused then",
     "when overdue >= 15d   and segment = franchisee and not paused\n   then"),
]


def git(folder: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(folder), "-c", "user.name=Test",
                           "-c", "user.email=test@example.com", *args],
                          capture_output=True, text=True, check=True)
    return done.stdout


def commit(folder: Path, message: str) -> None:
    git(folder, "add", "-A")
    git(folder, "commit", "-q", "-m", message)


def edit(folder: Path, edits: list[tuple[str, str, str]]) -> None:
    for name, before, after in edits:
        path = folder / name
        text = path.read_text(encoding="utf-8")
        assert before in text, (name, before)
        path.write_text(text.replace(before, after, 1), encoding="utf-8")


@dataclass
class Repo:
    folder: Path
    url: str
    capsys: pytest.CaptureFixture[str]

    def run(self, *args: str) -> tuple[int, str, str]:
        return run_cli(self.capsys, "-w", str(self.folder), "--db", self.url, *args)

    def count_rows(self) -> tuple[int, ...]:
        """The actions queued and events recorded: a diff must add neither."""
        store = open_store(self.url)
        try:
            with store.transaction() as session:
                return tuple(session.scalar(select(func.count()).select_from(model)) or 0
                             for model in (Action, Event))
        finally:
            store.dispose()

    def diff(self, *args: str) -> dict[str, Any]:
        code, out, err = self.run("--json", "diff", *args)
        assert code == 0, err
        document: dict[str, Any] = json.loads(out)
        return document


def cli_url(url: str, schema: str | None) -> str:
    """The URL the command line opens, in the test's own PostgreSQL schema."""
    if schema is None:
        return url
    return f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"


@pytest.fixture
def repo(db_url: tuple[str, str | None], tmp_path: Path, examples_dir: Path,
         capsys: pytest.CaptureFixture[str]) -> Iterator[Repo]:
    url, schema = db_url
    open_store(url, schema=schema).dispose()  # the schema, migrated
    folder = tmp_path / "ws"
    assert run_cli(capsys, "init", str(folder))[0] == 0
    found = Repo(folder, cli_url(url, schema), capsys)
    code, _out, err = found.run("import", "invoices", str(examples_dir / "invoices.csv"))
    assert code == 0, err
    git(folder, "init", "-q")
    commit(folder, "the starter rules")
    edit(folder, CHANGES)
    commit(folder, "relance_1 a week late; public bodies by e-mail")
    yield found


def test_two_revisions_show_the_changed_rules_and_the_actions_they_move(
        repo: Repo, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "100")
    status = git(repo.folder, "status", "--porcelain")
    head = git(repo.folder, "rev-parse", "HEAD")
    rows_before = repo.count_rows()
    document = repo.diff("HEAD~1", "HEAD", "--from", FIRST, "--until", LAST)

    assert [(d["policy"], d["rule"], d["change"], d["parts"], d["old"], d["new"])
            for d in document["rules"]] == [
        ("franchise", "relance_1", "changed", ["condition"],
         ["when overdue >= 1d and not paused and not disputed"],
         ["when overdue >= 8d and not paused and not disputed"]),
        ("public_bodies", "pb_relance", "changed", ["action"],
         ["then send letter 'relance_1' with tone courteous"],
         ["then send email 'relance_1' with tone courteous"]),
    ]
    behaviour = document["behaviour"]
    # FA-2026-0004 fell due on 19/11: its first reminder waited for 1 day overdue (22/11,
    # the first day simulated), now for 8 (27/11). FA-2026-0006 falls due on 20/12:
    # 21/12 becomes 28/12. The town hall gets its letter as an e-mail, the same day.
    assert [(c["debtor"], c["invoice"], c["change"], c["days"],
             c["old"]["date"], c["old"]["channel"], c["new"]["date"], c["new"]["channel"],
             c["currency"], c["amount"]) for c in behaviour["changes"]] == [
        ("F-0004", "FA-2026-0004", "later", 5, "2026-11-22", "email", "2026-11-27", "email",
         "EUR", "640.00"),
        ("F-0006", "FA-2026-0006", "later", 7, "2026-12-21", "email", "2026-12-28", "email",
         "EUR", "1250.00"),
        ("P-0200", "FA-2026-0200", "other", 0, "2026-11-22", "letter", "2026-11-22", "email",
         "EUR", "4200.00"),
    ]
    assert [(t["policy"], t["rule"], t["later"], t["other"], t["owed"])
            for t in behaviour["summary"]] == [
        ("franchise", "relance_1", 2, 0, [{"currency": "EUR", "amount": "1890.00"}]),
        ("public_bodies", "pb_relance", 0, 1, [{"currency": "EUR", "amount": "4200.00"}]),
    ]
    assert behaviour["old_steps"] == behaviour["new_steps"] > 3
    assert behaviour["unchanged"] == behaviour["old_steps"] - 3

    # What a person reads: the rule text, then the moved actions.
    code, out, _err = repo.run("diff", "HEAD~1", "HEAD", "--from", FIRST, "--until", LAST)
    assert code == 0
    lines = [line.rstrip() for line in out.splitlines()]
    for expected in ("  rule relance_1 changed: condition",
                     "    - when overdue >= 1d and not paused and not disputed",
                     "    + when overdue >= 8d and not paused and not disputed",
                     "  rule pb_relance changed: action"):
        assert expected in lines, out
    assert "prevenance" not in out and "amiable_2" not in out  # layout only
    rows = [" ".join(line.split()) for line in lines]
    assert "franchise / relance_1 2 · €1,890.00" in rows, out
    assert "F-0004 FA-2026-0004 +5 d 22/11/2026 27/11/2026 e-mail relance_1" in rows, out
    assert "P-0200 FA-2026-0200 other action 22/11/2026 22/11/2026 letter relance_1 → " \
           "e-mail relance_1" in rows, out
    assert max(len(line) for line in lines if not line.startswith("    ")) <= 100, out

    # Nothing checked out, nothing written.
    assert git(repo.folder, "status", "--porcelain") == status
    assert git(repo.folder, "rev-parse", "HEAD") == head
    assert repo.count_rows() == rows_before


def test_markdown_for_a_merge_request_and_exit_code_for_ci(repo: Repo) -> None:
    code, out, _err = repo.run("diff", "HEAD~1", "HEAD", "--from", FIRST, "--until", LAST,
                               "--format", "markdown", "--exit-code")
    assert code == 1  # behaviour differs: a CI job fails and shows this
    assert "```diff\n# rule relance_1 changed: condition\n" \
           "- when overdue >= 1d and not paused and not disputed\n" \
           "+ when overdue >= 8d and not paused and not disputed\n```" in out
    assert "| policy / rule | later | other action | owed |" in out, out
    assert "| franchise / relance_1 | 2 | · | €1,890.00 |" in out, out
    assert "| F-0006 | FA-2026-0006 | +7 d | 21/12/2026 | 28/12/2026 | e-mail relance_1 | " \
           "€1,250.00 |" in out, out
    # The working folder is the new commit: the same rules, no difference, exit 0.
    code, out, _err = repo.run("diff", "--from", FIRST, "--until", LAST, "--exit-code")
    assert code == 0, out
    assert "The rules say the same thing" in out and "0 changes" in out


def test_layout_only_edits_give_an_empty_text_diff(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "ws"
    assert run_cli(capsys, "init", str(folder))[0] == 0
    git(folder, "init", "-q")
    commit(folder, "starter")
    edit(folder, CHANGES[2:])
    # The policy `calls` moved to a file of its own, in a sub-folder.
    franchise = folder / "rules/franchise.rules"
    text = franchise.read_text(encoding="utf-8")
    head, _sep, calls = text.partition("# a second, independent track")
    franchise.write_text(head, encoding="utf-8")
    (folder / "rules/more").mkdir()
    (folder / "rules/more/calls.rules").write_text("#" + calls, encoding="utf-8")
    commit(folder, "layout")

    code, out, err = run_cli(capsys, "-w", str(folder), "--json", "diff", "HEAD~1", "HEAD",
                             "--rules-only", "--exit-code")
    assert (code, err) == (0, "")
    assert json.loads(out)["rules"] == [] and json.loads(out)["behaviour"] is None
    code, out, _err = run_cli(capsys, "-w", str(folder), "diff", "HEAD~1", "--rules-only")
    assert code == 0 and "The rules say the same thing (layout and comments aside)." in out

    # A rule moved above another is a level moved: that is a change.
    early = "rule ka_prevenance:\n  when due_in <= 7d and due_in >= 0d and not paused\n" \
            "  then send email 'prevenance' with tone courteous\n"
    edit(folder, [("rules/standard.rules", early, ""),
                  ("rules/standard.rules", "rule ka_call:", early + "\nrule ka_call:")])
    code, out, err = run_cli(capsys, "-w", str(folder), "--json", "diff", "--rules-only")
    assert code == 0, err
    assert json.loads(out)["rules"] == [
        {"policy": "key_accounts", "rule": None, "change": "changed", "parts": ["order"],
         "old": ["ka_prevenance > ka_relance > ka_call > ka_letter"],
         "new": ["ka_relance > ka_prevenance > ka_call > ka_letter"]}]


def test_a_bad_side_exits_2_naming_it(tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "ws"
    assert run_cli(capsys, "init", str(folder))[0] == 0
    code, _out, err = run_cli(capsys, "-w", str(folder), "diff", "--rules-only")
    assert code == 2 and "not in a git repository" in err and "Traceback" not in err
    git(folder, "init", "-q")
    commit(folder, "starter")
    code, out, err = run_cli(capsys, "-w", str(folder), "diff", "no-such-branch",
                             "--rules-only")
    assert (code, out) == (2, "")
    assert "no-such-branch: neither a folder nor a git revision of" in err
    code, _out, err = run_cli(capsys, "-w", str(folder), "diff", "--upload-pack=x",
                              "--rules-only")
    assert code == 2 and "Traceback" not in err
    edit(folder, [("rules/franchise.rules", "overdue >= 1d", "overdue >= 1 days")])
    commit(folder, "broken")
    code, out, err = run_cli(capsys, "-w", str(folder), "diff", "HEAD~1", "HEAD",
                             "--rules-only")
    assert (code, out) == (2, "")
    assert "the rules of HEAD (commit " in err and "have errors, nothing was compared" in err
    assert "rules/franchise.rules:9:21: error" in err, err
    # Two folders compared as they are, no git needed.
    old, new = tmp_path / "old", tmp_path / "new"
    for side in (old, new):
        side.mkdir()
        (side / "a.rules").write_text(
            "policy p\n\nrule r:\n  when overdue >= 3d\n  then send email 'relance_1'\n",
            encoding="utf-8")
    (new / "a.rules").write_text(
        "policy p\n\nrule r:\n  when overdue >= 3d\n  then send email 'relance_1', "
        "requires approval\n", encoding="utf-8")
    code, out, _err = run_cli(capsys, "-w", str(folder), "--json", "diff", str(old),
                              str(new), "--rules-only")
    assert code == 0
    assert [(d["rule"], d["parts"], d["new"]) for d in json.loads(out)["rules"]] == [
        ("r", ["options"], ["then send email 'relance_1', requires approval"])]
