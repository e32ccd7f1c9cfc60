"""One table of `relance.toml` being read, with complaints that name the file, the
table and the key; and the words those complaints are made of.

`relance.kernel.settings` and `relance.kernel.schedule` read their tables with it, and so
do the readers that live next to the code using them (`channels.config`,
`engine.roles`): a mistake reads the same whichever table it is in.
"""

from __future__ import annotations

import datetime as dt
import difflib
import json
from collections.abc import Collection, Mapping
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from relance.kernel.errors import ConfigError


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
