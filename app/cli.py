"""The `relance` command line: thin commands over the core.

Each command group lives in its own module under `relance.commands` and registers itself
on the app; this module only holds the global options and renders errors once.
Exit codes: 0 fine, 1 a finding (check errors, failed sends), 2 bad usage or input.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Annotated

import typer

from relance.commands.typer_words import (
    ClickException,
    adapt_commands,
    show_usage_error,
    translate_help_words,
)
from relance.context import AppContext, visible
from relance.kernel.errors import RelanceError
from relance.kernel.i18n import _, language_for_invocation, set_language

# Command modules, each with a `register(app)` function.
COMMAND_MODULES = [
    "workspace_cmd",
    "casework_cmd",
    "queue_cmd",
    "case_cmd",
    "book_cmd",
    "plan_cmd",
    "tui_cmd",
    "import_cmd",
    "report_cmd",
    "demo_cmd",
    "serve_cmd",
    "lang_cmd",
    "dispatch_cmd",
    "uncertain_cmd",
    "batches_cmd",
    "engine_cmd",
    "audit_cmd",
    "ruletest_cmd",
    "diff_cmd",
    "db_cmd",
    "creditor_cmd",
    "mandate_cmd",
    "funds_cmd",
    "portfolio_cmd",
    "intake_cmd",
]

# The help texts below are translated as they are defined: the language is decided
# first, from the workspace the command names or stands in, else the environment.
set_language(language_for_invocation(sys.argv[1:]))
translate_help_words()

app = typer.Typer(
    name="relance",
    help=_("Rules-as-code back office for accounts receivable."),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def _print_version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"relance {version('relance')}")  # not for people: name and number
        raise typer.Exit()


@app.callback()
def _global_options(
    ctx: typer.Context,
    _version: Annotated[
        bool,
        typer.Option("--version", callback=_print_version, is_eager=True,
                     help=_("Print the version and exit.")),
    ] = False,
    db: Annotated[
        str | None,
        typer.Option("--db", help=_("Database URL (else RELANCE_DATABASE_URL, "
                                    "relance.toml).")),
    ] = None,
    workspace: Annotated[
        Path | None,
        typer.Option("--workspace", "-w",
                     help=_("Workspace folder (default: found from here up).")),
    ] = None,
    json_output: Annotated[
        bool, typer.Option("--json", help=_("Print results as JSON for machines."))
    ] = False,
    user: Annotated[
        str | None, typer.Option("--user", help=_("Who you are (default: the OS user)."))
    ] = None,
) -> None:
    ctx.obj = AppContext(
        workspace_path=workspace, db_override=db, json_output=json_output, user_override=user
    )


def _register_commands() -> None:
    for name in COMMAND_MODULES:
        module = importlib.import_module(f"relance.commands.{name}")
        module.register(app)


_register_commands()


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the app, render a RelanceError as one sentence, never a traceback.

    Click runs in its non-standalone mode so that its usage errors are shown here, in
    relance's language (`relance.commands.typer_words`); `typer.Exit` becomes the
    process's exit code, as in standalone mode.
    """
    command = typer.main.get_command(app)
    adapt_commands(command)
    try:
        code = command.main(args=argv, prog_name="relance", standalone_mode=False)
    except RelanceError as exc:
        # Plain text, never rich markup: the message quotes what was typed or read
        # (`no invoice 'FA-[/x]-1'`); its control characters are shown, not obeyed.
        typer.echo(f"relance: {visible(exc.message)}", err=True)  # not for people: prefix
        sys.exit(exc.exit_code)
    except ClickException as exc:
        # Click printed the help itself for a bare `relance` (no_args_is_help).
        if exc.__class__.__name__ != "NoArgsIsHelpError":
            show_usage_error(exc)
        sys.exit(exc.exit_code)
    except typer.Abort:
        typer.echo(_("Aborted."), err=True)
        sys.exit(1)
    if isinstance(code, int) and code:
        sys.exit(code)
