"""New ids chosen before the rows are written, so that a bulk write (COPY, an
executemany) need not read them back."""

from __future__ import annotations

from sqlalchemy import Table, func, select, text
from sqlalchemy.engine import Connection


def reserve_ids(conn: Connection, table: Table, count: int) -> list[int]:
    """`count` new ids for `table`, in increasing order: from its sequence (PostgreSQL),
    or the ids SQLite would give the rows itself (an integer primary key without
    AUTOINCREMENT takes the largest id plus one). On SQLite the caller's transaction
    must hold the write lock already (it has written, or began IMMEDIATE), so that no
    one else inserts into the table before these rows."""
    if conn.dialect.name != "postgresql":
        top = conn.execute(select(func.max(table.c.id))).scalar() or 0
        return list(range(top + 1, top + 1 + count))
    result = conn.execute(
        text("SELECT nextval(pg_get_serial_sequence(:table, 'id')) "
             "FROM generate_series(1, :count) ORDER BY 1"),
        {"table": table.name, "count": count},
    )
    return [int(row[0]) for row in result]
