"""Where the scheduler reads the time: the system clock, or one a test (or a replay) sets.

Every decision the scheduler makes takes `now` from a `Clock`, so tests drive whole days
(downtime, holidays, Sundays, sending hours) without waiting for them.
"""

from __future__ import annotations

import datetime as dt
import os
import threading
from typing import Protocol

NOW_ENV = "RELANCE_NOW"
"""Test hook: an ISO date-time; the clock starts there and runs at normal speed."""


class Clock(Protocol):
    def now(self) -> dt.datetime:
        """The current instant, time-zone aware."""
        ...


class SystemClock:
    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)


class ManualClock:
    """A clock that only moves when told to (tests)."""

    def __init__(self, start: dt.datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("a clock needs an aware date-time")
        self._now = start
        self._lock = threading.Lock()

    def now(self) -> dt.datetime:
        with self._lock:
            return self._now

    def set(self, when: dt.datetime) -> None:
        if when.tzinfo is None:
            raise ValueError("a clock needs an aware date-time")
        with self._lock:
            self._now = when

    def advance(self, delta: dt.timedelta) -> dt.datetime:
        with self._lock:
            self._now += delta
            return self._now


class OffsetClock:
    """The system clock shifted so that it read `start` when it was made."""

    def __init__(self, start: dt.datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("a clock needs an aware date-time")
        self.offset = start - dt.datetime.now(dt.UTC)

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC) + self.offset


def clock_from_env(zone: dt.tzinfo) -> Clock:
    """The system clock, or an `OffsetClock` when `RELANCE_NOW` is set (a naive value is
    read in the scheduler's time zone)."""
    raw = os.environ.get(NOW_ENV)
    if not raw:
        return SystemClock()
    try:
        start = dt.datetime.fromisoformat(raw)
    except ValueError:
        from relance.kernel.errors import ConfigError
        from relance.kernel.i18n import _

        raise ConfigError(_("{variable} must be an ISO date-time, not {value!r}").format(
            variable=NOW_ENV, value=raw)) from None
    if start.tzinfo is None:
        start = start.replace(tzinfo=zone)
    return OffsetClock(start)
