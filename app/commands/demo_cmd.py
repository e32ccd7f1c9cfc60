"""`relance demo [DIR]`: a fresh SQLite workspace with a demo portfolio, and a summary."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from relance.command_index import command_help
from relance.commands.options import JsonOption, json_wanted, parse_day
from relance.kernel.i18n import _

# `relance.demo.DEFAULT_DIRECTORY`, named again here: importing the demo would load the
# core for `relance demo --help` (tests/architecture/test_startup.py holds them equal).
DEFAULT_DIRECTORY = Path("relance-demo")


def demo(
    ctx: typer.Context,
    directory: Annotated[
        Path, typer.Argument(help=_("Folder of the demo workspace (wiped if it is a demo)."))
    ] = DEFAULT_DIRECTORY,
    on: Annotated[
        str | None, typer.Option(
            help=_("The demo's today (YYYY-MM-DD or DD/MM/YYYY; default today)."))
    ] = None,
    seed: Annotated[int, typer.Option(help=_("Another seed, another portfolio."))] = 7,
    json_output: JsonOption = False,
) -> None:
    from relance.demo import run_demo

    context = json_wanted(ctx, json_output)
    day = parse_day(on)
    # With --json, the steps' prose goes nowhere and one JSON document is printed.
    console = Console(file=io.StringIO()) if context.json_output else context.console
    result = run_demo(directory, on=day, seed=seed, console=console)
    if context.json_output:
        context.emit_json({"workspace": str(result.workspace.root), "on": day.isoformat(),
                           "seed": seed, **result.results})


def register(app: typer.Typer) -> None:
    app.command(help=command_help("demo"))(demo)
