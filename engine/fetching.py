"""The rows of a run's policy queries, read beside the engine's own work.

The rows are the database's own, not SQLAlchemy's: its per-row processing (a Row
object, dates parsed from SQLite's text) cost a sixth of a first run, and the recorders
read the values as they come (`engine.recording`).

- SQLite hands each query's rows back as one JSON array built inside SQLite
  (`json_group_array`), parsed in one call. Read row by row, the driver gives up and
  takes back the interpreter lock at every row: a thread reading so stalls whenever
  another thread computes, and two of them run no faster than one. Built in SQLite, a
  query runs whole without the lock.
- PostgreSQL sends a query's rows whole (through a server-side cursor it planned the
  policy queries for their first rows and without parallel workers, a quarter slower;
  they return only the acting invoices).

The queries run in lanes, threads that each take the next query, while the caller turns
the rows that have come back into action items: the database's time and the engine's
Python overlap. A lane takes the caller's connection, and with it its transaction,
until the last query is read; the caller does not touch it meanwhile. When the caller
vouches that a second connection may see what its own does (`reader`: a run has written
nothing the policies read), a second lane reads on it: on SQLite the run holds the
write lock, so the last commit is its view too, and each policy is split in two ranges
of debtor ids (`evaluate.debtor_ranges`, `compile_policy(debtors=...)`) to share the
work; on PostgreSQL the second connection takes the caller's snapshot
(`pg_export_snapshot`), as pg_dump's workers do. Without a `reader`, SQLite reads in
turn in the caller's thread.

The queries may be handed over as they are built (an iterator): the lanes start on the
first while the caller builds the others.

In every case the queries' rows come back in the order the queries were given.
"""

from __future__ import annotations

import collections
import contextlib
import json
import re
import threading
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, NamedTuple

from sqlalchemy import Select, func, select
from sqlalchemy.engine import Connection, Engine

from relance.engine.sqlcompile import CompiledPolicy
from relance.store.db import SQLITE_MMAP_BYTES

Row = Sequence[Any]
SQLITE_PARTS = 2  # per policy, with a second lane: one per core of a small server


class PolicyRows(NamedTuple):
    compiled: CompiledPolicy
    columns: list[str]
    rows: Sequence[Row]


def policy_rows(conn: Connection, compiled: Iterable[CompiledPolicy], *,
                reader: Engine | None = None) -> Iterator[PolicyRows]:
    """Each query run and read, in order (see module doc). `compiled` may be lazy: each
    query goes to a lane as soon as it is built."""
    if conn.dialect.name == "sqlite" and reader is None:
        return (_read(conn, query) for query in compiled)
    return _in_lanes(conn, compiled, reader)


def _as_json_array(statement: Select[Any]) -> tuple[list[str], Select[Any]]:
    rows = statement.subquery("acting_rows")
    columns = [column.name for column in rows.columns]
    return columns, select(func.json_group_array(func.json_array(*rows.columns)))


def _read(conn: Connection, query: CompiledPolicy) -> PolicyRows:
    if conn.dialect.name == "sqlite":
        columns, statement = _as_json_array(query.statement)
        text = conn.execute(statement).scalar_one()
        return PolicyRows(query, columns, json.loads(text) if text else [])
    result = conn.execute(query.statement)
    try:
        return PolicyRows(query, list(result.keys()), result.cursor.fetchall())
    finally:
        result.close()


_SNAPSHOT_ID = re.compile(r"[0-9A-Fa-f]+(-[0-9A-Fa-f]+)+")


@contextlib.contextmanager
def _second_connection(conn: Connection, reader: Engine) -> Iterator[Connection]:
    """A connection that sees the book as `conn` does (see module doc)."""
    if conn.dialect.name == "sqlite":
        with reader.connect() as other:
            # Through its page cache: mapped a second time, the file's pages would count
            # twice in the process's memory, for no measurable gain.
            other.exec_driver_sql("PRAGMA mmap_size = 0")
            try:
                yield other
            finally:  # the connection goes back to the pool as it came
                other.exec_driver_sql(f"PRAGMA mmap_size = {SQLITE_MMAP_BYTES}")
        return
    # PostgreSQL: the caller's snapshot, handed over.
    snapshot = conn.exec_driver_sql("SELECT pg_export_snapshot()").scalar_one()
    if not _SNAPSHOT_ID.fullmatch(snapshot):  # the server's text, checked before use
        raise RuntimeError(f"unexpected snapshot identifier {snapshot!r}")
    with reader.connect().execution_options(isolation_level="REPEATABLE READ") as other:
        other.exec_driver_sql(f"SET TRANSACTION SNAPSHOT '{snapshot}'")
        yield other


def _in_lanes(conn: Connection, compiled: Iterable[CompiledPolicy], reader: Engine | None
              ) -> Iterator[PolicyRows]:
    # The queries are handed to the lanes as they are compiled: building the first
    # statements (and the holiday tables a business-day rule loads) costs a fresh process
    # a tenth of a run, which the database's first query now hides.
    pending: collections.deque[tuple[int, CompiledPolicy]] = collections.deque()
    handed = 0
    all_handed = False
    read: dict[int, PolicyRows] = {}
    failures: list[BaseException] = []
    changed = threading.Condition()

    def lane(connection: Connection) -> None:
        try:
            while True:
                with changed:
                    while not pending and not all_handed and not failures:
                        changed.wait()
                    if failures or not pending:  # failed, or none left
                        return
                    index, query = pending.popleft()
                rows = _read(connection, query)
                with changed:
                    read[index] = rows
                    changed.notify_all()
        except BaseException as error:  # raised in the caller's thread
            with changed:
                failures.append(error)
                changed.notify_all()

    with contextlib.ExitStack() as stack:
        connections = [conn]
        if reader is not None:
            connections.append(stack.enter_context(_second_connection(conn, reader)))
        lanes = [threading.Thread(target=lane, args=(connection,), name="relance-policy-rows")
                 for connection in connections]
        for thread in lanes:
            thread.start()
        try:
            for query in compiled:
                with changed:
                    pending.append((handed, query))
                    handed += 1
                    changed.notify()
            with changed:
                all_handed = True
                changed.notify_all()
            for index in range(handed):
                with changed:
                    while index not in read and not failures:
                        changed.wait()
                    if failures:
                        raise failures[0]
                    rows = read.pop(index)
                yield rows
        finally:
            with changed:  # a caller that stops early stops the lanes after their query
                pending.clear()
                all_handed = True
                changed.notify_all()
            for thread in lanes:
                thread.join()
