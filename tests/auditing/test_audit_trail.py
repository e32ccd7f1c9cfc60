"""Versions an auditor can trust, the chain verified, a trail exported signed and checked:
`relance run`, `relance audit ACTION|verify|export|check` as a user types them, on
SQLite and on PostgreSQL, with real git repositories."""

from __future__ import annotations

import json
import shutil
import stat
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select, text

from relance.store.audit import APPEND_ONLY_SQLITE
from relance.store.db import Store, open_store
from relance.store.models import Debtor, Event
from tests.cli import run_cli
from tests.isolation.workspace import SECRETS, build_agency, write_config


@dataclass
class Workspace:
    folder: Path
    store: Store
    options: list[str]
    capsys: pytest.CaptureFixture[str]

    def run(self, *args: str) -> tuple[int, str, str]:
        return run_cli(self.capsys, *self.options, *args)

    def events(self) -> list[Event]:
        with self.store.session() as session:
            return list(session.scalars(select(Event).order_by(Event.id)))


def _db_option(url: str, schema: str | None) -> str:
    return f"{url}?options=-csearch_path%3D{schema}" if schema else url


@pytest.fixture
def workspace(db_url: tuple[str, str | None], tmp_path: Path, examples_dir: Path,
              capsys: pytest.CaptureFixture[str]) -> Iterator[Workspace]:
    """The worked example (franchise rules, its invoices) in a workspace of its own."""
    url, schema = db_url
    store = open_store(url, schema=schema)
    folder = tmp_path / "ws"
    options = ["-w", str(folder), "--db", _db_option(url, schema)]
    assert run_cli(capsys, "init", str(folder))[0] == 0
    for path in (folder / "rules").iterdir():
        if not path.name.startswith("franchise.rules"):
            path.unlink()
    code, _, err = run_cli(capsys, *options, "import", "invoices",
                           str(examples_dir / "invoices.csv"))
    assert code == 0, err
    try:
        yield Workspace(folder, store, options, capsys)
    finally:
        store.dispose()


def _git(folder: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(folder), "-c", "user.name=Auditor",
                           "-c", "user.email=auditor@example.com", *args],
                          capture_output=True, text=True, check=True)
    return done.stdout.strip()


def _commit_rules(folder: Path) -> str:
    _git(folder, "init", "-q")
    _git(folder, "add", "rules")
    _git(folder, "commit", "-q", "-m", "rules")
    return _git(folder, "rev-parse", "HEAD")


def _first_letter(ws: Workspace) -> int:
    code, out, _ = ws.run("--json", "queue")
    assert code == 0
    return int(next(a["id"] for a in json.loads(out) if a["channel"] == "letter"))


# --------------------------------------------------------------------------- versions


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed here")
def test_a_run_on_edited_rules_is_recorded_dirty_and_audit_says_so(
        workspace: Workspace) -> None:
    commit = _commit_rules(workspace.folder)
    rules = workspace.folder / "rules" / "franchise.rules"
    rules.write_text(rules.read_text(encoding="utf-8") + "\n# tried on Friday\n",
                     encoding="utf-8")
    code, out, err = workspace.run("--json", "run", "--on", "2026-11-22")
    assert code == 0, err
    version = json.loads(out)["ruleset"]
    assert version["state"] == "dirty" and version["git_commit"] is None
    assert len(version["diff_hash"]) == 64

    letter = _first_letter(workspace)
    code, out, _ = workspace.run("audit", str(letter))
    assert code == 0
    assert (f"rules {version['hash'][:12]}, uncommitted edits of {commit[:12]} "
            f"(diff {version['diff_hash'][:12]})") in out
    code, out, _ = workspace.run("audit", "show", str(letter), "--json")
    story = json.loads(out)["ruleset"]
    assert (story["state"], story["base_commit"], story["git_commit"]) == (
        "dirty", commit, None)


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed here")
def test_a_run_on_committed_rules_names_the_commit(workspace: Workspace) -> None:
    commit = _commit_rules(workspace.folder)
    assert workspace.run("run", "--on", "2026-11-22")[0] == 0
    code, out, _ = workspace.run("audit", str(_first_letter(workspace)))
    assert code == 0 and f", git {commit} (clean)" in out


