"""`relance test`: the workspace's rule tests (`*.rules.test`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from relance.commands.options import JsonOption, json_wanted
from relance.context import AppContext
from relance.kernel.display import show_count
from relance.kernel.errors import UsageError
from relance.kernel.i18n import _


def test(
    ctx: typer.Context,
    paths: Annotated[
        list[Path] | None,
        typer.Argument(help=_("Rule-test files or folders (default: the rules folder).")),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    from relance.engine.ruletests import run_file, test_files

    context: AppContext = json_wanted(ctx, json_output)
    files = test_files(list(paths) if paths else [context.workspace.rules_dir])
    if not files:
        raise UsageError(_("no rule tests found (files named *.rules.test)"))
    results = [result for path in files for result in run_file(path)]
    failed = [result for result in results if not result.passed]
    if context.json_output:
        context.emit_json({"passed": len(results) - len(failed), "failed": len(failed),
                           "cases": [result.to_json() for result in results]})
    else:
        for result in results:
            typer.echo((_("PASS {file}: {name}") if result.passed else
                        _("FAIL {file}: {name}")).format(file=result.file, name=result.name))
            if not result.passed:
                typer.echo("\n".join(f"    {line}" for line in result.diff().splitlines()))
        typer.echo(_("{passed} passed, {failed} failed").format(
            passed=show_count(len(results) - len(failed)), failed=show_count(len(failed))))
    if failed:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command(name="test", help=_("Run the rule tests (`*.rules.test`): given a book and "
                                    "dates, the expected actions."))(test)
