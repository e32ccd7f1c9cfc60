"""The `[schedule]` table of `relance.toml`, read and checked once with the rest of the
file (`relance.kernel.settings`; the scheduler takes it from `Workspace.settings.schedule`).

It lives in the kernel because reading it is settings parsing, nothing of the scheduler:
the settings must be able to read every table without importing a layer above them.
Every mistake is reported with the file and the key, e.g.
`relance.toml: [schedule] run_at must be a time "HH:MM" (24-hour clock), not the string "7h"`.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from relance.kernel.config_table import Table, describe
from relance.kernel.i18n import _

DEFAULT_TIMEZONE = "Europe/Paris"
DEFAULT_COUNTRY = "FR"
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


@dataclass(frozen=True)
class ScheduleConfig:
    """When the scheduler does what; all times are wall-clock times in `timezone`."""

    run_at: dt.time = dt.time(7, 0)
    timezone: str = DEFAULT_TIMEZONE
    # None: the creditors' country when they share one, else FR (the scheduler's
    # `resolve_country` asks the store).
    country: str | None = None
    subdivision: str | None = None
    dispatch_every_minutes: int = 5
    sending_start: dt.time = dt.time(8, 0)
    sending_end: dt.time = dt.time(19, 0)
    sending_days: frozenset[int] = frozenset(range(6))  # Monday to Saturday
    send_on_holidays: bool = False
    letters_at: dt.time = dt.time(9, 0)
    summary_at: dt.time = dt.time(8, 0)
    max_catch_up_days: int = 7
    log_file: Path | None = None
    summary_to: tuple[str, ...] = ()

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def sending_hours(self) -> str:
        return f"{self.sending_start:%H:%M}-{self.sending_end:%H:%M}"

    def with_country(self, country: str) -> ScheduleConfig:
        from dataclasses import replace

        return replace(self, country=country)


KNOWN_KEYS = frozenset({
    "run_at", "timezone", "country", "subdivision", "dispatch_every_minutes",
    "sending_hours", "sending_days", "send_on_holidays", "letters_at", "summary_at",
    "max_catch_up_days", "log_file", "summary_to",
})


def _time(reader: Table, key: str, default: dt.time) -> dt.time:
    value = reader.data.get(key)
    if value is None:
        return default
    if isinstance(value, dt.time):  # TOML local time: 07:00:00
        return value.replace(second=0, microsecond=0)
    if isinstance(value, str):
        parsed = _parse_time(value)
        if parsed is not None:
            return parsed
    raise reader.wrong(key, _('a time "HH:MM" (24-hour clock)'))


def _parse_time(text: str) -> dt.time | None:
    match = _TIME.match(text.strip())
    return dt.time(int(match.group(1)), int(match.group(2))) if match else None


def _country(reader: Table, value: str) -> str:
    # Imported only when a country is named: every command reads the schedule now, and
    # loading the calendars would cost each of them some 60 ms.
    import holidays

    code = value.upper()
    if code not in holidays.list_supported_countries():
        raise reader.fail("country", _('is not a country the holidays calendar knows: '
                                       '{value!r} (a two-letter ISO code such as "FR")')
                          .format(value=value))
    return code


def _sending_hours(reader: Table) -> tuple[dt.time, dt.time]:
    value = reader.data.get("sending_hours")
    if value is None:
        return dt.time(8, 0), dt.time(19, 0)
    parts = value.split("-") if isinstance(value, str) else []
    times = [_parse_time(p) for p in parts]
    if len(parts) != 2 or times[0] is None or times[1] is None:
        raise reader.fail("sending_hours", _('must read "HH:MM-HH:MM", not {value}')
                          .format(value=describe(value)))
    start, end = times[0], times[1]
    if start >= end:
        raise reader.fail("sending_hours", _("must start before it ends: {value!r}")
                          .format(value=value))
    return start, end


def _sending_days(reader: Table) -> frozenset[int]:
    value = reader.data.get("sending_days")
    if value is None:
        return frozenset(range(6))
    if not isinstance(value, list) or not value:
        raise reader.fail("sending_days", _('must be a list of days, e.g. ["mon", "tue"]'))
    days: set[int] = set()
    for item in value:
        name = item.strip().lower()[:3] if isinstance(item, str) else ""
        if name not in WEEKDAYS:
            raise reader.fail("sending_days", _("holds {item!r}: use mon tue wed thu fri sat "
                                                "sun").format(item=item))
        days.add(WEEKDAYS.index(name))
    return frozenset(days)


def _summary_to(reader: Table) -> tuple[str, ...]:
    value = reader.data.get("summary_to", [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and "@" in v for v in value):
        raise reader.fail("summary_to", _("must be a list of e-mail addresses"))
    return tuple(v.strip() for v in value)


def parse_schedule(table: Mapping[str, Any], *, label: str = "relance.toml",
                   root: Path | None = None, default_timezone: str | None = None
                   ) -> ScheduleConfig:
    """Check and read a `[schedule]` table; `label` names the file in errors.

    `default_timezone` is `[run] timezone`, already checked by `relance.kernel.settings`."""
    reader = Table(label, "schedule", table)
    reader.only(KNOWN_KEYS, _("the scheduler"))
    run_at = _time(reader, "run_at", dt.time(7, 0))
    letters_at = _time(reader, "letters_at", max(run_at, dt.time(9, 0)))
    summary_at = _time(reader, "summary_at", max(run_at, dt.time(8, 0)))
    # The letter batch and the summary report the day's run: they cannot come before it.
    if letters_at < run_at:
        raise reader.fail("letters_at", _("({at}) must not be before run_at ({run_at}): the "
                                          "batch sends what the run queued").format(
                                              at=f"{letters_at:%H:%M}", run_at=f"{run_at:%H:%M}"))
    if summary_at < run_at:
        raise reader.fail("summary_at", _("({at}) must not be before run_at ({run_at}): the "
                                          "summary reports the day's run").format(
                                              at=f"{summary_at:%H:%M}", run_at=f"{run_at:%H:%M}"))
    zone = reader.timezone("timezone") or default_timezone or DEFAULT_TIMEZONE
    country = reader.text("country")
    country_code = _country(reader, country) if country else None
    subdivision = reader.text("subdivision")
    if subdivision is not None:
        if country_code is None:
            raise reader.fail("subdivision", _("needs [schedule] country: whose "
                                               "subdivision?"))
        import holidays

        known = holidays.country_holidays(country_code).subdivisions
        if subdivision not in known:
            raise reader.fail("subdivision", _("is not a subdivision of {country}: "
                                               "{subdivision!r} (known: {known})").format(
                country=country_code, subdivision=subdivision, known=", ".join(known)))
    start, end = _sending_hours(reader)
    log_file = reader.text("log_file")
    log_path = None
    if log_file is not None:
        log_path = Path(log_file)
        if root is not None and not log_path.is_absolute():
            log_path = root / log_path
    return ScheduleConfig(
        run_at=run_at,
        timezone=zone,
        country=country_code,
        subdivision=subdivision,
        dispatch_every_minutes=reader.integer("dispatch_every_minutes", 5, 1, 24 * 60),
        sending_start=start,
        sending_end=end,
        sending_days=_sending_days(reader),
        send_on_holidays=reader.flag("send_on_holidays", False),
        letters_at=letters_at,
        summary_at=summary_at,
        max_catch_up_days=reader.integer("max_catch_up_days", 7, 0, 366),
        log_file=log_path,
        summary_to=_summary_to(reader),
    )
