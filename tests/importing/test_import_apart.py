"""A large file read in a second process while the import writes (`store/importing/apart`)
stores, reports and refuses exactly what the one-process import does, and leaves no
process behind whatever happens to either side.

Each comparison imports one file twice into two fresh books of the same database: once
in one process, once forked after the first batches (small batches, so that a file of
a few thousand rows crosses the fork), and compares every stored row, ids included.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import json
import os
import pickle
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Table, select

from bench.books import HEADER, book_rows
from relance.engine.intake import import_for_creditor
from relance.kernel.errors import UsageError
from relance.store.db import Store, open_store
from relance.store.importing import (
    ImportRefused,
    Mapping,
    apart,
    checking,
    import_invoices,
    scratch,
)
from relance.store.models import Creditor, Debtor, DebtorTag, Invoice, Promise
from tests.cli import run_cli

ROOT = Path(__file__).resolve().parents[2]
TODAY = dt.date(2026, 11, 22)
COLUMNS = [*HEADER, "promised_until"]
TIMESTAMPS = {"created_at", "updated_at"}


@pytest.fixture
def forks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Batches of 100 rows, the rest read apart after the second; the forks made. The
    reading process's scratch database gets a page cache of a few pages, so that what it
    keeps of the file goes to its temporary file and is read back from there."""
    monkeypatch.setattr(checking, "BATCH_SIZE", 100)
    monkeypatch.setattr(apart, "APART_AFTER_ROWS", 200)
    monkeypatch.setattr(scratch, "SCRATCH_CACHE_KIB", 16)
    made: list[int] = []
    fork = os.fork

    def counted() -> int:
        child = fork()
        if child:
            made.append(child)
        return child

    monkeypatch.setattr(os, "fork", counted)
    return made


def _write(path: Path, count: int, extra: list[dict[str, str]], *, seed: int = 5,
           at: int = 0, last: list[dict[str, str]] | None = None) -> Path:
    """`count` generated rows with `extra` rows inserted before the `at`th of them, and
    `last` after them all."""
    generated = list(book_rows(count, seed=seed, on=TODAY, creditor="APART",
                               invoices_per_debtor=6))
    with path.open("w", encoding="utf-8", newline="") as handle:
        out = csv.writer(handle, delimiter=";")
        out.writerow(COLUMNS)
        for index, cells in enumerate(generated):
            if index == at:
                for row in extra:
                    out.writerow([row.get(name, "") for name in COLUMNS])
            out.writerow([*cells, ""])
            if index == 700:
                out.writerow([])  # a blank line past the fork
        for row in last or []:
            out.writerow([row.get(name, "") for name in COLUMNS])
    return path


def _extra_rows() -> list[dict[str, str]]:
    """Rows the column checks leave to the row-by-row path, and debtors whose values
    change on a later row (one first met before the fork, one after)."""
    base = {"creditor": "APART", "currency": "EUR", "issue_date": "2026-09-01",
            "due_date": "2026-10-01"}
    return [{**base, **row} for row in [
        {"debtor_ref": "X-1", "debtor_name": "Salon Nantes", "invoice_number": "X-1",
         "amount": "1.234,56", "email": "un@example.fr", "tags": "vip"},
        {"debtor_ref": "X-1", "invoice_number": "X-2", "amount": "10,00",
         "promised_until": "2026-12-01"},
        {"debtor_ref": "D0000001", "invoice_number": "X-3", "amount": "99.90",
         "email": "other@example.fr", "disputed": "delivery late"},
        {"debtor_ref": "X-2", "debtor_name": "Coiffure 2", "invoice_number": "X-4",
         "amount": "1500", "currency": "jpy"},
        {"debtor_ref": "X-2", "invoice_number": "X-5", "amount": "20.00",
         "segment": " smb ", "tags": "sepa; vip"},
    ]]


def _book(store: Store) -> dict[str, list[tuple[Any, ...]]]:
    """Every table an import writes, ids included, timestamps aside."""
    book: dict[str, list[tuple[Any, ...]]] = {}
    with store.transaction() as session:
        for model in (Creditor, Debtor, DebtorTag, Invoice, Promise):
            table: Table = model.__table__  # type: ignore[assignment]
            names = [column.name for column in table.c if column.name not in TIMESTAMPS]
            book[table.name] = sorted(
                tuple(repr(value) for value in row)
                for row in session.execute(select(*(table.c[name] for name in names))))
    return book


