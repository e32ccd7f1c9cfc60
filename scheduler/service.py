"""The scheduler: decides what is due, makes sure it runs once, and runs it.

APScheduler 3 only *triggers* here. Each process keeps an in-memory scheduler (never a
shared job store: its FAQ says two processes sharing one run jobs twice) whose triggers
call `tick_daily` and `tick_dispatch`. What makes a day's work happen exactly once is the
store: the leader claims (job, day) in `job_run`, whose unique key refuses a second
claim, and records the outcome there. A claim left `running` by a dead process is taken
over (same host and the process is gone, or its lease expired without a heartbeat);
re-running is safe because the engine's run is idempotent per date.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import socket
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from relance.kernel.schedule import ScheduleConfig
from relance.scheduler import plan
from relance.scheduler.clock import Clock, SystemClock
from relance.scheduler.core import Dispatch, MailSummary, RunDay
from relance.scheduler.intake import INTAKE, noted_pass
from relance.scheduler.leader import LEADER_LOCK_NAME, Leadership, pid_alive
from relance.scheduler.logs import JsonLog
from relance.scheduler.promises import check_promises
from relance.scheduler.summary import build_summary
from relance.store import leases
from relance.store.db import Store
from relance.store.models import Channel, Run

# E-mail, SMS and internal alerts go out through the day inside the sending hours; letters
# leave once a day in the batch for the mail house.
SENDING_CHANNELS = frozenset({Channel.EMAIL, Channel.SMS, Channel.NOTIFY})
LETTER_CHANNELS = frozenset({Channel.LETTER})

JOB_LEASE = dt.timedelta(minutes=5)
MAX_ATTEMPTS = 3
RETRY_AFTER = dt.timedelta(minutes=15)

PAUSE_AFTER_CLAIM_ENV = "RELANCE_TEST_PAUSE_AFTER_CLAIM"
PAUSE_AFTER_RUN_ENV = "RELANCE_TEST_PAUSE_AFTER_RUN"
"""Test hooks: seconds to sleep inside the daily run, just after its claim is committed
or just after the engine's run returned and before the outcome is recorded, so that a
test can kill the process at that point. Unset in production."""


@dataclass(frozen=True)
class JobOutcome:
    job: str
    day: dt.date
    status: str  # done, failed
    detail: dict[str, Any] = field(default_factory=dict)
    attempt: int = 1

    def as_dict(self) -> dict[str, Any]:
        return {"job": self.job, "day": self.day.isoformat(), "status": self.status,
                "attempt": self.attempt, "detail": self.detail}


def _pause(env: str, log: JsonLog, job: str, day: dt.date) -> None:
    raw = os.environ.get(env)
    if not raw:
        return
    log.warning("test.pause", hook=env, job=job, day=day.isoformat(), seconds=float(raw))
    time.sleep(float(raw))


class Scheduler:
    """One process's share of the schedule. Thread-safe: APScheduler calls its ticks
    from worker threads; `stop` (set on SIGTERM) keeps anything new from starting."""

    def __init__(
        self,
        store: Store,
        config: ScheduleConfig,
        *,
        run_day: RunDay,
        dispatch: Dispatch,
        leadership: Leadership,
        clock: Clock | None = None,
        log: JsonLog | None = None,
        actor: str = "scheduler",
        host: str | None = None,
        pid: int | None = None,
        stop: threading.Event | None = None,
        summary_sink: Callable[[str], None] | None = None,
        mail_summary: MailSummary | None = None,
        summary_to: Sequence[str] = (),
        job_lease: dt.timedelta = JOB_LEASE,
        intake: Callable[[dt.datetime], dict[str, Any]] | None = None,
        intake_every_seconds: int = 60,
    ) -> None:
        self.store = store
        self.config = config
        self.run_day = run_day
        self.dispatch = dispatch
        self.leadership = leadership
        self.clock: Clock = clock or SystemClock()
        self.log = log or JsonLog()
        self.actor = actor
        self.host = host or socket.gethostname()
        self.pid = pid if pid is not None else os.getpid()
        self.stop = stop or threading.Event()
        self.summary_sink = summary_sink
        self.mail_summary = mail_summary
        self.summary_to = tuple(summary_to)
        self.job_lease = job_lease
        # The intake folders' pass (scheduler/intake.py), when `[intake] dir` is set.
        self.intake = intake
        self.intake_every_seconds = intake_every_seconds
        self._intake_lock = threading.Lock()
        self._daily_lock = threading.Lock()
        self._dispatch_lock = threading.Lock()
        self._active: set[int] = set()
        self._settled: set[tuple[str, dt.date]] = set()
        self._lease_noted_at: dt.datetime | None = None
        self._leading = False
        self.led = False  # whether this process led at any tick (for `--once`'s report)
        self._window_open: bool | None = None

    @property
    def holder(self) -> str:
        return f"{self.host}:{self.pid}"

    # ------------------------------------------------------------------ daily jobs

    def tick_daily(self) -> list[JobOutcome]:
        """Run the once-a-day jobs that are due, if this process leads."""
        with self._daily_lock:
            if self.stop.is_set():
                return []
            leading = self.leadership.try_lead()
            if leading != self._leading:
                self._leading = leading
                if leading:
                    self.log.info("leader.elected", holder=self.holder,
                                  how=self.leadership.describe())
                else:
                    self.log.warning("leader.lost", holder=self.holder)
            if not leading:
                return []
            self.led = True
            self._note_leadership()
            outcomes: list[JobOutcome] = []
            for job in plan.DAILY_JOBS:
                if self.stop.is_set():
                    break
                outcome = self._daily_job(job)
                if outcome is not None:
                    outcomes.append(outcome)
            return outcomes

    def _note_leadership(self) -> None:
        # The lease row only tells `relance serve --status` who leads; the lock decides.
        ttl = dt.timedelta(minutes=2 * self.config.dispatch_every_minutes + 1)
        now = self.clock.now()
        if self._lease_noted_at is not None and now - self._lease_noted_at < ttl / 3:
            return
        try:
            leases.acquire_lease(self.store, LEADER_LOCK_NAME, self.holder, ttl, now=now)
            self._lease_noted_at = now
        except Exception as exc:  # informative only: never stop the day's work for it
            self.log.warning("leader.note_failed", error=str(exc))

    def _stale(self, claim: leases.JobClaim, now: dt.datetime) -> bool:
        if claim.host == self.host and claim.pid is not None:
            if claim.pid == self.pid:
                return claim.run_id not in self._active
            return not pid_alive(claim.pid)
        return claim.lease_expires_at is None or claim.lease_expires_at < now

    def _daily_job(self, job: str) -> JobOutcome | None:
        now = self.clock.now()
        day = plan.latest_due_day(self.config, job, now)
        if day is None or (job, day) in self._settled:
            return None
        if day != plan.local(self.config, now).date() and (
                leases.last_day_with_row(self.store, job) is None):
            # A new installation starts with today: it has missed nothing before it.
            return None
        claim = leases.claim_job_run(self.store, job, day, host=self.host, pid=self.pid,
                                     ttl=self.job_lease, now=now)
        if claim.claimed:
            last = leases.last_day_with_row(self.store, job, before=day)
            missed = plan.missed_days(self.config, now, day, last)
            if missed:
                marked = leases.record_skipped(self.store, job, list(missed), host=self.host,
                                               into=day, now=now)
                if marked:
                    self.log.info("job.coalesced", job=job, day=day.isoformat(),
                                  missed=[d.isoformat() for d in marked])
            return self._execute(job, day, claim)
        if claim.status == leases.RUNNING:
            if not self._stale(claim, now):
                return None
            taken = leases.take_over_job_run(self.store, claim, host=self.host, pid=self.pid,
                                             ttl=self.job_lease, now=now)
            if taken is None:
                return None
            self.log.warning("job.recovered", job=job, day=day.isoformat(),
                             previous=f"{claim.host}:{claim.pid}", attempt=taken.attempt)
            return self._execute(job, day, taken)
        if claim.status == leases.FAILED:
            finished = claim.finished_at or now
            if claim.attempt >= MAX_ATTEMPTS or finished + RETRY_AFTER > now:
                return None
            taken = leases.take_over_job_run(self.store, claim, host=self.host, pid=self.pid,
                                             ttl=self.job_lease, now=now)
            if taken is None:
                return None
            self.log.info("job.retry", job=job, day=day.isoformat(), attempt=taken.attempt)
            return self._execute(job, day, taken)
        # Done or skipped: final, so later ticks need not ask the database again.
        self._settled.add((job, day))
        return None

    def _execute(self, job: str, day: dt.date, claim: leases.JobClaim) -> JobOutcome:
        self._active.add(claim.run_id)
        beating = threading.Event()
        heart = threading.Thread(target=self._heartbeat, args=(claim, beating),
                                 name=f"heartbeat-{job}", daemon=True)
        heart.start()
        started = time.monotonic()
        self.log.info("job.start", job=job, day=day.isoformat(), attempt=claim.attempt,
                      holder=self.holder)
        status = leases.DONE
        detail: dict[str, Any]
        try:
            if job == plan.DAILY_RUN:
                _pause(PAUSE_AFTER_CLAIM_ENV, self.log, job, day)
            detail = self._job_body(job, day)
            if job == plan.DAILY_RUN:
                _pause(PAUSE_AFTER_RUN_ENV, self.log, job, day)
        except Exception as exc:
            status = leases.FAILED
            detail = {"error": str(exc) or exc.__class__.__name__,
                      "error_type": exc.__class__.__name__}
            self.log.error("job.error", job=job, day=day.isoformat(), error=detail["error"],
                           trace=traceback.format_exc(limit=6))
        finally:
            beating.set()
            heart.join(timeout=5)
            self._active.discard(claim.run_id)
        duration_ms = int((time.monotonic() - started) * 1000)
        kept = leases.finish_job_run(self.store, claim.run_id, attempt=claim.attempt,
                                     status=status, detail={**detail,
                                                            "duration_ms": duration_ms},
                                     now=self.clock.now())
        if not kept:
            self.log.warning("job.claim_lost", job=job, day=day.isoformat())
        elif status == leases.DONE:
            self._settled.add((job, day))
        self.log.emit("job.end", level="info" if status == leases.DONE else "error",
                      job=job, day=day.isoformat(), status=status, duration_ms=duration_ms,
                      counts=detail)
        return JobOutcome(job, day, status, detail, claim.attempt)

    def _heartbeat(self, claim: leases.JobClaim, done: threading.Event) -> None:
        interval = max(self.job_lease.total_seconds() / 3, 1.0)
        while not done.wait(interval):
            try:
                if not leases.renew_job_run(self.store, claim.run_id, attempt=claim.attempt,
                                            ttl=self.job_lease, now=self.clock.now()):
                    self.log.warning("job.claim_lost", run_id=claim.run_id)
                    return
            except Exception as exc:  # a database blip: try again at the next beat
                self.log.warning("job.heartbeat_failed", error=str(exc))

    def _job_body(self, job: str, day: dt.date) -> dict[str, Any]:
        if job == plan.PROMISE_CHECK:
            return check_promises(self.store, day, actor=self.actor).as_dict()
        if job == plan.DAILY_RUN:
            existing = self._finished_run(day)
            if existing is not None:
                # Someone ran the day by hand already (relance run --on D): once is enough.
                return {"already_run": existing}
            return self.run_day(day)
        if job == plan.SUMMARY:
            now = self.clock.now()
            midnight = plan.slot_instant(self.config, day, dt.time(0, 0))
            summary = build_summary(self.store, day, now=now, start_of_day=midnight)
            text = summary.render()
            if self.summary_sink is not None:
                self.summary_sink(text)
            result = summary.as_dict()
            if self.mail_summary is not None and self.summary_to:
                result["mail"] = self.mail_summary(day, text, self.summary_to)
            return result
        if job == plan.LETTER_BATCH:
            return self.dispatch(day, LETTER_CHANNELS, self.stop)
        raise ValueError(f"unknown job {job}")

    def _finished_run(self, day: dt.date) -> int | None:
        with self.store.transaction() as session:
            found = session.execute(
                select(Run.id).where(Run.run_date == day, Run.status == "done")
                .order_by(Run.id).limit(1)
            ).scalar()
            return int(found) if found is not None else None

    # ------------------------------------------------------------------ dispatch

    def tick_dispatch(self) -> dict[str, Any] | None:
        """Send e-mails and SMS if inside the sending window; any process may, since
        claiming an action is safe. None when nothing was attempted."""
        if self.stop.is_set():
            return None
        now = self.clock.now()
        open_now = plan.in_sending_window(self.config, now)
        if open_now != self._window_open:
            self._window_open = open_now
            self.log.info("dispatch.window", open=open_now,
                          hours=self.config.sending_hours)
        if not open_now:
            return None
        if not self._dispatch_lock.acquire(blocking=False):
            return None  # the previous tick is still sending
        try:
            today = plan.local(self.config, now).date()
            started = time.monotonic()
            self.log.info("job.start", job=plan.DISPATCH, day=today.isoformat(),
                          holder=self.holder)
            failed = False
            try:
                outcome = self.dispatch(today, SENDING_CHANNELS, self.stop)
            except Exception as exc:
                failed = True
                outcome = {"error": str(exc) or exc.__class__.__name__,
                           "error_type": exc.__class__.__name__}
                self.log.error("job.error", job=plan.DISPATCH, day=today.isoformat(),
                               error=outcome["error"], trace=traceback.format_exc(limit=6))
            duration_ms = int((time.monotonic() - started) * 1000)
            totals = {k: v for k, v in outcome.items()
                      if isinstance(v, int) and not isinstance(v, bool)}
            try:
                leases.note_repeating_job(self.store, plan.DISPATCH, today, host=self.host,
                                          pid=self.pid, outcome={**outcome,
                                                                 "duration_ms": duration_ms},
                                          totals=totals, failed=failed, now=self.clock.now())
            except Exception as exc:
                self.log.warning("dispatch.note_failed", error=str(exc))
            self.log.emit("job.end", level="error" if failed else "info", job=plan.DISPATCH,
                          day=today.isoformat(), status="failed" if failed else "done",
                          duration_ms=duration_ms, counts=outcome)
            return outcome
        finally:
            self._dispatch_lock.release()

    # ------------------------------------------------------------------ intake

    def tick_intake(self) -> dict[str, Any] | None:
        """A pass over the intake folders, on the leader only (as of its last daily
        tick; the pass holds a lease of its own besides). None when nothing was tried."""
        if self.intake is None or self.stop.is_set() or not self._leading:
            return None
        if not self._intake_lock.acquire(blocking=False):
            return None  # the previous pass is still importing
        try:
            return noted_pass(self.intake, store=self.store, config=self.config,
                              now=self.clock.now, log=self.log, host=self.host, pid=self.pid)
        finally:
            self._intake_lock.release()

    # ------------------------------------------------------------------ lifecycle

    def run_once(self) -> tuple[list[JobOutcome], dict[str, Any] | None]:
        """What is due now, then exit: the once-a-day jobs (if leading), an intake pass
        (if leading and `[intake] dir` is set) and a dispatch."""
        outcomes = self.tick_daily()
        self.tick_intake()
        sent = self.tick_dispatch()
        return outcomes, sent

    def close(self) -> None:
        if self._leading:
            with contextlib.suppress(Exception):
                leases.release_lease(self.store, LEADER_LOCK_NAME, self.holder)
        self.leadership.release()
        self._leading = False
        self._lease_noted_at = None

    def _guarded(self, tick: Callable[[], object], name: str) -> Callable[[], None]:
        """A tick that logs its failure (the database down, say) as a JSON line and lets
        the next tick try again, instead of a traceback from APScheduler's thread."""

        def run() -> None:
            try:
                tick()
            except Exception as exc:
                self.log.error("tick.error", tick=name, error=str(exc) or type(exc).__name__,
                               trace=traceback.format_exc(limit=6))

        return run

    def serve(self, *, poll_seconds: float = 1.0) -> None:
        """Run until `stop` is set: APScheduler triggers the ticks; on stop, the send in
        progress finishes, nothing new starts, and leadership is released."""
        from apscheduler.schedulers.background import BackgroundScheduler
        from apscheduler.triggers.cron import CronTrigger
        from apscheduler.triggers.interval import IntervalTrigger

        zone = self.config.tz
        _route_apscheduler_logs(self.log)
        daily = self._guarded(self.tick_daily, "daily")
        dispatch = self._guarded(self.tick_dispatch, "dispatch")
        # misfire_grace_time=None: a trigger that fires late (a busy pool, a suspended
        # VM) still runs; coalesce: several missed fires become one. The store decides
        # whether there is anything left to do anyway.
        scheduler = BackgroundScheduler(
            timezone=zone,
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        )
        for at in sorted({self.config.run_at, self.config.summary_at, self.config.letters_at}):
            scheduler.add_job(daily, CronTrigger(hour=at.hour, minute=at.minute, timezone=zone),
                              id=f"daily-{at:%H%M}", name=f"once-a-day jobs at {at:%H:%M}")
        every = IntervalTrigger(minutes=self.config.dispatch_every_minutes, timezone=zone)
        # The same tick also catches up after downtime and lets a standby take over from
        # a leader that died.
        scheduler.add_job(daily, every, id="catch-up", name="catch-up")
        scheduler.add_job(dispatch, every, id="dispatch", name="dispatch")
        scheduler.add_job(daily, id="start-daily", name="catch-up at start")
        scheduler.add_job(dispatch, id="start-dispatch", name="dispatch at start")
        if self.intake is not None:
            scheduler.add_job(self._guarded(self.tick_intake, INTAKE),
                              IntervalTrigger(seconds=self.intake_every_seconds, timezone=zone),
                              id=INTAKE, name="intake folders")
        self.log.info("serve.start", holder=self.holder, timezone=self.config.timezone,
                      run_at=f"{self.config.run_at:%H:%M}",
                      sending_hours=self.config.sending_hours,
                      dispatch_every_minutes=self.config.dispatch_every_minutes)
        scheduler.start()
        try:
            while not self.stop.wait(poll_seconds):
                pass
        finally:
            self.log.info("serve.stopping", holder=self.holder)
            # wait=True: jobs already running finish (a dispatch stops after its current
            # send because it watches the same `stop` event).
            scheduler.shutdown(wait=True)
            self.close()
            self.log.info("serve.stopped", holder=self.holder)


