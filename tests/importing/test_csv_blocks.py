"""An invoice CSV read a block at a time as columns gives the very rows, numbers and
failures of Python's CSV reader, whatever the file holds; files the split cannot read
(quotes, lone carriage returns, ragged rows) are read by the CSV reader.
"""

from __future__ import annotations

import csv
import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from relance.kernel.errors import UsageError
from relance.store.db import Store
from relance.store.importing import ImportRefused, import_invoices
from relance.store.importing.csv_blocks import ColumnBatch
from relance.store.importing.mapping import Mapping
from relance.store.importing.reading import open_csv
from tests.importing.conftest import CANONICAL, book_size, row, write_csv

WIDTH = 5
HEADER = ";".join(f"c{position}" for position in range(WIDTH))


def _by_csv(path: Path) -> tuple[list[tuple[int, list[str]]], str | None]:
    """The rows as the row-by-row reader gives them (blank rows skipped), and its failure."""
    found: list[tuple[int, list[str]]] = []
    try:
        found.extend(open_csv(path, Mapping()).rows)
    except UsageError as failure:
        return found, str(failure)
    return found, None


def _by_blocks(path: Path, size: int) -> tuple[list[tuple[int, list[str]]], str | None,
                                               int]:
    """The rows of the batches (blank rows skipped), the failure, and how many rows came
    as columns."""
    found: list[tuple[int, list[str]]] = []
    as_columns = 0
    for lines, failure in open_csv(path, Mapping()).batches(size):
        if isinstance(lines, ColumnBatch):
            as_columns += len(lines)
        found.extend((number, cells) for number, cells in lines if "".join(cells).strip())
        if failure is not None:
            return found, str(failure), as_columns
    return found, None, as_columns


def _cell(rng: random.Random, odd: float) -> str:
    if rng.random() < odd:
        return rng.choice(['"quoted"', '"a;b"', 'in"side', "", " ", "x\ry", "é",
                           "tab\there", "\x00", '"two\nlines"', "\u2028"])
    return "".join(rng.choice("abcdefé 0123456789,.-") for _ in range(rng.randint(0, 12)))


def _line(rng: random.Random, odd: float) -> str:
    width = WIDTH
    if rng.random() < odd:
        width = rng.choice([0, 1, WIDTH - 1, WIDTH + 1])
    return ";".join(_cell(rng, odd) for _ in range(width))


def _random_file(rng: random.Random, path: Path, odd: float) -> Path:
    end = rng.choice(["\n", "\r\n"])
    lines = [HEADER, *(_line(rng, odd) for _ in range(rng.randint(0, 400)))]
    text = end.join(lines)
    if rng.random() < 0.7:
        text += end
    if odd and rng.random() < 0.5:  # a stray line end, of either kind, somewhere
        where = rng.randint(0, len(text))
        text = text[:where] + rng.choice(["\r", "\n", "\r\n"]) + text[where:]
    path.write_bytes(text.encode("utf-8"))
    return path


