"""`relance init [DIR]`: a new workspace with a config, starter rules and templates."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from relance.context import AppContext
from relance.starter import create_workspace


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
    console.print(f"Workspace ready in [bold]{directory.resolve()}[/]")
    for path in written:
        console.print(f"  wrote {path}")
    console.print(
        "Next: [bold]relance import invoices FILE[/], then [bold]relance run --dry-run[/]."
    )


def register(app: typer.Typer) -> None:
    app.command()(init)
