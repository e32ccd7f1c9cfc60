"""Telling a payment file's format by its content, and reading it as a bank statement.

A file's suffix says little (banks name CFONB files `.txt`, `.dat`, `.cfo`; MT940 files
`.sta`, `.940`, `.txt`), so the first 64 KB decide:

- `camt053`: XML (after a byte-order mark and blanks, it opens with `<`); the camt
  reader refuses XML that is not a `Document` holding statements;
- `cfonb120`: the first non-blank line is an `01` record (two digits, a five-digit
  bank code) and some line is exactly 120 characters long;
- `mt940`: a line opens a `:20:` field, and another a `:25:`, `:60F:`, `:60M:` or `:61:`
  field (SWIFT `{1:…}{2:…}{4:` header blocks allowed);
- `csv`: an XLSX workbook, or a first line holding `,`, `;` or a tab: the caller reads
  it as a table.

Anything else is refused with the file's name.
"""

from __future__ import annotations

import re
from pathlib import Path

from relance.kernel.errors import UsageError
from relance.kernel.i18n import _
from relance.store.importing.camt import read_camt053
from relance.store.importing.cells import control_problem
from relance.store.importing.cfonb120 import WIDTH, read_cfonb120
from relance.store.importing.mt940 import read_mt940
from relance.store.importing.rows import RowError
from relance.store.importing.statement import BankEntry

FORMATS = ("camt053", "cfonb120", "mt940", "csv")
HEAD_BYTES = 65_536
_XLSX_SUFFIXES = (".xlsx", ".xlsm")
_ZIP_MAGIC = b"PK\x03\x04"
_CFONB_OPENING = re.compile(r"01\d{5}")
_MT940_OPENING = re.compile(r"^:20:", re.M)
_MT940_FIELD = re.compile(r"^:(?:25|60F|60M|61):", re.M)


def detect_format(path: Path) -> str:
    """`camt053`, `cfonb120`, `mt940` or `csv`, from the start of the file."""
    if not path.is_file():
        raise UsageError(_("{path}: no such file").format(path=path))
    with path.open("rb") as handle:
        head = handle.read(HEAD_BYTES)
    if path.suffix.lower() in _XLSX_SUFFIXES or head.startswith(_ZIP_MAGIC):
        return "csv"
    text = head.decode("utf-8-sig", errors="replace").lstrip()
    if text.startswith("<"):
        return "camt053"
    lines = [line.rstrip("\r") for line in text.split("\n")]
    if len(head) == HEAD_BYTES:
        lines = lines[:-1]  # the last line may be cut short by the head's end
    first = next((line for line in lines if line.strip()), "")
    if _CFONB_OPENING.match(first) and any(len(line) == WIDTH for line in lines):
        return "cfonb120"
    # The header blocks may share a line with the text block: `{1:…}{2:…}{4:`.
    fields = "\n".join(line.split("{4:", 1)[-1] for line in lines)
    if _MT940_OPENING.search(fields) and _MT940_FIELD.search(fields):
        return "mt940"
    if any(mark in first for mark in (",", ";", "\t")):
        return "csv"
    raise UsageError(_("{label}: not a payment file: neither a bank statement (camt.053 XML, "
                       "CFONB 120, MT940) nor a CSV file").format(label=path.name))


def read_statement(path: Path) -> tuple[str, list[BankEntry], list[RowError]]:
    """The file's format, and its entries and faulty entries when it is a statement.

    For `csv` both lists are empty: the caller reads the file with its table reader.
    """
    kind = detect_format(path)
    if kind == "camt053":
        entries, errors = read_camt053(path)
    elif kind == "cfonb120":
        entries, errors = read_cfonb120(path)
    elif kind == "mt940":
        entries, errors = read_mt940(path)
    else:
        entries, errors = [], []
    unit = "entry" if kind == "camt053" else "line"
    return kind, entries, [*errors, *_control_errors(entries, unit)]


def _control_errors(entries: list[BankEntry], unit: str) -> list[RowError]:
    """What of an entry is stored or shown (its references) must hold no control
    character: PostgreSQL refuses a NUL outright, and a terminal would act on others."""
    errors = []
    for entry in entries:
        for name, value in ((_("reference"), entry.bank_ref),
                            (_("original reference"), entry.original_ref),
                            (_("return reason"), entry.return_reason)):
            problem = control_problem(value) if value else None
            if problem is not None:
                errors.append(RowError(entry.number, name, problem, unit))
    return errors