@pytest.mark.parametrize("seed", range(40))
def test_random_files_read_as_the_csv_reader_reads_them(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    odd = [0.0, 0.002, 0.02, 0.2][seed % 4]
    path = _random_file(rng, tmp_path / "rows.csv", odd)
    expected, expected_failure = _by_csv(path)
    for size in (1, 2, 7, 50, 5000):  # blocks of 128 characters up to the whole file
        found, failure, _as_columns = _by_blocks(path, size)
        assert (found, failure) == (expected, expected_failure), (seed, size)


def test_plain_files_come_as_columns_with_either_line_end(tmp_path: Path) -> None:
    for end in ("\n", "\r\n"):
        lines = [HEADER, *(f"a{index};b;c;d;e{index}" for index in range(2_000))]
        path = tmp_path / "plain.csv"
        path.write_bytes(end.join(lines).encode("utf-8"))  # no end after the last line
        found, failure, as_columns = _by_blocks(path, 100)
        assert failure is None and as_columns == 2_000
        assert found[0] == (2, ["a0", "b", "c", "d", "e0"])
        assert found[-1] == (2_001, ["a1999", "b", "c", "d", "e1999"])


def test_a_block_of_ragged_rows_is_read_by_the_csv_reader_and_the_rest_split(
        tmp_path: Path) -> None:
    lines = [HEADER, *(f"a{index};b;c;d;e" for index in range(3_000))]
    lines[1_500] = "short;row"
    lines[1_501] = ""
    path = tmp_path / "ragged.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    found, failure, as_columns = _by_blocks(path, 100)
    assert failure is None and 2_000 < as_columns < 3_000
    assert (1_501, ["short", "row"]) in found
    assert [number for number, _cells in found] == [n for n in range(2, 3_002) if n != 1_502]


def test_a_quote_hands_the_rest_of_the_file_to_the_csv_reader(tmp_path: Path) -> None:
    lines = [HEADER, *(f"a{index};b;c;d;e" for index in range(3_000))]
    lines[2_000] = 'a;"two\nlines; one row";c;d;e'
    path = tmp_path / "quoted.csv"
    path.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")
    found, failure, as_columns = _by_blocks(path, 100)
    assert failure is None and 0 < as_columns < 2_000
    assert (2_001, ["a", "two\nlines; one row", "c", "d", "e"]) in found
    assert found[-1] == (3_001, ["a2999", "b", "c", "d", "e"])
    assert (found, failure) == _by_csv(path)[:2]


@pytest.mark.parametrize("stray", ["\n", "\r"])
def test_a_stray_line_end_in_a_crlf_file_ends_a_row_as_the_csv_reader_does(
        tmp_path: Path, stray: str) -> None:
    lines = [HEADER, *(f"a{index};b;c;d;e" for index in range(1_000))]
    lines[600] = f"a;b{stray}c;d;e;f"  # two short rows for the CSV reader
    path = tmp_path / "stray.csv"
    path.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")
    found, failure, _as_columns = _by_blocks(path, 50)
    assert failure is None
    assert (601, ["a", "b"]) in found and (602, ["c", "d", "e", "f"]) in found
    assert (found, failure) == _by_csv(path)[:2]


@pytest.mark.parametrize("delimiter", ['"', "\r", "\n"])
def test_a_delimiter_the_split_cannot_take_leaves_the_file_to_the_csv_reader(
        tmp_path: Path, delimiter: str) -> None:
    path = tmp_path / "odd.csv"
    # Each line once with the delimiter: a quote opening a line quotes its field.
    path.write_text(f"a{delimiter}b\n{delimiter}cd\ne{delimiter}f\n", encoding="utf-8")
    mapping = Mapping(delimiter=delimiter)
    batches: list[tuple[int, list[str]]] = []
    failure: str | None = None
    try:
        for lines, failed in open_csv(path, mapping).batches(10):
            assert not isinstance(lines, ColumnBatch)
            batches.extend(lines)
            failure = str(failed) if failed else None
    except UsageError as refused:
        failure = str(refused)
    expected: list[tuple[int, list[str]]] = []
    expected_failure: str | None = None
    try:
        expected.extend(open_csv(path, mapping).rows)
    except UsageError as refused:
        expected_failure = str(refused)
    assert ([row for row in batches if "".join(row[1]).strip()], failure) == \
        (expected, expected_failure)


def test_a_cell_over_the_csv_limit_fails_on_its_row(tmp_path: Path) -> None:
    lines = [HEADER, *(f"a{index};b;c;d;e" for index in range(1_000))]
    lines[700] = "a;" + "x" * 300 + ";c;d;e"
    path = tmp_path / "wide.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    saved = csv.field_size_limit(200)
    try:
        found, failure, _as_columns = _by_blocks(path, 50)
        assert failure is not None and "row 701:" in failure and "field larger" in failure
        assert found[-1][0] == 700
        assert (found, failure) == _by_csv(path)
    finally:
        csv.field_size_limit(saved)


def test_a_line_longer_than_many_blocks_is_left_to_the_csv_reader(tmp_path: Path) -> None:
    lines = [HEADER, *(f"a{index};b;c;d;e" for index in range(100))]
    lines[50] = "a;" + "x" * 3_000_000 + ";c;d;e"  # 3 MB in one cell, over the limit
    path = tmp_path / "long.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    found, failure, as_columns = _by_blocks(path, 10)  # blocks of 1,280 characters
    assert failure is not None and "row 51:" in failure and "field larger" in failure
    assert 0 < as_columns < 50 and found[-1][0] == 50
    assert (found, failure) == _by_csv(path)


def test_a_byte_not_in_the_encoding_past_a_long_line_is_named_not_raised(
        tmp_path: Path) -> None:
    """The line a block cut is completed before the CSV reader takes over: a byte not in
    the encoding further down that line is a refusal naming its row, as with the reader."""
    lines = [HEADER.encode(), *(f"a{index};b;c;d;e".encode() for index in range(10))]
    lines.append(b'a;"' + b"x" * 20_000 + b'\xe9";c;d;e')  # row 12, past the 8 KB decoded
    path = tmp_path / "long.csv"
    path.write_bytes(b"\n".join(lines) + b"\n")
    _found, failure, _as_columns = _by_blocks(path, 1)
    assert failure is not None and "row 12: not utf-8" in failure
    assert failure == _by_csv(path)[1]


def _book(count: int) -> Iterator[dict[str, str]]:
    for index in range(count):
        yield row(f"FA-{index:05d}", ref=f"D-{index % 40}", name=f"Client {index % 40}",
                  email=f"client{index % 40}@example.fr")


@pytest.mark.parametrize("quoted", [False, True])
def test_a_byte_not_in_the_encoding_is_named_on_its_row(store: Store, tmp_path: Path,
                                                         quoted: bool) -> None:
    path = write_csv(tmp_path / "book.csv", list(_book(20_000)), delimiter=";")
    data = path.read_bytes().split(b"\r\n")
    data[15_000] = data[15_000].replace(b"Client", b"Cli\xe9nt")  # Latin-1, not UTF-8
    if quoted:  # read by the CSV reader from the first block on
        data[2] = data[2].replace(b"Client", b'"Client"')
    path.write_bytes(b"\r\n".join(data))
    with pytest.raises(UsageError, match=r"row 15001: not utf-8(-sig)? text"):
        import_invoices(store, path)
    assert book_size(store) == (0, 0, 0)


@pytest.mark.parametrize(("row", "expected"), [(0, "row 1:"), (4, "row 5:")])
def test_a_small_file_names_the_row_of_its_undecodable_byte(tmp_path: Path, row: int,
                                                            expected: str) -> None:
    """A small file is decoded whole as its header is read: still its own row named."""
    path = write_csv(tmp_path / "small.csv", list(_book(6)), delimiter=";")
    lines = path.read_bytes().split(b"\r\n")
    lines[row] = lines[row].replace(b"e", b"\xe9", 1)
    path.write_bytes(b"\r\n".join(lines))
    with pytest.raises(UsageError) as refused:
        open_csv(path, Mapping())
    assert f"small.csv: {expected} not utf-8" in str(refused.value)


def test_a_control_character_in_a_split_block_refuses_its_row(store: Store,
                                                              tmp_path: Path) -> None:
    rows = list(_book(12_000))
    rows[9_000]["debtor_name"] = "Client\x0b9000"
    rows[10_000]["invoice_number"] = "FA\u2028X"
    path = write_csv(tmp_path / "book.csv", rows, delimiter=";")
    with pytest.raises(ImportRefused) as refused:
        import_invoices(store, path)
    errors = refused.value.errors
    assert len(errors) == 2, errors
    assert "row 9002, column debtor_name" in errors[0] and "U+000B" in errors[0]
    assert "row 10002, column invoice_number" in errors[1] and "U+2028" in errors[1]
    assert book_size(store) == (0, 0, 0)
    rows[9_000]["debtor_name"] = "Client\t9000"  # a tab is a cell's right
    rows[10_000]["invoice_number"] = "FA-X"
    import_invoices(store, write_csv(tmp_path / "book.csv", rows, delimiter=";"))
    assert book_size(store)[0] == 12_000


def test_the_canonical_header_width_is_what_is_split(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "book.csv", list(_book(3)), delimiter=";")
    assert len(CANONICAL) == 16
    batches = list(open_csv(path, Mapping()).batches(5_000))
    assert len(batches) == 1 and isinstance(batches[0][0], ColumnBatch)
    assert len(batches[0][0].columns) == 16
