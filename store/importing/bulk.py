"""Bulk writes of the import: many rows of one table in one driver call.

SQLAlchemy's generic per-row parameter handling costs more than the insert itself on a
million rows, so rows go straight to the driver, each value converted by its column
type's own bind processor, column by column: on SQLite an executemany of prebuilt
tuples, on PostgreSQL a COPY.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

from sqlalchemy import ARRAY, JSON, ColumnElement, Connection, Table, bindparam, func, select
from sqlalchemy.sql.schema import ScalarElementColumnDefault

LOOKUP_CHUNK = 900  # bound parameters per IN (...) list, well under SQLite's limit

T = TypeVar("T")


def chunks(items: Sequence[T], size: int = LOOKUP_CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def one_of(conn: Connection, column: ColumnElement[Any],
           values: Sequence[Any]) -> ColumnElement[bool]:
    """`column IN values`, the look-up of an import's keys among what is stored.

    On PostgreSQL the values go as one array, unnested in a subquery. With a placeholder
    per value, PostgreSQL planned from the table's statistics, which a book loaded a
    moment before does not have yet: it read every invoice of the creditor and filtered
    them by number. Measured, 100 look-ups of 900 keys in a 200,000-invoice book: 2.6 s
    with placeholders, 0.5 s unnested; 0.5 s and 0.2 s once the statistics were taken.
    (`= ANY` of the array was faster still on numbers, but took 7.9 s on ids before the
    statistics: the subquery was never slow.)

    `engine.id_sets` binds a run's debtor ids as one array too, but as `= ANY`: inside
    the run's large statements that measured faster (a run of 395 debtors on
    PostgreSQL: 0.29-0.32 s, against 0.51 s with this subquery); here the keys are
    probed in an index, where the subquery is the safe form. SQLite keeps its
    placeholders, which it probes fastest (`json_each`, as `engine.id_sets` uses it:
    a 200,000-row re-import 3.5 s so, 12.5 s through it); and these conditions are
    SQLAlchemy's own constructs, so each statement is compiled once and cached."""
    if conn.dialect.name == "postgresql":
        array = bindparam(None, list(values), type_=ARRAY(column.type))
        return column.in_(select(func.unnest(array)).scalar_subquery())
    return column.in_(values)


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
        process: Callable[[Any], Any] | None = \
            table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
        if dialect.name == "postgresql" and isinstance(table.c[name].type, JSON):
            # psycopg's processor wraps each document for its dumper, which COPY then
            # calls per row; the text itself (what the dumper would write) converts
            # once per distinct document.
            process = getattr(dialect, "_json_serializer", None) or json.dumps
        if name not in given:
            default = defaults[name] if process is None else process(defaults[name])
            columns.append([default] * count)
            continue
        values = given[name]
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
    # Straight to the driver, as COPY above: SQLAlchemy would copy each row's tuple.
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.executemany(sql, converted)
    finally:
        cursor.close()


def _converted(values: list[Any], process: Callable[[Any], Any]) -> list[Any]:
    """`process` applied to each distinct value once (they repeat: dates, enums,
    timestamps, custom attributes), mapped back over the column."""
    if values and type(values[0]) is dict:
        return _converted_documents(values, process)
    if values and values.count(values[0]) == len(values):  # one value (timestamps)
        return [process(values[0])] * len(values)
    try:
        memo = {value: process(value) for value in set(values)}
    except TypeError:  # unhashable values (JSON documents): convert each
        return [process(value) for value in values]
    return list(map(memo.__getitem__, values))


def _converted_documents(values: list[Any], process: Callable[[Any], Any]) -> list[Any]:
    """The JSON of each document (custom attributes), once per distinct document."""
    if not any(values):  # every document empty: a file without custom columns
        return [process(values[0])] * len(values)
    ids = list(map(id, values))
    if len(set(ids)) * 2 <= len(values):  # documents shared between rows (the importer's)
        documents = dict(zip(ids, values, strict=True))
        texts = {key: process(document) for key, document in documents.items()}
        return list(map(texts.__getitem__, ids))
    try:
        # Keyed by their items in order, since the order is the JSON's.
        keys = list(map(tuple, map(dict.items, values)))
        distinct = set(keys)
    except TypeError:  # not all documents, or nested ones: convert each
        return [process(value) for value in values]
    # Text values only, as a file's cells are: 1 and True are equal keys, not equal JSON.
    if all(type(item[1]) is str for key in distinct for item in key):
        memo = {key: process(dict(key)) for key in distinct}
        return list(map(memo.__getitem__, keys))
    return [process(value) for value in values]
