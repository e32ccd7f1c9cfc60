"""How anything of relance puts text on a terminal: user data printed as typed.

Names, references, invoice numbers, notes, file names and reasons come from users and
files. rich reads a `str` as markup and emoji codes, so `Salon [/bold] Lyon` stops a
command (`MarkupError`), `[red]` vanishes and `:thumbs_up:` turns into a picture; and a
control character in a name would be obeyed by the terminal. So such text reaches a
console only as `rich.text.Text` built by `literal` (through `say` for a line and
`add_row` for a table row), where it is printed as typed; styling is given apart, as
(text, style) pairs, never written into the text.

Here, below every layer, because the command line and the demo both print (and both
print the same tables); nothing in this module knows what it prints.
"""

from __future__ import annotations

import re

from rich.console import Console
from rich.table import Table
from rich.text import Text

# What a terminal obeys rather than shows: C0 controls but tab and newline, DEL, C1.
# Imports refuse them, but a note or a reason typed on the command line may hold one.
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")

# A piece of a printed line: a str printed as typed, a (text, style) pair printed as
# typed in that style, or a Text already built by `literal`.
Part = str | tuple[str, str] | Text


def visible(text: str) -> str:
    """`text` with its control characters written out (`\\x1b`): an escape sequence in
    a name is shown, never obeyed (no recolouring, clearing or moving the cursor)."""
    return _CONTROLS.sub(lambda found: found.group().encode("unicode_escape").decode("ascii"),
                         text)


def literal(*parts: Part) -> Text:
    """Rich text printed exactly as typed: never read as markup nor emoji codes."""
    text = Text()
    for part in parts:
        if isinstance(part, Text):
            text.append_text(part)
        elif isinstance(part, tuple):
            text.append(visible(part[0]), style=part[1])
        else:
            text.append(visible(part))
    return text


def say(console: Console, *parts: Part) -> None:
    """One line on `console`, never wrapped (scripts grep it), every part as typed."""
    console.print(literal(*parts), soft_wrap=True)


def add_row(table: Table, *cells: Part | None, style: str | None = None) -> None:
    """A table row printed as typed: rich reads a str cell as markup and emoji codes."""
    table.add_row(*(None if cell is None else literal(cell) for cell in cells), style=style)


def print_table(console: Console, table: Table) -> None:
    """Print a table of amounts whole: never squeezed into "1,250…" on a narrow terminal."""
    needed = console.measure(table, options=console.options.update_width(400)).maximum
    width = console.width
    console.width = max(width, needed)
    try:
        console.print(table)
    finally:
        console.width = width
