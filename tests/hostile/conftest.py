"""The seed workspace, built once per session, and a PostgreSQL schema seeded alike for the
probes that also run on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from relance.cli import main
from tests.conftest import PG_URL, PostgresSchemas
from tests.hostile.bench import EXAMPLE_INVOICES, seed_workspace


@pytest.fixture(scope="session")
def hostile_seed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return seed_workspace(tmp_path_factory.mktemp("hostile") / "seed")


@pytest.fixture(scope="session")
def hostile_pg_schema(pg_schemas: PostgresSchemas, hostile_seed: Path) -> Iterator[str]:
    """One schema for every PostgreSQL probe: they are refusals, which store nothing."""
    name = pg_schemas.create()
    url = f"{PG_URL}?options=-csearch_path%3D{name}"
    try:
        main(["-w", str(hostile_seed), "--db", url, "import", "invoices",
              str(EXAMPLE_INVOICES)])
    except SystemExit as exc:
        assert not exc.code, "seeding the PostgreSQL schema failed"
    try:
        yield name
    finally:
        pg_schemas.drop(name)
