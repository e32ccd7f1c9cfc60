"""Reading an import file as rows of text cells: CSV (`,` `;` or tab, detected) or XLSX.

Rows are numbered as a spreadsheet shows them: the header is row 1, the first invoice
row 2. Blank rows are skipped. Files stream: nothing holds the whole file in memory.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import hashlib
import io
import re
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import islice
from pathlib import Path
from typing import Any, BinaryIO

from relance.kernel.errors import UsageError
from relance.kernel.i18n import _
from relance.store.importing.csv_blocks import ColumnBatch, RowBatch, split_batches
from relance.store.importing.mapping import Mapping
from relance.store.importing.rows import RowError

CSV_DELIMITERS = (",", ";", "\t")
XLSX_SUFFIXES = (".xlsx", ".xlsm")

# An XLSX is a zip archive, and a few kilobytes of it can expand to gigabytes (a "zip
# bomb"). Its directory is checked before openpyxl reads anything. Python's zipfile, which
# openpyxl reads with, never yields more than the size the directory declares for a part
# (and fails its CRC if the data holds more), so the declared sizes bound the work.
XLSX_MAX_UNCOMPRESSED = 200 * 1024 * 1024  # bytes of all the parts, expanded
XLSX_MAX_RATIO = 100  # a sheet's XML deflates 5 to 20 times; a bomb, hundreds of times
XLSX_RATIO_FLOOR = 1024 * 1024  # a part smaller than this cannot hurt, however packed
XLSX_MAX_ENTRIES = 10_000  # a workbook of many sheets and images holds a few hundred
_MB = 1024 * 1024

Batch = tuple[list[tuple[int, list[str]]] | ColumnBatch, UsageError | None]
"""Consecutive rows, as (row number, cells) or as columns, and the error that ended the
file, if any."""


class CountingReader(io.RawIOBase):
    """Counts and hashes the bytes read, for the progress bar and the audit trail."""

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self.count = 0
        self.digest = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._raw.read(len(buffer))
        size = len(data)
        buffer[:size] = data
        self.count += size
        self.digest.update(data)
        return size

    def close(self) -> None:
        self._raw.close()
        super().close()


@dataclass
class Source:
    """An open import file: its label, canonical header and a stream of rows."""

    label: str
    header: list[str]
    rows: Iterator[tuple[int, list[str]]]
    total: int | None  # in units of `done`: bytes for CSV, rows for XLSX
    _counter: CountingReader | None = field(default=None, repr=False)
    _rows_read: int = 0
    # A file read whole before its rows are made (a FEC) reports here what it found:
    # errors refuse it before any row is written, warnings go to the report.
    errors: list[RowError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    # A reader that can hand its rows over a batch at a time more cheaply sets this.
    _batches: Callable[[int], Iterator[Batch]] | None = field(default=None, repr=False)

    def batches(self, size: int) -> Iterator[Batch]:
        """The rows in lists of `size` (fewer at the end), blank rows possibly left in
        (whoever reads them skips them: a blank row lacks the required cells, so only
        rows that fail a check need that look). A file that cannot be read
        further (a CSV error, a byte not in its encoding) ends the last list with its
        error, to be raised once the rows before it are checked, as when rows were read
        one at a time."""
        if self._batches is not None:
            return self._batches(size)
        return _chunked(self.rows, size)

    def with_rows(self, rows: Iterator[tuple[int, list[str]]]) -> Source:
        """The same file read through `rows` (a filter over `self.rows`): its batches then
        come from those rows, never from the reader's faster path around them."""
        return dataclasses.replace(self, rows=rows, _batches=None)

    @property
    def done(self) -> int:
        return self._counter.count if self._counter is not None else self._rows_read

    @property
    def sha256(self) -> str | None:
        """The file's hash once fully read (CSV), for the audit event."""
        return self._counter.digest.hexdigest() if self._counter is not None else None


def _chunked(rows: Iterator[tuple[int, list[str]]], size: int) -> Iterator[Batch]:
    while True:
        lines: list[tuple[int, list[str]]] = []
        try:
            lines.extend(islice(rows, size))  # keeps what was read before a failure
        except UsageError as failure:
            yield lines, failure
            return
        if not lines:
            return
        yield lines, None


def _detect_delimiter(first_line: str) -> str:
    counts = {mark: first_line.count(mark) for mark in CSV_DELIMITERS}
    best = max(CSV_DELIMITERS, key=lambda mark: counts[mark])
    return best if counts[best] else ","


