"""A pass over the intake folders, in-process, on SQLite and PostgreSQL: files dropped
by creditors are imported once, refused whole, kept apart by creditor, and waited for
while they are being written."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from relance.scheduler.intake import LEASE_NAME
from relance.store import leases
from relance.store.db import Store
from tests.intake.drops import (
    ANOTHER_CREDITOR,
    BAD,
    GOOD,
    ONLY_ANOTHER_CREDITOR,
    PARIS,
    Action,
    Debtor,
    Event,
    Invoice,
    count,
    drop,
    intake_rows,
    invoices_of,
    scan,
    setup_workspace,
    sha256,
)


def test_a_good_file_is_imported_archived_by_checksum_and_the_day_runs(
        store: Store, tmp_path: Path) -> None:
    workspace = setup_workspace(tmp_path / "ws", store)
    dropped = drop(workspace, "ACME", "factures-mars.csv", GOOD)
    checksum = sha256(dropped.read_bytes())

    result = scan(store, workspace)

    assert [(f["outcome"], f["rows"]) for f in result["files"]] == [("imported", 3)]
    assert invoices_of(store, "ACME") == ["F-1001", "F-1002", "F-1003"]
    archived = (workspace.root / "intake" / "ACME" / "archive" / "2026-03-10"
                / f"{checksum[:12]}-factures-mars.csv")
    assert not dropped.exists()
    assert sha256(archived.read_bytes()) == checksum
    [row] = intake_rows(store)
    assert (row.status, row.rows, row.sha256, row.name) == (
        "imported", 3, checksum, "factures-mars.csv")
    assert row.archived_as == "ACME/archive/2026-03-10/" + archived.name
    # The run followed (10:00, after the 07:00 run): one e-mail per overdue debtor.
    assert result["run"]["actions_created"] == 2
    assert count(store, Action) == 2


def test_before_the_scheduled_run_the_import_waits_for_it(store: Store,
                                                          tmp_path: Path) -> None:
    workspace = setup_workspace(tmp_path / "ws", store)
    drop(workspace, "ACME", "early.csv", GOOD)
    result = scan(store, workspace, now=dt.datetime(2026, 3, 10, 6, 30, tzinfo=PARIS))
    assert result["imported"] == 1
    assert result["run"] == {"deferred_to_schedule": "07:00"}
    assert count(store, Action) == 0


def test_the_same_content_under_another_name_is_never_imported_twice(
        store: Store, tmp_path: Path) -> None:
    workspace = setup_workspace(tmp_path / "ws", store)
    drop(workspace, "ACME", "export.csv", GOOD)
    first = scan(store, workspace)
    again = drop(workspace, "ACME", "export (1).csv", GOOD)

    second = scan(store, workspace)

    [handled] = second["files"]
    assert handled["outcome"] == "duplicate"
    assert handled["duplicate_of"] == first["files"][0]["intake_id"]
    assert not again.exists()
    assert (workspace.root / "intake" / handled["moved_to"]).read_text(
        encoding="utf-8") == GOOD
    assert handled["moved_to"].startswith("ACME/duplicates/")
    assert len(intake_rows(store)) == 1
    assert count(store, Event, Event.kind == "import.invoices") == 1
    assert "run" not in second  # nothing imported: no second run


def test_a_crash_between_the_record_and_the_move_is_finished_next_time(
        store: Store, tmp_path: Path) -> None:
    """The record was committed, the file never moved: the next pass moves it where the
    record says, without importing it again nor calling it a duplicate."""
    workspace = setup_workspace(tmp_path / "ws", store)
    drop(workspace, "ACME", "export.csv", GOOD)
    first = scan(store, workspace)
    archived = workspace.root / "intake" / first["files"][0]["moved_to"]
    archived.replace(workspace.root / "intake" / "ACME" / "export.csv")

    result = scan(store, workspace)

    assert [f["outcome"] for f in result["files"]] == ["recovered"]
    assert archived.is_file()
    assert not (workspace.root / "intake" / "ACME" / "duplicates").exists()
    assert count(store, Event, Event.kind == "import.invoices") == 1


def test_a_bad_file_is_refused_whole_and_put_aside(store: Store, tmp_path: Path) -> None:
    workspace = setup_workspace(tmp_path / "ws", store)
    dropped = drop(workspace, "ACME", "bad.csv", BAD)

    result = scan(store, workspace)

    [handled] = result["files"]
    assert handled["outcome"] == "refused"
    assert count(store, Invoice) == 0 and count(store, Debtor) == 0
    assert not dropped.exists()
    assert (workspace.root / "intake" / handled["moved_to"]).read_text(
        encoding="utf-8") == BAD
    assert handled["moved_to"].startswith("ACME/refused/")
    problems = "\n".join(handled["problems"])
    assert "row 3, column due_date" in problems
    assert "row 4, column amount" in problems
    [row] = intake_rows(store)
    assert row.status == "refused" and row.rows == 0
    assert json.loads(row.error or "")["problems"] == handled["problems"]
    assert "run" not in result


def test_a_well_formed_file_naming_another_creditor_is_refused_whole(
        store: Store, tmp_path: Path) -> None:
    """Every cell is valid: the creditor named is the only fault, and the whole file is
    refused, whatever path the import reads its rows by."""
    workspace = setup_workspace(tmp_path / "ws", store)
    drop(workspace, "ACME", "only.csv", ONLY_ANOTHER_CREDITOR)

    [handled] = scan(store, workspace)["files"]

    assert handled["outcome"] == "refused"
    assert any("row 3, column creditor" in p and "BETA" in p for p in handled["problems"])
    assert invoices_of(store, "ACME") == [] and invoices_of(store, "BETA") == []


def test_a_file_in_one_creditors_folder_naming_another_is_refused(
        store: Store, tmp_path: Path) -> None:
    workspace = setup_workspace(tmp_path / "ws", store)
    drop(workspace, "ACME", "mixed.csv", ANOTHER_CREDITOR)

    result = scan(store, workspace)

    [handled] = result["files"]
    assert handled["outcome"] == "refused"
    problems = handled["problems"]
    assert any("row 3, column creditor" in p and "BETA" in p for p in problems), problems
    # The creditor learns at once of the other problems of the file too.
    assert any("row 4, column amount" in p for p in problems), problems
    assert invoices_of(store, "ACME") == [] and invoices_of(store, "BETA") == []


def test_a_file_naming_its_own_creditor_is_imported(store: Store, tmp_path: Path) -> None:
    workspace = setup_workspace(tmp_path / "ws", store)
    own = "creditor;" + GOOD.replace("\n", "\nBETA;").rstrip("BETA;")
    drop(workspace, "BETA", "beta.csv", own)
    assert scan(store, workspace)["imported"] == 1
    assert invoices_of(store, "BETA") == ["F-1001", "F-1002", "F-1003"]
    assert invoices_of(store, "ACME") == []


def test_a_file_being_written_waits(store: Store, tmp_path: Path) -> None:
    workspace = setup_workspace(tmp_path / "ws", store)
    partial = drop(workspace, "ACME", "export.csv.part", GOOD)
    hidden = drop(workspace, "ACME", ".export.csv", GOOD)
    fresh = drop(workspace, "BETA", "growing.csv", GOOD, age=0)

    result = scan(store, workspace)

    assert result["files"] == []
    assert sorted(result["waiting"]) == ["ACME/export.csv.part", "BETA/growing.csv"]
    assert partial.exists() and hidden.exists() and fresh.exists()
    assert count(store, Invoice) == 0
    partial.rename(partial.with_name("export.csv"))  # the client's rename at the end
    assert scan(store, workspace, quiet_seconds=0)["imported"] == 2
    assert hidden.exists()  # a hidden file is never taken


def test_folders_and_files_that_are_no_creditors_are_reported_and_left(
        store: Store, tmp_path: Path) -> None:
    workspace = setup_workspace(tmp_path / "ws", store)
    stranger = workspace.root / "intake" / "NOBODY"
    stranger.mkdir()
    (stranger / "x.csv").write_text(GOOD, encoding="utf-8")
    (workspace.root / "intake" / "loose.csv").write_text(GOOD, encoding="utf-8")
    link = workspace.root / "intake" / "ACME" / "link.csv"
    link.symlink_to(workspace.root / "relance.toml")

    result = scan(store, workspace)

    assert result["unknown_folders"] == ["NOBODY"]
    assert result["stray_files"] == ["loose.csv"]
    assert result["files"] == []  # a symbolic link is never followed
    assert (stranger / "x.csv").exists() and link.is_symlink()
    assert count(store, Invoice) == 0


def test_a_creditors_mapping_beside_the_folders_is_used(store: Store,
                                                        tmp_path: Path) -> None:
    workspace = setup_workspace(tmp_path / "ws", store)
    (workspace.root / "intake" / "ACME.mapping.toml").write_text(
        '[columns]\n"Code client" = "debtor_ref"\n', encoding="utf-8")
    drop(workspace, "ACME", "erp.csv", GOOD.replace("debtor_ref", "Code client", 1))
    result = scan(store, workspace)
    assert result["imported"] == 1 and result["stray_files"] == []


def test_a_broken_mapping_holds_the_files_without_refusing_them(store: Store,
                                                                tmp_path: Path) -> None:
    """The mapping is the firm's: its mistake is not the creditor's to be told about."""
    workspace = setup_workspace(tmp_path / "ws", store)
    (workspace.root / "intake" / "ACME.mapping.toml").write_text(
        "columns = 3\n", encoding="utf-8")
    dropped = drop(workspace, "ACME", "export.csv", GOOD)
    result = scan(store, workspace)
    assert [f["outcome"] for f in result["files"]] == ["held"]
    assert "ACME.mapping.toml" in result["files"][0]["problems"][0]
    assert dropped.exists() and intake_rows(store) == []


def test_a_second_pass_at_the_same_time_stands_aside(store: Store, tmp_path: Path) -> None:
    workspace = setup_workspace(tmp_path / "ws", store)
    dropped = drop(workspace, "ACME", "export.csv", GOOD)
    # Another machine's pass holds the lease.
    assert leases.acquire_lease(store, LEASE_NAME, "elsewhere:1", dt.timedelta(minutes=5))
    assert scan(store, workspace) == {"busy": "elsewhere:1"}
    assert dropped.exists()
    leases.release_lease(store, LEASE_NAME, "elsewhere:1")
    assert scan(store, workspace)["imported"] == 1
