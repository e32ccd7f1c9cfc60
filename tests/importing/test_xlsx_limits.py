"""A hostile workbook (issue 19): an XLSX is a zip archive, and one whose parts expand
hugely (a "zip bomb") used to be refused only after openpyxl had taken ~700 MB. The
archive's directory is now checked before openpyxl reads a byte of it."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from relance.kernel.errors import UsageError
from relance.store.db import Store
from relance.store.importing import Mapping, import_invoices, reading
from relance.store.importing.reading import open_source
from tests.importing.conftest import book_size, row

MIB = 1 << 20
SHEET = "xl/worksheets/sheet1.xml"


def workbook_bytes() -> bytes:
    """A valid workbook of one invoice, as openpyxl saves it."""
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.append(list(row("X-1")))
    sheet.append(list(row("X-1").values()))
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def bomb(path: Path, padding_mib: int, *, parts: int = 1) -> Path:
    """The workbook with `padding_mib` MiB of blanks before the end of its sheet (XML
    allows them), written a chunk at a time so the test itself stays small. The
    fastest deflate level still packs 1 MiB of blanks into ~5 KB."""
    with zipfile.ZipFile(io.BytesIO(workbook_bytes())) as source, \
            zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as target:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename != SHEET:
                target.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED)
                continue
            head, tail = data.rsplit(b"</worksheet>", 1)
            with target.open(SHEET, "w") as out:
                out.write(head)
                chunk = b" " * MIB
                for _ in range(padding_mib):
                    out.write(chunk)
                out.write(b"</worksheet>" + tail)
        for extra in range(parts - 1):
            target.writestr(f"xl/media/pad{extra}.bin", b" " * MIB)
    return path


def test_a_normal_workbook_passes_the_archive_check(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "book.xlsx"
    path.write_bytes(workbook_bytes())
    assert import_invoices(store, path).created == 1


def test_a_workbook_expanding_beyond_the_limit_is_refused_quickly_and_small(
        tmp_path: Path) -> None:
    path = bomb(tmp_path / "bomb.xlsx", 300)  # 300 MiB of sheet in ~1.4 MB of file
    assert path.stat().st_size < 3 * MIB
    # Measured in a process of its own: the peak resident size of this one would say
    # nothing about the import if an earlier test had used more.
    script = (
        "import resource, sys, time\n"
        "from pathlib import Path\n"
        "from relance.kernel.errors import UsageError\n"
        "from relance.store.importing import Mapping\n"
        "from relance.store.importing.reading import open_source\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "started = time.monotonic()\n"
        "try:\n"
        "    open_source(Path(sys.argv[1]), Mapping())\n"
        "    message = None\n"
        "except UsageError as exc:\n"
        "    message = exc.message\n"
        "after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "import json\n"
        "print(json.dumps({'message': message, 'grew_kib': after - before,\n"
        "                  'seconds': time.monotonic() - started}))\n"
    )
    done = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True,
                          text=True, timeout=120, check=True)
    result = json.loads(done.stdout)
    assert result["message"] == (
        "bomb.xlsx: refused: the workbook expands to 300 MB, more than the 200 MB an import "
        "reads (save it as CSV, or split it)")
    assert result["grew_kib"] < 20 * 1024  # well under 100 MB: nothing was expanded
    assert result["seconds"] < 2


def test_a_part_compressed_beyond_any_spreadsheet_is_refused(
        store: Store, tmp_path: Path) -> None:
    path = bomb(tmp_path / "dense.xlsx", 20)  # 20 MiB of blanks: below the size limit
    started = time.monotonic()
    with pytest.raises(UsageError) as refused:
        import_invoices(store, path)
    assert time.monotonic() - started < 2
    message = refused.value.message
    assert message.startswith(f"dense.xlsx: refused: its part {SHEET} expands ")
    assert message.endswith(" times, more than the 100 times of a real workbook "
                            "(a zip bomb?)")
    assert book_size(store) == (0, 0, 0)


def test_too_many_parts_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reading, "XLSX_MAX_ENTRIES", 12)
    path = bomb(tmp_path / "parts.xlsx", 0, parts=10)
    with pytest.raises(UsageError) as refused:
        open_source(path, Mapping())
    assert refused.value.message == (
        "parts.xlsx: refused: the workbook has 18 parts, more than the 12 an import reads")


def test_the_size_limit_counts_every_part(tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reading, "XLSX_MAX_UNCOMPRESSED", 4 * MIB)
    monkeypatch.setattr(reading, "XLSX_MAX_RATIO", 10_000)
    path = bomb(tmp_path / "many.xlsx", 0, parts=6)  # 5 parts of 1 MiB, none too big
    with pytest.raises(UsageError) as refused:
        open_source(path, Mapping())
    assert refused.value.message == (
        "many.xlsx: refused: the workbook expands to 5 MB, more than the 4 MB an import "
        "reads (save it as CSV, or split it)")


def test_a_file_that_is_not_a_zip_is_still_named(tmp_path: Path) -> None:
    path = tmp_path / "fake.xlsx"
    path.write_text("creditor,debtor_ref\n", encoding="utf-8")
    with pytest.raises(UsageError, match=r"^fake\.xlsx: not a readable XLSX workbook"):
        open_source(path, Mapping())
