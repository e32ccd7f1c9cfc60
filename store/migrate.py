"""Alembic migrations, applied from code so that a workspace is migrated on first use."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from relance.store.models import present_on

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["engine"] = engine
    return config


def include_object(dialect: str) -> Callable[..., bool]:
    """Alembic's filter for comparing the models with a database: what exists on one
    database only (`models.only_on`) is left out on the others."""

    def include(item: object, _name: str | None, _kind: str, _reflected: bool,
                _compare_to: object) -> bool:
        return present_on(item, dialect)

    return include


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision(engine: Engine) -> str | None:
    return ScriptDirectory.from_config(alembic_config(engine)).get_current_head()


def upgrade(engine: Engine) -> None:
    """Bring the schema to the latest revision; a no-op when it is there already."""
    if current_revision(engine) == head_revision(engine):
        return
    command.upgrade(alembic_config(engine), "head")
