"""Shared fixtures: a real store on SQLite and on PostgreSQL for every test that asks.

`store` is parametrised over both databases. Each PostgreSQL case gets a schema of its
own, dropped afterwards. When no PostgreSQL server answers, the test errors loudly: a
skipped database is a defect, not a pass.

Under pytest-xdist (`-n auto`) every worker is a process of its own: schemas carry the
worker's name and a random part, files live under the worker's `tmp_path`, and servers
bind port 0. The few tests that touch something database-wide (a fixed advisory-lock
key) are marked `exclusive` and run while no other worker runs a test (see
`_take_turns`). docs/testing.md says how to run which part.
"""

from __future__ import annotations

import fcntl
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

# The suite reads relance in English, the source language, whatever the machine's
# locale: set before relance is imported, for this process and the commands it starts.
# Tests of the French interface ask for it (`[ui] language`, `LANG`, `using_language`).
for _variable in ("LANGUAGE", "LC_ALL", "LC_MESSAGES"):
    os.environ.pop(_variable, None)
os.environ["LANG"] = "en_GB.UTF-8"
# Every command the suite runs runs in its own process, whatever command server a
# developer keeps running; the server's tests start their own (tests/app).
os.environ["RELANCE_NO_SERVER"] = "1"

from sqlalchemy import create_engine, text  # noqa: E402

from relance.kernel.i18n import current_language, set_language  # noqa: E402
from relance.store.db import Store, open_store  # noqa: E402

PG_URL = os.environ.get(
    "RELANCE_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
# "gw0", "gw1"... in an xdist worker; absent in a plain run.
XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER")
EXAMPLES = Path(__file__).resolve().parents[2] / "shared" / "examples"
if not EXAMPLES.is_dir():  # a clone elsewhere: the examples are vendored as test data
    EXAMPLES = Path(__file__).resolve().parent / "data" / "examples"


class PostgresSchemas:
    """Creates and drops one throw-away schema per test on the test server."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.admin = create_engine(url, isolation_level="AUTOCOMMIT")
        try:
            with self.admin.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception as exc:
            raise RuntimeError(
                f"PostgreSQL does not answer at {url} ({exc.__class__.__name__}). "
                "The store tests need it: start it with "
                "`pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start` "
                "or set RELANCE_TEST_PG_URL."
            ) from exc

    def create(self) -> str:
        # The worker's name says whose schema a leftover is; the random part keeps two
        # workers (or two engineers' runs on one server) from ever picking the same one.
        name = f"t_{XDIST_WORKER or 'main'}_{uuid.uuid4().hex[:16]}"
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{name}"'))
        return name

    def drop(self, name: str) -> None:
        with self.admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))


@pytest.fixture(scope="session")
def pg_schemas() -> Iterator[PostgresSchemas]:
    schemas = PostgresSchemas(PG_URL)
    yield schemas
    schemas.admin.dispose()


@pytest.fixture(autouse=True)
def _take_turns(request: pytest.FixtureRequest,
                tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Between xdist workers: an `exclusive` test runs alone, the others side by side.

    A readers-writer lock on files of the run's shared temporary folder: every test holds
    the room shared, an `exclusive` one holds it alone. Passing through the turnstile
    first lets a waiting `exclusive` test in before the next ordinary one, so a busy
    worker cannot keep it waiting until the timeout."""
    if XDIST_WORKER is None:
        yield
        return
    shared = tmp_path_factory.getbasetemp().parent  # .../pytest-N, above popen-gwN
    exclusive = request.node.get_closest_marker("exclusive") is not None
    with (shared / "relance-turnstile.lock").open("a") as turnstile, \
            (shared / "relance-room.lock").open("a") as room:
        fcntl.flock(turnstile, fcntl.LOCK_EX)
        try:
            fcntl.flock(room, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        finally:
            fcntl.flock(turnstile, fcntl.LOCK_UN)
        try:
            yield
        finally:
            fcntl.flock(room, fcntl.LOCK_UN)


def make_sqlite_store(directory: Path) -> Store:
    return open_store(f"sqlite:///{directory / 'relance.sqlite'}")


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str | None]]:
    """A fresh, empty database as (url, schema): a SQLite file, or a PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'relance.sqlite'}", None
        return
    schemas: PostgresSchemas = request.getfixturevalue("pg_schemas")
    name = schemas.create()
    try:
        yield PG_URL, name
    finally:
        schemas.drop(name)


@pytest.fixture
def store(db_url: tuple[str, str | None]) -> Iterator[Store]:
    """A migrated store, on SQLite and on PostgreSQL."""
    url, schema = db_url
    opened = open_store(url, schema=schema)
    try:
        yield opened
    finally:
        opened.dispose()


@pytest.fixture
def pg_store(pg_schemas: PostgresSchemas) -> Iterator[Store]:
    """A migrated store on PostgreSQL alone, in a schema of its own: for what only
    PostgreSQL lets happen (two transactions committing side by side)."""
    name = pg_schemas.create()
    opened = open_store(PG_URL, schema=name)
    try:
        yield opened
    finally:
        opened.dispose()
        pg_schemas.drop(name)


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    opened = make_sqlite_store(tmp_path)
    try:
        yield opened
    finally:
        opened.dispose()


@pytest.fixture
def examples_dir() -> Path:
    return EXAMPLES


@pytest.fixture(autouse=True)
def _speak_english_again() -> Iterator[None]:
    """A test that switched to French (a command's `[ui] language`, say) leaves the
    next test in English."""
    yield
    if current_language() != "en":
        set_language("en")
