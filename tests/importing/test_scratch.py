"""What the reading process remembers of a large file in its scratch database (debtor
drafts, invoice numbers: `store/importing/scratch`) answers exactly as the same memory
held in the process: the same warnings, the same drafts for the writer, the same first
rows of repeated numbers, whatever the file and wherever the move happens."""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from relance.store.importing.debtors import DebtorDraft, DebtorMerger
from relance.store.importing.first_rows import FirstRows
from relance.store.importing.rows import InvoiceRow, RowColumns
from relance.store.importing.scratch import Scratch, ScratchFailed, scratch_folder

DAY = dt.date(2026, 11, 1)
COLUMNS = ("debtor_name", "email", "segment")

# A row: (creditor, debtor ref, its debtor cells, read one by one without its cells?).
# Few debtors and few sets of cells: a debtor's cells repeat, change and come back.
_rows = st.lists(st.tuples(
    st.sampled_from(["A", "B"]), st.sampled_from(["D1", "D2", "D3"]),
    st.sampled_from([("x", "x", ""), ("x", "y", "x"), ("y", "", "y"), ("", "x", "")]),
    st.booleans()), min_size=1, max_size=60)


def _values(cells: tuple[str, ...]) -> dict[str, Any]:
    """What a reader makes of the cells: the non-empty ones (different cells, different
    values, as for real columns)."""
    return {column: cell for column, cell in zip(COLUMNS, cells, strict=True) if cell}


def _batch(rows: list[tuple[str, str, tuple[str, ...], bool]], first: int,
           merger: DebtorMerger) -> RowColumns:
    """The rows as `columnar.read_batch` hands them over: each row's values those
    `known` found, else read (one dict per distinct set of cells in the batch)."""
    creditors = [creditor for creditor, _ref, _cells, _alone in rows]
    refs = [ref for _creditor, ref, _cells, _alone in rows]
    cells = [row_cells for _creditor, _ref, row_cells, _alone in rows]
    read: dict[tuple[str, ...], dict[str, Any]] = {}
    values = [found if found is not None else read.setdefault(row_cells, _values(row_cells))
              for found, row_cells in zip(merger.known(creditors, refs, cells), cells,
                                          strict=True)]
    count = len(rows)
    return RowColumns(list(range(first, first + count)), creditors, refs,
                      [f"F{first + index}" for index in range(count)], [DAY] * count,
                      [DAY] * count, ["EUR"] * count, [100] * count, [0] * count,
                      [None] * count, [None] * count, [{}] * count, values, cells)


def _fold(merger: DebtorMerger, rows: list[tuple[str, str, tuple[str, ...], bool]],
          batch_size: int, one_by_one: bool, offset: int = 0) -> Iterator[str]:
    """Feed `rows` (the file's from `offset` on) in batches, as clean batches or row by
    row (some rows without their cells, as when read by the reference reader); the
    warnings rendered."""
    for start in range(0, len(rows), batch_size):
        part = rows[start:start + batch_size]
        batch = _batch(part, offset + start + 2, merger)
        if not one_by_one:
            found = merger.add_rows(batch)
        else:
            found = []
            for index, (creditor, ref, cells, alone) in enumerate(part):
                values = _values(cells) if alone else batch.debtor[index]
                found.extend(merger.add(creditor, ref, batch.row[index], values,
                                        None if alone else cells))
        yield from (disagreement.render("f.csv") for disagreement in found)


def _drafts_seen(drafts: dict[tuple[str, str], DebtorDraft]) -> dict[Any, Any]:
    return {key: (draft.first_row, draft.values) for key, draft in drafts.items()}


@settings(max_examples=300, deadline=None)
@given(rows=_rows, moved_after=st.integers(0, 20), batch_size=st.integers(1, 7),
       one_by_one=st.booleans())
# A debtor first met past the move, changed in the same batch, then changed again: the
# draft kept at the end of the first batch is the merged one.
@example(rows=[("A", "D1", ("x", "x", ""), False), ("A", "D1", ("x", "y", "x"), False),
               ("A", "D1", ("y", "", ""), False)],
         moved_after=0, batch_size=2, one_by_one=False)
def test_debtors_kept_in_the_scratch_database_fold_as_in_memory(
        rows: list[tuple[str, str, tuple[str, ...], bool]], moved_after: int,
        batch_size: int, one_by_one: bool) -> None:
    in_memory = DebtorMerger()
    expected = list(_fold(in_memory, rows, batch_size, one_by_one))

    moved = DebtorMerger()
    cut = min(moved_after, len(rows)) // batch_size * batch_size
    warnings = list(_fold(moved, rows[:cut], batch_size, one_by_one))
    # The writer's copy: the drafts as they stood at the move, then each step's.
    writers = dict(moved.drafts)
    scratch = Scratch()
    try:
        moved.move_to(scratch)
        assert moved.drafts == {}
        for start in range(cut, len(rows), batch_size):
            warnings.extend(_fold(moved, rows[start:start + batch_size], batch_size,
                                  one_by_one, start))
            writers.update((key, DebtorDraft.restored(state))
                           for key, state in moved.take_changed().items())
    finally:
        scratch.close()
    assert warnings == expected
    assert _drafts_seen(writers) == _drafts_seen(in_memory.drafts)


