"""The checks every import applies to a text cell before it can reach the database,
whatever the file's format: control characters, line breaks, and creditor codes.

One checker for all readers (canonical CSV/XLSX rows, FEC, payment CSV, mapping files),
so that a cell is refused the same way wherever it comes from. The readers name the
row and the column; the sentences here say what is wrong with the text.

- A control character (C0, DEL, C1) is refused everywhere but a tab: PostgreSQL cannot
  store a NUL at all (the driver raises) while SQLite stores it, escape sequences garble
  terminals, and C1 characters mostly betray a cp1252 file read as ISO-8859.
- A line break (CR, LF, U+2028, U+2029) is refused where one line is expected: names,
  references, numbers, e-mail addresses and phones end up in e-mail headers, file names
  and CSV exports, where a break starts a new header, path or row.
- A creditor code names folders (the outbox, templates per creditor) and appears in
  headers: it is kept to a small alphabet.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from relance.kernel.i18n import N_, _

LINE_BREAKS = frozenset("\n\r\u2028\u2029")
# Every character refused in some cell: the C0 controls but the tab, DEL and the C1
# controls, plus the line breaks a one-line cell refuses. Searched over a whole row at
# once: on a clean row, the common case, that is the only work done.
_SUSPECT = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]")
# The same over whole CSV rows, whose line ends (LF, CR) are in no cell.
_SUSPECT_IN_ROWS = re.compile("[\x00-\x08\x0b-\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029]")
_C1 = range(0x80, 0xA0)
# The same characters as bytes of a Latin-1 encoding (the line breaks U+2028 and U+2029
# have none: a text that holds them is not Latin-1).
_SUSPECT_LATIN1 = bytes([*range(0x00, 0x09), *range(0x0A, 0x20), *range(0x7F, 0xA0)])

CREDITOR_CODE_MAX = 40
_CREDITOR_CODE = re.compile(rf"[A-Za-z0-9][A-Za-z0-9._-]{{0,{CREDITOR_CODE_MAX - 1}}}")
CREDITOR_CODE_RULE = N_("use 1 to {most} ASCII letters, digits, '-', '_' and '.', starting "
                        "with a letter or a digit, with no '..' and no final '.'")

SHOWN_MAX = 60  # a refused value is quoted up to this length, else cut to 40 and '…'


def shown(value: str) -> str:
    """A value as a message quotes it: escaped, and cut when it is long."""
    if len(value) > SHOWN_MAX:
        value = value[:40] + "…"
    return repr(value)


def control_problem(text: str, *, multiline: bool = False) -> str | None:
    """Why a text cell is refused, or None: a control character other than a tab, or a
    line break where one line is expected (`multiline` False)."""
    match = _SUSPECT.search(text)
    while match is not None:
        char = match.group()
        where = match.start() + 1
        if char in LINE_BREAKS:
            if not multiline:
                return _("holds a line break ({code}, character {where}) where one line is "
                         "expected").format(code=f"U+{ord(char):04X}", where=where)
        elif ord(char) in _C1:
            return _("holds the control character {code} (character {where}), a sign of "
                     "text read in the wrong encoding").format(code=f"U+{ord(char):04X}",
                                                              where=where)
        else:
            return _("holds the control character {code} (character {where})").format(
                code=f"U+{ord(char):04X}", where=where)
        match = _SUSPECT.search(text, match.end())
    return None


def may_be_refused(text: str, *, line_ends: bool = False) -> bool:
    """Whether `text` (cells joined by tabs, a row or a whole batch) holds a character some
    cell refuses: when it does not, none of its cells needs a closer look. With
    `line_ends`, `text` is whole CSV rows whose only line breaks are their line ends
    (`\n` or `\r\n`, nowhere else), which are in no cell."""
    try:
        # Most files are Latin-1 text (French included): deleting the refused bytes
        # from its encoding runs at memory speed, three times the search's.
        data = text.encode("latin-1")
    except UnicodeEncodeError:
        return (_SUSPECT_IN_ROWS if line_ends else _SUSPECT).search(text) is not None
    allowed = text.count("\n") + text.count("\r") if line_ends else 0
    return len(data) - len(data.translate(None, _SUSPECT_LATIN1)) != allowed



@dataclass(frozen=True, slots=True)
class CellCheck:
    """The cells of a row to check: (position, column name, multi-line allowed)."""

    columns: tuple[tuple[int, str, bool], ...]

    def problems(self, cells: Sequence[str]) -> list[tuple[str, str]]:
        """(column, sentence) for each refused cell of the row, in column order."""
        # A tab cannot be refused, so it joins the cells without making a clean row
        # look suspect.
        if _SUSPECT.search("\t".join(cells)) is None:
            return []
        found: list[tuple[str, str]] = []
        for position, column, multiline in self.columns:
            if position < len(cells):
                problem = control_problem(cells[position], multiline=multiline)
                if problem is not None:
                    found.append((column, problem))
        return found


def creditor_code_problem(code: str) -> str | None:
    """Why a creditor code is refused, or None. The code goes into file paths and
    headers: letters, digits, `-`, `_` and `.` only, so no `/`, `\\`, CR/LF or `=?`; no
    leading `.` or `-` (hidden files, command options), no `..` (a parent folder) and no
    final `.` (which Windows drops, merging two creditors' folders)."""
    if (_CREDITOR_CODE.fullmatch(code) is not None and ".." not in code
            and not code.endswith(".")):
        return None
    return _("{code} is not a creditor code: {rule}").format(
        code=shown(code), rule=creditor_code_rule())


def creditor_code_rule() -> str:
    """What a creditor code may hold, in the language being spoken."""
    return _(CREDITOR_CODE_RULE).format(most=CREDITOR_CODE_MAX)
