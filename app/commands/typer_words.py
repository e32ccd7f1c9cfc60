"""The words Typer and Click write themselves (`Usage:`, `Options`, `Missing argument`),
in the language relance speaks.

Typer ships its own copy of Click, whose messages are English f-strings rather than
gettext calls, so no catalog of theirs can be installed. Instead:

- the help screens' headings are Typer's `rich_utils` constants, set from `_()` in the
  language of the invocation (`translate_help_words`) when a help screen is first
  drawn: `rich_utils` imports much of rich (markdown, tracebacks), which a command
  that shows no help does without;
- the `Usage:` line and the `--help` and completion options' help texts belong to the
  command objects, adjusted on the tree Typer builds for each call (`adapt_commands`);
- a usage error is caught by `relance.root_command.run` (Click's non-standalone mode) and its
  message, whose wording is fixed by that copy of Click, is matched against the known
  sentences below and rendered in relance's language (`show_usage_error`). A message
  none of them matches is shown as Click wrote it: understood, if in English.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import typer
from typer._click import ClickException, Command, Context, HelpFormatter
from typer._click.exceptions import UsageError
from typer._coercion import RuntimeParam, TypeDescriptor, build_runtime_param
from typer.core import TyperGroup, TyperOption, _TyperParameter

from relance.kernel.i18n import N_, _, current_language, using_language
from relance.root_help import HELP_HELP, INSTALL_COMPLETION_HELP, SHOW_COMPLETION_HELP

# The language the help screens' headings are drawn in, once `translate_help_words`
# has been called; None once they are set.
_help_words_language: list[str | None] = [None]


def translate_help_words() -> None:
    """Typer's headings and markers of the help screens in the current language, set
    when a help screen is first drawn (`_Context.get_help`)."""
    _help_words_language[0] = current_language()


def _set_help_words() -> None:
    language = _help_words_language[0]
    if language is None:
        return
    with using_language(language):
        _write_help_words()
    _help_words_language[0] = None


def _write_help_words() -> None:
    import typer.rich_utils as rich_utils

    rich_utils.ARGUMENTS_PANEL_TITLE = _("Arguments")
    rich_utils.OPTIONS_PANEL_TITLE = _("Options")
    rich_utils.COMMANDS_PANEL_TITLE = _("Commands")
    rich_utils.ERRORS_PANEL_TITLE = _("Error")
    rich_utils.ABORTED_TEXT = _("Aborted.")
    rich_utils.DEFAULT_STRING = _("[default: {}]")
    rich_utils.ENVVAR_STRING = _("[env var: {}]")
    rich_utils.REQUIRED_LONG_STRING = _("[required]")
    rich_utils.DEPRECATED_STRING = _("(deprecated) ")


class _Formatter(HelpFormatter):
    def write_usage(self, prog: str, args: str = "", prefix: str | None = None) -> None:
        super().write_usage(prog, args, _("Usage: ") if prefix is None else prefix)


class _Context(Context):
    formatter_class = _Formatter

    def get_help(self) -> str:
        # Every help screen passes here: `--help`, and a group called without a command.
        _set_help_words()
        return super().get_help()


def _install_completion(ctx: Context, param: Any, value: Any) -> None:
    """`--install-completion`: Typer's installer, its report in relance's language."""
    if not value or ctx.resilient_parsing:
        return
    from typer._completion_shared import install

    shell, path = install(shell=value if isinstance(value, str) else None)
    typer.echo(_("Completion for {shell} installed in {path}; it works in the terminals "
                 "opened from now on.").format(shell=shell, path=path))
    raise typer.Exit()


@dataclass(frozen=True)
class _BuiltOnFirstValue(RuntimeParam):
    """Typer's conversion of one parameter's value, built when a value comes.

    Typer builds a Pydantic adapter for each parameter of the command that runs, those
    left out too (whose None it returns untouched): importing Pydantic for them cost a
    command a fifth of its start-up. A value left out is returned here as Typer's own
    conversion returns it (`RuntimeParam.coerce`); the first value given builds Typer's
    conversion, which then takes the parameter over."""

    descriptor: TypeDescriptor

    def _coerce_value(self, value: Any, param: _TyperParameter, ctx: Context) -> Any:
        built = build_runtime_param(self.descriptor)
        param._runtime_param = built
        return built._coerce_value(value, param=param, ctx=ctx)


def _build_conversions_on_first_value(params: list[Any]) -> None:
    for param in params:
        if isinstance(param, _TyperParameter) and param._runtime_param is None:
            descriptor = param.type_descriptor
            param._runtime_param = _BuiltOnFirstValue(
                parameter_info=descriptor.parameter_info, annotation=descriptor.annotation,
                descriptor=descriptor)


def _commands(command: Command) -> Iterator[Command]:
    yield command
    if isinstance(command, TyperGroup):
        for child in command.commands.values():
            yield from _commands(child)


def adapt_commands(root: Command) -> None:
    """The command tree Typer built, speaking relance's language: each command's usage
    line and `--help`, and the root's completion options."""
    for command in _commands(root):
        # Click reads a command's `context_class` to make its contexts (its documented
        # way to change them), hence the translated `Usage:` of help and errors.
        command.context_class = _Context
        if command.options_metavar:
            command.options_metavar = _("[OPTIONS]")
        if isinstance(command, TyperGroup):
            command.subcommand_metavar = _("COMMAND [ARGS]...")
        helper = command.get_help_option(_Context(command))
        if helper is not None:
            helper.help = _(HELP_HELP)
        _build_conversions_on_first_value([*command.params, helper])
    for param in root.params:
        if not isinstance(param, TyperOption):
            continue
        if "--install-completion" in param.opts:
            param.help = _(INSTALL_COMPLETION_HELP)
            param.callback = _install_completion
        elif "--show-completion" in param.opts:
            param.help = _(SHOW_COMPLETION_HELP)


