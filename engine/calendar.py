"""Business days: weekends and the public holidays of a country (and region).

Used by the policy language's `10bd` durations (the creditor's country and calendar
region) and by the scheduler, which runs only on business days. Holidays come from the
maintained `holidays` library; Moselle is the French subdivision "57", Alsace "6AE".
A subdivision the library does not know for the country counts as none: the national
holidays still count, rather than a calendar of weekends only.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

import holidays

SATURDAY = 5


@lru_cache(maxsize=256)
def _holidays(country: str, subdivision: str | None, year: int) -> frozenset[dt.date]:
    try:
        table = holidays.country_holidays(country.upper(), subdiv=subdivision, years=year)
    except NotImplementedError:
        if subdivision is not None:  # not a region of this country: its national days
            return _holidays(country, None, year)
        return frozenset()  # a country the library does not know: weekends only
    return frozenset(table.keys())


def is_holiday(day: dt.date, country: str, subdivision: str | None = None) -> bool:
    return day in _holidays(country, subdivision, day.year)


def is_business_day(day: dt.date, country: str, subdivision: str | None = None) -> bool:
    """Not a Saturday, a Sunday or a public holiday of `country`."""
    return day.weekday() < SATURDAY and not is_holiday(day, country, subdivision)


def business_days_between(
    start: dt.date, end: dt.date, country: str, subdivision: str | None = None
) -> int:
    """Business days in the half-open interval (start, end]: how many business days have
    passed on `end` since `start`. Negative when `end` is before `start`."""
    if end < start:
        return -business_days_between(end, start, country, subdivision)
    # Counted rather than walked: a run asks this for every distinct due date of the
    # book, some of them years back.
    weeks, rest = divmod((end - start).days, 7)
    first = start.weekday()
    weekdays = weeks * 5 + sum(
        1 for offset in range(1, rest + 1) if (first + offset) % 7 < SATURDAY)
    holidays_on_weekdays = sum(
        1
        for year in range(start.year, end.year + 1)
        for day in _holidays(country, subdivision, year)
        if start < day <= end and day.weekday() < SATURDAY
    )
    return weekdays - holidays_on_weekdays


def add_business_days(
    start: dt.date, count: int, country: str, subdivision: str | None = None
) -> dt.date:
    """The day on which `count` business days have passed since `start`."""
    step = 1 if count >= 0 else -1
    remaining = abs(count)
    day = start
    while remaining:
        day += dt.timedelta(days=step)
        if is_business_day(day, country, subdivision):
            remaining -= 1
    return day
