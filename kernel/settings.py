"""`relance.toml` read once, through a typed schema.

Every command, the scheduler and the demo take their settings from `Settings` (via
`Workspace.settings`), never from the raw TOML tables: a value read in two places was
read two ways, and `auto_approve = "false"` once approved everything in `relance serve`
while `relance run` refused it. A mistake is refused with the file, the table, the key
and what was expected:

    relance.toml: [run] auto_approve must be true or false, not the string "false"
    relance.toml: [run] auto_aprove is not a setting of the run: did you mean auto_approve?

`Settings` holds the tables of the workspace, the database, the run and the scheduler.
The others keep their own readers, next to the code that uses them: `[users]` and
`[approval]` (`engine.roles`), `[disputes]` (`commands.case_cmd`), `[smtp]`, `[sms]`,
`[dispatch]`, `[notify]` (`channels.config`); their names are known here so that a
misspelt table name is caught too.
"""

from __future__ import annotations

import datetime as dt
import difflib
import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from relance.kernel.errors import ConfigError

if TYPE_CHECKING:
    from relance.scheduler.config import ScheduleConfig

CONFIG_LABEL = "relance.toml"

# The tables read elsewhere, by their reader; a table not listed here is refused as a
# typo (a misspelt `[schedule]` would otherwise leave the scheduler on its defaults).
OTHER_TABLES: Mapping[str, str] = {
    "users": "relance.engine.roles",
    "approval": "relance.engine.roles",
    "disputes": "relance.commands.case_cmd",
    "smtp": "relance.channels.config",
    "sms": "relance.channels.config",
    "dispatch": "relance.channels.config",
    "notify": "relance.channels.config",
    "letters": "relance.channels",
}


# --------------------------------------------------------------------------- reading


def describe(value: Any) -> str:
    """A TOML value as a user wrote it, for "must be X, not <this>"."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return "the string " + json.dumps(value, ensure_ascii=False)
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, dt.datetime):
        return f"the date and time {value.isoformat()}"
    if isinstance(value, dt.date):
        return f"the date {value.isoformat()}"
    if isinstance(value, dt.time):
        return f"the time {value.isoformat()}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a table"
    return repr(value)


def did_you_mean(word: str, choices: Collection[str]) -> str | None:
    """The closest of `choices` to a misspelt `word`, if one is close enough."""
    found = difflib.get_close_matches(word, sorted(choices), n=1, cutoff=0.6)
    return found[0] if found else None


class Table:
    """One table of `relance.toml` being read: every complaint names the file, the
    table and the key."""

    def __init__(self, label: str, name: str, data: Mapping[str, Any]) -> None:
        self.label = label
        self.name = name
        self.data = data

    def fail(self, key: str, problem: str) -> ConfigError:
        return ConfigError(f"{self.label}: [{self.name}] {key} {problem}")

    def wrong(self, key: str, expected: str) -> ConfigError:
        return self.fail(key, f"must be {expected}, not {describe(self.data[key])}")

    def only(self, known: Collection[str], what: str) -> None:
        """Refuse a key that is not in `known`, suggesting the closest one."""
        for key in sorted(set(self.data) - set(known)):
            close = did_you_mean(key, known)
            hint = f": did you mean {close}?" if close else ""
            raise self.fail(key, f"is not a setting of {what}{hint} "
                            f"(known: {', '.join(sorted(known))})")

    def flag(self, key: str, default: bool) -> bool:
        value = self.data.get(key, default)
        if not isinstance(value, bool):
            raise self.wrong(key, "true or false")
        return value

    def text(self, key: str, default: str | None = None) -> str | None:
        """A non-empty text, stripped; `default` when the key is absent."""
        if key not in self.data:
            return default
        value = self.data[key]
        if not isinstance(value, str) or not value.strip():
            raise self.wrong(key, "a text")
        return value.strip()

    def integer(self, key: str, default: int, low: int, high: int) -> int:
        value = self.data.get(key, default)
        # A TOML `true` is a Python int: a count written as `true` is still wrong.
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.wrong(key, "a whole number")
        if not low <= value <= high:
            raise self.fail(key, f"must be between {low} and {high}, not {value}")
        return value

    def timezone(self, key: str) -> str | None:
        """An IANA time zone name, checked against the zone database."""
        value = self.text(key)
        if value is None:
            return None
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise self.fail(key, f"is not a known time zone: {value!r} "
                            '(an IANA name such as "Europe/Paris")') from None
        return value


# --------------------------------------------------------------------------- the schema


@dataclass(frozen=True)
class WorkspaceSettings:
    """`[workspace]`: where the workspace's folders are, relative to it."""

    rules: str = "rules"
    templates: str = "templates"
    outbox: str = "outbox"