def not_encoded(label: str, row: int, encoding: str) -> str:
    """The refusal of a file that is not in the encoding it is read in."""
    return _("{label}: row {number}: not {encoding} text; declare the file's encoding in a "
             "mapping file").format(label=label, number=row, encoding=encoding)


# What a byte that is not text in the file's encoding decodes to with "surrogateescape":
# a lone surrogate, which no text read without that handler can hold.
_ESCAPED_BYTE = re.compile("[\udc80-\udcff]")


def undecodable_row(path: Path, encoding: str, delimiter: str) -> int | None:
    """The row holding the first byte of `path` that is not `encoding` text, numbered as
    the import numbers rows (the header is row 1, a record over several lines is one
    row); None when none is found that way. Read again only to name the row of a file
    already refused: decoding a file a block at a time cannot tell which row failed."""
    try:
        with path.open("rb") as raw:
            text = io.TextIOWrapper(raw, encoding=encoding, errors="surrogateescape",
                                    newline="")
            for number, cells in enumerate(csv.reader(text, delimiter=delimiter), start=1):
                if any(map(_ESCAPED_BYTE.search, cells)):
                    return number
    except (OSError, UnicodeDecodeError, csv.Error):
        return None
    return None


def _escaped_first_line(path: Path, mapping: Mapping) -> str:
    """The file's first line, its bytes not in the encoding escaped."""
    try:
        with path.open(encoding=mapping.encoding, errors="surrogateescape",
                       newline="") as text:
            return text.readline()
    except (OSError, UnicodeDecodeError):
        return ""


def open_csv(path: Path, mapping: Mapping) -> Source:
    """Open a CSV file; the delimiter is the mapping's or the header's most frequent mark."""
    label = path.name
    try:
        raw = path.open("rb")
    except OSError as exc:
        raise UsageError(_("{label}: cannot read ({problem})").format(
            label=label, problem=exc.strerror)) from exc
    counter = CountingReader(raw)
    text = io.TextIOWrapper(io.BufferedReader(counter, 1 << 16), encoding=mapping.encoding,
                            newline="")
    try:
        first_line = text.readline()
    except UnicodeDecodeError as exc:
        # The reader decodes ahead of the header: the faulty byte may be further down.
        text.close()
        delimiter = mapping.delimiter or _detect_delimiter(_escaped_first_line(path, mapping))
        found = undecodable_row(path, mapping.encoding, delimiter)
        raise UsageError(not_encoded(label, found or 1, mapping.encoding)) from exc
    if not first_line.strip():
        text.close()
        raise UsageError(_("{label}: the file is empty (no header row)").format(label=label))
    delimiter = mapping.delimiter or _detect_delimiter(first_line)
    header = next(csv.reader([first_line], delimiter=delimiter))
    source = Source(label, [mapping.rename(cell) for cell in header], iter(()),
                    path.stat().st_size, counter)

    def undecodable(number: int) -> UsageError:
        """The failure of a file that stops decoding past row `number`: the row named is
        the one holding the first byte not in the encoding, read again to find it."""
        found = undecodable_row(path, mapping.encoding, delimiter)
        return UsageError(not_encoded(label, found or number + 1, mapping.encoding))

    def rows() -> Iterator[tuple[int, list[str]]]:
        number = 1
        try:
            for cells in csv.reader(text, delimiter=delimiter):
                number += 1
                # Blank when every cell is: the cells joined are blank exactly then.
                if not "".join(cells).strip():
                    continue
                yield number, cells
        except UnicodeDecodeError as exc:
            raise undecodable(number) from exc
        except csv.Error as exc:
            raise UsageError(_("{label}: row {number}: {problem}").format(
                label=label, number=number + 1, problem=exc)) from exc
        finally:
            text.close()

    def batches(size: int) -> Iterator[Batch]:
        def read_by_csv(lines: Iterable[str], number: int) -> Iterator[RowBatch]:
            """The CSV reader's batches of `lines`, the first numbered `number + 1`."""
            reader = csv.reader(lines, delimiter=delimiter)
            while True:
                records: list[list[str]] = []
                failure: UsageError | None = None
                try:
                    records.extend(islice(reader, size))
                except UnicodeDecodeError:
                    failure = undecodable(number + len(records))
                except csv.Error as exc:
                    failure = UsageError(_("{label}: row {number}: {problem}").format(
                        label=label, number=number + len(records) + 1, problem=exc))
                lines_read = list(zip(range(number + 1, number + 1 + len(records)), records,
                                      strict=True))
                number += len(records)
                if lines_read or failure is not None:
                    yield lines_read, failure
                if failure is not None or len(records) < size:
                    return

        try:
            yield from split_batches(text, delimiter=delimiter, width=len(header), size=size,
                                     number=1, read_by_csv=read_by_csv,
                                     undecodable=undecodable)
        finally:
            text.close()

    source.rows = rows()
    source._batches = batches
    return source


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float):
        # A spreadsheet number: its shortest decimal form is what the user sees.
        exact = Decimal(repr(value))
        return str(int(exact)) if exact == exact.to_integral_value() else format(exact, "f")
    return str(value)


