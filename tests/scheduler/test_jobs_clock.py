"""The scheduler's job functions driven by a controlled clock, on SQLite and PostgreSQL.

Only the clock is the test's: the engine's run and the channels' dispatch are the real
ones, on a real book, wrapped in a spy that notes when they were called.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Collection, Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from relance.kernel.schedule import ScheduleConfig
from relance.scheduler import plan
from relance.scheduler.clock import ManualClock
from relance.scheduler.core import channels_dispatch, engine_run_day
from relance.scheduler.leader import leadership_for
from relance.scheduler.logs import JsonLog
from relance.scheduler.service import Scheduler
from relance.store import leases
from relance.store.db import Store
from relance.store.models import Channel, JobRun, Run
from tests.scheduler.book import add_book, make_workspace, queue_shape

PARIS = ZoneInfo("Europe/Paris")
LETTERS = frozenset({"letter"})


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=PARIS)


class Spy:
    """Calls the real run and dispatch, noting each call with the clock's time."""

    def __init__(self, clock: ManualClock, store: Store, workspace: Path) -> None:
        from relance.kernel.workspace import find_workspace

        self.clock = clock
        found = find_workspace(workspace)
        self.real_run = engine_run_day(store, found, actor="scheduler")
        self.real_dispatch = channels_dispatch(store, found)
        self.runs: list[dt.date] = []
        self.run_times: list[dt.datetime] = []
        self.dispatches: list[tuple[dt.datetime, frozenset[str] | None, int]] = []

    def run_day(self, day: dt.date) -> dict[str, Any]:
        self.runs.append(day)
        self.run_times.append(self.clock.now().astimezone(PARIS))
        return self.real_run(day)

    def dispatch(self, day: dt.date, channels: Collection[Channel] | None,
                 stop: threading.Event) -> dict[str, Any]:
        report = self.real_dispatch(day, channels, stop)
        chosen = None if channels is None else frozenset(str(c) for c in channels)
        self.dispatches.append((self.clock.now().astimezone(PARIS), chosen,
                                int(report["sent"])))
        return report


class Harness:
    def __init__(self, store: Store, tmp_path: Path, start: dt.datetime,
                 config: ScheduleConfig | None = None) -> None:
        self.clock = ManualClock(start)
        self.workspace = make_workspace(tmp_path / "ws")
        self.recorder = Spy(self.clock, store, self.workspace)
        self.log = JsonLog(path=tmp_path / "serve.jsonl")
        self.log.keep = True
        self.scheduler = Scheduler(
            store, config or ScheduleConfig(country="FR"),
            run_day=self.recorder.run_day, dispatch=self.recorder.dispatch,
            leadership=leadership_for(store, tmp_path), clock=self.clock, log=self.log)

    def walk(self, until: dt.datetime, step: dt.timedelta) -> None:
        """Tick as `relance serve` would, every `step`, until `until`."""
        while self.clock.now() < until:
            self.clock.advance(step)
            self.scheduler.tick_daily()
            self.scheduler.tick_dispatch()

    def close(self) -> None:
        self.scheduler.close()
        self.log.close()


Make = Callable[..., Harness]


@pytest.fixture
def make(store: Store, tmp_path: Path) -> Iterator[Make]:
    add_book(store)
    made: list[Harness] = []

    def build(start: str, config: ScheduleConfig | None = None) -> Harness:
        harness = Harness(store, tmp_path, at(start), config)
        made.append(harness)
        return harness

    yield build
    for harness in made:
        harness.close()


def run_dates(store: Store) -> list[dt.date]:
    with store.transaction() as session:
        return list(session.execute(select(Run.run_date).order_by(Run.id)).scalars())


def job_rows(store: Store, job: str) -> list[tuple[dt.date, str]]:
    with store.transaction() as session:
        return [(r.day, r.status) for r in session.execute(
            select(JobRun).where(JobRun.job == job).order_by(JobRun.day)).scalars()]