@dataclass(frozen=True)
class DatabaseSettings:
    """`[database]`; `RELANCE_DATABASE_URL` and `--db` come first (`Workspace`)."""

    url: str | None = None


@dataclass(frozen=True)
class RunSettings:
    """`[run]`: how a day's run queues its actions."""

    # True: actions no rule asks approval for are queued approved; false: every action
    # waits for an operator (four eyes on everything the rules send).
    auto_approve: bool = True
    # The workspace's time zone; the scheduler's when `[schedule] timezone` is not set.
    timezone: str | None = None


@dataclass(frozen=True)
class Settings:
    """The tables of `relance.toml` that the run, the scheduler and the demo read."""

    workspace: WorkspaceSettings
    database: DatabaseSettings
    run: RunSettings
    schedule: ScheduleConfig


# The keys of each table read here; the scheduler's are `scheduler.config.KNOWN_KEYS`.
KEYS: Mapping[str, tuple[str, ...]] = {
    "workspace": ("rules", "templates", "outbox"),
    "database": ("url",),
    "run": ("auto_approve", "timezone"),
}


def _workspace(table: Table) -> WorkspaceSettings:
    table.only(KEYS["workspace"], "the workspace")
    default = WorkspaceSettings()
    return WorkspaceSettings(
        rules=table.text("rules", default.rules) or default.rules,
        templates=table.text("templates", default.templates) or default.templates,
        outbox=table.text("outbox", default.outbox) or default.outbox,
    )


def _database(table: Table) -> DatabaseSettings:
    table.only(KEYS["database"], "the database")
    return DatabaseSettings(url=table.text("url"))


def _run(table: Table) -> RunSettings:
    table.only(KEYS["run"], "the run")
    return RunSettings(auto_approve=table.flag("auto_approve", True),
                       timezone=table.timezone("timezone"))


def _tables(config: Mapping[str, Any], label: str,
            keys: Mapping[str, Collection[str]]) -> dict[str, Table]:
    """The tables read here, from `config` (empty when absent); a table name nobody
    reads is refused. `keys`: each table's keys, to place a key written above them."""
    known = (*keys, *OTHER_TABLES)
    for name, value in config.items():
        if name in known:
            if not isinstance(value, dict):
                raise ConfigError(f"{label}: [{name}] must be a table, not {describe(value)}")
            continue
        close = did_you_mean(name, known)
        hint = f": did you mean [{close}]?" if close else ""
        subject = f"[{name}]"
        if not isinstance(value, dict):
            # A key above every table header (`auto_approve = false` on line 1) belongs
            # to no table; say which one knows it.
            subject = name
            owner = next((table for table, names in keys.items() if name in names), None)
            if owner is not None:
                hint = f": did you mean [{owner}] {name}?"
        raise ConfigError(f"{label}: {subject} is not a table of relance.toml{hint} "
                          f"(known: {', '.join(sorted(known))})")
    return {name: Table(label, name, config.get(name, {})) for name in keys}


def parse_settings(config: Mapping[str, Any], *, label: str = CONFIG_LABEL,
                   root: Path | None = None) -> Settings:
    """Check and read the parsed `relance.toml`; `label` names the file in errors and
    `root` is the workspace folder that relative paths start from."""
    # Imported here: the scheduler's table reader builds on `Table` from this module.
    from relance.scheduler.config import KNOWN_KEYS, parse_schedule

    tables = _tables(config, label, {**KEYS, "schedule": KNOWN_KEYS})
    run = _run(tables["run"])
    return Settings(
        workspace=_workspace(tables["workspace"]),
        database=_database(tables["database"]),
        run=run,
        schedule=parse_schedule(tables["schedule"].data, label=label, root=root,
                                default_timezone=run.timezone),
    )