def check_xlsx_archive(path: Path) -> None:
    """Refuse a workbook whose parts would expand too much, from the archive's directory
    alone; a file that is no zip archive is left for openpyxl to name."""
    label = path.name
    try:
        with zipfile.ZipFile(path) as archive:
            parts = archive.infolist()
    except (OSError, zipfile.BadZipFile, ValueError):
        return
    if len(parts) > XLSX_MAX_ENTRIES:
        raise UsageError(_("{label}: refused: the workbook has {parts} parts, more than the "
                           "{most} an import reads").format(label=label, parts=len(parts),
                                                            most=XLSX_MAX_ENTRIES))
    total = sum(part.file_size for part in parts)
    if total > XLSX_MAX_UNCOMPRESSED:
        raise UsageError(_("{label}: refused: the workbook expands to {size} MB, more than "
                           "the {most} MB an import reads (save it as CSV, or split it)")
                         .format(label=label, size=round(total / _MB),
                                 most=XLSX_MAX_UNCOMPRESSED // _MB))
    for part in parts:
        if part.file_size < XLSX_RATIO_FLOOR:
            continue
        ratio = part.file_size / max(part.compress_size, 1)
        if ratio > XLSX_MAX_RATIO:
            raise UsageError(_("{label}: refused: its part {part} expands {ratio} times, "
                               "more than the {most} times of a real workbook (a zip bomb?)")
                             .format(label=label, part=part.filename, ratio=round(ratio),
                                     most=XLSX_MAX_RATIO))


def open_xlsx(path: Path, mapping: Mapping) -> Source:
    """Open the first sheet (or the mapping's `sheet`) of a workbook, read-only."""
    from openpyxl import load_workbook

    label = path.name
    check_xlsx_archive(path)
    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except (OSError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise UsageError(_("{label}: not a readable XLSX workbook ({problem})").format(
            label=label, problem=exc)) from exc
    if mapping.sheet is not None:
        if mapping.sheet not in workbook.sheetnames:
            workbook.close()
            raise UsageError(_("{label}: no sheet named {sheet!r} (sheets: {sheets})").format(
                label=label, sheet=mapping.sheet, sheets=", ".join(workbook.sheetnames)))
        sheet = workbook[mapping.sheet]
    else:
        sheet = workbook.worksheets[0]
    values = sheet.iter_rows(values_only=True)
    first = next(values, None)
    if first is None or not any(cell is not None for cell in first):
        workbook.close()
        raise UsageError(_("{label}: the sheet is empty (no header row)").format(label=label))
    header = [mapping.rename(_cell_text(cell)) for cell in first]
    while header and not header[-1]:
        header.pop()
    max_row = sheet.max_row
    source = Source(label, header, iter(()), max_row if isinstance(max_row, int) else None)

    def rows() -> Iterator[tuple[int, list[str]]]:
        try:
            for number, row in enumerate(values, start=2):
                source._rows_read = number
                cells = [_cell_text(cell) for cell in row]
                if not any(cell.strip() for cell in cells):
                    continue
                yield number, cells
        finally:
            workbook.close()

    source.rows = rows()
    return source


def open_source(path: Path, mapping: Mapping) -> Source:
    """Open `path` as CSV or XLSX, chosen by its suffix."""
    if not path.is_file():
        raise UsageError(_("{path}: no such file").format(path=path))
    if path.suffix.lower() in XLSX_SUFFIXES:
        return open_xlsx(path, mapping)
    if path.suffix.lower() == ".xls":
        raise UsageError(_("{label}: the old .xls format is not read; save it as .xlsx or "
                           "CSV").format(label=path.name))
    return open_csv(path, mapping)
