"""Where the reading side of a large import keeps what it must remember of the whole file,
once it reads apart (`apart`): a private SQLite database in a temporary file.

Two things grow with a file: the row of each invoice number (a number met again refuses
the file, naming its first row) and each debtor's draft (a debtor's later rows are
compared with its earlier ones). Held as Python objects they cost about 120 bytes a row
and 800 bytes a debtor: a million rows naming 333,333 debtors took 460 MB in the reading
process alone. Here they cost the database's page cache (`SCRATCH_CACHE_KIB`) whatever
the file's size; the rest is in the temporary folder (`TMPDIR`), on disk or in the
system's file cache.

The database is SQLite's own temporary kind (opened with an empty name): made in the
folder SQLite keeps its temporary files in (`scratch_folder`), deleted when closed or
when the process ends however it ends, seen by no other process. Nothing is ever rolled
back, so it keeps no journal and syncs nothing. A failure (that folder full or
unwritable) is raised as an `OSError` naming the folder, which the command line tells in
one sentence.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import sqlite3
from collections.abc import Iterable, Iterator
from typing import Any

from relance.kernel.i18n import _

SCRATCH_CACHE_KIB = 8 * 1024
"""The scratch database's page cache: the numbers of the last batches and the pages
of the debtor drafts looked up stay in it, the rest is read back when needed."""
_LOOKUP_CHUNK = 500  # numbers per look-up (SQLite takes at most 32,766 parameters)


class ScratchFailed(OSError):
    """The scratch database could not be made or written."""


class Scratch:
    """The reading side's scratch database: the first row of each invoice number and
    each debtor's draft, by creditor."""

    def __init__(self) -> None:
        with _told():
            self._conn = sqlite3.connect("", isolation_level=None)
            for pragma in ("journal_mode = OFF", "synchronous = OFF",
                           f"cache_size = -{SCRATCH_CACHE_KIB}", "locking_mode = EXCLUSIVE"):
                self._conn.execute(f"PRAGMA {pragma}")
            self._conn.execute(
                "CREATE TABLE first_row (creditor TEXT, number TEXT, row INTEGER NOT NULL, "
                "PRIMARY KEY (creditor, number)) WITHOUT ROWID")
            self._conn.execute(
                "CREATE TABLE draft (creditor TEXT, ref TEXT, draft BLOB NOT NULL, "
                "PRIMARY KEY (creditor, ref)) WITHOUT ROWID")
            # One transaction for the whole file: nothing is committed batch by batch.
            self._conn.execute("BEGIN")

    def close(self) -> None:
        self._conn.close()

    # ------------------------------------------------------------------ numbers

    def add_numbers(self, rows: Iterable[tuple[str, str, int]]) -> int:
        """Record (creditor, number, row) for each number not recorded yet (the earlier
        row stays); how many were new."""
        with _told():
            before = self._conn.total_changes
            self._conn.executemany(
                "INSERT OR IGNORE INTO first_row (creditor, number, row) VALUES (?, ?, ?)",
                rows)
            return self._conn.total_changes - before

    def first_rows(self, creditor: str, numbers: list[str]) -> dict[str, int]:
        """The recorded row of each of the creditor's `numbers` recorded so far."""
        found: dict[str, int] = {}
        with _told():
            for start in range(0, len(numbers), _LOOKUP_CHUNK):
                chunk = numbers[start:start + _LOOKUP_CHUNK]
                marks = ", ".join("?" * len(chunk))
                found.update(self._conn.execute(
                    f"SELECT number, row FROM first_row WHERE creditor = ? "
                    f"AND number IN ({marks})", (creditor, *chunk)))
        return found

    # ------------------------------------------------------------------ drafts

    def save_drafts(self, drafts: Iterable[tuple[tuple[str, str], Any]]) -> None:
        """Keep each ((creditor, ref), draft's state), replacing what was kept of that
        debtor."""
        with _told():
            self._conn.executemany(
                "INSERT OR REPLACE INTO draft (creditor, ref, draft) VALUES (?, ?, ?)",
                _pickled(drafts))

    def draft(self, key: tuple[str, str]) -> Any:
        """The draft's state kept of a debtor (`save_drafts`); KeyError if none was."""
        with _told():
            found = self._conn.execute(
                "SELECT draft FROM draft WHERE creditor = ? AND ref = ?", key).fetchone()
        if found is None:
            raise KeyError(key)
        return pickle.loads(found[0])  # written by this very process


def _pickled(drafts: Iterable[tuple[tuple[str, str], Any]],
             ) -> Iterator[tuple[str, str, bytes]]:
    dumps, protocol = pickle.dumps, pickle.HIGHEST_PROTOCOL
    for (creditor, ref), draft in drafts:
        yield creditor, ref, dumps(draft, protocol)


def scratch_folder() -> str:
    """The folder SQLite makes its temporary files in, as its Unix layer chooses it: the
    first of SQLITE_TMPDIR, TMPDIR, /var/tmp, /usr/tmp and /tmp that is a folder this
    process may write in, else the current folder."""
    for folder in (os.environ.get("SQLITE_TMPDIR"), os.environ.get("TMPDIR"), "/var/tmp",
                   "/usr/tmp", "/tmp"):
        if folder and os.path.isdir(folder) and os.access(folder, os.W_OK | os.X_OK):
            return folder
    return "."


@contextlib.contextmanager
def _told() -> Iterator[None]:
    """What SQLite raises in the block, as the `ScratchFailed` the command line tells."""
    try:
        yield
    except sqlite3.Error as exc:
        raise ScratchFailed(0, _(
            "the import's scratch database failed ({problem}); nothing was imported "
            "(SQLITE_TMPDIR or TMPDIR may name another folder)").format(problem=exc),
            scratch_folder()) from exc
