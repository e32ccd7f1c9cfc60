"""`import invoices`: read, check and store a canonical invoice file in one transaction.

The file streams through once. Rows are written in batches while the file is clean; at
the first faulty row writing stops, the rest is still checked so that every problem is
named, and the transaction is rolled back: a refused file leaves no trace. The reading
and checking are `checking.check_rows`'s, in a second process past a large file's first
rows (`apart`); the writing is `writing.BookWriter`'s, here.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import threading
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Connection

from relance.kernel.errors import UsageError
from relance.kernel.i18n import _, ngettext
from relance.store import audit
from relance.store.book import settle_case
from relance.store.db import Store
from relance.store.importing.apart import Steps
from relance.store.importing.checking import MAX_ERRORS, Checked, check_rows
from relance.store.importing.debtors import DebtorMerger
from relance.store.importing.fec import is_fec, open_fec
from relance.store.importing.first_rows import FirstRows
from relance.store.importing.mapping import Mapping
from relance.store.importing.reading import Source, open_source
from relance.store.importing.rows import Options, RowError, make_layout
from relance.store.importing.writing import BookWriter, Counts

Progress = Callable[[int, int | None], None]
"""Called after each batch with (work done, total work) in the source's units."""


class ImportRefused(UsageError):
    """The file was refused whole; `errors` names every faulty row and column."""

    def __init__(self, label: str, errors: list[RowError], *, more: bool = False) -> None:
        self.label = label
        self.errors = [error.render(label) for error in errors]
        self.more = more
        if more:
            heading = ngettext("{label}: refused, nothing was imported ({count}+ error):",
                               "{label}: refused, nothing was imported ({count}+ errors):",
                               len(errors))
        else:
            heading = ngettext("{label}: refused, nothing was imported ({count} error):",
                               "{label}: refused, nothing was imported ({count} errors):",
                               len(errors))
        lines = [heading.format(label=label, count=len(errors)), *self.errors]
        if more:
            lines.append(_("(the first {count} errors are shown; fix them and import again "
                           "to see the rest)").format(count=len(errors)))
        super().__init__("\n  ".join(lines))


@dataclass(kw_only=True)
class ImportReport(Counts):
    """What an import changed, for the command's output and the audit event: the
    writer counts straight into it."""

    file: str
    rows: int = 0
    sha256: str | None = None
    warnings: list[str] = field(default_factory=list)
    warnings_total: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


SQLITE_IMPORT_CACHE_KIB = 64 * 1024


@contextlib.contextmanager
def _large_cache(conn: Connection) -> Iterator[None]:
    """On SQLite, a page cache that holds the invoice indexes of a large book while it
    loads (the default 2 MB makes each insert read index pages back from disk)."""
    if conn.dialect.name != "sqlite":
        yield
        return
    before = conn.exec_driver_sql("PRAGMA cache_size").scalar()
    conn.exec_driver_sql(f"PRAGMA cache_size = -{SQLITE_IMPORT_CACHE_KIB}")
    try:
        yield
    finally:
        conn.exec_driver_sql(f"PRAGMA cache_size = {int(before or -2000)}")


# An import allocates millions of small objects (cells, rows, debtor values) and frees
# most of them a batch later; with the collector's default threshold (700) it walks
# everything still alive thousands of times over, a sixth of a large import's time.
# Imports create no cycles worth chasing, so collections are made rarer while one runs.
IMPORT_GC_THRESHOLD = 200_000
_gc_lock = threading.Lock()
_gc_users = 0
_gc_saved: tuple[int, int, int] = gc.get_threshold()


@contextlib.contextmanager
def _rare_collections() -> Iterator[None]:
    """Raise the collector's first threshold for the duration (the process's setting,
    so concurrent imports share one raise and the last one out restores it)."""
    global _gc_users, _gc_saved
    with _gc_lock:
        if _gc_users == 0:
            _gc_saved = gc.get_threshold()
            gc.set_threshold(max(_gc_saved[0], IMPORT_GC_THRESHOLD), *_gc_saved[1:])
        _gc_users += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_users -= 1
            if _gc_users == 0:
                gc.set_threshold(*_gc_saved)


