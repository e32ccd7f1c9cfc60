"""Opening a store: one SQLAlchemy engine per database URL, migrated on first use.

SQLite (the embedded default) is put in WAL mode with a busy timeout and foreign keys on
every connection; writers that must not interleave (claiming actions, appending to the
event log) open their transaction with `BEGIN IMMEDIATE` through `write_transaction`.
PostgreSQL runs with JIT off, since it only adds seconds to the analytic queries of a run.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, create_engine, event, make_url, text
from sqlalchemy.engine import URL

if TYPE_CHECKING:
    # Imported by `open_store`: `relance db current` and `db upgrade` need an engine only.
    from sqlalchemy.orm import Session, sessionmaker

from relance.kernel.errors import ConfigError
from relance.kernel.i18n import _

SQLITE_CACHE_KIB = 64 * 1024  # per connection, allocated as pages are read
SQLITE_MMAP_BYTES = 1 << 30  # address space, not memory: the file's pages are shared
SQLITE_BUSY_TIMEOUT_MS = 30_000


@dataclass(frozen=True)
class Store:
    """An open database: its engine and a session factory bound to it."""

    engine: Engine
    sessions: sessionmaker[Session]

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    def session(self) -> Session:
        return self.sessions()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Session]:
        """A short unit of work: commits on success, rolls back on any error."""
        with self.sessions() as session, session.begin():
            yield session

    @contextlib.contextmanager
    def write_transaction(self) -> Iterator[Session]:
        """A transaction that takes the write lock first (SQLite) so it cannot deadlock
        on upgrading from read to write; on PostgreSQL an ordinary transaction."""
        with self.sessions() as session, session.begin():
            if self.is_sqlite:
                session.connection(execution_options={"sqlite_immediate": True})
            yield session

    def dispose(self) -> None:
        self.engine.dispose()


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def _on_sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # pysqlite's own transaction handling would hide BEGIN IMMEDIATE; we emit BEGIN
    # ourselves (see the "begin" listener) so the isolation level is ours to choose.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute("PRAGMA synchronous = NORMAL")
    # The engine's policy queries visit the same invoice and history pages once per
    # policy. SQLite's default page cache (2 MB) sends each visit back to the operating
    # system, one read call per page; a larger cache and memory-mapped reads kept a run
    # over a million invoices a third faster (bench/engine_bench.py).
    cursor.execute(f"PRAGMA cache_size = -{SQLITE_CACHE_KIB}")
    cursor.execute(f"PRAGMA mmap_size = {SQLITE_MMAP_BYTES}")
    cursor.close()


def _on_sqlite_begin(conn: Connection) -> None:
    # write_transaction asks for the write lock up front with this execution option.
    immediate = conn.get_execution_options().get("sqlite_immediate", False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _on_pg_connect(dbapi_connection: Any, _record: Any) -> None:
    with dbapi_connection.cursor() as cursor:
        cursor.execute("SET jit = off")
    dbapi_connection.commit()


def make_engine(url: str | URL, *, schema: str | None = None, echo: bool = False,
                create_folders: bool = True) -> Engine:
    """An engine for `url`; `schema` confines a PostgreSQL connection to one schema
    (the tests give each case its own). A SQLite file's folders are made if need be,
    unless `create_folders` is false: the command line names a book a person typed,
    where a missing folder is a mistake to tell, not a path to make."""
    try:
        parsed = make_url(url)
    except Exception as exc:  # SQLAlchemy raises ArgumentError with a terse text
        raise ConfigError(_("not a database URL: {url} ({problem})").format(
            url=str(url), problem=exc)) from exc
    backend = parsed.get_backend_name()
    kwargs: dict[str, Any] = {"echo": echo}
    if backend == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            folder = Path(parsed.database).parent
            if create_folders:
                folder.mkdir(parents=True, exist_ok=True)
            elif not folder.is_dir():
                raise ConfigError(_(
                    "no book at {path}: the folder {folder} does not exist (the database "
                    "comes from --db, RELANCE_DATABASE_URL or relance.toml)").format(
                        path=parsed.database, folder=folder))
        engine = create_engine(parsed, **kwargs)
        event.listen(engine, "connect", _on_sqlite_connect)
        event.listen(engine, "begin", _on_sqlite_begin)
        return engine
    if backend == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        # psycopg would prepare a statement on the server from its fifth execution,
        # and PostgreSQL may then plan it once for all values (a generic plan). With
        # the tables analysed, the dispatch's look-up of the actions holding a group's
        # invoices got such a plan: guessing one live action, it read the whole action
        # table for each group (136 ms a group, against 4 ms planned for its values,
        # 10,000 actions). Every statement is sent unprepared, planned for its values.
        connect_args: dict[str, Any] = {"prepare_threshold": None}
        if schema:
            connect_args["options"] = f"-csearch_path={schema}"
        kwargs["connect_args"] = connect_args
        engine = create_engine(parsed, pool_pre_ping=True, **kwargs)
        event.listen(engine, "connect", _on_pg_connect)
        return engine
    raise ConfigError(_("unsupported database {backend!r}: use sqlite:/// or postgresql://")
                      .format(backend=backend))


def open_store(
    url: str | URL, *, schema: str | None = None, migrate: bool = True, echo: bool = False,
    create_folders: bool = True,
) -> Store:
    """Open (and by default migrate to the latest schema) the store at `url`.

    A database migrated by a newer relance is refused here (`SchemaTooNew`, one
    sentence) rather than read with a schema this code does not know."""
    engine = make_engine(url, schema=schema, echo=echo, create_folders=create_folders)
    if migrate:
        from relance.store.migrate import upgrade

        try:
            upgrade(engine)
        except BaseException:
            engine.dispose()
            raise
    from sqlalchemy.orm import sessionmaker

    return Store(engine=engine, sessions=sessionmaker(engine, expire_on_commit=False))


def ping(engine: Engine) -> None:
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
