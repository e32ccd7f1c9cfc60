"""Files that come in by themselves: one pass over the intake folders.

`[intake] dir` holds one folder per creditor, named by its code (`<dir>/ACME/`); the
creditor drops its invoice exports there (an SFTP server pointed at the folder is
enough, docs/intake.md). Each pass (`scan_intake`):

- takes each regular file at the top of a creditor's folder that is complete: its name
  does not start with `.` nor end with `.part`, `.tmp`, `.filepart` or `.partial` (what
  SFTP clients write to before renaming), it has not changed for `quiet_seconds`, and its
  size and time are the same after it was read as before;
- a content (SHA-256) already recorded for that creditor goes to `duplicates/`, never
  imported twice;
- any other file is imported as `relance import invoices` imports it, every row made the
  folder's creditor's (a row naming another creditor refuses the file: one creditor's
  drop cannot touch another's book). `<dir>/<CODE>.mapping.toml`, beside the folders and
  so out of the creditor's reach, is its column mapping when it exists;
- imported: recorded with its row count and moved to `archive/YYYY-MM-DD/<sha>-<name>`;
  refused: nothing of it is stored, it is recorded with its problems and moved to
  `refused/`, and its e-mail to the creditor is left to send (`intake_records`).

The record is committed before the file is moved. A crash between the two leaves the file
where it was; the next pass knows its content and finishes the move. A crash between the
import and the record imports the file again at the next pass, which changes nothing
(re-importing an invoice file updates the same invoices) and records it.

Folders whose name is no creditor's code, and files beside the folders, are reported and
left alone. Nothing here sends e-mail nor decides when to run the day: the scheduler's
`relance.scheduler.intake` does, after this pass.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import os
import stat
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from relance.engine.intake_records import IMPORTED, REFUSED, refusal_document
from relance.kernel.errors import UsageError
from relance.kernel.i18n import _
from relance.store.db import Store
from relance.store.importing import ImportRefused, Mapping, import_source, load_mapping
from relance.store.importing.checking import MAX_ERRORS
from relance.store.importing.fec import is_fec, open_fec
from relance.store.importing.reading import Source, open_source
from relance.store.importing.rows import Options, RowError, make_layout, read_row
from relance.store.models import Creditor, IntakeFile

ARCHIVE, REFUSED_DIR, DUPLICATES = "archive", "refused", "duplicates"
PARTIAL_SUFFIXES = (".part", ".tmp", ".filepart", ".partial")
MAPPING_SUFFIX = ".mapping.toml"
QUIET_SECONDS = 30.0
"""A file must have been left unchanged this long: a client that writes straight to the
final name (OpenSSH's `sftp put`, FileZilla) is still writing a file that grows."""
SHA_PREFIX = 12
READ_CHUNK = 1 << 20

# What became of a file in a pass (the report's `outcome`, for the JSON and the log).
OUTCOMES = ("imported", "refused", "duplicate", "recovered", "held")


@dataclass
class FileOutcome:
    """One file handled in a pass."""

    creditor: str
    name: str
    outcome: str  # one of OUTCOMES
    sha256: str | None = None
    rows: int = 0
    moved_to: str | None = None  # relative to the intake folder
    problems: list[str] = field(default_factory=list)
    intake_id: int | None = None
    duplicate_of: int | None = None


@dataclass
class ScanReport:
    """What one pass over the intake folders found and did."""

    folder: str
    files: list[FileOutcome] = field(default_factory=list)
    unknown_folders: list[str] = field(default_factory=list)
    stray_files: list[str] = field(default_factory=list)
    waiting: list[str] = field(default_factory=list)

    def count(self, outcome: str) -> int:
        return sum(1 for handled in self.files if handled.outcome == outcome)

    @property
    def imported(self) -> int:
        return self.count("imported")

    def as_dict(self) -> dict[str, Any]:
        return {"folder": self.folder,
                "files": [dataclasses.asdict(handled) for handled in self.files],
                "unknown_folders": self.unknown_folders, "stray_files": self.stray_files,
                "waiting": self.waiting,
                **{outcome: self.count(outcome) for outcome in OUTCOMES}}


def intake_folder(root: Path, configured: str | None) -> Path:
    """`[intake] dir`, relative to the workspace; refused when unset or missing."""
    if not configured:
        raise UsageError(_("no intake folder: set [intake] dir in relance.toml"))
    folder = root / configured
    if not folder.is_dir():
        raise UsageError(_("the intake folder {folder} does not exist").format(folder=folder))
    return folder


# --------------------------------------------------------------------------- files


def partial_name(name: str) -> bool:
    """A name an upload in progress carries (hidden, or a temporary suffix)."""
    return name.startswith(".") or name.lower().endswith(PARTIAL_SUFFIXES)


def _digest(path: Path) -> str:
    # O_NOFOLLOW: a symbolic link put in place of the file after it was listed is not
    # followed out of the folder.
    descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    digest = hashlib.sha256()
    with os.fdopen(descriptor, "rb") as handle:
        while chunk := handle.read(READ_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class _Ready:
    path: Path
    sha256: str
    size: int


def _ready(path: Path, quiet_seconds: float, now: float) -> _Ready | None:
    """The file, its checksum and size when it is complete; None while it may still be
    written (or it vanished meanwhile)."""
    try:
        before = path.lstat()
        if now - before.st_mtime < quiet_seconds:
            return None
        sha = _digest(path)
        after = path.lstat()
    except FileNotFoundError:
        return None
    if (before.st_size, before.st_mtime_ns) != (after.st_size, after.st_mtime_ns):
        return None
    return _Ready(path, sha, after.st_size)


def _free_name(folder: Path, name: str) -> Path:
    """`folder/name`, or `name-2`, `name-3`... when taken: a move never overwrites."""
    target = folder / name
    stem, suffix = os.path.splitext(name)
    number = 1
    while target.exists():
        number += 1
        target = folder / f"{stem}-{number}{suffix}"
    return target


def _move(path: Path, target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(path, target)
    return target


# --------------------------------------------------------------------------- isolation


class _ForeignRows(Exception):
    """Rows of a file dropped in one creditor's folder name another creditor."""

    def __init__(self, errors: list[RowError]) -> None:
        super().__init__("foreign creditor rows")  # not for people: caught below
        self.errors = errors


def _foreign_error(number: int, named: str, code: str) -> RowError:
    return RowError(number, "creditor", _(
        "names the creditor {named}, but this file was dropped in the folder of {code}: "
        "it may only hold {code}'s invoices").format(named=named, code=code))


def _own_rows(source: Source, code: str) -> Iterator[tuple[int, list[str]]]:
    """The source's rows, those naming another creditor held back; at the end of the
    file, raises `_ForeignRows` when there were any, which rolls the import back."""
    position = source.header.index("creditor") if "creditor" in source.header else None
    foreign: list[RowError] = []
    for number, cells in source.rows:
        named = cells[position].strip() if position is not None and position < len(
            cells) else ""
        if named and named != code:
            foreign.append(_foreign_error(number, named, code))
            continue
        yield number, cells
    if foreign:
        raise _ForeignRows(foreign)


def _open(path: Path, mapping: Mapping) -> Source:
    # A FEC is known by its header, not its suffix, as `relance import` knows it.
    return open_fec(path, mapping) if is_fec(path) else open_source(path, mapping)


def _every_problem(path: Path, mapping: Mapping, code: str) -> list[RowError]:
    """Every row's problems, the rows naming another creditor first met: a second read
    of a file refused for them, so that the creditor learns all it must fix at once."""
    source = _open(path, mapping)
    options = Options(mapping.decimal_mark, mapping.date_format, mapping.default_creditor)
    layout, errors = make_layout(source.header, options)
    errors = [*source.errors, *errors]
    if errors:
        return errors
    position = source.header.index("creditor") if "creditor" in source.header else None
    for number, cells in source.rows:
        named = cells[position].strip() if position is not None and position < len(
            cells) else ""
        if named and named != code:
            errors.append(_foreign_error(number, named, code))
        else:
            errors.extend(read_row(number, cells, layout, options)[1])
        if len(errors) > MAX_ERRORS:
            break
    return errors


@dataclass(frozen=True)
class _Imported:
    rows: int


@dataclass(frozen=True)
class _Refused:
    problems: list[str]
    more: bool


def import_for_creditor(store: Store, path: Path, code: str, mapping: Mapping, *,
                        actor: str, today: dt.date) -> _Imported | _Refused:
    """Import `path` as `relance import invoices` does, every row the creditor `code`'s;
    a file refused (whole, nothing stored) comes back with its problems."""
    mapping = dataclasses.replace(mapping, default_creditor=code)
    try:
        source = _open(path, mapping)
        guarded = source.with_rows(_own_rows(source, code))
        report = import_source(store, guarded, mapping=mapping, actor=actor, today=today)
    except ImportRefused as refused:
        return _Refused(list(refused.errors), refused.more)
    except _ForeignRows as foreign:
        try:
            errors = _every_problem(path, mapping, code)
        except UsageError:  # changed since: what the import saw is still enough
            errors = foreign.errors
        return _Refused([error.render(path.name) for error in errors[:MAX_ERRORS]],
                        len(errors) > MAX_ERRORS)
    except UsageError as unreadable:  # empty, not in its encoding, a broken workbook...
        return _Refused([str(unreadable)], False)
    return _Imported(report.rows)


# --------------------------------------------------------------------------- the pass


def _recorded(store: Store, creditor_id: int, sha256: str) -> IntakeFile | None:
    with store.transaction() as session:
        found = session.execute(select(IntakeFile).where(
            IntakeFile.creditor_id == creditor_id, IntakeFile.sha256 == sha256)
        ).scalar_one_or_none()
        if found is not None:
            session.expunge(found)
        return found


def _record(store: Store, row: IntakeFile) -> int | None:
    """Store the file's record; None when another pass recorded the same content first."""
    try:
        with store.write_transaction() as session:
            session.add(row)
            session.flush()
            return row.id
    except IntegrityError:
        return None


def _mapping_of(folder: Path, code: str) -> Mapping:
    path = folder / f"{code}{MAPPING_SUFFIX}"
    return load_mapping(path) if path.is_file() else Mapping()


class _Pass:
    def __init__(self, store: Store, folder: Path, *, actor: str, today: dt.date,
                 now: dt.datetime, quiet_seconds: float) -> None:
        self.store = store
        self.folder = folder
        self.actor = actor
        self.today = today
        self.now = now
        self.quiet_seconds = quiet_seconds
        self.wall = time.time()
        self.report = ScanReport(folder=str(folder))

    def relative(self, path: Path) -> str:
        return path.relative_to(self.folder).as_posix()

    def creditor_folder(self, code: str, creditor_id: int, folder: Path) -> None:
        mapping: Mapping | None = None
        for path in sorted(folder.iterdir()):
            try:
                mode = path.lstat().st_mode
            except FileNotFoundError:  # taken back by the creditor meanwhile
                continue
            if not stat.S_ISREG(mode):
                continue  # archive/, refused/, duplicates/; a link is never followed
            if path.name.startswith("."):
                continue  # hidden: a temporary upload, or the client's own file
            if partial_name(path.name):
                self.report.waiting.append(self.relative(path))
                continue
            try:
                ready = _ready(path, self.quiet_seconds, self.wall)
            except OSError as problem:  # permissions: the server's setup, not the file
                self.report.files.append(FileOutcome(code, path.name, "held", problems=[
                    _("cannot read the file: {problem}").format(problem=problem.strerror)]))
                continue
            if ready is None:
                self.report.waiting.append(self.relative(path))
                continue
            if mapping is None:
                try:
                    mapping = _mapping_of(self.folder, code)
                except UsageError as wrong:  # the firm's mistake: the file waits for it
                    self.report.files.append(FileOutcome(
                        code, path.name, "held", ready.sha256, problems=[str(wrong)]))
                    return
            try:
                handled = self.one_file(code, creditor_id, ready, mapping)
            except OSError as problem:
                # The file could not be moved (permissions): it stays, recorded if it was
                # imported, and the next pass moves it once the folder allows it.
                handled = FileOutcome(code, path.name, "held", ready.sha256, problems=[
                    _("cannot move the file: {problem}").format(problem=problem.strerror)])
            self.report.files.append(handled)

    def one_file(self, code: str, creditor_id: int, ready: _Ready,
                 mapping: Mapping) -> FileOutcome:
        path, sha = ready.path, ready.sha256
        known = _recorded(self.store, creditor_id, sha)
        if known is not None:
            return self.known(code, path, sha, known)
        result = import_for_creditor(self.store, path, code, mapping, actor=self.actor,
                                     today=self.today)
        prefix = f"{sha[:SHA_PREFIX]}-{path.name}"
        if isinstance(result, _Imported):
            target = _free_name(self.folder / code / ARCHIVE / self.today.isoformat(), prefix)
            record = IntakeFile(creditor_id=creditor_id, name=path.name, sha256=sha,
                                size=ready.size, received_at=self.now, status=IMPORTED,
                                rows=result.rows, archived_as=self.relative(target))
        else:
            target = _free_name(self.folder / code / REFUSED_DIR, prefix)
            record = IntakeFile(creditor_id=creditor_id, name=path.name, sha256=sha,
                                size=ready.size, received_at=self.now, status=REFUSED,
                                rows=0, error=refusal_document(result.problems, result.more),
                                archived_as=self.relative(target))
        intake_id = _record(self.store, record)
        if intake_id is None:  # recorded meanwhile by another pass: a duplicate now
            known = _recorded(self.store, creditor_id, sha)
            assert known is not None
            return self.known(code, path, sha, known)
        _move(path, target)
        if isinstance(result, _Imported):
            return FileOutcome(code, path.name, "imported", sha, result.rows,
                               self.relative(target), intake_id=intake_id)
        return FileOutcome(code, path.name, "refused", sha, 0, self.relative(target),
                           problems=result.problems, intake_id=intake_id)

    def known(self, code: str, path: Path, sha: str, known: IntakeFile) -> FileOutcome:
        """A content already recorded: the move a crash interrupted, or a duplicate."""
        planned = self.folder / known.archived_as if known.archived_as else None
        if planned is not None and known.name == path.name and not planned.exists():
            _move(path, planned)
            return FileOutcome(code, path.name, "recovered", sha, known.rows,
                               self.relative(planned), intake_id=known.id)
        target = _free_name(self.folder / code / DUPLICATES,
                            f"{sha[:SHA_PREFIX]}-{path.name}")
        _move(path, target)
        return FileOutcome(code, path.name, "duplicate", sha, 0, self.relative(target),
                           duplicate_of=known.id)


def scan_intake(store: Store, folder: Path, *, actor: str, today: dt.date,
                now: dt.datetime | None = None,
                quiet_seconds: float = QUIET_SECONDS) -> ScanReport:
    """One pass over the intake folder (see the module's text): imports the complete
    files of every creditor's folder, moves each aside, and says what it did. `today` is
    the business day the imports settle the queue on."""
    with store.transaction() as session:
        creditors = {code: int(creditor_id) for code, creditor_id in session.execute(
            select(Creditor.code, Creditor.id))}
    scan = _Pass(store, folder, actor=actor, today=today, now=now or dt.datetime.now(dt.UTC),
                 quiet_seconds=quiet_seconds)
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith("."):
            continue
        mode = entry.lstat().st_mode
        if stat.S_ISDIR(mode) and entry.name in creditors:
            scan.creditor_folder(entry.name, creditors[entry.name], entry)
        elif stat.S_ISDIR(mode):
            scan.report.unknown_folders.append(entry.name)
        elif not (entry.name.endswith(MAPPING_SUFFIX)
                  and entry.name.removesuffix(MAPPING_SUFFIX) in creditors):
            scan.report.stray_files.append(entry.name)
    return scan.report