# An import's event names the debtors it changed, up to this many, so that a later run
# of a day already run evaluates only them (`engine.run_scope`); after a larger import
# the run evaluates the whole book, which then costs about as much.
NAMED_DEBTORS_MAX = 25_000


def named_debtors(debtor_ids: set[int]) -> dict[str, list[int]]:
    """The `debtors` of an import's event data: sorted ids, none past the limit."""
    return {"debtors": sorted(debtor_ids)} if len(debtor_ids) <= NAMED_DEBTORS_MAX else {}


def import_invoices(
    store: Store,
    path: Path,
    *,
    mapping: Mapping | None = None,
    actor: str = "import",
    today: dt.date | None = None,
    progress: Progress | None = None,
) -> ImportReport:
    """Import an invoice file (CSV, XLSX or FEC); raises ImportRefused if any row is
    faulty."""
    mapping = mapping or Mapping()
    # A FEC is known by its header, not its suffix: accounting software names it .txt.
    source = open_fec(path, mapping) if is_fec(path) else open_source(path, mapping)
    return import_source(store, source, mapping=mapping, actor=actor, today=today,
                         progress=progress)


def import_source(
    store: Store,
    source: Source,
    *,
    mapping: Mapping,
    actor: str,
    today: dt.date | None = None,
    progress: Progress | None = None,
) -> ImportReport:
    """Import an already opened source (see `import_invoices`)."""
    options = Options(mapping.decimal_mark, mapping.date_format, mapping.default_creditor)
    layout, errors = make_layout(source.header, options)
    errors = [*source.errors, *errors]
    if errors:
        raise ImportRefused(source.label, errors[:MAX_ERRORS], more=len(errors) > MAX_ERRORS)
    report = ImportReport(file=source.label)
    merger, first_rows = DebtorMerger(), FirstRows()
    with _rare_collections(), store.write_transaction() as session, \
            _large_cache(session.connection()), \
            Steps(check_rows(source, layout, options, merger, first_rows), merger, first_rows,
                  source.label) as steps:
        writer = BookWriter(session.connection(), layout, today=today or dt.date.today(),
                            actor=actor, counts=report)
        for step in steps:
            if step.columns is not None:
                writer.write_columns(step.columns, merger)  # no object per row on the way
            elif step.rows is not None:
                writer.write(step.rows, merger)
            elif progress is not None:
                progress(step.done, source.total)
            if step.drafts:  # read apart: the drafts are a copy, these written
                writer.settle(step.drafts, merger)
        checked = cast(Checked, steps.checked)
        errors = checked.errors
        report.rows = checked.rows
        report.warnings, report.warnings_total = checked.warnings, checked.warnings_total
        if not errors:
            errors.extend(writer.finish(merger))
        if errors:
            raise ImportRefused(source.label, errors, more=checked.more_errors)
        report.sha256 = checked.sha256
        creditor_ids = set(writer.creditor_ids.values())
        audit.record(
            session, actor=actor, kind="import.invoices", subject_type="import",
            subject_id=source.label,
            creditor_id=next(iter(creditor_ids)) if len(creditor_ids) == 1 else None,
            data={**{key: value for key, value in report.as_dict().items()
                     if key != "warnings"}, **named_debtors(writer.changed_debtors)},
        )
        # Invoices paid, disputed or promised in the ERP, debtors paused there: the
        # queue follows in this transaction, as for a change made in relance.
        settle_case(session, debtor_ids=writer.touched_debtors,
                    today=today or dt.date.today(), actor=actor,
                    cause=f"import of {source.label}")
    if progress is not None:
        progress(checked.done, source.total)
    return report
