"""The store migrates itself and the migrations describe exactly the models."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from relance.store.db import Store
from relance.store.migrate import current_revision, head_revision, include_object
from relance.store.models import Base


def test_a_new_database_is_migrated_to_the_latest_revision(store: Store) -> None:
    assert current_revision(store.engine) == head_revision(store.engine)
    tables = set(inspect(store.engine).get_table_names())
    assert {"creditor", "debtor", "invoice", "action", "action_item", "event"} <= tables


def test_migrations_match_the_models(store: Store) -> None:
    with store.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={
            "compare_type": True, "include_object": include_object(conn.dialect.name)})
        differences = compare_metadata(context, Base.metadata)
    assert differences == [], "run scripts/make_migration.py: models and migrations differ"


