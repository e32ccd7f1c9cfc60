"""When each job is due: pure functions of the configuration, the calendar and `now`.

The once-a-day jobs have one slot per business day (the day at its configured time).
After downtime, the latest slot that has passed is the one to run; the older missed ones
are coalesced into it (the rules are level-based: one run as of the latest day catches
up what several would have done, without sending a reminder per missed day).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from relance.engine.calendar import is_business_day, is_holiday
from relance.kernel.schedule import ScheduleConfig

PROMISE_CHECK = "promise_check"
DAILY_RUN = "daily_run"
SUMMARY = "summary"
LETTER_BATCH = "letter_batch"
DISPATCH = "dispatch"

# Order matters within one tick: broken promises are recorded before the run sees them;
# the summary and the letter batch report and send what the run queued.
DAILY_JOBS = (PROMISE_CHECK, DAILY_RUN, SUMMARY, LETTER_BATCH)
ALL_JOBS = (*DAILY_JOBS, DISPATCH)


def job_time(config: ScheduleConfig, job: str) -> dt.time:
    """The wall-clock time of a once-a-day job."""
    if job in (PROMISE_CHECK, DAILY_RUN):
        return config.run_at
    if job == SUMMARY:
        return config.summary_at
    if job == LETTER_BATCH:
        return config.letters_at
    raise ValueError(f"not a once-a-day job: {job}")


def country_of(config: ScheduleConfig) -> str:
    return config.country or "FR"


def business_day(config: ScheduleConfig, day: dt.date) -> bool:
    return is_business_day(day, country_of(config), config.subdivision)


def local(config: ScheduleConfig, now: dt.datetime) -> dt.datetime:
    return now.astimezone(config.tz)


def slot_instant(config: ScheduleConfig, day: dt.date, at: dt.time) -> dt.datetime:
    """The instant of `day` at wall-clock `at`; a time skipped by a DST change falls on
    the first instant after it."""
    naive = dt.datetime.combine(day, at)
    aware = naive.replace(tzinfo=config.tz)
    # A wall time that does not exist (spring forward) does not survive a round trip.
    back = aware.astimezone(dt.UTC).astimezone(config.tz)
    if back.replace(tzinfo=None) != naive:
        aware = back
    return aware


@dataclass(frozen=True)
class DueSlot:
    """The slot to run now, and the older missed slots coalesced into it."""

    day: dt.date
    missed: tuple[dt.date, ...]


def latest_due_day(config: ScheduleConfig, job: str, now: dt.datetime) -> dt.date | None:
    """The latest business day whose slot for `job` has passed by `now`, within
    `max_catch_up_days`; None when there is none (a long holiday beyond the window)."""
    now_local = local(config, now)
    today = now_local.date()
    at = job_time(config, job)
    for back in range(config.max_catch_up_days + 1):
        day = today - dt.timedelta(days=back)
        if day == today and now_local.time() < at:
            continue
        if business_day(config, day):
            return day
    return None


def missed_days(config: ScheduleConfig, now: dt.datetime, day: dt.date,
                last_day: dt.date | None) -> tuple[dt.date, ...]:
    """The business days after `last_day` and before `day`, inside the catch-up window:
    slots missed during downtime, coalesced into `day`. None without a last record (a
    new installation has missed nothing)."""
    if last_day is None:
        return ()
    floor = local(config, now).date() - dt.timedelta(days=config.max_catch_up_days)
    missed: list[dt.date] = []
    cursor = max(last_day + dt.timedelta(days=1), floor)
    while cursor < day:
        if business_day(config, cursor):
            missed.append(cursor)
        cursor += dt.timedelta(days=1)
    return tuple(missed)


def due_slot(config: ScheduleConfig, job: str, now: dt.datetime,
             last_day: dt.date | None) -> DueSlot | None:
    """What `job` should run now, given the latest day it has a record for.

    None when nothing is due (the latest slot is already recorded or none has passed).
    `missed` lists the business days between the last record and the slot, inside the
    catch-up window: they are not run, but recorded as coalesced into the slot.
    """
    day = latest_due_day(config, job, now)
    if day is None or (last_day is not None and last_day >= day):
        return None
    return DueSlot(day, missed_days(config, now, day, last_day))


def in_sending_window(config: ScheduleConfig, now: dt.datetime) -> bool:
    """May e-mails and SMS go out at `now`: a sending day, inside the sending hours, and
    not a public holiday unless `send_on_holidays`."""
    now_local = local(config, now)
    day = now_local.date()
    if now_local.weekday() not in config.sending_days:
        return False
    if not config.send_on_holidays and is_holiday(day, country_of(config), config.subdivision):
        return False
    return config.sending_start <= now_local.time().replace(tzinfo=None) < config.sending_end


def next_slot(config: ScheduleConfig, job: str, now: dt.datetime,
              done_today: bool = False) -> dt.datetime | None:
    """The next instant `job` will run (a business day at its time), for `--status`."""
    now_local = local(config, now)
    at = job_time(config, job)
    for ahead in range(0, 60):
        day = now_local.date() + dt.timedelta(days=ahead)
        if not business_day(config, day):
            continue
        if ahead == 0 and (done_today or now_local.time() >= at):
            continue
        return slot_instant(config, day, at)
    return None


def next_dispatch(config: ScheduleConfig, now: dt.datetime) -> dt.datetime | None:
    """The next instant a dispatch tick may send: within `dispatch_every_minutes` when
    inside the window, else the next opening of the window."""
    if in_sending_window(config, now):
        return local(config, now) + dt.timedelta(minutes=config.dispatch_every_minutes)
    now_local = local(config, now)
    for ahead in range(0, 60):
        day = now_local.date() + dt.timedelta(days=ahead)
        opening = slot_instant(config, day, config.sending_start)
        if opening > now_local and in_sending_window(config, opening):
            return opening
    return None
