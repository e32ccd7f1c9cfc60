"""`relance db upgrade` and `relance db current`: the database's schema against this code's.

Every command migrates the database on first use; these two let an administrator do it
on purpose (before a deployment's first `relance serve`, say) and see where it stands.
Neither goes through `AppContext.store`, which would migrate before anything is shown.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from sqlalchemy import Engine

from relance.context import AppContext, say
from relance.store.db import make_engine
from relance.store.migrate import Revision, pending_revisions, schema_state, upgrade

db_app = typer.Typer(help="The database's schema: where it stands, and upgrading it.",
                     no_args_is_help=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print results as JSON.")]


@contextmanager
def _engine(context: AppContext) -> Iterator[Engine]:
    engine = make_engine(context.database_url)
    try:
        yield engine
    finally:
        engine.dispose()


def _revisions_json(revisions: list[Revision]) -> list[dict[str, str]]:
    return [{"revision": r.id, "title": r.title} for r in revisions]


def _migrations(count: int) -> str:
    return f"{count} migration{'' if count == 1 else 's'}"


@db_app.command("current")
def current_command(ctx: typer.Context, json_output: JsonOption = False) -> None:
    """Print the database's schema revision, this relance's, and whether it is up to date."""
    context: AppContext = ctx.obj
    with _engine(context) as engine:
        state = schema_state(engine)
        pending = pending_revisions(engine, state)
    if json_output or context.json_output:
        context.emit_json({"database": state.database, "current": state.current,
                           "head": state.head, "up_to_date": state.up_to_date,
                           "pending": _revisions_json(pending)})
        return
    console = context.console
    held = f"schema revision {state.current}" if state.current else "no schema yet"
    say(console, f"{state.database}: {held}; this relance: {state.head}")
    if state.up_to_date:
        say(console, "Up to date.")
    else:
        say(console, f"Behind by {_migrations(len(pending))}: run `relance db upgrade` "
                     "(any other command also upgrades it first).")


@db_app.command("upgrade")
def upgrade_command(ctx: typer.Context, json_output: JsonOption = False) -> None:
    """Migrate the database to this relance's schema and print the migrations applied."""
    context: AppContext = ctx.obj
    with _engine(context) as engine:
        before = schema_state(engine)
        applied = upgrade(engine)
    if json_output or context.json_output:
        context.emit_json({"database": before.database, "from": before.current,
                           "to": before.head, "applied": _revisions_json(applied)})
        return
    console = context.console
    if not applied:
        say(console, f"{before.database} is at schema revision {before.head}, this "
                     "relance's: nothing to do.")
        return
    start = f"revision {before.current}" if before.current else "an empty database"
    say(console, f"{before.database} upgraded from {start} to revision {before.head}, "
                 f"{_migrations(len(applied))}:")
    for revision in applied:
        say(console, f"  {revision.id}  {revision.title}")


def register(app: typer.Typer) -> None:
    app.add_typer(db_app, name="db")
