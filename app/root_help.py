"""What `relance` answers before building its Typer app: the list of its commands
(`relance --help`, a bare `relance`), an unknown command, and `--version`.

Typer draws its help screens and errors with rich, whose import alone took most of the
150 ms that `relance --help` may take (issue 17), and Typer itself is not free. These
answers need only the command index's summaries and the global options, so they are laid
out here in plain text, in the language of the invocation. Anything else, `relance
COMMAND --help` included, goes to Typer (`relance.root_command`), which draws the same
top-level help from `help_text` when it is asked for it after other options.
"""

from __future__ import annotations

import os
import re
import sys
import textwrap
from collections.abc import Sequence
from typing import NamedTuple, TextIO

from relance.command_index import COMMANDS, command_help
from relance.kernel.i18n import N_, _

APP_HELP = N_("Rules-as-code back office for accounts receivable.")
VERSION_HELP = N_("Print the version and exit.")
DB_HELP = N_("Database URL (else RELANCE_DATABASE_URL, relance.toml).")
WORKSPACE_HELP = N_("Workspace folder (default: found from here up).")
JSON_HELP = N_("Print results as JSON for machines.")
USER_HELP = N_("Who you are (default: the OS user).")
INSTALL_COMPLETION_HELP = N_("Install the completion of relance's commands for your shell.")
SHOW_COMPLETION_HELP = N_("Print the completion script for your shell, to install it "
                          "yourself.")
HELP_HELP = N_("Show this message and exit.")


class GlobalOption(NamedTuple):
    """An option of `relance` itself, as its help lists it (`relance.root_command`
    defines the same ones for Typer: a test holds the two together). A named tuple
    rather than a dataclass: importing `dataclasses` would cost this screen more."""

    names: tuple[str, ...]  # as typed, the long one first
    value: str | None  # what it takes (untranslated), None for a flag
    help: str  # untranslated


GLOBAL_OPTIONS: tuple[GlobalOption, ...] = (
    GlobalOption(("--version",), None, VERSION_HELP),
    GlobalOption(("--db",), N_("URL"), DB_HELP),
    GlobalOption(("--workspace", "-w"), N_("FOLDER"), WORKSPACE_HELP),
    GlobalOption(("--json",), None, JSON_HELP),
    GlobalOption(("--user",), N_("NAME"), USER_HELP),
    GlobalOption(("--install-completion",), None, INSTALL_COMPLETION_HELP),
    GlobalOption(("--show-completion",), None, SHOW_COMPLETION_HELP),
    GlobalOption(("--help",), None, HELP_HELP),
)

# Set by the completion script that `--install-completion` installs (Click's name).
COMPLETION_VARIABLE = "_RELANCE_COMPLETE"

# An option's names longer than this get their own line, the help below it: one long
# name must not push every summary to the right.
_WIDEST_NAME_COLUMN = 24


def terminal_width() -> int:
    """The width help and errors are laid out for: `COLUMNS`, else the terminal's, else
    80 (as rich decides it for Typer's screens). Not `shutil.get_terminal_size`, whose
    module imports the compression libraries."""
    try:
        columns = int(os.environ.get("COLUMNS", ""))
    except ValueError:
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns \
                if sys.__stdout__ is not None else 80
        except (ValueError, OSError):  # not a terminal, or closed
            columns = 80
    return max(40, columns)


def _styled(text: str, code: str, stream: TextIO) -> str:
    """`text` in an ANSI style when `stream` is a terminal that takes colours."""
    if not stream.isatty() or "NO_COLOR" in os.environ or os.environ.get("TERM") == "dumb":
        return text
    return f"\x1b[{code}m{text}\x1b[0m"


def usage_line() -> str:
    return "{usage}relance {options} {command}".format(
        usage=_("Usage: "), options=_("[OPTIONS]"), command=_("COMMAND [ARGS]..."))


# French puts a space before `:`, `;`, `?`, `!`, `»` and after `«`: a line must not break
# there. The space is held by a private character while the text is wrapped.
_HELD_SPACE = "\ue000"
_UNBREAKABLE = re.compile(r" (?=[:;?!»])|(?<=«) ")


