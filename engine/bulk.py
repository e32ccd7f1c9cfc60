"""Writing a run's rows fast: the driver's `executemany` on SQLite, `COPY` on PostgreSQL.

A first run over a large book queues a hundred thousand actions at once. psycopg sends
an `executemany` as one statement per row, and SQLAlchemy's multi-row INSERTs make
psycopg parse huge query strings; `COPY` streams the rows instead. Column defaults
that live in Python (timestamps, empty JSON) are filled in here, since COPY does not
run them.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from sqlalchemy import Column, Date, DateTime, Table
from sqlalchemy.engine import Connection
from sqlalchemy.types import JSON

BATCH = 5000
# One encoder for every JSON cell: `json.dumps` with options builds a new one per call.
_JSON_TEXT = json.JSONEncoder(ensure_ascii=False, default=str).encode


class JsonText(str):
    """A JSON cell's value already serialised by the caller (the event log hashes that
    very text): written as it is, not serialised again."""

    __slots__ = ()


def _defaults(table: Table, rows: Sequence[dict[str, Any]]) -> list[str]:
    """The columns to write: those given, plus those with a Python-side default."""
    given = set().union(*(row.keys() for row in rows)) if rows else set()
    columns = []
    for column in table.columns:
        if column.name in given or (column.default is not None and not column.primary_key):
            columns.append(column.name)
    return columns


def _default_of(column: Column[Any]) -> Callable[[], Any]:
    """A column's Python-side default, as a function of nothing (None without one)."""
    arg = getattr(column.default, "arg", None)
    if callable(arg):
        return (lambda: arg(None)) if getattr(column.default, "is_callable", False) else arg
    return lambda: arg


def _row_builder(table: Table, columns: Sequence[str],
                 processes: Sequence[Callable[[Any], Any] | None]
                 ) -> Callable[[dict[str, Any]], tuple[Any, ...]]:
    """The function giving a row dict's values in `columns` order, each through its
    process (if any), a column's default where the row lacks it.

    Generated once per statement, one tuple display per row, as `engine.recording`
    does: a closure per cell cost a first run a tenth of its writing. The source holds
    only names made up here (`k0`, `d0`, `p0`); the column names, defaults and
    processes are bound objects of its namespace."""
    namespace: dict[str, Any] = {}
    values = []
    for n, (name, process) in enumerate(zip(columns, processes, strict=True)):
        namespace[f"k{n}"] = name
        namespace[f"d{n}"] = _default_of(table.columns[name])
        value = f"(r[k{n}] if k{n} in r else d{n}())"
        if process is not None:
            namespace[f"p{n}"] = process
            value = f"p{n}{value}"
        values.append(value)
    code = f"def build(r):\n    return ({', '.join(values)},)\n"
    exec(compile(code, "<relance row builder>", "exec"), namespace)
    built: Callable[[dict[str, Any]], tuple[Any, ...]] = namespace["build"]
    return built


def _json_cell(value: Any) -> Any:
    """A JSON value as COPY takes it: its text (`JsonText` as it is)."""
    if value is None or isinstance(value, JsonText):
        return value
    return _JSON_TEXT(value)


def bulk_insert(conn: Connection, table: Table, rows: Sequence[dict[str, Any]],
                *, into: str | None = None) -> None:
    """Insert `rows` (dicts of column values) in order, in the caller's transaction;
    `into` names another table of the same columns (PostgreSQL's scratch tables)."""
    if not rows:
        return
    if conn.dialect.name != "postgresql":
        _sqlite_insert(conn, table, rows, into or table.name)
        return
    columns = _defaults(table, rows)
    quoted = ", ".join(f'"{name}"' for name in columns)
    raw = conn.connection.dbapi_connection
    assert raw is not None
    build = _row_builder(table, columns, [
        _json_cell if isinstance(table.columns[name].type, JSON) else None
        for name in columns])
    with raw.cursor() as cursor, cursor.copy(  # type: ignore[attr-defined]
        f'COPY "{into or table.name}" ({quoted}) FROM STDIN'
    ) as copy:
        for row in rows:
            copy.write_row(build(row))


