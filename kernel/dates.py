"""Reading dates: ISO (`2026-08-31`) or French day-first (`31/08/2026`), or one format a
mapping file declares. Never month-first: `03/04/2026` is the 3rd of April."""

from __future__ import annotations

import datetime as dt
import re

from relance.kernel.errors import UsageError
from relance.kernel.i18n import _

_DAY_FIRST = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})")
_ISO = re.compile(r"\d{4}-\d{2}-\d{2}")


class DateError(ValueError):
    """The text is not a date in an accepted form."""


def parse_date(raw: str, *, date_format: str | None = None) -> dt.date:
    """The date `raw` names; `date_format` (a `strptime` pattern) is tried after ISO."""
    text = raw.strip()
    if _ISO.fullmatch(text):
        try:
            return dt.date.fromisoformat(text)
        except ValueError as exc:
            raise DateError(_("is not a day of the calendar")) from exc
    # A spreadsheet's date cell read as text may carry a midnight time.
    if len(text) == 19 and _ISO.fullmatch(text[:10]) and text[10:] in (" 00:00:00", "T00:00:00"):
        return parse_date(text[:10])
    if date_format is not None:
        try:
            return dt.datetime.strptime(text, date_format).date()
        except ValueError as exc:
            raise DateError(_("is not a date in the format {format!r} or YYYY-MM-DD")
                            .format(format=date_format)) from exc
    match = _DAY_FIRST.fullmatch(text)
    if match:
        day, month, year = (int(part) for part in match.groups())
        try:
            return dt.date(year, month, day)
        except ValueError as exc:
            raise DateError(_("is not a day of the calendar")) from exc
    raise DateError(_("is not a date (write YYYY-MM-DD or DD/MM/YYYY)"))


def parse_day(text: str, *, what: str | None = None) -> dt.date:
    """A day a person typed (an option, a form field): `2026-11-30` or `30/11/2026`.

    Refused with a `UsageError` (exit code 2) that names what was being read, so that the
    person sees which of their entries to correct: `--on: '31/02/2026' is not a day of
    the calendar`."""
    try:
        return parse_date(text)
    except DateError as exc:
        subject = what or _("date")
        raise UsageError(f"{subject}: {text!r} {exc}") from None