def _wrap(text: str, width: int) -> list[str]:
    held = _UNBREAKABLE.sub(_HELD_SPACE, text)
    return [line.replace(_HELD_SPACE, " ") for line in textwrap.wrap(held, width)] or [""]


def _two_columns(rows: Sequence[tuple[str, str]], width: int) -> list[str]:
    """Names on the left, their wrapped help on the right, both indented by two."""
    name_width = min(max(len(name) for name, _text in rows), _WIDEST_NAME_COLUMN)
    text_width = max(20, width - name_width - 4)
    lines: list[str] = []
    for name, text in rows:
        wrapped = _wrap(text, text_width)
        indent = " " * (name_width + 4)
        if len(name) > name_width:
            lines.append(f"  {name}")
            lines.extend(indent + line for line in wrapped)
            continue
        lines.append(f"  {name:<{name_width}}  {wrapped[0]}")
        lines.extend(indent + line for line in wrapped[1:])
    return lines


def _option_name(option: GlobalOption) -> str:
    names = ", ".join(sorted(option.names, key=len))  # `-w, --workspace`, as Click writes
    return names if option.value is None else f"{names} {_(option.value)}"


def help_text(width: int, stream: TextIO | None = None) -> str:
    """The top-level help: usage, what relance is, its options and every command with
    its summary from the command index, in the current language."""
    stream = stream or sys.stdout
    options = [(_option_name(option), _(option.help)) for option in GLOBAL_OPTIONS]
    commands = [(name, command_help(name)) for name in COMMANDS]
    lines = [_styled(usage_line(), "1", stream), ""]
    lines += ["  " + line for line in _wrap(_(APP_HELP), width - 2)]
    lines += ["", _styled(_("Options:"), "1", stream), *_two_columns(options, width)]
    lines += ["", _styled(_("Commands:"), "1", stream), *_two_columns(commands, width)]
    lines += ["", _("`relance COMMAND --help` tells what a command takes.")]
    return "\n".join(lines) + "\n"


def _panel(title: str, message: str, width: int, stream: TextIO) -> str:
    """`message` framed under `title`, as Typer frames its errors."""
    inner = width - 4
    top = "╭─ " + title + " " + "─" * max(0, width - len(title) - 5) + "╮"
    body = [f"│ {line:<{inner}} │" for line in _wrap(message, inner)]
    bottom = "╰" + "─" * (width - 2) + "╯"
    return "\n".join([_styled(top, "31", stream),
                      *(_styled("│", "31", stream) + line[1:-1] + _styled("│", "31", stream)
                        for line in body),
                      _styled(bottom, "31", stream)])


def unknown_command_text(word: str, width: int, stream: TextIO) -> str:
    """A command that is not one of relance's, told as Typer tells it (the usage line,
    where to find help, and the error framed), with the nearest names if any."""
    import difflib

    matches = difflib.get_close_matches(word, list(COMMANDS))
    if matches:
        message = _("No such command {name}. Did you mean {suggestions}?").format(
            name=repr(word), suggestions=", ".join(map(repr, matches)))
    else:
        message = _("No such command {name}.").format(name=repr(word))
    hint = _("Try {command} for help.").format(command="'relance --help'")
    return "\n".join([usage_line(), hint, _panel(_("Error"), message, width, stream)]) + "\n"


def answer_without_typer(args: Sequence[str]) -> int | None:
    """Answer `relance ARGS` here when it asks only for the top-level help, the version
    or an unknown command: the exit code; None when Typer must answer."""
    if COMPLETION_VARIABLE in os.environ:
        return None  # the shell asks Typer to complete a word, calling a bare `relance`
    if list(args) in ([], ["--help"]):
        sys.stdout.write(help_text(terminal_width()))
        # A bare `relance` shows the help too, but as a usage error (Click's exit code).
        return 0 if args else 2
    if list(args) == ["--version"]:
        from importlib.metadata import version

        sys.stdout.write(f"relance {version('relance')}\n")  # not for people: name, number
        return 0
    if args and not args[0].startswith("-") and args[0] not in COMMANDS:
        sys.stderr.write(unknown_command_text(args[0], terminal_width(), sys.stderr))
        return 2
    return None
