"""The `relance` command line as a Typer app: thin commands over the core.

Each command group lives in its own module under `relance.commands` and registers itself
on the app; this module only holds the global options and renders errors once. A
command's module is imported only when that command runs (`LazyCommands`), and imports
the database layer, the core and the renderers inside the functions that use them, so
that `relance CMD --help` and the commands that need less pay for less (issue 17; what
each loads is held by tests/architecture/test_startup.py). `relance.cli` comes first:
the top-level help and an unknown command are answered there, without Typer.
Exit codes: 0 fine, 1 a finding (check errors, failed sends), 2 bad usage or input.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer
from typer._click import Command, Context, HelpFormatter
from typer._click.exceptions import UsageError
from typer.core import TyperCommand, TyperGroup

from relance.command_index import COMMANDS, command_help, modules
from relance.commands.typer_words import (
    ClickException,
    adapt_commands,
    show_usage_error,
    translate_help_words,
)
from relance.context import AppContext, visible
from relance.kernel.errors import RelanceError
from relance.kernel.i18n import _
from relance.root_help import (
    APP_HELP,
    DB_HELP,
    JSON_HELP,
    USER_HELP,
    VERSION_HELP,
    WORKSPACE_HELP,
    help_text,
    terminal_width,
)

# The help texts below are translated as they are defined, in the language
# `relance.cli` chose for this invocation.
translate_help_words()


class LazyCommands(TyperGroup):
    """The root command: a command's module is imported when that command is wanted.

    Importing every module would load SQLAlchemy, the models, Textual and WeasyPrint
    for `relance --help`; the listing reads each command's line from
    `relance.command_index` instead."""

    _listing = False

    def list_commands(self, ctx: Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: Context, cmd_name: str) -> Command | None:
        found = self.commands.get(cmd_name)
        if found is not None or cmd_name not in COMMANDS:
            return found
        if self._listing:
            return TyperCommand(name=cmd_name, help=command_help(cmd_name))
        _load(COMMANDS[cmd_name].module)
        built = typer.main.get_command(app)
        assert isinstance(built, TyperGroup)
        for name, command in built.commands.items():
            if name not in self.commands:
                adapt_commands(command)
                self.add_command(command, name)
        return self.commands.get(cmd_name)

    def resolve_command(self, ctx: Context, args: list[str]
                        ) -> tuple[str | None, Command | None, list[str]]:
        # Typer suggests among the commands built so far, here none: among all of them.
        try:
            return self._click_resolve_command(ctx, args)
        except UsageError as exc:
            import difflib

            matches = difflib.get_close_matches(args[0], list(COMMANDS)) if args else []
            if matches:  # in Typer's words, which relance.commands.typer_words translates
                exc.message = "{message}. Did you mean {names}?".format(
                    message=exc.message.rstrip("."), names=", ".join(map(repr, matches)))
            raise

    def format_help(self, ctx: Context, formatter: HelpFormatter) -> None:
        # The same screen as `relance --help` answered without Typer (`relance.cli`),
        # for `relance --json --help` and the like.
        formatter.write(help_text(terminal_width()))


app = typer.Typer(
    cls=LazyCommands,
    name="relance",
    help=_(APP_HELP),
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
                     help=_(VERSION_HELP)),
    ] = False,
    db: Annotated[str | None, typer.Option("--db", help=_(DB_HELP))] = None,
    workspace: Annotated[
        Path | None, typer.Option("--workspace", "-w", help=_(WORKSPACE_HELP)),
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help=_(JSON_HELP))] = False,
    user: Annotated[str | None, typer.Option("--user", help=_(USER_HELP))] = None,
) -> None:
    ctx.obj = AppContext(
        workspace_path=workspace, db_override=db, json_output=json_output, user_override=user
    )


_loaded: set[str] = set()


def _load(module_name: str) -> None:
    """Import one command module and register its commands on the app, once."""
    if module_name in _loaded:
        return
    importlib.import_module(f"relance.commands.{module_name}").register(app)
    _loaded.add(module_name)


def load_all_commands() -> None:
    """Register every command (for what walks the whole tree: tests, documentation)."""
    for module_name in modules():
        _load(module_name)


def run(args: Sequence[str]) -> None:
    """Run `relance ARGS` through Typer: render a RelanceError as one sentence, never a
    traceback.

    Click runs in its non-standalone mode so that its usage errors are shown here, in
    relance's language (`relance.commands.typer_words`); `typer.Exit` becomes the
    process's exit code, as in standalone mode.
    """
    command = typer.main.get_command(app)
    adapt_commands(command)
    try:
        code = command.main(args=list(args), prog_name="relance", standalone_mode=False)
    except RelanceError as exc:
        # Plain text, never rich markup: the message quotes what was typed or read
        # (`no invoice 'FA-[/x]-1'`); its control characters are shown, not obeyed.
        typer.echo(f"relance: {visible(exc.message)}", err=True)  # not for people: prefix
        sys.exit(exc.exit_code)
    except ClickException as exc:
        if exc.__class__.__name__ == "NoArgsIsHelpError":
            # No arguments at all: Click wants the help shown (`format_help` wrote it).
            typer.echo(exc.format_message())
        else:
            show_usage_error(exc)
        sys.exit(exc.exit_code)
    except typer.Abort:
        typer.echo(_("Aborted."), err=True)
        sys.exit(1)
    except BrokenPipeError:
        raise  # a reader that stopped early (`| head`): the interpreter ends quietly
    except OSError as exc:
        # What the system refused and no command expects: a full disk, a file size
        # limit, an input/output error. One sentence, not a traceback.
        where = f"{exc.filename}: " if exc.filename else ""
        typer.echo(_("relance: {where}{problem}").format(
            where=visible(where), problem=exc.strerror or exc), err=True)
        sys.exit(1)
    except Exception as exc:
        problem = _database_unavailable(exc)
        if problem is None:
            raise
        typer.echo(_("relance: the database cannot be used: {problem}").format(
            problem=visible(problem)), err=True)
        sys.exit(1)
    if isinstance(code, int) and code:
        sys.exit(code)


def _database_unavailable(exc: BaseException) -> str | None:
    """The driver's first line when `exc` says the database cannot be reached or used (a
    server down, a refused login, a file the system cannot write), else None. Looked up
    without importing SQLAlchemy: when it is not loaded, no error came from it."""
    errors = sys.modules.get("sqlalchemy.exc")
    if errors is None or not isinstance(exc, errors.OperationalError | errors.InterfaceError):
        return None
    original = getattr(exc, "orig", None) or exc
    lines = str(original).strip().splitlines()
    return lines[0] if lines else type(original).__name__
