"""What every command needs: the workspace, the store, the user, and how to print.

Printing user data (names, references, invoice numbers, notes, file names, reasons)
goes through `say`, `add_row` and `literal` of `relance.kernel.console`, re-exported
here for the commands: there, why a `str` never reaches a console as it is.
"""

from __future__ import annotations

import getpass
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console

from relance.kernel.console import Part as Part
from relance.kernel.console import add_row as add_row
from relance.kernel.console import literal as literal
from relance.kernel.console import print_table as print_table
from relance.kernel.console import say as say
from relance.kernel.console import visible as visible
from relance.kernel.i18n import set_language
from relance.kernel.workspace import Workspace, find_workspace

if TYPE_CHECKING:
    # Imported when a command opens the store: `relance --help` and the commands that
    # need no database do without SQLAlchemy.
    from relance.store.db import Store

USER_ENV = "RELANCE_USER"

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
            # What the command prints from here on is in the workspace's language.
            set_language(self._workspace.language)
        return self._workspace

    @property
    def database_url(self) -> str:
        return self.workspace.database_url(self.db_override)

    @property
    def book_named(self) -> bool:
        return self.workspace.named_database_url(self.db_override) is not None

    @property
    def store(self) -> Store:
        """The workspace's store, opened (and migrated) on first use."""
        if self._store is None:
            from relance.store.db import open_store

            # A book a person named is not made with its folders (a typo would show an
            # empty queue); the workspace's own is, with the workspace's folder.
            self._store = open_store(self.database_url, create_folders=not self.book_named)
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