def _outcome(store: Store, path: Path, **kwargs: Any) -> Any:
    try:
        report = import_invoices(store, path, actor="test", today=TODAY, **kwargs)
    except ImportRefused as refused:
        return ("refused", refused.errors, refused.more)
    return report.as_dict()


def _both(store: Store, second: Store, path: Path,
          monkeypatch: pytest.MonkeyPatch) -> tuple[Any, Any]:
    """Import `path` apart into `store`, then in one process into `second`."""
    split = _outcome(store, path)
    with monkeypatch.context() as patch:
        patch.setattr(apart, "APART_AFTER_ROWS", 10**9)
        whole = _outcome(second, path)
    return split, whole


def test_a_file_read_apart_stores_and_reports_what_one_process_does(
        store: Store, second_store: Store, tmp_path: Path, forks: list[int],
        monkeypatch: pytest.MonkeyPatch) -> None:
    extra = _extra_rows()
    # Debtor D0000001 met before the fork and changed after it; debtor X-2 first met
    # past the fork (its draft then settled in the writer's copy) and changed at the end.
    first = _write(tmp_path / "first.csv", 1500, extra[:4], at=450, last=extra[4:])
    split, whole = _both(store, second_store, first, monkeypatch)
    assert len(forks) == 1
    assert split == whole
    assert split["created"] == 1505 and split["debtors_created"] == 252
    assert split["sha256"] is not None
    assert any("D0000001" in warning and "other@example.fr" in warning
               for warning in split["warnings"])
    assert _book(store) == _book(second_store)
    # Again with amounts and e-mails changed: the invoices and debtors already stored
    # are compared and updated past the fork too.
    again = _write(tmp_path / "again.csv", 1600, extra[:3], seed=6, at=900,
                   last=extra[3:])
    split, whole = _both(store, second_store, again, monkeypatch)
    assert len(forks) == 2
    assert split == whole
    assert split["updated"] > 1000 and split["created"] == 100
    assert _book(store) == _book(second_store)
    # The same file again, but for one debtor's tags (a debtor first met past the fork,
    # its values as stored): the writer settles the known debtors it leaves as they are,
    # and keeps their tags to compare.
    retagged = tmp_path / "retagged.csv"
    with again.open(encoding="utf-8", newline="") as source, \
            retagged.open("w", encoding="utf-8", newline="") as target:
        out = csv.writer(target, delimiter=";")
        for cells in csv.reader(source, delimiter=";"):
            if cells and cells[1] == "D0000250":
                cells[COLUMNS.index("tags")] = "nouveau"
            out.writerow(cells)
    split, whole = _both(store, second_store, retagged, monkeypatch)
    assert len(forks) == 3
    assert split == whole
    assert split["unchanged"] == 1605 and split["debtors_updated"] == 1
    assert _book(store) == _book(second_store)


def test_a_workbook_read_apart_stores_what_one_process_does(
        store: Store, second_store: Store, tmp_path: Path, forks: list[int],
        monkeypatch: pytest.MonkeyPatch) -> None:
    from openpyxl import Workbook

    csv_file = _write(tmp_path / "book.csv", 1200, _extra_rows()[:3], at=600)
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    with csv_file.open(encoding="utf-8", newline="") as handle:
        for cells in csv.reader(handle, delimiter=";"):
            sheet.append(cells)
    workbook.save(tmp_path / "book.xlsx")
    split, whole = _both(store, second_store, tmp_path / "book.xlsx", monkeypatch)
    assert len(forks) == 1
    assert split == whole
    assert split["created"] == 1203
    assert _book(store) == _book(second_store)


