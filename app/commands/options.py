"""Option values shared by several commands."""

from __future__ import annotations

import datetime as dt

from relance.kernel.errors import UsageError


def parse_day(text: str | None, option: str = "--on") -> dt.date:
    """An ISO date given on the command line; today when the option is absent."""
    if text is None:
        return dt.date.today()
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise UsageError(f"{option}: {text!r} is not a date (YYYY-MM-DD)") from exc