def test_rules_outside_git_say_so(workspace: Workspace) -> None:
    assert workspace.run("run", "--on", "2026-11-22")[0] == 0
    letter = _first_letter(workspace)
    code, out, _ = workspace.run("audit", str(letter))
    assert code == 0 and ", no git repository" in out
    # The short form and the verb tell the same story.
    assert workspace.run("audit", "show", str(letter))[1] == out


# --------------------------------------------------------------------------- verify


def _bypass_append_only(store: Store, statement: str) -> None:
    """What someone with the database's keys could do: switch the triggers off, change
    the log, switch them on again."""
    with store.engine.begin() as conn:
        if store.is_sqlite:
            conn.execute(text("DROP TRIGGER event_no_update"))
            conn.execute(text("DROP TRIGGER event_no_delete"))
            conn.execute(text(statement))
            for create in APPEND_ONLY_SQLITE:
                conn.execute(text(create))
        else:
            conn.execute(text("ALTER TABLE event DISABLE TRIGGER USER"))
            conn.execute(text(statement))
            conn.execute(text("ALTER TABLE event ENABLE TRIGGER USER"))


def test_verify_passes_on_an_untouched_log_and_names_an_edited_event(
        workspace: Workspace) -> None:
    assert workspace.run("run", "--on", "2026-11-22")[0] == 0
    events = workspace.events()
    assert len(events) > 3
    code, out, _ = workspace.run("audit", "verify")
    assert code == 0
    assert f"OK: the chain holds over {len(events)} events; head {events[-1].hash}." in out

    # The append-only triggers hold against an ordinary UPDATE.
    with pytest.raises(Exception, match="append-only"), workspace.store.engine.begin() as c:
        c.execute(text("UPDATE event SET actor = 'mallory'"))

    edited = events[2]
    _bypass_append_only(workspace.store,
                        f"UPDATE event SET actor = 'mallory' WHERE id = {edited.id}")
    code, out, _ = workspace.run("audit", "verify")
    assert code == 1
    assert (f"The audit log is broken at event {edited.id} (" in out
            and f"{edited.kind}, {edited.subject_type} {edited.subject_id}): its content "
                "does not match its hash" in out)
    assert "2 events before it hold." in out
    code, out, _ = workspace.run("audit", "verify", "--json")
    found = json.loads(out)
    assert code == 1 and found["ok"] is False and found["broken"]["event_id"] == edited.id


def test_verify_names_the_link_after_a_deleted_event(workspace: Workspace) -> None:
    assert workspace.run("run", "--on", "2026-11-22")[0] == 0
    events = workspace.events()
    removed, after = events[3], events[4]
    _bypass_append_only(workspace.store, f"DELETE FROM event WHERE id = {removed.id}")
    code, out, _ = workspace.run("audit", "verify")
    assert code == 1
    assert f"The audit log is broken at event {after.id} (" in out
    assert (f"does not follow the entry before it (event {events[2].id}): an entry was "
            f"removed, inserted or swapped here (no entry with id {removed.id} is in the "
            "log)") in out


def test_a_log_cut_short_fails_against_the_head_noted_before(workspace: Workspace) -> None:
    assert workspace.run("run", "--on", "2026-11-22")[0] == 0
    head = workspace.events()[-1]
    assert workspace.run("audit", "verify", "--known-head", head.hash)[0] == 0
    _bypass_append_only(workspace.store, f"DELETE FROM event WHERE id = {head.id}")
    assert workspace.run("audit", "verify")[0] == 0  # a shorter chain is still a chain
    code, out, _ = workspace.run("audit", "verify", "--known-head", head.hash)
    assert code == 1 and f"no entry carries the head hash {head.hash} noted earlier" in out


# --------------------------------------------------------------------------- export


