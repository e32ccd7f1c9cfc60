"""Who may run what: session advisory locks, named leases and once-a-day job claims.

Three tools, from the coarsest to the finest:

- `AdvisoryLock` holds a PostgreSQL session advisory lock on a connection of its own for
  as long as its owner leads; the server releases it the moment that connection dies, so
  a crashed leader cannot block the others.
- `acquire_lease` / `release_lease` keep a row of the `lease` table with an expiry: not a
  lock the database enforces, but a record others can read ("who leads, until when").
- `claim_job_run` records a (job, day) claim in `job_run`, whose unique key makes a
  second claim for the same day impossible; a claim left `running` by a dead process is
  taken over only through `take_over_job_run`, a conditional update that one caller wins.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, select, text, update
from sqlalchemy.exc import IntegrityError

from relance.store.db import Store
from relance.store.models import JobRun, Lease, utcnow

RUNNING = "running"
DONE = "done"
FAILED = "failed"
SKIPPED = "skipped"
FINISHED_STATES = frozenset({DONE, FAILED, SKIPPED})


def advisory_key(name: str) -> int:
    """A stable signed 64-bit key for `name` (PostgreSQL advisory locks take a bigint)."""
    digest = hashlib.sha256(f"relance:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class AdvisoryLock:
    """A PostgreSQL session-level advisory lock held on a dedicated connection.

    The connection is opened by `try_acquire` and kept until `release`; `still_held`
    checks that the connection (and so the lock) is still alive.
    """

    def __init__(self, engine: Engine, name: str) -> None:
        if engine.dialect.name != "postgresql":
            raise ValueError("advisory locks need PostgreSQL")
        self.engine = engine
        self.name = name
        self.key = advisory_key(name)
        self._conn: Connection | None = None

    @property
    def held(self) -> bool:
        return self._conn is not None

    def try_acquire(self) -> bool:
        """Take the lock if nobody holds it; True when this object holds it afterwards."""
        if self._conn is not None:
            return self.still_held()
        conn = self.engine.connect()
        try:
            got = bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": self.key})
                       .scalar())
            # Session locks survive the end of the transaction; ending it keeps the
            # connection from sitting "idle in transaction" for hours.
            conn.commit()
        except Exception:
            conn.close()
            raise
        if not got:
            conn.close()
            return False
        self._conn = conn
        return True

    def still_held(self) -> bool:
        """Whether the lock's connection still answers; drops it when it does not."""
        if self._conn is None:
            return False
        try:
            self._conn.execute(text("SELECT 1"))
            self._conn.commit()
            return True
        except Exception:
            self._forget()
            return False

    def release(self) -> None:
        if self._conn is None:
            return
        try:
            self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self.key})
            self._conn.commit()
        except Exception:  # the connection is gone: so is the lock
            pass
        finally:
            self._forget()

    def _forget(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.invalidate()
                conn.close()
            except Exception:
                pass


# --------------------------------------------------------------------------- leases


def _utc(now: dt.datetime | None) -> dt.datetime:
    # SQLite keeps a date-time's wall clock and drops its zone: store UTC only.
    return (now or utcnow()).astimezone(dt.UTC)


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    # SQLite hands back naive datetimes; everything is stored in UTC.
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value


def acquire_lease(store: Store, name: str, holder: str, ttl: dt.timedelta,
                  now: dt.datetime | None = None) -> bool:
    """Take or renew the lease `name` for `holder` until now + ttl; False when another
    holder has it and it has not expired."""
    now = _utc(now)
    with store.write_transaction() as session:
        lease = session.get(Lease, name, with_for_update=not store.is_sqlite)
        if lease is None:
            session.add(Lease(name=name, holder=holder, expires_at=now + ttl, acquired_at=now))
            try:
                session.flush()
            except IntegrityError:  # someone inserted it first
                return False
            return True
        expires = _aware(lease.expires_at)
        if lease.holder != holder and expires is not None and expires > now:
            return False
        if lease.holder != holder:
            lease.acquired_at = now
        lease.holder = holder
        lease.expires_at = now + ttl
        return True


def release_lease(store: Store, name: str, holder: str) -> None:
    """Let go of the lease if `holder` has it (an expired lease needs no release)."""
    with store.write_transaction() as session:
        lease = session.get(Lease, name)
        if lease is not None and lease.holder == holder:
            session.delete(lease)


def read_lease(store: Store, name: str) -> tuple[str, dt.datetime] | None:
    """(holder, expiry) of the lease `name`, or None."""
    with store.transaction() as session:
        lease = session.get(Lease, name)
        if lease is None:
            return None
        expires = _aware(lease.expires_at)
        assert expires is not None
        return lease.holder, expires


# --------------------------------------------------------------------------- job claims


@dataclass(frozen=True)
class JobClaim:
    """The outcome of a claim: `claimed` is True when the caller now owns (job, day)."""

    claimed: bool
    run_id: int
    status: str
    host: str
    pid: int | None
    lease_expires_at: dt.datetime | None
    attempt: int
    finished_at: dt.datetime | None = None


def _claim_of(row: JobRun, claimed: bool) -> JobClaim:
    return JobClaim(claimed, row.id, row.status, row.host, row.pid,
                    _aware(row.lease_expires_at), row.attempt, _aware(row.finished_at))


def claim_job_run(store: Store, job: str, day: dt.date, *, host: str, pid: int,
                  ttl: dt.timedelta, now: dt.datetime | None = None) -> JobClaim:
    """Claim (job, day): insert a `running` row, or report the row that exists."""
    now = _utc(now)
    try:
        with store.write_transaction() as session:
            row = JobRun(job=job, day=day, status=RUNNING, host=host, pid=pid,
                         lease_expires_at=now + ttl, attempt=1, started_at=now, detail={})
            session.add(row)
            session.flush()
            return _claim_of(row, True)
    except IntegrityError:
        pass
    with store.transaction() as session:
        existing = session.execute(
            select(JobRun).where(JobRun.job == job, JobRun.day == day)
        ).scalar_one()
        return _claim_of(existing, False)


def take_over_job_run(store: Store, claim: JobClaim, *, host: str, pid: int,
                      ttl: dt.timedelta, now: dt.datetime | None = None) -> JobClaim | None:
    """Take over the row described by `claim`: a `running` one whose claimant the caller
    found dead or expired, or a `failed` one to retry. The update only matches if nobody
    changed the row since, so of several callers at most one wins; None for the others."""
    if claim.status not in (RUNNING, FAILED):
        raise ValueError(f"cannot take over a {claim.status} job run")
    now = _utc(now)
    with store.write_transaction() as session:
        result = session.execute(
            update(JobRun)
            .where(JobRun.id == claim.run_id, JobRun.status == claim.status,
                   JobRun.attempt == claim.attempt)
            .values(status=RUNNING, host=host, pid=pid, lease_expires_at=now + ttl,
                    attempt=claim.attempt + 1, started_at=now, finished_at=None)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            return None
        row = session.get(JobRun, claim.run_id)
        assert row is not None
        session.refresh(row)
        detail = dict(row.detail or {})
        detail["taken_over_from"] = f"{claim.host}:{claim.pid} ({claim.status})"
        row.detail = detail
        return _claim_of(row, True)


def renew_job_run(store: Store, run_id: int, *, attempt: int, ttl: dt.timedelta,
                  now: dt.datetime | None = None) -> bool:
    """Push the claim's expiry forward (a heartbeat); False when the claim was lost."""
    now = _utc(now)
    with store.write_transaction() as session:
        result = session.execute(
            update(JobRun)
            .where(JobRun.id == run_id, JobRun.status == RUNNING, JobRun.attempt == attempt)
            .values(lease_expires_at=now + ttl)
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def finish_job_run(store: Store, run_id: int, *, attempt: int, status: str,
                   detail: dict[str, Any], now: dt.datetime | None = None) -> bool:
    """Record the outcome of a claim this caller still holds; False if it was lost."""
    if status not in FINISHED_STATES:
        raise ValueError(f"not a final state: {status}")
    now = _utc(now)
    with store.write_transaction() as session:
        row = session.get(JobRun, run_id)
        if row is None or row.status != RUNNING or row.attempt != attempt:
            return False
        merged = dict(row.detail or {})
        merged.update(detail)
        row.status = status
        row.detail = merged
        row.finished_at = now
        row.lease_expires_at = None
        return True


def record_skipped(store: Store, job: str, days: list[dt.date], *, host: str,
                   into: dt.date, now: dt.datetime | None = None) -> list[dt.date]:
    """Mark missed days as `skipped`, coalesced into `into`; days that already have a
    row are left alone. Returns the days marked."""
    now = _utc(now)
    marked: list[dt.date] = []
    for day in days:
        try:
            with store.write_transaction() as session:
                session.add(JobRun(job=job, day=day, status=SKIPPED, host=host, started_at=now,
                                   finished_at=now, attempt=1,
                                   detail={"coalesced_into": into.isoformat()}))
                session.flush()
            marked.append(day)
        except IntegrityError:
            continue
    return marked


def last_job_runs(store: Store, job: str, limit: int = 1) -> list[JobRun]:
    """The latest rows of `job`, newest day first."""
    with store.transaction() as session:
        rows = session.execute(
            select(JobRun).where(JobRun.job == job).order_by(JobRun.day.desc()).limit(limit)
        ).scalars().all()
        return list(rows)


def last_day_with_row(store: Store, job: str, before: dt.date | None = None) -> dt.date | None:
    """The latest day (before `before`, if given) for which `job` has any row."""
    with store.transaction() as session:
        query = select(JobRun.day).where(JobRun.job == job)
        if before is not None:
            query = query.where(JobRun.day < before)
        return session.execute(query.order_by(JobRun.day.desc()).limit(1)).scalar()


def note_repeating_job(store: Store, job: str, day: dt.date, *, host: str, pid: int,
                       outcome: dict[str, Any], totals: dict[str, int],
                       failed: bool = False, now: dt.datetime | None = None) -> None:
    """Fold one tick of a job that runs many times a day (dispatch) into its (job, day)
    row: how many ticks, the last one's outcome, running totals. Several processes may
    tick at once; the row lock (or SQLite's write lock) keeps the totals exact."""
    now = _utc(now)
    for _ in range(2):
        try:
            with store.write_transaction() as session:
                row = session.execute(
                    select(JobRun).where(JobRun.job == job, JobRun.day == day)
                    .with_for_update()
                ).scalar_one_or_none()
                if row is None:
                    row = JobRun(job=job, day=day, status=DONE, host=host, pid=pid,
                                 attempt=1, started_at=now, detail={})
                    session.add(row)
                detail = dict(row.detail or {})
                detail["ticks"] = int(detail.get("ticks", 0)) + 1
                detail["last_at"] = now.isoformat()
                detail["last"] = outcome
                summed = dict(detail.get("totals", {}))
                for key, value in totals.items():
                    summed[key] = int(summed.get(key, 0)) + int(value)
                detail["totals"] = summed
                row.detail = detail
                row.status = FAILED if failed else DONE
                row.host, row.pid, row.finished_at = host, pid, now
                session.flush()
                return
        except IntegrityError:  # another process created the row first: update it
            continue
