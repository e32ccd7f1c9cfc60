"""Bulk writes of the import: many rows of one table in one driver call.

SQLAlchemy's generic per-row parameter handling costs more than the insert itself on a
million rows, so rows go straight to the driver, each value converted by its column
type's own bind processor, column by column: on SQLite an executemany of prebuilt
tuples, on PostgreSQL a COPY.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

from sqlalchemy import Connection, Table
from sqlalchemy.sql.schema import ScalarElementColumnDefault

LOOKUP_CHUNK = 900  # bound parameters per IN (...) list, well under SQLite's limit

T = TypeVar("T")


def chunks(items: Sequence[T], size: int = LOOKUP_CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def insert_rows(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """INSERT many rows that all carry the same keys (see `insert_columns`)."""
    if rows:
        insert_columns(conn, table, {name: [row[name] for row in rows] for name in rows[0]})


def insert_columns(conn: Connection, table: Table, given: dict[str, list[Any]]) -> None:
    """INSERT the rows whose values `given` holds column by column (lists of one length).

    Scalar column defaults are filled in; callable ones (timestamps) must be given.
    """
    count = len(next(iter(given.values()), []))
    if not count:
        return
    dialect = conn.dialect
    defaults = {column.name: column.default.arg for column in table.c
                if column.name not in given
                and isinstance(column.default, ScalarElementColumnDefault)}
    names = [*given, *defaults]
    preparer = dialect.identifier_preparer
    listed = ", ".join(preparer.quote(name) for name in names)
    # Column by column: dates, enums and timestamps repeat, so each distinct value is
    # converted once.
    columns: list[list[Any]] = []
    for name in names:
        values = given[name] if name in given else [defaults[name]] * count
        process = table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
        if process is not None:
            values = _converted(values, process)
        columns.append(values)
    converted = zip(*columns, strict=True)
    if dialect.name == "postgresql":
        driver = conn.connection.driver_connection
        assert driver is not None
        with driver.cursor().copy(
                f"COPY {preparer.format_table(table)} ({listed}) FROM STDIN") as copy:
            for row in converted:
                copy.write_row(row)
        return
    sql = (f"INSERT INTO {preparer.format_table(table)} ({listed}) "
           f"VALUES ({', '.join('?' for _name in names)})")
    conn.exec_driver_sql(sql, list(converted))


def _converted(values: list[Any], process: Callable[[Any], Any]) -> list[Any]:
    memo: dict[Any, Any] = {}
    if values and type(values[0]) is dict:
        # Custom attributes (JSON documents) repeat too: keyed by their items in order,
        # since the order is the JSON's, and by the types of the values, since 1 and
        # True are equal but not the same JSON.
        try:
            return [memo[key] if (key := (tuple(value.items()),
                                          tuple(map(type, value.values())))) in memo
                    else memo.setdefault(key, process(value)) for value in values]
        except (TypeError, AttributeError):  # nested documents: convert each
            return [process(value) for value in values]
    try:
        return [memo[value] if value in memo else memo.setdefault(value, process(value))
                for value in values]
    except TypeError:  # unhashable values (JSON documents): convert each
        return [process(value) for value in values]
