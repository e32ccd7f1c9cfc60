"""`relance demo [DIR]`: a fresh SQLite workspace with a demo portfolio, and a summary."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from relance.commands.options import parse_day
from relance.context import AppContext
from relance.demo import DEFAULT_DIRECTORY, run_demo


def demo(
    ctx: typer.Context,
    directory: Annotated[
        Path, typer.Argument(help="Folder of the demo workspace (wiped if it is a demo).")
    ] = DEFAULT_DIRECTORY,
    on: Annotated[
        str | None, typer.Option(help="The demo's today (YYYY-MM-DD or DD/MM/YYYY; default today).")
    ] = None,
    seed: Annotated[int, typer.Option(help="Another seed, another portfolio.")] = 7,
) -> None:
    """Build a demo workspace with a realistic portfolio and show its aged balance."""
    context: AppContext = ctx.obj
    day = parse_day(on)
    # With --json, the steps' prose goes nowhere and one JSON document is printed.
    console = Console(file=io.StringIO()) if context.json_output else context.console
    result = run_demo(directory, on=day, seed=seed, console=console)
    if context.json_output:
        context.emit_json({"workspace": str(result.workspace.root), "on": day.isoformat(),
                           "seed": seed, **result.results})


def register(app: typer.Typer) -> None:
    app.command()(demo)
