"""`relance init [DIR]`: a new workspace with a config, starter rules and templates."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from relance.command_index import command_help
from relance.commands.options import JsonOption, json_wanted
from relance.context import say
from relance.kernel.i18n import _
from relance.kernel.starter import create_workspace


def init(
    ctx: typer.Context,
    directory: Annotated[Path, typer.Argument(
        help=_("Folder to create (default: here)."))] = Path(),
    force: Annotated[bool, typer.Option(help=_("Overwrite files that exist already."))
                     ] = False,
    json_output: JsonOption = False,
) -> None:
    context = json_wanted(ctx, json_output)
    written = create_workspace(directory, overwrite=force)
    if context.json_output:
        context.emit_json(
            {"workspace": str(directory.resolve()), "written": [str(p) for p in written]}
        )
        return
    console = context.console
    # The folder is the user's to name: printed as typed.
    say(console, _("Workspace ready in {folder}").format(folder=directory.resolve()))
    for path in written:
        say(console, _("  wrote {path}").format(path=path))
    say(console, _("Next: {first}, then {second}.").format(
        first="relance import invoices FILE", second="relance run --dry-run"))


def register(app: typer.Typer) -> None:
    app.command(help=command_help("init"))(init)
