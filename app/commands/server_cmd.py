"""`relance server start|stop|status`: the command server, which keeps relance's imports
ready so that each command starts in tens of milliseconds (`relance.command_server`).

`start` launches it detached, its log beside its socket, and waits until it answers;
`--foreground` runs it in this process instead (for a service manager). A command
typed while it runs is handed to it by the `relance` script; without it, everything
works the same, each command paying its own imports.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Annotated

import typer

from relance.command_index import command_help
from relance.commands.options import JsonOption, json_wanted
from relance.context import AppContext, say
from relance.kernel.display import show_count, show_datetime, show_decimal
from relance.kernel.errors import RelanceError, UsageError
from relance.kernel.i18n import _, ngettext
from relance.server_client import ask_server
from relance.server_wire import (
    runtime_folder,
    server_supported,
    socket_path,
    socket_path_fits,
)

server_app = typer.Typer(help=command_help("server"), no_args_is_help=True)

_START_SECONDS = 60.0  # the imports take a second or two; a loaded machine, more
_STOP_SECONDS = 30.0


def _folder() -> Path:
    if not server_supported():
        raise UsageError(_("The command server needs Linux (fork, and Unix sockets that "
                           "pass file descriptors); commands run each in its own process "
                           "here."))
    folder = runtime_folder(create=True)
    if folder is None:
        raise UsageError(_("No folder that only you can enter is available for the "
                           "server's socket: set RELANCE_RUNTIME_DIR to one (mode 0700)."))
    if not socket_path_fits(socket_path(folder)):
        raise UsageError(_("The folder {folder} is too deep for a Unix socket: set "
                           "RELANCE_RUNTIME_DIR to a shorter path.").format(folder=folder))
    return folder


def _log_path(folder: Path) -> Path:
    return socket_path(folder).with_suffix(".log")


@server_app.command("start", help=_(
    "Start the command server: later commands start in it, their imports already "
    "done. It stops by itself after --idle minutes without a command."))
def start_command(
    ctx: typer.Context,
    idle: Annotated[float, typer.Option(
        "--idle", min=0.01, metavar="MINUTES",
        help=_("Minutes without a command after which it stops."))]
        = 120.0,
    preload: Annotated[list[str] | None, typer.Option(
        "--preload", metavar="MODULE",
        help=_("A further Python module to import ahead (repeatable)."))]
        = None,
    foreground: Annotated[bool, typer.Option(
        "--foreground", help=_("Run it in this process, until stopped."))] = False,
    json_output: JsonOption = False,
) -> None:
    context = json_wanted(ctx, json_output)
    folder = _folder()
    running = ask_server("status")
    if running is not None:
        _report(context, running, _("A command server is already running (process "
                                    "{pid}).").format(pid=running["pid"]))
        return
    options = ["--idle", repr(idle), *(f"--preload={name}" for name in preload or [])]
    from relance.command_server import LAUNCH_CODE

    if foreground:
        # In this process, but a fresh interpreter: this one has imported the command
        # line in its own language, which each command must choose afresh.
        sys.stdout.flush()
        os.execv(sys.executable, [sys.executable, "-c", LAUNCH_CODE, *options])

    log = _log_path(folder)
    with open(log, "ab") as log_file:
        process = subprocess.Popen([sys.executable, "-c", LAUNCH_CODE, *options],
                                   stdin=subprocess.DEVNULL, stdout=log_file,
                                   stderr=log_file, cwd="/", start_new_session=True)
    deadline = time.monotonic() + _START_SECONDS
    while time.monotonic() < deadline:
        status = ask_server("status")
        if status is not None:
            _report(context, status, _("Command server started (process {pid}); it stops "
                                       "after {minutes} minutes without a command.").format(
                pid=status["pid"], minutes=show_decimal(_decimal(idle))))
            return
        if process.poll() is not None:
            break
        time.sleep(0.05)
    raise RelanceError(_("The command server did not start; its log: {log}").format(
        log=log))


def _decimal(value: float) -> Decimal:
    return Decimal(repr(value))


@server_app.command("status", help=_(
    "Whether a command server is running, since when and how many commands it ran. "
    "Exit 1 when none is."))
def status_command(ctx: typer.Context, json_output: JsonOption = False) -> None:
    context = json_wanted(ctx, json_output)
    status = ask_server("status")
    if status is None:
        _none_running(context)
        raise typer.Exit(1)
    started = dt.datetime.fromisoformat(str(status["started"]))
    served = int(str(status["served"]))
    _report(context, status, _("Command server running (process {pid}) since {started}: "
                               "{commands}, {running} running now.").format(
        pid=status["pid"], started=show_datetime(started.astimezone()),
        commands=ngettext("{count} command", "{count} commands", served).format(
            count=show_count(served)),
        running=show_count(int(str(status["running"])))))


@server_app.command("stop", help=_(
    "Stop the command server once the commands it runs have ended."))
def stop_command(ctx: typer.Context, json_output: JsonOption = False) -> None:
    context = json_wanted(ctx, json_output)
    if ask_server("stop") is None:
        _none_running(context)
        return
    deadline = time.monotonic() + _STOP_SECONDS
    still = ask_server("status")
    while time.monotonic() < deadline and still is not None:
        time.sleep(0.05)
        still = ask_server("status")
    if context.json_output:
        context.emit_json({"running": still is not None, "stopping": True})
    elif still is None:
        say(context.console, _("Command server stopped."))
    else:
        running = int(str(still["running"]))
        say(context.console, ngettext(
            "The command server stops once its {count} running command has ended.",
            "The command server stops once its {count} running commands have ended.",
            running).format(count=show_count(running)))


def _none_running(context: AppContext) -> None:
    if context.json_output:
        context.emit_json({"running": False})
    else:
        say(context.console, _("No command server is running."))


def _report(context: AppContext, status: dict[str, object], sentence: str) -> None:
    if context.json_output:
        context.emit_json({"running": True, **status})
    else:
        say(context.console, sentence)


def register(app: typer.Typer) -> None:
    app.add_typer(server_app, name="server")
