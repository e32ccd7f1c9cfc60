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
from relance.kernel.i18n import _


def describe(value: Any) -> str:
    """A TOML value as a user wrote it, for "must be X, not <this>". Dates and times
    are quoted as TOML writes them (ISO), so that the person finds them in the file."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return _("the string {text}").format(text=json.dumps(value, ensure_ascii=False))
    if isinstance(value, int | float):
        return _("the number {number}").format(number=value)
    if isinstance(value, dt.datetime):
        return _("the date and time {moment}").format(moment=value.isoformat())
    if isinstance(value, dt.date):
        return _("the date {day}").format(day=value.isoformat())
    if isinstance(value, dt.time):
        return _("the time {time}").format(time=value.isoformat())
    if isinstance(value, list):
        return _("a list")
    if isinstance(value, dict):
        return _("a table")
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
        """`problem` is the rest of a sentence whose subject is the key, translated by
        the caller (`must be between 1 and 10, not 0`)."""
        return ConfigError(_("{label}: [{table}] {key} {problem}").format(
            label=self.label, table=self.name, key=key, problem=problem))

    def wrong(self, key: str, expected: str) -> ConfigError:
        """`expected`, translated by the caller, names what the key takes (`a text`)."""
        return self.fail(key, _("must be {expected}, not {value}").format(
            expected=expected, value=describe(self.data[key])))

    def only(self, known: Collection[str], what: str) -> None:
        """Refuse a key that is not in `known`, suggesting the closest one; `what` (the
        caller's, translated) names whose settings these are: `the run`."""
        for key in sorted(set(self.data) - set(known)):
            close = did_you_mean(key, known)
            names = ", ".join(sorted(known))
            if close:
                problem = _("is not a setting of {what}: did you mean {close}? "
                            "(known: {known})").format(what=what, close=close, known=names)
            else:
                problem = _("is not a setting of {what} (known: {known})").format(
                    what=what, known=names)
            raise self.fail(key, problem)

    def flag(self, key: str, default: bool) -> bool:
        value = self.data.get(key, default)
        if not isinstance(value, bool):
            raise self.wrong(key, _("true or false"))
        return value

    def text(self, key: str, default: str | None = None) -> str | None:
        """A non-empty text, stripped; `default` when the key is absent."""
        if key not in self.data:
            return default
        value = self.data[key]
        if not isinstance(value, str) or not value.strip():
            raise self.wrong(key, _("a text"))
        return value.strip()

    def integer(self, key: str, default: int, low: int, high: int) -> int:
        value = self.data.get(key, default)
        # A TOML `true` is a Python int: a count written as `true` is still wrong.
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.wrong(key, _("a whole number"))
        if not low <= value <= high:
            raise self.fail(key, _("must be between {low} and {high}, not {value}").format(
                low=low, high=high, value=value))
        return value

    def timezone(self, key: str) -> str | None:
        """An IANA time zone name, checked against the zone database."""
        value = self.text(key)
        if value is None:
            return None
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise self.fail(key, _('is not a known time zone: {value!r} '
                                   '(an IANA name such as "Europe/Paris")').format(
                                       value=value)) from None
        return value
