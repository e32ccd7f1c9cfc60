"""Versions of the rules and the audit of an action: the rule text that fired, years later."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import func, select

from relance.dsl.loader import load_rules
from relance.engine.auditview import audit_action
from relance.engine.run import run_day
from relance.engine.versioning import git_commit, record_ruleset, ruleset_hash
from relance.store import audit
from relance.store.db import Store
from relance.store.models import Action, Event, RuleSet
from tests.engine.helpers import example_rules, load_example

D = dt.date(2026, 11, 22)


def test_the_same_rules_are_one_version_whatever_the_order_of_files() -> None:
    assert ruleset_hash({"a.rules": "x", "b.rules": "y"}) == ruleset_hash(
        {"b.rules": "y", "a.rules": "x"})
    assert ruleset_hash({"a.rules": "x"}) != ruleset_hash({"a.rules": "x "})
    # The boundary between path and text is part of the hash.
    assert ruleset_hash({"ab": "c"}) != ruleset_hash({"a": "bc"})


def test_a_version_is_stored_once_with_its_text(store: Store, examples_dir: Path) -> None:
    rules = example_rules(examples_dir)
    with store.transaction() as session:
        first = record_ruleset(session, rules)
        again = record_ruleset(session, rules)
        assert first.id == again.id
        assert first.files == rules.files
        assert session.scalar(select(func.count()).select_from(RuleSet)) == 1


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed here")
def test_the_git_commit_of_the_rules_folder_is_kept(tmp_path: Path, examples_dir: Path) -> None:
    folder = tmp_path / "rules"
    folder.mkdir()
    shutil.copy(examples_dir / "franchise.rules", folder)
    assert git_commit(folder) is None
    git = ["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "rules"], check=True)
    head = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True,
                          check=True).stdout.strip()
    assert git_commit(folder) == head


def test_audit_shows_the_rule_text_facts_and_events_after_the_file_changed(
    store: Store, examples_dir: Path, tmp_path: Path
) -> None:
    load_example(store, examples_dir)
    folder = tmp_path / "rules"
    folder.mkdir()
    shutil.copy(examples_dir / "franchise.rules", folder)
    rules = load_rules([folder], root=tmp_path)
    report = run_day(store, rules, D, actor="alice", rules_dir=folder)
    (folder / "franchise.rules").write_text("# rewritten since\n", encoding="utf-8")

    with store.transaction() as session:
        letter = session.scalars(
            select(Action).where(Action.debtor_id == 1, Action.channel == "letter")).one()
        story = audit_action(session, letter.id)
        assert audit.verify(session) == []
        queued_events = session.scalar(
            select(func.count()).select_from(Event).where(Event.kind == "action.queued"))
    data = story.data
    assert data["ruleset"]["hash"] == report.ruleset_hash
    assert [item["invoice"] for item in data["items"]] == ["FA-2026-0001", "FA-2026-0114"]
    first = data["items"][0]
    assert first["rule"] == "letter amiable_2"
    assert first["file"] == "rules/franchise.rules" and first["line"] == 12
    assert first["rule_text"] == (
        "when overdue >= 15d and segment = franchisee and not paused "
        "then send letter 'amiable_2' with tone soft")
    assert first["facts"] == {"segment": "franchisee", "overdue": "83d", "paused": False}
    assert [event["kind"] for event in data["events"]] == ["action.queued"]
    assert queued_events == 6
    text = story.render()
    assert "rule text:" in text and "overdue: 83d" in text
    json.dumps(data)  # JSON-safe for `--json`


def test_audit_of_a_missing_action_is_not_found(store: Store) -> None:
    from relance.kernel.errors import NotFound

    with store.transaction() as session, pytest.raises(NotFound):
        audit_action(session, 999)
