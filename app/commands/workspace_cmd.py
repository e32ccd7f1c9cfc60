"""`relance init [DIR]`: a new workspace with a config, starter rules and templates."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from relance.context import AppContext, say
from relance.kernel.starter import create_workspace


def init(
    ctx: typer.Context,
    directory: Annotated[Path, typer.Argument(help="Folder to create (default: here).")] = Path(),
    force: Annotated[bool, typer.Option(help="Overwrite files that exist already.")] = False,
) -> None:
    """Create a workspace: relance.toml, rules/, templates/."""
    context: AppContext = ctx.obj
    written = create_workspace(directory, overwrite=force)
    if context.json_output:
        context.emit_json(
            {"workspace": str(directory.resolve()), "written": [str(p) for p in written]}
        )
        return
    console = context.console
    # The folder is the user's to name: printed as typed.
    say(console, "Workspace ready in ", (str(directory.resolve()), "bold"))
    for path in written:
        say(console, f"  wrote {path}")
    say(console, "Next: ", ("relance import invoices FILE", "bold"), ", then ",
        ("relance run --dry-run", "bold"), ".")


def register(app: typer.Typer) -> None:
    app.command()(init)