def test_a_missed_stretch_is_caught_up_once(store: Store, make: Make) -> None:
    h = make("2026-03-02T06:50")  # Monday
    h.walk(at("2026-03-02T12:00"), dt.timedelta(minutes=30))
    assert h.recorder.runs == [dt.date(2026, 3, 2)]
    h.close()

    # Down from Monday noon to Thursday 06:00; back before Thursday's 07:00 run.
    again = make("2026-03-05T06:00")
    for _ in range(5):  # several triggers at once: the start, the interval, a cron fire
        again.scheduler.tick_daily()
    assert again.recorder.runs == [dt.date(2026, 3, 4)]  # Wednesday, once; Tuesday coalesced
    again.walk(at("2026-03-05T23:00"), dt.timedelta(minutes=15))
    assert again.recorder.runs == [dt.date(2026, 3, 4), dt.date(2026, 3, 5)]
    assert job_rows(store, plan.DAILY_RUN) == [
        (dt.date(2026, 3, 2), "done"), (dt.date(2026, 3, 3), "skipped"),
        (dt.date(2026, 3, 4), "done"), (dt.date(2026, 3, 5), "done")]
    assert run_dates(store) == [dt.date(2026, 3, 2), dt.date(2026, 3, 4), dt.date(2026, 3, 5)]
    # Level-based rules: each invoice got its first reminder once, however many runs.
    assert queue_shape(store) == [(f"D{d:04d}", "email", 2) for d in range(3)]
    coalesced = [e for e in again.log.lines if e["event"] == "job.coalesced"]
    assert {e["job"] for e in coalesced} >= {plan.DAILY_RUN}
    assert all(e["missed"] == ["2026-03-03"] for e in coalesced if e["job"] == plan.DAILY_RUN)


def test_holidays_and_weekends_are_skipped(store: Store, make: Make) -> None:
    # Thursday 30 April to Monday 11 May 2026: 1 May and 8 May are French holidays.
    h = make("2026-04-30T00:00")
    h.walk(at("2026-05-11T23:59"), dt.timedelta(hours=3))
    assert h.recorder.runs == [dt.date(2026, 4, 30), dt.date(2026, 5, 4), dt.date(2026, 5, 5),
                               dt.date(2026, 5, 6), dt.date(2026, 5, 7), dt.date(2026, 5, 11)]
    assert run_dates(store) == h.recorder.runs
    for job in (plan.PROMISE_CHECK, plan.SUMMARY, plan.LETTER_BATCH):
        assert [d for d, _ in job_rows(store, job)] == h.recorder.runs


def test_sending_hours_and_the_daily_letter_batch(store: Store, make: Make) -> None:
    # Friday 13 to Monday 16 March 2026, ticking every 30 minutes.
    h = make("2026-03-13T00:00", ScheduleConfig(country="FR", dispatch_every_minutes=30))
    h.walk(at("2026-03-16T23:59"), dt.timedelta(minutes=30))
    sending = [when for when, chans, _sent in h.recorder.dispatches if chans != LETTERS]
    letters = [when for when, chans, _sent in h.recorder.dispatches if chans == LETTERS]
    assert sending, "no dispatch at all"
    assert all(when.weekday() != 6 for when in sending), "an e-mail tick on a Sunday"
    assert all(dt.time(8, 0) <= when.time() < dt.time(19, 0) for when in sending)
    assert {when.date() for when in sending} == {dt.date(2026, 3, d) for d in (13, 14, 16)}
    # Every 30 minutes from 08:00 to 18:30: 22 ticks a day.
    assert sum(1 for when in sending if when.date() == dt.date(2026, 3, 14)) == 22
    assert {chans for _, chans, _sent in h.recorder.dispatches if chans != LETTERS} == {
        frozenset({"email", "sms", "notify"})}
    # Friday's run queued three e-mails; the first tick in the window sent them.
    sent = [(when, n) for when, chans, n in h.recorder.dispatches if n]
    assert sent == [(at("2026-03-13T08:00"), 3)]
    # Letters: once on each business day, at 09:00, never on Saturday.
    assert [(w.date(), w.time()) for w in letters] == [
        (dt.date(2026, 3, 13), dt.time(9, 0)), (dt.date(2026, 3, 16), dt.time(9, 0))]
    day = job_rows(store, plan.DISPATCH)
    assert [d for d, _ in day] == [dt.date(2026, 3, d) for d in (13, 14, 16)]


