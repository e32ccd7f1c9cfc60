"""Reading a CSV file's rows a block of text at a time, as columns, wherever Python's CSV
reader would read them the same way.

Python's `csv` reader makes a list per row, which the import then turns into columns
again. A block of text that holds no quote character, and whose line ends are all `\\n`
or all `\\r\\n`, holds no record spanning lines and no quoted delimiter: each line is a
record, and its cells are exactly the line split at the delimiter. Such a block is split
once into all of its cells, and each column is a slice of that list (every `width`-th
cell): half the cost of the CSV reader and of turning its rows into columns.

Whatever else a block holds goes to the CSV reader, so that the rows are the very rows
`csv.reader` makes, numbered the same way: a block with a line not as wide as the
header (a blank line, a short or long row, a cell longer than the reader accepts) is
read by it alone; a quote or a lone `\\r` hands it the rest of the file.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import chain, repeat
from typing import TextIO

from relance.kernel.errors import UsageError

BLOCK_CHARS_PER_ROW = 128
"""A block holds about `size` rows of this many characters (a canonical row: 100 to 200)."""
LONG_LINE_BLOCKS = 4
"""A line longer than this many blocks is left to the CSV reader."""


@dataclass(frozen=True, slots=True)
class ColumnBatch:
    """Consecutive rows of a CSV file, all as wide as its header, held as columns."""

    first: int  # the row number of the first row (the header is row 1)
    columns: list[list[str]]
    # The rows' text as the file has it, line ends included: one search of it for
    # refused characters vouches for every cell (line ends aside).
    text: str

    def __len__(self) -> int:
        return len(self.columns[0])

    def __getitem__(self, index: int) -> tuple[int, list[str]]:
        return self.first + index, [column[index] for column in self.columns]

    def __iter__(self) -> Iterator[tuple[int, list[str]]]:
        return iter(zip(range(self.first, self.first + len(self)),
                        map(list, zip(*self.columns, strict=True)), strict=True))


RowBatch = tuple[list[tuple[int, list[str]]], UsageError | None]
"""Consecutive rows as (row number, cells), and the error that ended the file, if any."""

CsvBatches = Callable[[Iterable[str], int], Iterator[RowBatch]]
"""The CSV reader's batches of the given lines, the first numbered one past the number
given: what `split_batches` hands what it cannot split."""


def split_batches(text: TextIO, *, delimiter: str, width: int, size: int, number: int,
                  read_by_csv: CsvBatches, undecodable: Callable[[int], UsageError],
                  ) -> Iterator[RowBatch | tuple[ColumnBatch, None]]:
    """The rows of `text` after row `number`, in batches of about `size` rows: as
    columns where a block can be split, else as the CSV reader's (row number, cells).
    `undecodable(row)` is the failure of a file that stops decoding past `row`."""
    # One column: a blank line would split as one cell. (A quote or a line end as the
    # delimiter needs nothing here: a block holding a quote goes to the CSV reader, and
    # a header cut at a line end is one column.)
    if width < 2:
        yield from read_by_csv(text, number)
        return
    block_chars = size * BLOCK_CHARS_PER_ROW
    limit = csv.field_size_limit()
    carry = ""  # the start of a line the last block cut
    while True:
        try:
            block = text.read(block_chars)
        except UnicodeDecodeError:
            yield [], undecodable(number)
            return
        data = carry + block if carry else block
        if not block:  # the end of the file: its last line, if it has no line end
            if not data:
                return
            piece, carry = data, ""
        else:
            cut = data.rfind("\n") + 1
            if cut == 0:  # a line longer than the block
                if len(data) <= LONG_LINE_BLOCKS * block_chars:
                    carry = data  # read on
                    continue
                # Far longer than any row: the CSV reader takes it (and the rest), and
                # names its cell over the limit, rather than the line be gathered here
                # a block at a time, each block copying what came before.
                yield from _rest_by_csv(data, text, number, read_by_csv, undecodable)
                return
            piece, carry = data[:cut], data[cut:]
        end = "\r\n" if "\r" in piece else "\n"
        if '"' in piece or (end == "\r\n" and not
                            piece.count("\r") == piece.count("\n") == piece.count("\r\n")):
            # Records may span lines from here on: the CSV reader takes the rest, from
            # the start of this block.
            yield from _rest_by_csv(piece + carry, text, number, read_by_csv, undecodable)
            return
        lines = piece.split(end)
        if piece.endswith(end):
            lines.pop()  # the empty text after the last line end
        if set(map(str.count, lines, repeat(delimiter))) != {width - 1} \
                or max(map(len, lines)) > limit:
            for batch in read_by_csv(lines, number):
                yield batch
                if batch[1] is not None:  # the reader stopped: so does the file
                    return
        else:
            cells = delimiter.join(lines).split(delimiter)
            yield ColumnBatch(number + 1, [cells[position::width] for position in
                                           range(width)], piece), None
        number += len(lines)
        if not block:
            return


def _rest_by_csv(head: str, text: TextIO, number: int, read_by_csv: CsvBatches,
                 undecodable: Callable[[int], UsageError]) -> Iterator[RowBatch]:
    """The CSV reader's batches of `head` (read, the start of a line at its end) and of
    the rest of `text`: the cut line is completed first, so that it reaches the reader
    whole."""
    try:
        head += text.readline()
    except UnicodeDecodeError:
        yield [], undecodable(number)
        return
    yield from read_by_csv(chain(io.StringIO(head, newline=""), text), number)
