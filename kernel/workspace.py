"""A workspace: a folder with `relance.toml`, `rules/`, `templates/`, the SQLite file and
the `outbox/`. The tables of the workspace, the database, the run and the scheduler are
read once, through the typed schema of `relance.kernel.settings` (`Workspace.settings`); the
channels and the access rules read their own tables (`Workspace.section`).

The database URL is taken, in order, from `--db`, `RELANCE_DATABASE_URL`, the
`[database] url` of `relance.toml`, and finally `relance.sqlite` in the workspace.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from relance.kernel.errors import ConfigError
from relance.kernel.i18n import _

if TYPE_CHECKING:
    from relance.kernel.settings import Settings

CONFIG_NAME = "relance.toml"
DEFAULT_DB_NAME = "relance.sqlite"
DATABASE_URL_ENV = "RELANCE_DATABASE_URL"


@dataclass(frozen=True)
class Workspace:
    root: Path
    config: dict[str, Any] = field(default_factory=dict)
    config_path: Path | None = None

    @cached_property
    def settings(self) -> Settings:
        """`relance.toml` checked and typed, once per workspace; a mistake anywhere in
        the tables it covers is refused on first use, naming the file and the key."""
        from relance.kernel.settings import parse_settings

        return parse_settings(self.config, label=self.config_label, root=self.root)

    @property
    def language(self) -> str:
        """The language to speak to this workspace's people: `[ui] language`, else the
        environment's, else French (`relance.kernel.i18n.choose_language`)."""
        from relance.kernel.i18n import choose_language

        return choose_language(self.settings.ui.language)

    @property
    def rules_dir(self) -> Path:
        return self.root / self.settings.workspace.rules

    @property
    def templates_dir(self) -> Path:
        return self.root / self.settings.workspace.templates

    @property
    def outbox_dir(self) -> Path:
        return self.root / self.settings.workspace.outbox

    def section(self, name: str) -> dict[str, Any]:
        """A table of `relance.toml` (empty when absent); refuses a non-table value."""
        value = self.config.get(name, {})
        if not isinstance(value, dict):
            raise ConfigError(_("{label}: [{table}] must be a table").format(
                label=self.config_label, table=name))
        return value

    @property
    def config_label(self) -> str:
        return str(self.config_path) if self.config_path else CONFIG_NAME

    def named_database_url(self, override: str | None = None) -> str | None:
        """The database a person named: `--db`, else the environment, else
        `relance.toml`; None when the workspace's own `relance.sqlite` is to be taken."""
        return override or os.environ.get(DATABASE_URL_ENV) or self.settings.database.url

    def database_url(self, override: str | None = None) -> str:
        return (self.named_database_url(override)
                or f"sqlite:///{(self.root / DEFAULT_DB_NAME).resolve()}")


def load_config(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    except OSError as exc:
        raise ConfigError(_("{path}: cannot read ({reason})").format(
            path=path, reason=exc.strerror)) from exc


def find_workspace(start: Path | None = None) -> Workspace:
    """The workspace holding `start` (default: the current folder), found by walking up
    to the nearest `relance.toml`; without one, `start` itself with an empty config."""
    origin = (start or Path.cwd()).resolve()
    for folder in (origin, *origin.parents):
        candidate = folder / CONFIG_NAME
        if candidate.is_file():
            return Workspace(folder, load_config(candidate), candidate)
    return Workspace(origin)