def test_a_faulty_file_is_refused_apart_in_the_same_words(
        store: Store, second_store: Store, tmp_path: Path, forks: list[int],
        monkeypatch: pytest.MonkeyPatch) -> None:
    base = {"creditor": "APART", "debtor_ref": "D0000003", "currency": "EUR",
            "issue_date": "2026-09-01", "due_date": "2026-10-01"}
    faulty = [{**base, "invoice_number": "FA-00000010", "amount": "5,00"},  # repeated
              {**base, "invoice_number": "Z-1", "amount": "douze"},
              {**base, "invoice_number": "Z-2", "amount": "1,00", "due_date": "demain"}]
    path = _write(tmp_path / "faulty.csv", 1200, faulty, at=800)
    split, whole = _both(store, second_store, path, monkeypatch)
    assert len(forks) == 1
    assert split[0] == "refused"
    assert split == whole
    assert [error.split(",")[0] for error in split[1]] == [
        "faulty.csv: row 803", "faulty.csv: row 804", "faulty.csv: row 805"]
    assert _book(store)["invoice"] == []
    # Past a thousand errors the list stops, the same wherever it was read.
    many = [{**base, "invoice_number": f"Z-{k}", "amount": "?"} for k in range(1100)]
    path = _write(tmp_path / "many.csv", 400, many, at=300)
    split, whole = _both(store, second_store, path, monkeypatch)
    assert split == whole
    assert split[2] is True and len(split[1]) == 1000
    assert _book(store)["invoice"] == []


def test_a_file_unreadable_past_the_fork_is_refused_naming_its_row(
        store: Store, tmp_path: Path, forks: list[int]) -> None:
    path = _write(tmp_path / "latin.csv", 1000, [])
    lines = path.read_bytes().split(b"\n")
    lines[900] = lines[900].replace(b";EUR;", b";\xe9UR;")  # a latin-1 byte on row 901
    path.write_bytes(b"\n".join(lines))
    with pytest.raises(UsageError) as refused:
        import_invoices(store, path, actor="test", today=TODAY)
    assert len(forks) == 1
    assert "latin.csv: row 901" in str(refused.value)
    assert _book(store)["invoice"] == []


def test_a_foreign_creditor_past_the_fork_refuses_a_folder_import(
        store: Store, tmp_path: Path, forks: list[int]) -> None:
    # The intake's guard raises its own exception at the end of the file, in the
    # child here: the parent must get it as it is, to name the foreign rows.
    foreign = {"creditor": "OTHER", "debtor_ref": "O-1", "debtor_name": "Autre",
               "invoice_number": "O-1", "issue_date": "2026-09-01",
               "due_date": "2026-10-01", "amount": "1,00", "currency": "EUR"}
    path = _write(tmp_path / "mixed.csv", 1000, [foreign], at=950)
    outcome = import_for_creditor(store, path, "APART", Mapping(), actor="test",
                                  today=TODAY)
    assert len(forks) == 1
    assert getattr(outcome, "problems", None) == [
        "mixed.csv: row 953, column creditor: names the creditor OTHER, but this file was "
        "dropped in the folder of APART: it may only hold APART's invoices"]
    assert _book(store)["invoice"] == []


