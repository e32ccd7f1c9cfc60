"""The reading side of `import invoices`: the file's rows read and checked in order, and
handed to the writer as steps.

Nothing here touches the database, so that the whole of it may run in a process of its
own while the import's process writes (`apart`). The checks that need the whole file
(an invoice number repeated, a debtor's values disagreeing between rows) are made here;
those that need the book (a debtor's stored values) are the writer's.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from dataclasses import dataclass, field
from typing import cast

from relance.kernel.i18n import _
from relance.store.importing.columnar import ColumnReaders, Outcome, read_batch
from relance.store.importing.debtors import DebtorMerger, DraftState
from relance.store.importing.first_rows import FirstRows
from relance.store.importing.reading import Source
from relance.store.importing.rows import (
    DebtorCache,
    InvoiceRow,
    Layout,
    Options,
    RowColumns,
    RowError,
)

BATCH_SIZE = 5000
MAX_ERRORS = 1000
MAX_WARNINGS = 200


@dataclass(slots=True)
class Step:
    """What the reading side hands over after each batch it read: how far into the file
    it is (`done`, in the source's units) and the rows to write now, if any, as columns
    (a clean batch) or one by one."""

    done: int
    columns: RowColumns | None = None
    rows: list[InvoiceRow] | None = None
    # The drafts of the debtors first met or changed since the step before, when the
    # reading side runs apart (the writer's merger is then a copy fed by the steps).
    drafts: dict[tuple[str, str], DraftState] | None = None


@dataclass
class Checked:
    """What the reading side found once at the end of the file."""

    rows: int = 0
    errors: list[RowError] = field(default_factory=list)
    more_errors: bool = False
    warnings: list[str] = field(default_factory=list)
    warnings_total: int = 0
    sha256: str | None = None
    done: int = 0  # the source's progress at the end, in its units

    def warn(self, warning: str) -> None:
        self.warnings_total += 1
        if len(self.warnings) < MAX_WARNINGS:
            self.warnings.append(warning)


def _take_clean(outcomes: list[Outcome] | RowColumns, first_rows: FirstRows,
                merger: DebtorMerger, checked: Checked, label: str) -> RowColumns | None:
    """Take a batch whose rows are all valid invoices of one creditor, numbers unseen:
    the common case, checked and recorded a column at a time; returns its columns.
    None (and nothing recorded) for any other batch, which is then taken row by row."""
    if isinstance(outcomes, RowColumns):
        rows = outcomes
    elif outcomes and set(map(type, outcomes)) == {InvoiceRow}:
        rows = RowColumns.of_rows(cast(list[InvoiceRow], outcomes))
    else:
        return None
    creditors = rows.creditor
    if creditors.count(creditors[0]) != len(creditors):
        return None
    numbered = dict(zip(rows.number, rows.row, strict=True))
    if len(numbered) != len(rows) or not first_rows.claim(creditors[0], numbered):
        return None  # a number repeated: the row-by-row path names the rows
    checked.rows += len(rows)
    for disagreement in merger.add_rows(rows):
        checked.warn(disagreement.render(label))
    return rows


def check_rows(source: Source, layout: Layout, options: Options, merger: DebtorMerger,
               first_rows: FirstRows) -> Generator[Step, None, Checked]:
    """Read and check `source` batch by batch, folding each row's debtor values into
    `merger` and recording its invoice number in `first_rows`; yields a step per batch
    read and per batch to write. At the first faulty row writing stops (no more rows are
    handed over), the rest of the file is still checked so that every problem is named
    (up to `MAX_ERRORS`); returns what was found. A file that cannot be read further
    raises once the rows before are checked."""
    checked = Checked(warnings=source.warnings[:MAX_WARNINGS],
                      warnings_total=len(source.warnings))
    errors = checked.errors
    debtor_cache: DebtorCache = {}
    readers = ColumnReaders(options)
    label = source.label
    batch: list[InvoiceRow] = []
    for lines, failure in source.batches(BATCH_SIZE):
        yield Step(source.done)
        read = read_batch(lines, layout, options, debtor_cache, merger, readers)
        clean = None if errors else _take_clean(read, first_rows, merger, checked, label)
        outcomes: list[Outcome] = []
        cells: Sequence[tuple[str, ...] | None] = ()
        if clean is not None:
            if batch:  # rows taken one by one before it, written first
                yield Step(source.done, rows=batch)
                batch = []
            yield Step(source.done, columns=clean)  # no object per row on the way
        else:
            outcomes = list(read.rows()) if isinstance(read, RowColumns) else read
            # The debtor cells each row was read from, when the batch kept them.
            if isinstance(read, RowColumns) and read.debtor_cells is not None:
                cells = read.debtor_cells
        firsts = iter(first_rows.firsts(
            [outcome for outcome in outcomes if type(outcome) is InvoiceRow]))
        for index, outcome in enumerate(outcomes):
            if outcome is None:
                continue  # a blank row
            checked.rows += 1
            if type(outcome) is list:
                if len(errors) + len(outcome) > MAX_ERRORS:
                    checked.more_errors = True
                    break
                errors.extend(outcome)
                continue
            row = cast(InvoiceRow, outcome)
            number = row.row
            first = next(firsts)
            if first != number:
                errors.append(RowError(number, "invoice_number",
                                       _("{number!r} is already on row {first}").format(
                                           number=row.number, first=first)))
                continue
            for disagreement in merger.add(row.creditor, row.debtor_ref, number,
                                           row.debtor, cells[index] if cells else None):
                checked.warn(disagreement.render(label))
            if errors:
                continue  # keep checking, stop writing: the file will be refused
            batch.append(row)
        if checked.more_errors:
            break
        if failure is not None:
            raise failure
        if len(batch) >= BATCH_SIZE:
            yield Step(source.done, rows=batch)
            batch = []
    if not errors and batch:
        yield Step(source.done, rows=batch)
    checked.sha256, checked.done = source.sha256, source.done
    return checked