# ----------------------------------------------------------------------- usage errors

# Click's messages (typer's copy) and Pydantic's, each with the sentence it is in
# relance's catalogs; tried in order, the first that matches the whole message wins.
_SENTENCES: list[tuple[re.Pattern[str], str]] = [(re.compile(pattern, re.S), sentence) for
                                                  pattern, sentence in (
    (r"No such command (?P<name>.+?)\. Did you mean (?P<suggestions>.+)\?",
     N_("No such command {name}. Did you mean {suggestions}?")),
    (r"No such command (?P<name>.+)\.", N_("No such command {name}.")),
    (r"Missing command\.", N_("Missing command.")),
    (r"No such option: (?P<name>\S+) \(Possible options: (?P<options>.+)\)",
     N_("No such option: {name} (possible options: {options})")),
    (r"No such option: (?P<name>.+)", N_("No such option: {name}")),
    (r"Missing argument (?P<name>.+?)\. Choose from:\s*(?P<choices>.+)",
     N_("Missing argument {name}. Choose from: {choices}")),
    (r"Missing option (?P<name>.+?)\. Choose from:\s*(?P<choices>.+)",
     N_("Missing option {name}. Choose from: {choices}")),
    (r"Missing argument (?P<name>.+)\.", N_("Missing argument {name}.")),
    (r"Missing option (?P<name>.+)\.", N_("Missing option {name}.")),
    (r"Missing parameter (?P<name>.+)\.", N_("Missing parameter {name}.")),
    (r"Invalid value for (?P<name>'.+?'(?: / '.+?')*): (?P<problem>.+)",
     N_("Invalid value for {name}: {problem}")),
    (r"Invalid value: (?P<problem>.+)", N_("Invalid value: {problem}")),
    (r"Option (?P<name>'.+?') requires an argument\.",
     N_("Option {name} needs a value.")),
    (r"Option (?P<name>'.+?') requires (?P<count>\d+) arguments\.",
     N_("Option {name} needs {count} values.")),
    (r"Option (?P<name>'.+?') does not take a value\.",
     N_("Option {name} takes no value.")),
    (r"Argument (?P<name>'.+?') takes (?P<count>\d+) values\.",
     N_("Argument {name} takes {count} values.")),
    (r"Got unexpected extra arguments? ?(?:\(s\))? \((?P<arguments>.*)\)",
     N_("Unexpected extra arguments: {arguments}")),
    # What a value was refused for (after "Invalid value for …:").
    (r"Input should be a valid integer.*", N_("a whole number is expected")),
    (r"Input should be a valid number.*", N_("a number is expected")),
    (r"Input should be a valid boolean.*", N_("yes or no is expected (true, false)")),
    (r"Input should be greater than or equal to (?P<limit>\S+)",
     N_("the value must be at least {limit}")),
    (r"Input should be less than or equal to (?P<limit>\S+)",
     N_("the value must be at most {limit}")),
    (r"Input should be greater than (?P<limit>\S+)",
     N_("the value must be more than {limit}")),
    (r"Input should be less than (?P<limit>\S+)", N_("the value must be less than {limit}")),
    (r"(?:Value error, )?(?P<value>.+?) is not one of (?P<choices>.+?)\.?",
     N_("{value} is not one of {choices}.")),
    (r"Value (?P<value>.+) is not a valid (?P<kind>.+)\.",
     N_("{value} is not a valid {kind}.")),
)]


def translated(message: str) -> str:
    """Click's (or Pydantic's) message in the current language, when it is one of the
    known sentences; as written otherwise."""
    for pattern, sentence in _SENTENCES:
        found = pattern.fullmatch(message.strip())
        if found is None:
            continue
        values = {key: value or "" for key, value in found.groupdict().items()}
        if "problem" in values:
            values["problem"] = translated(values["problem"])
        if "choices" in values:
            values["choices"] = ", ".join(
                part.strip() for part in re.split(r",\s*", values["choices"]) if part.strip())
        return _(sentence).format(**values)
    return message


def show_usage_error(error: ClickException) -> None:
    """A usage error as Typer shows it (usage line, where to find help, the message in
    a red panel), in relance's language, on stderr."""
    import typer.rich_utils as rich_utils
    from rich.console import Console
    from rich.markup import escape
    from rich.panel import Panel

    console = Console(stderr=True)
    context: Context | None = getattr(error, "ctx", None)
    if context is not None:
        console.print(rich_utils.highlighter(context.get_usage()),
                      style=rich_utils.STYLE_USAGE_COMMAND)
        if context.command.get_help_option(context) is not None:
            console.print(_("Try {command} for help.").format(
                command=f"[blue]'{escape(context.command_path)} "
                        f"{context.help_option_names[0]}'[/]"),
                style=rich_utils.STYLE_ERRORS_SUGGESTION)
    console.print(Panel(rich_utils.highlighter(translated(error.format_message())),
                        border_style=rich_utils.STYLE_ERRORS_PANEL_BORDER,
                        title=_("Error"), title_align=rich_utils.ALIGN_ERRORS_PANEL))


__all__ = ["ClickException", "UsageError", "adapt_commands", "show_usage_error",
           "translate_help_words", "translated"]
