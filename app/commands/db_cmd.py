"""`relance db upgrade` and `relance db current`: the database's schema against this code's.

Every command migrates the database on first use; these two let an administrator do it
on purpose (before a deployment's first `relance serve`, say) and see where it stands.
Neither goes through `AppContext.store`, which would migrate before anything is shown.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import typer

from relance.command_index import command_help
from relance.commands.options import JsonOption
from relance.context import AppContext, say
from relance.kernel.display import show_count
from relance.kernel.i18n import _, ngettext

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from relance.store.migrate import Revision

db_app = typer.Typer(help=command_help("db"),
                     no_args_is_help=True)


@contextmanager
def _engine(context: AppContext) -> Iterator[Engine]:
    from relance.store.db import make_engine

    engine = make_engine(context.database_url, create_folders=not context.book_named)
    try:
        yield engine
    finally:
        engine.dispose()


def _revisions_json(revisions: list[Revision]) -> list[dict[str, str]]:
    return [{"revision": r.id, "title": r.title} for r in revisions]


def _migrations(count: int) -> str:
    return ngettext("{count} migration", "{count} migrations", count).format(
        count=show_count(count))


@db_app.command("current", help=_("Print the database's schema revision, this relance's, "
                                  "and whether it is up to date."))
def current_command(ctx: typer.Context, json_output: JsonOption = False) -> None:
    from relance.store.migrate import pending_revisions, schema_state

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
    said = dict(database=state.database, current=state.current, head=state.head)
    say(console, (_("{database}: schema revision {current}; this relance: {head}")
                  if state.current else
                  _("{database}: no schema yet; this relance: {head}")).format(**said))
    if state.up_to_date:
        say(console, _("Up to date."))
    else:
        say(console, _("Behind by {migrations}: run `relance db upgrade` (any other command "
                       "also upgrades it first).").format(migrations=_migrations(len(pending))))


@db_app.command("upgrade", help=_("Migrate the database to this relance's schema and print "
                                  "the migrations applied."))
def upgrade_command(ctx: typer.Context, json_output: JsonOption = False) -> None:
    from relance.store.migrate import schema_state, upgrade

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
        say(console, _("{database} is at schema revision {head}, this relance's: nothing to "
                       "do.").format(database=before.database, head=before.head))
        return
    said = dict(database=before.database, current=before.current, head=before.head,
                migrations=_migrations(len(applied)))
    say(console, (_("{database} upgraded from revision {current} to revision {head}, "
                    "{migrations}:") if before.current else
                  _("{database} upgraded from an empty database to revision {head}, "
                    "{migrations}:")).format(**said))
    for revision in applied:
        say(console, f"  {revision.id}  {revision.title}")


def register(app: typer.Typer) -> None:
    app.add_typer(db_app, name="db")