def test_a_claim_left_by_a_dead_process_is_taken_over(store: Store, make: Make) -> None:
    h = make("2026-03-10T07:05")
    now = h.clock.now()
    # A process of this host claimed Tuesday's run and died (pid 2**22+1 does not exist).
    dead = leases.claim_job_run(store, plan.DAILY_RUN, dt.date(2026, 3, 10),
                                host=h.scheduler.host, pid=4194305,
                                ttl=dt.timedelta(minutes=5), now=now)
    assert dead.claimed
    outcomes = h.scheduler.tick_daily()
    assert [(o.job, o.status, o.attempt) for o in outcomes if o.job == plan.DAILY_RUN] == [
        (plan.DAILY_RUN, "done", 2)]
    assert h.recorder.runs == [dt.date(2026, 3, 10)]
    assert any(e["event"] == "job.recovered" for e in h.log.lines)


def test_a_claim_of_a_live_process_elsewhere_waits_for_its_lease(store: Store,
                                                                 make: Make) -> None:
    h = make("2026-03-10T07:05")
    leases.claim_job_run(store, plan.DAILY_RUN, dt.date(2026, 3, 10), host="other-host",
                         pid=1, ttl=dt.timedelta(minutes=5), now=h.clock.now())
    h.scheduler.tick_daily()
    assert h.recorder.runs == []  # the other host may still be running it
    h.clock.advance(dt.timedelta(minutes=6))  # no heartbeat for longer than the lease
    h.scheduler.tick_daily()
    assert h.recorder.runs == [dt.date(2026, 3, 10)]


def test_a_failed_run_is_retried_a_bounded_number_of_times(store: Store, make: Make) -> None:
    h = make("2026-03-10T07:00")
    (h.workspace / "rules" / "chase.rules").write_text("policy chase\nrule r:\n  when\n")
    h.walk(at("2026-03-10T12:00"), dt.timedelta(minutes=5))
    rows = leases.last_job_runs(store, plan.DAILY_RUN)
    assert (rows[0].status, rows[0].attempt) == ("failed", 3)
    assert rows[0].detail["error"].startswith("the rules have errors, nothing was run")
    assert "chase.rules" in rows[0].detail["error"]
    # Attempts at 07:00, 07:15 and 07:30 (15 minutes apart), then no more.
    assert h.recorder.runs == [dt.date(2026, 3, 10)] * 3
    errors = [e for e in h.log.lines if e["event"] == "job.end" and e["status"] == "failed"
              and e["job"] == plan.DAILY_RUN]
    assert len(errors) == 3


def test_a_day_run_by_hand_is_not_run_again(store: Store, make: Make) -> None:
    h = make("2026-03-10T07:05")
    h.recorder.real_run(dt.date(2026, 3, 10))  # as `relance run --on 2026-03-10` does
    h.scheduler.tick_daily()
    assert h.recorder.runs == []
    assert run_dates(store) == [dt.date(2026, 3, 10)]
    assert "already_run" in leases.last_job_runs(store, plan.DAILY_RUN)[0].detail


def test_a_new_installation_starts_today(store: Store, make: Make) -> None:
    h = make("2026-03-15T10:00")  # a Sunday: nothing to do, Friday is not caught up
    h.scheduler.tick_daily()
    assert h.recorder.runs == []
    h.walk(at("2026-03-16T07:30"), dt.timedelta(minutes=15))
    assert h.recorder.runs == [dt.date(2026, 3, 16)]


def test_a_second_process_does_not_lead(store: Store, make: Make) -> None:
    first = make("2026-03-10T07:05")
    second = make("2026-03-10T07:05")
    assert first.scheduler.tick_daily()
    assert second.scheduler.tick_daily() == []
    assert not second.scheduler.led
    first.close()  # the leader stops: the standby takes over at its next tick
    second.clock.advance(dt.timedelta(days=1))
    assert [o.day for o in second.scheduler.tick_daily() if o.job == plan.DAILY_RUN] == [
        dt.date(2026, 3, 11)]


def test_the_run_keeps_its_wall_clock_time_across_a_daylight_saving_change(
        store: Store, make: Make) -> None:
    # Paris moves from UTC+1 to UTC+2 in the night of Sunday 29 March 2026.
    h = make("2026-03-27T04:00")
    h.walk(at("2026-03-30T09:00"), dt.timedelta(minutes=30))
    assert [(t.date(), t.strftime("%H:%M %z")) for t in h.recorder.run_times] == [
        (dt.date(2026, 3, 27), "07:00 +0100"), (dt.date(2026, 3, 30), "07:00 +0200")]
