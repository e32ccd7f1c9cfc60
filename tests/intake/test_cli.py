"""`relance intake scan` and `relance intake list` as a user runs them (in-process)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from relance.store.db import Store
from tests.cli import run_cli as relance
from tests.intake.drops import BAD, GOOD, drop, setup_workspace

USERS = """
[users]
marie = "credit_manager"

[users.dora]
role = "operator"
creditors = ["BETA"]
"""


def cli_url(db_url: tuple[str, str | None]) -> str:
    url, schema = db_url
    return url if schema is None else f"{url}?options=-csearch_path%3D{schema}"


@pytest.fixture(autouse=True)
def _tuesday(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELANCE_NOW", "2026-03-10T10:00:00")
    monkeypatch.delenv("RELANCE_DATABASE_URL", raising=False)


def test_scan_then_list(store: Store, db_url: tuple[str, str | None], tmp_path: Path,
                        capsys: pytest.CaptureFixture[str]) -> None:
    workspace = setup_workspace(tmp_path / "ws", store, USERS)
    drop(workspace, "ACME", "good.csv", GOOD)
    drop(workspace, "BETA", "bad.csv", BAD)
    common = ["--db", cli_url(db_url), "-w", str(workspace.root), "--user", "marie"]

    code, out, err = relance(capsys, *common, "intake", "scan")

    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("ACME/good.csv: imported, 3 rows, archived as "
                               "ACME/archive/2026-03-10/")
    assert lines[1].startswith("BETA/bad.csv: refused, moved to BETA/refused/")
    assert "  bad.csv: row 3, column due_date: " in lines[2]
    assert "The day's run followed: 2 actions queued, 0 extended." in lines
    assert "Refusal e-mails: written to the outbox 1." in lines

    code, out, _err = relance(capsys, *common, "intake", "scan")
    assert (code, out.strip()) == (0, f"Nothing new in {workspace.root / 'intake'}.")

    code, out, _err = relance(capsys, *common, "intake", "list", "--json")
    listed = json.loads(out)
    assert [(f["creditor"], f["name"], f["status"], f["rows"], f["notice"])
            for f in listed] == [("BETA", "bad.csv", "refused", 0, "written"),
                                 ("ACME", "good.csv", "imported", 3, None)]  # newest first
    code, out, _err = relance(capsys, *common, "intake", "list")
    assert code == 0 and "good.csv" in out and "written to the outbox" in out


def test_a_user_of_some_creditors_sees_only_their_files_and_cannot_scan(
        store: Store, db_url: tuple[str, str | None], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    workspace = setup_workspace(tmp_path / "ws", store, USERS)
    drop(workspace, "ACME", "good.csv", GOOD)
    drop(workspace, "BETA", "bad.csv", BAD)
    common = ["--db", cli_url(db_url), "-w", str(workspace.root)]
    assert relance(capsys, *common, "--user", "marie", "intake", "scan")[0] == 0

    code, out, _err = relance(capsys, *common, "--user", "dora", "intake", "list", "--json")
    assert code == 0
    assert [f["name"] for f in json.loads(out)] == ["bad.csv"]
    code, _out, err = relance(capsys, *common, "--user", "dora", "intake", "scan")
    assert code == 2 and "dora sees only some creditors" in err


def test_scan_without_an_intake_folder_is_a_usage_error(
        sqlite_store: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "ws"
    setup_workspace(root, sqlite_store)
    (root / "relance.toml").write_text(
        (root / "relance.toml").read_text().replace('dir = "intake"', 'dir = "nowhere"'))
    code, _out, err = relance(capsys, "--db", str(sqlite_store.engine.url), "-w", str(root),
                              "intake", "scan")
    assert code == 2 and "the intake folder" in err and "does not exist" in err
