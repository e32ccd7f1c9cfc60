"""Alembic migrations, applied from code so that a workspace is migrated on first use.

A database last migrated by a newer relance carries a revision this code has never
heard of; it is refused with one sentence (`SchemaTooNew`) before Alembic would fail on
it with a traceback, and before any command reads tables it does not understand.

Every command opens the store, and the store is nearly always at the code's newest
revision: that case is settled by one query of Alembic's version table against the
newest revision named in the scripts' own lines (`code_head`), without importing Alembic
or the scripts (a tenth of a second or more of each command's start-up). Anything else
goes through Alembic.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, inspect, text
from sqlalchemy.engine import make_url

from relance.kernel.errors import UsageError
from relance.kernel.i18n import _

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
VERSION_TABLE = "alembic_version"  # Alembic's default, which env.py keeps

# `revision: str = '0008'` and `down_revision: str | None = '0007'` (or None), as
# script.py.mako writes them.
_REVISION_LINE = re.compile(
    r"""^(?P<key>revision|down_revision)\s*(?::[^=\n]*)?=\s*"""
    r"""(?:'(?P<single>[^'\n]*)'|"(?P<double>[^"\n]*)"|(?P<none>None))\s*$""", re.M)


def alembic_config(engine: Engine) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["engine"] = engine
    return config


def include_object(dialect: str) -> Callable[..., bool]:
    """Alembic's filter for comparing the models with a database: what exists on one
    database only (`models.only_on`) is left out on the others."""

    from relance.store.models import present_on

    def include(item: object, _name: str | None, _kind: str, _reflected: bool,
                _compare_to: object) -> bool:
        return present_on(item, dialect)

    return include


class SchemaTooNew(UsageError):
    """The database was migrated by a newer relance: this one cannot read it."""


@dataclass(frozen=True)
class Revision:
    """One migration of the code: its identifier and its one-line description."""

    id: str
    title: str


@dataclass(frozen=True)
class SchemaState:
    """Where a database's schema stands against the code's migrations."""

    database: str
    current: str | None
    head: str

    @property
    def up_to_date(self) -> bool:
        return self.current == self.head


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


@cache
def code_head() -> str | None:
    """The newest revision of the shipped migrations, read from the lines naming each
    script's revision and the one it revises, without importing the scripts; None when
    those lines do not make one chain with one head (Alembic then decides)."""
    revised: set[str | None] = set()
    revisions: set[str] = set()
    for script in (MIGRATIONS_DIR / "versions").glob("*.py"):
        if script.name.startswith(("_", ".")):
            continue
        named = {found["key"]: found["single"] or found["double"] for found in
                 _REVISION_LINE.finditer(script.read_text(encoding="utf-8"))}
        if set(named) != {"revision", "down_revision"} or not named["revision"]:
            return None
        revisions.add(named["revision"])
        revised.add(named["down_revision"])
    heads = revisions - revised
    return heads.pop() if len(heads) == 1 else None


def recorded_revisions(engine: Engine) -> list[str]:
    """The revisions Alembic's version table holds (none on an empty database), read
    with one query."""
    with engine.connect() as conn:
        if not inspect(conn).has_table(VERSION_TABLE):
            return []
        return [str(row[0]) for row in conn.execute(
            text(f"SELECT version_num FROM {VERSION_TABLE}"))]


def at_code_head(engine: Engine) -> bool:
    """The database is at this code's newest revision: nothing to migrate or refuse."""
    head = code_head()
    return head is not None and recorded_revisions(engine) == [head]


def _scripts(engine: Engine) -> ScriptDirectory:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config(engine))


def head_revision(engine: Engine) -> str:
    return _head(_scripts(engine))


def _head(scripts: ScriptDirectory) -> str:
    head = scripts.get_current_head()
    assert head is not None, "the package ships no migration"
    return head


def describe_database(engine: Engine) -> str:
    """How a user names this database: its file name, or the PostgreSQL database."""
    url = make_url(str(engine.url))
    if url.get_backend_name() == "sqlite":
        return Path(url.database).name if url.database else _("the in-memory SQLite database")
    if not url.database:
        return _("PostgreSQL database")
    return _("PostgreSQL database {name}").format(name=url.database)


def schema_state(engine: Engine) -> SchemaState:
    """The database's revision and the code's head; `SchemaTooNew` when the database's
    revision is not one of this code's migrations."""
    if at_code_head(engine):
        head = code_head()
        assert head is not None
        return SchemaState(describe_database(engine), head, head)
    scripts = _scripts(engine)
    state = SchemaState(describe_database(engine), current_revision(engine), _head(scripts))
    if state.current not in (None, state.head) and state.current not in {
            script.revision for script in scripts.walk_revisions()}:
        raise SchemaTooNew(_(
            "{database} is at schema revision {current}, newer than this relance ({head}): "
            "upgrade relance to use it").format(database=state.database,
                                                current=state.current, head=state.head))
    return state


def pending_revisions(engine: Engine, state: SchemaState) -> list[Revision]:
    """The migrations an upgrade would apply, oldest first."""
    if state.up_to_date:
        return []
    scripts = _scripts(engine)
    newest_first = scripts.iterate_revisions(state.head, state.current or "base")
    return [Revision(script.revision, _title(script.doc)) for script in
            reversed(list(newest_first))]


def _title(doc: str | None) -> str:
    lines = (doc or "").strip().splitlines()
    return lines[0] if lines else ""


def upgrade(engine: Engine) -> list[Revision]:
    """Bring the schema to the latest revision and return the migrations applied,
    oldest first; nothing when it is there already."""
    if at_code_head(engine):
        return []
    state = schema_state(engine)
    pending = pending_revisions(engine, state)
    if pending:
        from alembic import command

        command.upgrade(alembic_config(engine), "head")
    return pending