@settings(max_examples=150, deadline=None)
@given(numbers=st.lists(st.tuples(st.sampled_from(["A", "B"]),
                                  st.sampled_from([f"N{k}" for k in range(8)])),
                        min_size=1, max_size=40),
       moved_after=st.integers(0, 40), batch_size=st.integers(1, 6),
       claims=st.booleans())
def test_numbers_kept_in_the_scratch_database_name_the_same_first_rows(
        numbers: list[tuple[str, str]], moved_after: int, batch_size: int,
        claims: bool) -> None:
    def firsts(ledger: FirstRows, start: int, scratch: Scratch | None) -> list[int]:
        found: list[int] = []
        for offset in range(start, len(numbers), batch_size):
            if scratch is not None and offset >= moved_after and ledger._scratch is None:
                ledger.move_to(scratch)
            part = [InvoiceRow(2 + offset + index, creditor, "D", number, DAY, DAY, "EUR",
                               100, 0, None, None, {})
                    for index, (creditor, number) in enumerate(numbers[offset:
                                                                       offset + batch_size])]
            numbered = {row.number: row.row for row in part}
            # As `checking`: a batch of one creditor, each number once in it, is claimed
            # whole; any other, or a claim refused, goes row by row.
            if claims and len({row.creditor for row in part}) == 1 \
                    and len(numbered) == len(part) and ledger.claim(part[0].creditor,
                                                                     numbered):
                found.extend(row.row for row in part)
            else:
                found.extend(ledger.firsts(part))
        return found

    scratch = Scratch()
    try:
        assert firsts(FirstRows(), 0, scratch) == firsts(FirstRows(), 0, None)
    finally:
        scratch.close()


def test_a_draft_crossing_keeps_its_merged_values_and_rows() -> None:
    merger = DebtorMerger()
    merger.add("A", "D1", 2, {"email": "a@example.fr", "debtor_name": "Salon"})
    assert merger.add("A", "D1", 9, {"email": "b@example.fr"})[0].earlier_row == 2
    draft = merger.drafts[("A", "D1")]
    restored = DebtorDraft.restored(draft.state())
    assert restored.varied and restored.first_row == 2
    assert restored.values == draft.values and restored.get("email") == "b@example.fr"
    assert restored.merged()[1] == draft.merged()[1]


def test_a_scratch_database_that_fails_is_told_as_a_system_error_naming_the_folder(
        ) -> None:
    scratch = Scratch()
    scratch.close()  # every later use fails, as a full temporary folder would
    with pytest.raises(ScratchFailed) as failed:
        scratch.add_numbers([("A", "N1", 2)])
    assert isinstance(failed.value, OSError)
    assert failed.value.filename == scratch_folder()  # which the command line names
    assert "scratch database" in str(failed.value.strerror)
    assert isinstance(failed.value.__cause__, sqlite3.Error)


def test_the_scratch_folder_is_where_sqlite_makes_its_temporary_files(
        tmp_path: Path) -> None:
    # SQLite reads the environment once, when it starts: a fresh interpreter is asked.
    folder = tmp_path / "scratch"
    folder.mkdir()
    probe = (
        "import os\n"
        "from relance.store.importing import scratch\n"
        "made = scratch.Scratch()\n"
        "made.add_numbers(('A', f'N{k:06}', k) for k in range(600_000))  # past its cache\n"
        "opened = [os.readlink(f'/proc/self/fd/{fd}') for fd in os.listdir('/proc/self/fd')\n"
        "          if os.path.islink(f'/proc/self/fd/{fd}')]\n"
        "print(scratch.scratch_folder(), *opened, sep='\\n')\n")
    for variable in ("SQLITE_TMPDIR", "TMPDIR"):
        environment = {key: value for key, value in os.environ.items()
                       if key not in ("SQLITE_TMPDIR", "TMPDIR")}
        shown = subprocess.run([sys.executable, "-c", probe], check=True, text=True,
                               capture_output=True, env={**environment, variable: str(folder)}
                               ).stdout.splitlines()
        assert shown[0] == str(folder)
        # Its file is in that folder, already unlinked: nothing is left there after.
        assert [name for name in shown[1:] if name.startswith(str(folder))] != []
        assert all(name.endswith(" (deleted)") for name in shown[1:]
                   if name.startswith(str(folder)))
        assert list(folder.iterdir()) == []
