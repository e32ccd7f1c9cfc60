"""Durations as of a run date: how long ago a date was, and the reverse, as a date bound.

The interpreter measures `overdue`, `age`, `last_action` and `after ... by` directly
("how many days since the due date?"). The SQL compiler turns the same comparison into a
bound on the date column ("due date on or before 2026-11-07"), which keeps the query
index-friendly and free of dialect-specific date arithmetic. Both rely on one fact: the
time elapsed since a date `s` on day D never increases when `s` moves later, in calendar
days as in business days, so `elapsed(s) >= n` is `s <= threshold(n)`.

Business days are those of the creditor's calendar: its country and, within it, its
calendar region (`Creditor.calendar_region`, a `holidays` subdivision such as "57" for
Moselle, which adds Good Friday and 26 December; None: the national holidays only).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from relance.dsl.ast import Duration
from relance.engine.calendar import add_business_days, business_days_between

Op = Literal["=", "!=", "<", "<=", ">", ">="]
# A creditor's business calendar: (country, calendar region or None).
Calendar = tuple[str, str | None]

_ONE_DAY = dt.timedelta(days=1)


def elapsed(since: dt.date, on: dt.date, *, business: bool, country: str,
            subdivision: str | None) -> int:
    """Days from `since` to `on` (negative when `since` is later), in business days of
    `country` (and its region `subdivision`) when asked."""
    if business:
        return _business_days(since, on, country, subdivision)
    return (on - since).days


@lru_cache(maxsize=1 << 16)
def _business_days(since: dt.date, on: dt.date, country: str, subdivision: str | None) -> int:
    # A run asks for the same few hundred due dates over and over.
    return business_days_between(since, on, country, subdivision)


def amount(duration: Duration) -> int:
    """The duration's count in its own kind of day (weeks become calendar days)."""
    return duration.count if duration.business else duration.calendar_days


def _shift(day: dt.date, days: int) -> dt.date:
    try:
        return day + dt.timedelta(days=days)
    except OverflowError:
        return dt.date.max if days > 0 else dt.date.min


def threshold(on: dt.date, count: int, *, business: bool, country: str,
              subdivision: str | None) -> dt.date:
    """The latest date `s` for which `elapsed(s, on) >= count`."""
    if not business:
        return _shift(on, -count)
    try:
        if count >= 1:
            # The count-th business day going back from `on` (itself included) must lie
            # after `s`, so `s` is the day before it.
            return add_business_days(on + _ONE_DAY, -count, country, subdivision) - _ONE_DAY
        # elapsed(s) >= -m for s after `on`: at most m business days in (on, s].
        return add_business_days(on, -count + 1, country, subdivision) - _ONE_DAY
    except OverflowError:
        return dt.date.max if count < 1 else dt.date.min


@dataclass(frozen=True)
class DateBound:
    """`low < s <= high` with either side open (None); `negate` turns it into its complement."""

    low: dt.date | None = None  # exclusive
    high: dt.date | None = None  # inclusive
    negate: bool = False


def bound_for(op: Op, count: int, on: dt.date, *, business: bool, country: str,
              subdivision: str | None) -> DateBound:
    """The dates `s` for which `elapsed(s, on) OP count` holds."""

    def t(n: int) -> dt.date:
        return threshold(on, n, business=business, country=country, subdivision=subdivision)

    if op == ">=":
        return DateBound(high=t(count))
    if op == ">":
        return DateBound(high=t(count + 1))
    if op == "<=":
        return DateBound(low=t(count + 1))
    if op == "<":
        return DateBound(low=t(count))
    if op == "=":
        return DateBound(low=t(count + 1), high=t(count))
    return DateBound(low=t(count + 1), high=t(count), negate=True)


FLIPPED: dict[Op, Op] = {"=": "=", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}


def compare_ints(left: int, op: Op, right: int) -> bool:
    if op == "=":
        return left == right
    if op == "!=":
        return left != right
    if op == "<":
        return left < right
    if op == "<=":
        return left <= right
    if op == ">":
        return left > right
    return left >= right
