"""A fresh database per campaign round: a SQLite file, or a PostgreSQL schema of its own
(dropped afterwards) on the test server."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, text

from relance.store.db import Store, open_store

PG_URL = os.environ.get(
    "RELANCE_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@dataclass(frozen=True)
class Database:
    kind: str  # "sqlite" or "postgresql"
    url: str
    schema: str | None
    store: Store


def _admin(sql: str) -> None:
    engine = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text(sql))
    finally:
        engine.dispose()


@contextmanager
def fresh_database(kind: str, folder: Path) -> Iterator[Database]:
    """A migrated, empty store of `kind` ("sqlite" under `folder`, or "postgresql")."""
    if kind == "sqlite":
        url = f"sqlite:///{folder / 'relance.sqlite'}"
        store = open_store(url)
        try:
            yield Database(kind, url, None, store)
        finally:
            store.dispose()
        return
    # The worker's name, when under xdist, says whose a leftover schema is.
    schema = f"faults_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}_{uuid.uuid4().hex[:12]}"
    _admin(f'CREATE SCHEMA "{schema}"')
    store = open_store(PG_URL, schema=schema)
    try:
        yield Database(kind, PG_URL, schema, store)
    finally:
        store.dispose()
        _admin(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
