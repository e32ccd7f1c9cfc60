"""Leader election: one leader at a time, and a dead leader's lock is free at once."""

from __future__ import annotations

import datetime as dt
import signal
import subprocess
import sys
from pathlib import Path

from sqlalchemy import text

from relance.scheduler.leader import AdvisoryLeadership, FileLeadership, leadership_for
from relance.store import leases
from relance.store.db import Store, open_store
from tests.conftest import PG_URL, PostgresSchemas


def test_one_leader_per_lock_file(tmp_path: Path) -> None:
    first = FileLeadership(tmp_path / "relance.sqlite.scheduler.lock")
    second = FileLeadership(tmp_path / "relance.sqlite.scheduler.lock")
    assert first.try_lead() and first.try_lead()  # leading again is a no-op
    assert not second.try_lead()
    first.release()
    assert second.try_lead()
    second.release()


def test_a_killed_leaders_lock_file_is_free(tmp_path: Path) -> None:
    path = tmp_path / "lock"
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; from pathlib import Path; "
         "from relance.scheduler.leader import FileLeadership; "
         f"lead = FileLeadership(Path({str(path)!r})); assert lead.try_lead(); "
         "print('leading', flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == "leading"
    standby = FileLeadership(path)
    assert not standby.try_lead()
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=10)
    holder.stdout.close()
    assert standby.try_lead()
    standby.release()


def test_one_leader_per_postgresql_schema_and_a_dead_one_is_replaced(
        pg_store: Store, pg_schemas: PostgresSchemas) -> None:
    first, second = AdvisoryLeadership(pg_store), AdvisoryLeadership(pg_store)
    assert first.try_lead()
    assert not second.try_lead()
    # Another deployment in another schema of the same database elects its own leader.
    other_schema = pg_schemas.create()
    other = open_store(PG_URL, schema=other_schema)
    try:
        elsewhere = AdvisoryLeadership(other)
        assert elsewhere.try_lead()
        elsewhere.release()
    finally:
        other.dispose()
        pg_schemas.drop(other_schema)
    # The leader's connection dies (a crash, a network cut): the server frees the lock.
    backend = first.lock._conn.execute(text("SELECT pg_backend_pid()")).scalar()  # type: ignore[union-attr]
    with pg_store.engine.connect() as admin:
        # With a timeout the call waits until the backend is gone and its locks freed.
        admin.execute(text("SELECT pg_terminate_backend(:pid, 10000)"), {"pid": backend})
        admin.commit()
    assert second.try_lead()
    assert not first.try_lead()  # it notices it no longer leads
    second.release()
    first.release()


def test_leadership_follows_the_database(store: Store, tmp_path: Path) -> None:
    chosen = leadership_for(store, tmp_path)
    expected = FileLeadership if store.is_sqlite else AdvisoryLeadership
    assert isinstance(chosen, expected)


def test_the_leader_lease_is_for_display_and_expires(store: Store) -> None:
    now = dt.datetime(2026, 3, 10, 6, 0, tzinfo=dt.UTC)
    ttl = dt.timedelta(minutes=11)
    assert leases.acquire_lease(store, "scheduler.leader", "a:1", ttl, now=now)
    assert not leases.acquire_lease(store, "scheduler.leader", "b:2", ttl, now=now)
    assert leases.read_lease(store, "scheduler.leader") == ("a:1", now + ttl)
    later = now + dt.timedelta(minutes=12)
    assert leases.acquire_lease(store, "scheduler.leader", "b:2", ttl, now=later)
    leases.release_lease(store, "scheduler.leader", "b:2")
    assert leases.read_lease(store, "scheduler.leader") is None