def _remembered(process: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """A bind processor that formats each value once: a run's rows share their dates
    and timestamps (the run's day, its `now`)."""
    seen: dict[Any, Any] = {}

    def cached(value: Any) -> Any:
        text = seen.get(value, _UNSEEN)
        if text is _UNSEEN:
            if len(seen) > 10_000:  # values that do not repeat: keep the memory bounded
                seen.clear()
            text = seen[value] = process(value)
        return text

    return cached


_UNSEEN = object()


def _unless_serialised(process: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """A JSON bind processor that leaves `JsonText` as it is."""
    def serialise(value: Any) -> Any:
        return value if isinstance(value, JsonText) else process(value)
    return serialise


def _sqlite_insert(conn: Connection, table: Table, rows: Sequence[dict[str, Any]],
                   into: str, *, then: str = "") -> None:
    """`executemany` straight on the driver's cursor, each value through the bind
    processor SQLAlchemy would apply (dates, JSON, enums): the same stored text, without
    SQLAlchemy building a parameter dict per row (a third of a first run's write time)."""
    dialect = conn.dialect
    columns = _defaults(table, rows)
    processes: list[Callable[[Any], Any] | None] = []
    for name in columns:
        column = table.columns[name]
        process: Callable[[Any], Any] | None = (
            column.type.dialect_impl(dialect).bind_processor(dialect))
        if process is not None and isinstance(column.type, Date | DateTime):
            process = _remembered(process)
        elif process is not None and isinstance(column.type, JSON):
            process = _unless_serialised(process)
        processes.append(process)
    build = _row_builder(table, columns, processes)
    quoted = ", ".join(f'"{name}"' for name in columns)
    marks = ", ".join("?" for _ in columns)
    statement = f'INSERT INTO "{into}" ({quoted}) VALUES ({marks}){then}'
    raw = conn.connection.dbapi_connection
    assert raw is not None
    cursor = raw.cursor()
    try:
        for start in range(0, len(rows), BATCH):
            cursor.executemany(statement, [build(row) for row in rows[start : start + BATCH]])
    finally:
        cursor.close()


def _batches(rows: Iterable[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    pending = iter(rows)
    while batch := list(itertools.islice(pending, BATCH)):
        yield batch


def bulk_upsert(conn: Connection, table: Table, rows: Iterable[dict[str, Any]], *,
                keys: Sequence[str]) -> None:
    """Insert `rows`, each as `bulk_insert` does, or, where a row with the same `keys`
    exists, set its columns that the rows give to the new values. `rows` may be a
    generator: they are built and sent a batch at a time. The table's name, its columns
    and `keys` are the schema's own, never a user's text."""
    batches = _batches(rows)
    first = next(batches, None)
    if first is None:
        return
    given = [column.name for column in table.columns
             if column.name in first[0] and column.name not in keys]
    quoted_keys = ", ".join(f'"{name}"' for name in keys)
    on_conflict = (f' ON CONFLICT ({quoted_keys}) DO UPDATE SET '
                   + ", ".join(f'"{name}" = excluded."{name}"' for name in given))
    if conn.dialect.name != "postgresql":
        for batch in itertools.chain([first], batches):
            _sqlite_insert(conn, table, batch, table.name, then=on_conflict)
        return
    # COPY into a scratch table, batch by batch, then one upsert from it: filling and
    # emptying the scratch table per batch cost a third more.
    scratch = f"incoming_{table.name}"
    conn.exec_driver_sql(f'CREATE TEMPORARY TABLE IF NOT EXISTS "{scratch}" '
                         f'(LIKE "{table.name}" INCLUDING DEFAULTS) ON COMMIT DELETE ROWS')
    conn.exec_driver_sql(f'DELETE FROM "{scratch}"')
    for batch in itertools.chain([first], batches):
        bulk_insert(conn, table, batch, into=scratch)
    columns = ", ".join(f'"{name}"' for name in _defaults(table, first))
    conn.exec_driver_sql(f'INSERT INTO "{table.name}" ({columns}) SELECT {columns} '
                         f'FROM "{scratch}"{on_conflict}')
