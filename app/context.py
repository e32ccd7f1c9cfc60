"""What every command needs: the workspace, the store, the user, and how to print.

Printing user data (names, references, invoice numbers, notes, file names, reasons):
rich reads a `str` as markup and emoji codes, so `Salon [/bold] Lyon` crashes the
command (`MarkupError`), `[red]` vanishes and `:thumbs_up:` turns into a picture. So
what a user or a file wrote reaches a console only as `rich.text.Text` built by
`literal` (through `say` for a line and `add_row` for a table), where it is printed as
typed; styling is given apart, as (text, style) pairs, never written into the text.
"""

from __future__ import annotations

import getpass
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from relance.kernel.workspace import Workspace, find_workspace
from relance.store.db import Store, open_store

USER_ENV = "RELANCE_USER"

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


@dataclass
class AppContext:
    workspace_path: Path | None = None
    db_override: str | None = None
    json_output: bool = False
    user_override: str | None = None
    _workspace: Workspace | None = field(default=None, repr=False)
    _store: Store | None = field(default=None, repr=False)

    @property
    def workspace(self) -> Workspace:
        if self._workspace is None:
            self._workspace = find_workspace(self.workspace_path)
        return self._workspace

    @property
    def database_url(self) -> str:
        return self.workspace.database_url(self.db_override)

    @property
    def store(self) -> Store:
        """The workspace's store, opened (and migrated) on first use."""
        if self._store is None:
            self._store = open_store(self.database_url)
        return self._store

    @property
    def user(self) -> str:
        return self.user_override or os.environ.get(USER_ENV) or getpass.getuser()

    @property
    def console(self) -> Console:
        """Standard output. User data goes through `say`, `add_row` or `literal`, never
        into a markup string (see the module's docstring)."""
        return Console()

    @property
    def err_console(self) -> Console:
        return Console(stderr=True)

    def emit_json(self, payload: Any) -> None:
        """Print one JSON document on stdout (for `--json`)."""
        print(json.dumps(payload, indent=2, ensure_ascii=False, default=str))
