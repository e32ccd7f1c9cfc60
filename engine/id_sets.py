"""`column IN (ids)` for thousands of ids, as one bound parameter.

A run of a few debtors (`engine.run_scope`) limits its statements to their ids: up to
tens of thousands after a large import. `column.in_(ids)` binds one parameter per id,
which SQLite caps (32,766) and both databases parse one by one. `in_ids` binds the
whole set once: a JSON array that SQLite unrolls with `json_each`, a `bigint[]` array
that PostgreSQL compares with `= ANY`.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import Any

from sqlalchemy import BigInteger, String, bindparam
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import Boolean


class InIds(ColumnElement[bool]):
    """`column` is one of `ids` (integers)."""

    inherit_cache = False
    type = Boolean()

    def __init__(self, column: ColumnElement[Any], ids: Collection[int]) -> None:
        self.column = column
        self.ids = sorted({int(one) for one in ids})


@compiles(InIds, "sqlite")
def _sqlite(element: InIds, compiler: SQLCompiler, **kw: Any) -> str:
    ids = bindparam(None, json.dumps(element.ids), type_=String())
    return (f"{compiler.process(element.column, **kw)} IN "
            f"(SELECT value FROM json_each({compiler.process(ids, **kw)}))")


@compiles(InIds, "postgresql")
def _postgresql(element: InIds, compiler: SQLCompiler, **kw: Any) -> str:
    ids = bindparam(None, element.ids, type_=ARRAY(BigInteger()))
    return f"{compiler.process(element.column, **kw)} = ANY({compiler.process(ids, **kw)})"


@compiles(InIds)
def _other(element: InIds, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.column.in_(element.ids), **kw)


def in_ids(column: ColumnElement[Any], ids: Collection[int]) -> ColumnElement[bool]:
    """`column IN ids`, bound as one parameter whatever the number of ids."""
    return InIds(column, ids)


def only_ids(column: ColumnElement[Any], ids: Collection[int] | None) -> list[ColumnElement[bool]]:
    """No condition when `ids` is None (every row); else `column` among `ids`: for a
    statement's `where(*...)`."""
    return [] if ids is None else [in_ids(column, ids)]
