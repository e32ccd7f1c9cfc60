"""Every sentence a person reads goes through gettext: a contract read from the source.

A sentence written as a plain string where people read it (an error raised to them,
a notification, a line printed, a column heading, a key's description, a help text)
is never translated. This walks every module of relance and fails on such a string,
naming the file and line. A sentence goes inside `_()` (or `ngettext`, or `N_` for a
constant translated where shown); text that is not a sentence for a person (an
address, a format for programs) carries the comment `# not for people: <why>` on its
line.

It cannot see everything (a string built far from where it is shown); it sees the
places where such strings are written in this code base, which is what keeps new ones
from slipping in.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from relance.kernel.catalogs import source_files

# Calls whose every argument (after `skip` leading ones) is read by a person.
ALL_ARGUMENTS: dict[str, int] = {
    "say": 1, "literal": 0, "add_row": 1, "add_columns": 0, "Text": 0, "assemble": 0,
    "Field": 1,  # a form's field: its name is an id, its label and hint are read
}
# Calls whose first argument is read by a person.
FIRST_ARGUMENT = {
    "notify", "echo", "secho", "Static", "Label", "Button", "TabPane", "add_column",
    "SystemCommand", "Panel", "Rule", "Header", "Confirm", "Prompt", "ask", "Checkbox",
    "RadioButton", "Option",
}
# Keyword arguments read by a person, whatever the call.
READ_KEYWORDS = {"help", "description", "title", "placeholder", "label", "tooltip",
                 "caption", "sub_title", "prompt", "message", "help_text"}
# Errors that reach people: relance's own (a name with one of these endings); Python's
# built-in ones are for programmers and are judged by reading.
ERROR_NAME = re.compile(
    r"(Error|Refused|Problem|Invalid|NotFound|Conflict|NotAllowed|Missing|TooNew|Errors)$")
BUILTIN_ERRORS = {name for name in dir(__builtins__) if name.endswith("Error")} | {
    "ValueError", "TypeError", "KeyError", "RuntimeError", "AssertionError", "OSError",
    "NotImplementedError", "LookupError", "AttributeError", "IndexError"}
OPT_OUT = "# not for people:"
WORD = re.compile(r"[A-Za-z]{2,}")
# A code, not a sentence: EUR, IBAN, DSO, SMS.
CODE = re.compile(r"^\s*[A-Z0-9]{2,5}\s*$")
# A command-line option's name (`typer.Option("--until")`): typed, not read.
OPTION_NAME = re.compile(r"^-{1,2}[A-Za-z][\w-]*$")


def _callee(node: ast.Call) -> str:
    func = node.func
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return ""


def _plain_sentence(node: ast.expr) -> bool:
    """A literal string or f-string holding words, not passed through gettext."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        text = node.value
    elif isinstance(node, ast.JoinedStr):
        text = "".join(part.value for part in node.values
                       if isinstance(part, ast.Constant) and isinstance(part.value, str))
    else:
        return False
    return bool(WORD.search(text)) and not CODE.match(text) and not OPTION_NAME.match(text)


def _read_arguments(node: ast.Call) -> Iterator[ast.expr]:
    name = _callee(node)
    if name in ALL_ARGUMENTS:
        yield from node.args[ALL_ARGUMENTS[name]:]
    elif (name in FIRST_ARGUMENT or (ERROR_NAME.search(name) and name not in BUILTIN_ERRORS)
          ) and node.args:
        yield node.args[0]
    if name == "Binding" and len(node.args) >= 3:
        yield node.args[2]
    for keyword in node.keywords:
        if keyword.arg in READ_KEYWORDS:
            yield keyword.value


def unmarked(path: Path) -> Iterator[str]:
    source = path.read_text(encoding="utf-8")
    lines = source.splitlines()
    for node in ast.walk(ast.parse(source, filename=str(path))):
        if not isinstance(node, ast.Call):
            continue
        # Typer shows a command's docstring as its help unless given one: never translated.
        if (isinstance(node.func, ast.Attribute) and node.func.attr == "command"
                and not any(keyword.arg == "help" for keyword in node.keywords)):
            yield f"{path}:{node.lineno}: a command without help=_(...) shows its docstring"
        for argument in _read_arguments(node):
            if not _plain_sentence(argument):
                continue
            line = lines[argument.lineno - 1]
            if OPT_OUT in line or OPT_OUT in lines[node.lineno - 1]:
                continue
            yield f"{path}:{argument.lineno}: {line.strip()[:90]}"


def test_every_sentence_for_people_goes_through_gettext() -> None:
    found = [problem for path in source_files() for problem in unmarked(path)]
    assert not found, (f"{len(found)} sentences for people are not translated "
                       "(wrap them in _(), see relance.kernel.i18n):\n" + "\n".join(found))


@pytest.mark.parametrize(("source", "flagged"), [
    ('raise UsageError(f"no invoice {number!r}")', True),
    ('raise UsageError(_("no invoice {number!r}").format(number=number))', False),
    ('self.notify("Paused")', True),
    ('self.notify(_("Paused"))', False),
    ('table.add_columns("Invoice", "Due")', True),
    ('table.add_columns(_("Invoice"), _("Due"))', False),
    ('typer.Option("--db", help="Database URL.")', True),
    ('typer.Option("--db", help=_("Database URL."))', False),
    ('raise ValueError("programmer mistake")', False),
    ('say(console, "EUR")', False),
    ('notify("Sent")  # not for people: a test of the rule', False),
    ('@app.command("aged")\ndef aged() -> None:\n    """The aged balance."""', True),
    ('@app.command("aged", help=_("The aged balance."))\ndef aged() -> None:\n    pass', False),
])
def test_the_contract_sees_what_it_should(tmp_path: Path, source: str, flagged: bool) -> None:
    module = tmp_path / "module.py"
    module.write_text(source + "\n", encoding="utf-8")
    assert bool(list(unmarked(module))) is flagged
