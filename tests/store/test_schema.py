"""The store migrates itself and the migrations describe exactly the models."""

from __future__ import annotations

import datetime as dt

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.schema import CreateIndex

from relance.store.db import Store
from relance.store.migrate import (
    alembic_config,
    current_revision,
    head_revision,
    include_object,
)
from relance.store.models import Base

AT = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


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


def test_the_open_invoice_indexes_hold_the_open_invoices_only_where_declared() -> None:
    dialects: list[Dialect] = [sqlite.dialect(), postgresql.dialect()]  # type: ignore[no-untyped-call]
    created = {
        (index.name, dialect.name): str(CreateIndex(index).compile(dialect=dialect))
        for index in Base.metadata.tables["invoice"].indexes for dialect in dialects}
    partial = {key for key, ddl in created.items() if ddl.endswith("WHERE balance_minor > 0")}
    assert partial == {
        ("ix_invoice_open_due", "sqlite"), ("ix_invoice_open_due", "postgresql"),
        ("ix_invoice_open_debtor", "postgresql"),
        ("ix_invoice_open_debtor_fields", "sqlite")}


def test_the_partial_indexes_stored_are_partial(store: Store) -> None:
    """What the migrations made, read back from the database itself."""
    with store.engine.connect() as conn:
        found: dict[str, str]
        if store.dialect == "sqlite":
            found = dict(conn.execute(text(
                "SELECT name, sql FROM sqlite_master WHERE tbl_name = 'invoice' "
                "AND type = 'index' AND sql IS NOT NULL")).all())
        else:
            found = dict(conn.execute(text(
                "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'invoice' "
                "AND schemaname = current_schema()")).all())
    partial = {name for name, ddl in found.items() if "balance_minor > 0" in ddl}
    assert partial == ({"ix_invoice_open_due", "ix_invoice_open_debtor_fields"}
                       if store.dialect == "sqlite" else
                       {"ix_invoice_open_due", "ix_invoice_open_debtor"})


def _invoice_indexes(store: Store) -> set[str]:
    return {str(index["name"]) for index in inspect(store.engine).get_indexes("invoice")}


def test_revision_0003_gives_sqlite_the_index_of_open_invoice_fields_and_takes_it_back(
        store: Store) -> None:
    config = alembic_config(store.engine)
    command.downgrade(config, "0002")
    assert "ix_invoice_open_debtor" in _invoice_indexes(store)
    assert "ix_invoice_open_debtor_fields" not in _invoice_indexes(store)
    command.upgrade(config, "head")
    if store.dialect == "sqlite":
        assert "ix_invoice_open_debtor_fields" in _invoice_indexes(store)
        assert "ix_invoice_open_debtor" not in _invoice_indexes(store)
    else:  # PostgreSQL keeps the index on the debtor alone
        assert "ix_invoice_open_debtor" in _invoice_indexes(store)
        assert "ix_invoice_open_debtor_fields" not in _invoice_indexes(store)
    assert current_revision(store.engine) == head_revision(store.engine)


def test_revision_0004_turns_plan_flags_into_statuses_and_back(store: Store) -> None:
    config = alembic_config(store.engine)
    command.downgrade(config, "0003")
    with store.engine.begin() as conn:
        conn.execute(text("INSERT INTO creditor (code, name, address, country, legal_mentions, "
                          "late_penalties, penalty_rate_frozen, settings, created_at) VALUES "
                          "('C', 'C', '', 'FR', '', false, false, '{}', :at)"), {"at": AT})
        conn.execute(text("INSERT INTO debtor (creditor_id, ref, name, segment, address, "
                          "country, language, payment_method, is_consumer, created_at, "
                          "updated_at) VALUES (1, 'D', 'D', '', '', 'FR', 'fr', '', false, "
                          ":at, :at)"), {"at": AT})
        for active in (True, False):
            conn.execute(text("INSERT INTO payment_plan (creditor_id, debtor_id, currency, "
                              "active, recorded_by, created_at) VALUES (1, 1, 'EUR', :a, "
                              "'alice', :at)"), {"a": active, "at": AT})
    command.upgrade(config, "head")
    with store.engine.connect() as conn:
        rows = conn.execute(text("SELECT status, agreed_on FROM payment_plan ORDER BY id"))
        assert [(status, str(day)) for status, day in rows] == [
            ("active", "2026-03-02"), ("cancelled", "2026-03-02")]
    command.downgrade(config, "0003")
    with store.engine.connect() as conn:
        flags = conn.execute(text("SELECT active FROM payment_plan ORDER BY id")).scalars()
        assert [bool(flag) for flag in flags] == [True, False]
    command.upgrade(config, "head")
    assert current_revision(store.engine) == head_revision(store.engine)