def resolve_country(config: ScheduleConfig, store: Store, log: JsonLog | None = None
                    ) -> ScheduleConfig:
    """Fill in the holiday calendar's country when `[schedule] country` is not set: the
    creditors' country when they all share one, else FR."""
    if config.country is not None:
        return config
    from relance.store.models import Creditor

    with store.transaction() as session:
        countries = sorted({c.upper() for c in session.execute(
            select(Creditor.country).distinct()).scalars() if c})
    if len(countries) == 1:
        return config.with_country(countries[0])
    if len(countries) > 1 and log is not None:
        log.warning("config.country", problem="creditors in several countries "
                    f"({', '.join(countries)}); using FR holidays: set [schedule] country")
    return config.with_country("FR")


class _JsonHandler(logging.Handler):
    def __init__(self, log: JsonLog) -> None:
        super().__init__(level=logging.WARNING)
        self.log = log

    def emit(self, record: logging.LogRecord) -> None:
        self.log.emit("apscheduler", level=record.levelname.lower(), message=record.getMessage())


def _route_apscheduler_logs(log: JsonLog) -> None:
    """APScheduler's own warnings (a tick skipped because the previous one still runs)
    become JSON lines like ours, not free text on stderr."""
    logger = logging.getLogger("apscheduler")
    logger.handlers[:] = [_JsonHandler(log)]
    logger.setLevel(logging.WARNING)
    logger.propagate = False
