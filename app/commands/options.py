"""Option values shared by several commands."""

from __future__ import annotations

import datetime as dt

from relance.kernel.dates import parse_day as parse_typed_day


def parse_day(text: str | None, option: str = "--on") -> dt.date:
    """A day given on the command line (`2026-11-30` or `30/11/2026`); today when the
    option is absent."""
    if text is None:
        return dt.date.today()
    return parse_typed_day(text, what=option)
