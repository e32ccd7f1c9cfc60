"""Writing a run's rows fast: plain `executemany` on SQLite, `COPY` on PostgreSQL.

A first run over a large book queues a hundred thousand actions at once. psycopg sends
an `executemany` as one statement per row, and SQLAlchemy's multi-row INSERTs make
psycopg parse huge query strings; `COPY` streams the rows instead. Column defaults
that live in Python (timestamps, empty JSON) are filled in here, since COPY does not
run them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Table, insert, text
from sqlalchemy.engine import Connection
from sqlalchemy.types import JSON

BATCH = 5000


def _defaults(table: Table, rows: Sequence[dict[str, Any]]) -> list[str]:
    """The columns to write: those given, plus those with a Python-side default."""
    given = set().union(*(row.keys() for row in rows)) if rows else set()
    columns = []
    for column in table.columns:
        if column.name in given or (column.default is not None and not column.primary_key):
            columns.append(column.name)
    return columns


def _cell(table: Table, name: str) -> Callable[[dict[str, Any]], Any]:
    """How to get one column's value from a row dict (its default when absent)."""
    column = table.columns[name]
    default = column.default
    arg = getattr(default, "arg", None)
    if callable(arg):
        make = (lambda: arg(None)) if getattr(default, "is_callable", False) else arg
    else:
        make = lambda: arg  # noqa: E731
    if isinstance(column.type, JSON):
        def cell(row: dict[str, Any]) -> Any:
            value = row[name] if name in row else make()
            return None if value is None else json.dumps(value, ensure_ascii=False,
                                                          default=str)
        return cell
    return lambda row: row[name] if name in row else make()


def bulk_insert(conn: Connection, table: Table, rows: Sequence[dict[str, Any]],
                *, into: str | None = None) -> None:
    """Insert `rows` (dicts of column values) in order, in the caller's transaction;
    `into` names another table of the same columns (PostgreSQL's scratch tables)."""
    if not rows:
        return
    if conn.dialect.name != "postgresql":
        for start in range(0, len(rows), BATCH):
            conn.execute(insert(table), rows[start : start + BATCH])
        return
    columns = _defaults(table, rows)
    quoted = ", ".join(f'"{name}"' for name in columns)
    raw = conn.connection.dbapi_connection
    assert raw is not None
    with raw.cursor() as cursor, cursor.copy(  # type: ignore[attr-defined]
        f'COPY "{into or table.name}" ({quoted}) FROM STDIN'
    ) as copy:
        cells = [_cell(table, name) for name in columns]
        for row in rows:
            copy.write_row([cell(row) for cell in cells])


def reserve_ids(conn: Connection, table: Table, count: int) -> list[int]:
    """`count` new ids from the table's sequence (PostgreSQL), in increasing order."""
    result = conn.execute(
        text("SELECT nextval(pg_get_serial_sequence(:table, 'id')) "
             "FROM generate_series(1, :count) ORDER BY 1"),
        {"table": table.name, "count": count},
    )
    return [int(row[0]) for row in result]
