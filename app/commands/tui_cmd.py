"""`relance tui`: the operators' terminal UI."""

from __future__ import annotations

from typing import Annotated

import typer

from relance.command_index import command_help
from relance.context import AppContext
from relance.kernel.i18n import _


def tui(
    ctx: typer.Context,
    user: Annotated[
        str | None, typer.Option("--user", help=_("Who you are (default: the OS user)."))
    ] = None,
) -> None:
    context: AppContext = ctx.obj
    from relance.tui.app import RelanceApp
    from relance.tui.context import TuiContext

    desk = TuiContext.open(context.store, context.workspace, user or context.user)
    RelanceApp(desk).run()


def register(app: typer.Typer) -> None:
    app.command(help=command_help("tui"))(tui)