def test_a_full_temporary_folder_stops_the_import_in_a_sentence(
        tmp_path: Path, forks: list[int], monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    made = scratch.Scratch.__init__

    def small(self: scratch.Scratch) -> None:  # room for a few pages, as a full disk
        made(self)
        self._conn.execute("PRAGMA max_page_count = 12")

    monkeypatch.setattr(scratch.Scratch, "__init__", small)
    path = _write(tmp_path / "full.csv", 1000, [])
    workspace = str(tmp_path / "book")
    code, out, err = run_cli(capsys, "-w", workspace, "import", "invoices", str(path))
    assert len(forks) == 1
    assert code == 1 and out == ""
    assert err == (f"relance: {scratch.scratch_folder()}: the import's scratch database "
                   "failed (database or disk is full); nothing was imported (SQLITE_TMPDIR "
                   "or TMPDIR may name another folder)\n")
    code, out, _ = run_cli(capsys, "-w", workspace, "--json", "report", "aged")
    assert code == 0 and json.loads(out)["lines"] == []


def test_progress_is_told_to_the_end_when_read_apart(store: Store, tmp_path: Path,
                                                      forks: list[int]) -> None:
    path = _write(tmp_path / "progress.csv", 1000, [])
    told: list[tuple[int, int | None]] = []
    import_invoices(store, path, actor="test", today=TODAY,
                    progress=lambda done, total: told.append((done, total)))
    assert len(forks) == 1
    done = [step for step, _total in told]
    assert done == sorted(done) and len(set(done)) > 5
    assert told[-1] == (path.stat().st_size, path.stat().st_size)


def test_an_exception_that_does_not_pickle_reaches_the_parent_named() -> None:
    class Odd(Exception):
        def __init__(self, first: str, second: str) -> None:
            super().__init__(f"{first} and {second}")

    portable = apart._portable(Odd("one", "two"))
    assert type(portable) is RuntimeError
    assert str(portable) == "Odd: one and two"
    assert "Odd" in "".join(portable.__notes__)
    kept = apart._portable(UsageError("row 3: bad"))
    again = pickle.loads(pickle.dumps(kept))
    assert type(again) is UsageError and str(again) == "row 3: bad"


# ------------------------------------------------------------------ the processes


RELANCE = str(Path(sys.executable).parent / "relance")
ENGLISH = {**{key: value for key, value in os.environ.items()
              if key not in ("LANGUAGE", "LC_ALL", "LC_MESSAGES")},
           "LANG": "en_GB.UTF-8", "RELANCE_NO_SERVER": "1"}


def _relance(*args: str, cwd: Path) -> subprocess.Popen[str]:
    """`relance ARGS` in a session of its own, as a terminal's foreground job."""
    return subprocess.Popen([RELANCE, *args], cwd=cwd, env=ENGLISH, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            found.extend(int(child) for child in (task / "children").read_text().split())
    return found


def _reader_of(process: subprocess.Popen[str]) -> int:
    """The pid of the process reading the file apart, once it runs."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the import ended first: {process.communicate()}")
        children = _children(process.pid)
        if children:
            return children[0]
        time.sleep(0.005)
    raise AssertionError("no reading process appeared")


def _gone(pid: int) -> bool:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            return True
        if state == "Z":  # ended, its parent not told yet (or the parent gone too)
            return True
        time.sleep(0.01)
    return False


@pytest.fixture
def large_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A file large enough to be read apart with the import's own settings."""
    folder = tmp_path_factory.mktemp("large")
    path = folder / "large.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        out = csv.writer(handle, delimiter=";")
        out.writerow(HEADER)
        out.writerows(book_rows(120_000, seed=9, on=TODAY))
    return path


def _invoices(workspace: Path) -> int:
    opened = open_store(f"sqlite:///{workspace / 'relance.sqlite'}")
    try:
        with opened.transaction() as session:
            return len(session.execute(select(Invoice.id)).all())
    finally:
        opened.dispose()


def _interrupted(workspace: Path, large_file: Path,
                 interrupt: Callable[[subprocess.Popen[str], int], None]
                 ) -> tuple[subprocess.Popen[str], str, int]:
    subprocess.run([RELANCE, "init", str(workspace)], check=True, capture_output=True,
                   env=ENGLISH)
    process = _relance("import", "invoices", str(large_file), cwd=workspace)
    reader = _reader_of(process)
    interrupt(process, reader)
    _out, err = process.communicate(timeout=60)
    return process, err, reader


def test_a_reading_process_killed_ends_the_import_in_a_sentence(
        tmp_path: Path, large_file: Path) -> None:
    workspace = tmp_path / "book"
    process, err, reader = _interrupted(
        workspace, large_file, lambda _process, reader: os.kill(reader, signal.SIGKILL))
    assert process.returncode == 1
    assert err == ("relance: large.csv: the process reading the file ended before its end "
                   "(killed by signal 9); nothing was imported\n")
    assert _gone(reader)
    assert _invoices(workspace) == 0


def test_ctrl_c_ends_both_processes_and_stores_nothing(tmp_path: Path,
                                                       large_file: Path) -> None:
    workspace = tmp_path / "book"
    process, _err, reader = _interrupted(
        workspace, large_file,
        lambda process, _reader: os.killpg(process.pid, signal.SIGINT))
    assert process.returncode == 130, _err
    assert _gone(reader)
    assert _invoices(workspace) == 0


def test_the_reading_process_ends_when_the_import_is_killed(tmp_path: Path,
                                                            large_file: Path) -> None:
    workspace = tmp_path / "book"
    _process, _err, reader = _interrupted(
        workspace, large_file, lambda process, _reader: os.kill(process.pid, signal.SIGKILL))
    assert _gone(reader)  # its next step met a pipe nobody reads
    assert _invoices(workspace) == 0
