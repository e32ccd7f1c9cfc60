"""The bench every hostile probe runs on: a real workspace, the real command line, a real
database, and a loopback listener that says whether anything was fetched.

A seed workspace (`relance init`, then the example invoices imported) is built once per
test session; each probe works on a copy of it, so probes never see each other's data and
a copy costs a file copy, not an `init`.
"""

from __future__ import annotations

import re
import shutil
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import func, select

from relance.cli import main
from relance.store.db import Store, open_store
from relance.store.models import Base
from tests.cli import run_cli

EXAMPLE_INVOICES = Path(__file__).resolve().parents[1] / "data" / "examples" / "invoices.csv"


def seed_workspace(root: Path) -> Path:
    """`relance init ROOT` and the example invoices (creditor JCDA, nine debtors)."""
    for args in (["init", str(root)],
                 ["-w", str(root), "import", "invoices", str(EXAMPLE_INVOICES)]):
        try:
            main(args)
        except SystemExit as exc:
            assert not exc.code, f"seeding failed: relance {' '.join(args)}"
    return root


def row_counts(store: Store) -> dict[str, int]:
    """Rows in every table of the book: what "nothing was stored" is checked against."""
    with store.transaction() as session:
        return {table.name: session.execute(select(func.count()).select_from(table))
                .scalar_one() for table in Base.metadata.sorted_tables}


# What no stored one-line text may hold (multi-line ones may keep LF, CR and tabs).
CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def texts_in(value: object) -> Iterator[str]:
    """The strings of a stored value, those inside a JSON document included."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from texts_in(key)
            yield from texts_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from texts_in(item)


def stored_controls(store: Store) -> list[str]:
    """`table.column = value` for every stored text holding a control character: what a
    neutralised import must leave none of."""
    found: list[str] = []
    with store.transaction() as session:
        for table in Base.metadata.sorted_tables:
            for record in session.execute(select(table)).mappings():
                for column, value in record.items():
                    found += [f"{table.name}.{column} = {text[:80]!r}"
                              for text in texts_in(value) if CONTROL.search(text)]
    return found


@dataclass
class Outcome:
    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return self.out + self.err


@dataclass
class Bench:
    """One probe's workspace and the commands it runs there."""

    root: Path
    capsys: pytest.CaptureFixture[str]
    db_url: str | None = None  # None: the workspace's own SQLite file
    schema: str | None = None
    _store: Store | None = field(default=None, repr=False)

    @property
    def store(self) -> Store:
        if self._store is None:
            url = self.db_url or f"sqlite:///{self.root / 'relance.sqlite'}"
            self._store = open_store(url, schema=self.schema)
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.dispose()
            self._store = None

    def relance(self, *args: str) -> Outcome:
        """`relance -w ROOT [--db URL] ARGS`, in-process; no traceback may reach the user."""
        prefix = ["-w", str(self.root)]
        if self.db_url is not None:
            url = self.db_url
            if self.schema is not None:  # the command line reaches the schema by the URL
                url += f"{'&' if '?' in url else '?'}options=-csearch_path%3D{self.schema}"
            prefix += ["--db", url]
        code, out, err = run_cli(self.capsys, *prefix, *args)
        for stream in (out, err):
            assert "Traceback" not in stream, stream
        return Outcome(code, out, err)

    def counts(self) -> dict[str, int]:
        return row_counts(self.store)

    def refused(self, *args: str, names: tuple[str, ...]) -> Outcome:
        """Run a command that must be refused: exit 2, every word of `names` in the
        message (the file, the line or row, the field), and no row added or changed."""
        before = self.counts()
        outcome = self.relance(*args)
        assert outcome.code == 2, outcome
        for word in names:
            assert word in outcome.err, (word, outcome.err)
        assert self.counts() == before, "a refused command stored something"
        return outcome

    def accepted(self, *args: str) -> Outcome:
        outcome = self.relance(*args)
        assert outcome.code == 0, outcome
        return outcome

    def accepted_clean(self, *args: str) -> Outcome:
        """Run a command that must succeed and leave no control character in the book."""
        outcome = self.accepted(*args)
        assert stored_controls(self.store) == []
        return outcome


class Listener:
    """A TCP listener on 127.0.0.1 that counts the connections it receives: a probe that
    plants a loopback URL proves nothing was fetched when the count stays at zero."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.port: int = self.sock.getsockname()[1]
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            conn.close()

    def __enter__(self) -> Listener:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self.sock.close()


@contextmanager
def listening() -> Iterator[Listener]:
    with Listener() as listener:
        yield listener


def copy_seed(seed: Path, target: Path) -> Path:
    shutil.copytree(seed, target)
    return target