def test_a_debtors_trail_is_exported_signed_and_checked(workspace: Workspace) -> None:
    assert workspace.run("run", "--on", "2026-11-22")[0] == 0
    assert workspace.run("pause", "F-0001", "--until", "2026-12-31", "--reason",
                         "calling the owner")[0] == 0
    with workspace.store.session() as session:
        debtor_id = session.scalars(select(Debtor.id).where(Debtor.ref == "F-0001")).one()
        expected = [e.hash for e in session.scalars(
            select(Event).where(Event.debtor_id == debtor_id).order_by(Event.id))]
        head = session.scalars(select(Event.hash).order_by(Event.id.desc()).limit(1)).one()
    trail = workspace.folder / "f-0001.jsonl"
    code, out, err = workspace.run("audit", "export", "--debtor", "F-0001", "-o", str(trail))
    assert code == 0, err
    assert f"Exported {len(expected)} events to {trail}" in out

    key = workspace.folder / ".relance" / "audit.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert (key.parent / ".gitignore").read_text(encoding="utf-8") == "audit.key\n"
    lines = [json.loads(line) for line in trail.read_text(encoding="utf-8").splitlines()]
    header, events, signature = lines[0], lines[1:-1], lines[-1]["signature"]
    assert header["selection"]["debtor"] == "F-0001"
    assert header["chain_head"]["hash"] == head
    assert [e["hash"] for e in events] == expected
    assert {e["debtor"] for e in events} == {"F-0001"}
    assert {"action.queued", "debtor.paused"} <= {e["kind"] for e in events}
    assert signature["algorithm"] == "HMAC-SHA256" and signature["events"] == len(expected)

    code, out, _ = workspace.run("audit", "check", str(trail))
    assert code == 0
    assert f"signature good (key {signature['key_id']}); {len(expected)} events" in out
    # The export is itself in the log, and the log still holds.
    assert workspace.events()[-1].kind == "audit.exported"
    assert workspace.run("audit", "verify")[0] == 0

    # One word changed in the file: the signature and that event's hash both say so.
    raw = trail.read_text(encoding="utf-8").splitlines(keepends=True)
    raw[2] = raw[2].replace('"actor":"', '"actor":"x', 1)
    trail.write_text("".join(raw), encoding="utf-8")
    code, out, _ = workspace.run("audit", "check", str(trail))
    assert code == 1
    assert f"{trail}:{len(raw)}: the signature does not match the file's content" in out
    assert f"{trail}:3: event {events[1]['id']}: its content does not match its hash" in out


def test_a_file_signed_elsewhere_or_not_an_export_is_refused(
        workspace: Workspace, tmp_path: Path) -> None:
    assert workspace.run("run", "--on", "2026-11-22")[0] == 0
    trail = tmp_path / "period.jsonl"
    code, _, err = workspace.run("audit", "export", "--from", "2026-01-01", "--until",
                                 "2099-12-31", "-o", str(trail))
    assert code == 0, err
    other = tmp_path / "other"
    other.mkdir()
    (other / "relance.toml").write_text('[audit]\nsigning_key_file = "keys/audit.key"\n',
                                        encoding="utf-8")
    (other / "keys").mkdir()
    (other / "keys" / "audit.key").write_text("ab" * 32 + "\n", encoding="utf-8")
    code, out, _ = run_cli(workspace.capsys, "-w", str(other), "audit", "check", str(trail))
    assert code == 1 and "signed with another key" in out

    code, _, err = workspace.run("audit", "export", "-o", str(trail))
    assert code == 2 and "a debtor (--debtor REF) or a period" in err
    code, _, err = workspace.run("audit", "check", str(tmp_path / "other" / "relance.toml"))
    assert code == 2 and "not an audit trail exported by relance" in err
    assert "Traceback" not in err


def test_a_user_limited_to_a_creditor_exports_only_its_events(
        db_url: tuple[str, str | None], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    url, schema = db_url
    store = open_store(url, schema=schema)
    try:
        with store.transaction() as session:
            build_agency(session)
        write_config(tmp_path)
        (tmp_path / "rules").mkdir()
        options = ["-w", str(tmp_path), "--db", _db_option(url, schema)]
        period = ["audit", "export", "--from", "2000-01-01", "--until", "2099-12-31"]

        def export(user: str) -> list[dict[str, object]]:
            out_file = tmp_path / f"{user}.jsonl"
            code, _, err = run_cli(capsys, *options, "--user", user, *period,
                                   "-o", str(out_file))
            assert code == 0, err
            text_ = out_file.read_text(encoding="utf-8")
            if user == "anna":
                assert not [s for s in SECRETS if s in text_]
            return [json.loads(line) for line in text_.splitlines()[1:-1]]

        code, _, err = run_cli(capsys, *options, "--user", "anna", "note", "A-001",
                               "called, will pay")
        assert code == 0, err
        everything = export("alice")
        assert {"ACME", "BELLE"} <= {e["creditor"] for e in everything}
        anna = export("anna")
        assert anna and {e["creditor"] for e in anna} == {"ACME"}
        code, _, err = run_cli(capsys, *options, "--user", "anna", "audit", "verify")
        assert code == 2 and "sees only some creditors" in err
    finally:
        store.dispose()
