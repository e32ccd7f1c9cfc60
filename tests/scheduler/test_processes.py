"""Real `relance serve` processes on one database: one run per day, nothing twice.

Each test starts the installed `relance` command as subprocesses with `RELANCE_NOW`
(a clock starting at a given instant) and a workspace whose rules queue one e-mail per
debtor; the engine's run and the store are the real ones.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import signal
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from relance.store.db import Store, open_store
from tests.conftest import PG_URL, PostgresSchemas
from tests.scheduler.book import (
    CONFIG,
    action_states,
    add_book,
    all_done,
    env_for,
    finish,
    items_per_invoice,
    job_run,
    make_workspace,
    queue_shape,
    runs_on,
    start_serve,
    wait_for_event,
)

# Real `relance serve` processes, killed and restarted: end to end, so not in the quick set.
pytestmark = pytest.mark.slow

TUESDAY = dt.date(2026, 3, 10)
AT_0705 = "2026-03-10T07:05:00"
EXPECTED_QUEUE = [(f"D{d:04d}", "email", 2) for d in range(3)]


@pytest.fixture
def pg(pg_schemas: PostgresSchemas) -> Iterator[tuple[Store, str]]:
    """A migrated PostgreSQL schema: the store, and the URL a process uses to reach it."""
    schema = pg_schemas.create()
    store = open_store(PG_URL, schema=schema)
    try:
        yield store, f"{PG_URL}?options=-csearch_path%3D{schema}"
    finally:
        store.dispose()
        pg_schemas.drop(schema)


@pytest.fixture
def sqlite(tmp_path: Path) -> Iterator[tuple[Store, str]]:
    url = f"sqlite:///{tmp_path / 'ws' / 'relance.sqlite'}"
    store = open_store(url)
    try:
        yield store, url
    finally:
        store.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest) -> tuple[Store, str]:
    found: tuple[Store, str] = request.getfixturevalue(
        "pg" if request.param == "postgresql" else "sqlite")
    return found


def test_two_serve_processes_on_postgresql_run_the_day_once(pg: tuple[Store, str],
                                                            tmp_path: Path) -> None:
    store, url = pg
    add_book(store)
    workspaces = [make_workspace(tmp_path / name) for name in ("alpha", "beta")]
    # The leader lingers a second after its claim so the other process surely overlaps.
    env = env_for(url, AT_0705, RELANCE_TEST_PAUSE_AFTER_CLAIM="2")
    for round_ in range(2):  # and a second round on the same day finds nothing to do
        processes = [start_serve(ws, env, "--once") for ws in workspaces]
        results = all_done(processes)
        assert [code for code, _, _ in results] == [0, 0], results
        outputs = sorted(out for _, out, _ in results)
        if round_ == 0:  # they overlapped: one ran the day, the other stood by
            assert "daily_run 10/03/2026: done" in outputs[1]
            assert "another relance serve leads" in outputs[0]
    assert len(runs_on(store, TUESDAY)) == 1
    assert queue_shape(store) == EXPECTED_QUEUE
    assert set(items_per_invoice(store)) == {1}
    row = job_run(store, "daily_run", TUESDAY)
    assert row is not None and (row.status, row.attempt) == ("done", 1)


def test_two_serve_processes_on_postgresql_send_each_email_once(pg: tuple[Store, str],
                                                                tmp_path: Path) -> None:
    """Dispatch runs on both processes at once; claiming shares the queue out."""
    from aiosmtpd.controller import Controller

    store, url = pg
    add_book(store, debtors=30, invoices_each=1)
    port = free_port()
    smtp = (f'\n[smtp]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\n'
            'max_connections = 2\nfrom = "relance@acme.test"\n[dispatch]\nbatch_size = 4\n')
    workspaces = [make_workspace(tmp_path / name, CONFIG + smtp) for name in ("alpha", "beta")]
    # 07:05: the run queues 30 e-mails; outside the sending hours nothing goes.
    results = all_done([start_serve(ws, env_for(url, AT_0705), "--once") for ws in workspaces])
    assert [code for code, _, _ in results] == [0, 0], results
    handler = SlowSmtp(seconds=0.05)
    server = Controller(handler, hostname="127.0.0.1", port=port)
    server.start()
    try:  # 10:00: both dispatch at the same time
        results = all_done([start_serve(ws, env_for(url, "2026-03-10T10:00:00"), "--once",
                                        "--json") for ws in workspaces])
    finally:
        server.stop()
    assert [code for code, _, _ in results] == [0, 0], results
    sent_by = [json.loads(out)["dispatch"]["sent"] for _, out, _ in results]
    assert sum(sent_by) == 30, sent_by
    assert len(handler.accepted) == 30
    assert len(set(handler.accepted)) == 30  # every debtor once, none twice
    assert action_states(store) == {"sent": 30}


def test_two_serve_daemons_on_postgresql_share_a_day(pg: tuple[Store, str],
                                                     tmp_path: Path) -> None:
    """The long-running form: both daemons tick; one leads, the day runs once."""
    store, url = pg
    add_book(store)
    env = env_for(url, AT_0705)
    daemons = [start_serve(make_workspace(tmp_path / name), env) for name in ("a", "b")]
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            row = job_run(store, "daily_run", TUESDAY)
            if row is not None and row.status == "done":
                break
            time.sleep(0.2)
        time.sleep(1.5)  # let the standby tick too
    finally:
        for daemon in daemons:
            daemon.send_signal(signal.SIGTERM)
        results = all_done(daemons)
    assert [code for code, _, _ in results] == [0, 0], results
    logs = "".join(err for _, _, err in results)
    assert logs.count('"event": "leader.elected"') == 1
    assert logs.count('"job": "daily_run", "day": "2026-03-10", "status": "done"') == 1
    assert len(runs_on(store, TUESDAY)) == 1
    assert queue_shape(store) == EXPECTED_QUEUE


@pytest.mark.parametrize("hook", ["RELANCE_TEST_PAUSE_AFTER_CLAIM",
                                  "RELANCE_TEST_PAUSE_AFTER_RUN"])
def test_a_serve_killed_during_the_run_completes_it_on_restart(
        database: tuple[Store, str], tmp_path: Path, hook: str) -> None:
    store, url = database
    add_book(store)
    workspace = make_workspace(tmp_path / "ws")
    killed = start_serve(workspace, env_for(url, AT_0705, **{hook: "60"}), "--once")
    seen: list[str] = []
    assert killed.stderr is not None
    wait_for_event(killed.stderr, "test.pause", seen)
    killed.send_signal(signal.SIGKILL)
    killed.wait(timeout=10)
    finish(killed)
    stuck = job_run(store, "daily_run", TUESDAY)
    assert stuck is not None and stuck.status == "running"

    code, out, err = finish(start_serve(workspace, env_for(url, "2026-03-10T07:06:00"),
                                        "--once"))
    assert code == 0, err
    assert "daily_run 10/03/2026: done" in out
    assert '"event": "job.recovered"' in err
    row = job_run(store, "daily_run", TUESDAY)
    assert row is not None and (row.status, row.attempt) == ("done", 2)
    assert len(runs_on(store, TUESDAY)) == 1
    assert queue_shape(store) == EXPECTED_QUEUE
    assert set(items_per_invoice(store)) == {1}


# The advisory lock every append to a schema's event log takes (`audit.lock_event_log`):
# this key with the hash of the database and schema; other schemas do not wait on it.
EVENT_LOG_LOCK = 0x7265_6C61
SCHEMA_KEY = "hashtext(current_database() || '.' || current_schema())"


def test_a_serve_killed_inside_the_engines_transaction(pg: tuple[Store, str],
                                                       tmp_path: Path) -> None:
    """The kill lands inside the run's transaction: the test holds the event log's lock,
    so the run stops at its first event, after inserting its actions; then SIGKILL."""
    store, url = pg
    add_book(store)
    workspace = make_workspace(tmp_path / "ws")
    blocker = create_engine(url, isolation_level="AUTOCOMMIT")  # on the run's schema
    with blocker.connect() as holder:
        holder.execute(text(f"SELECT pg_advisory_lock(:k, {SCHEMA_KEY})"), {"k": EVENT_LOG_LOCK})
        victim = start_serve(workspace, env_for(url, AT_0705), "--once")
        deadline = time.monotonic() + 30
        waiting = False
        while time.monotonic() < deadline and not waiting:
            waiting = bool(holder.execute(text(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
                "AND classid::bigint = :high AND objsubid = 2"),
                {"high": EVENT_LOG_LOCK}).scalar())
            time.sleep(0.05)
        assert waiting, "the run never reached the event log"
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=10)
        finish(victim)
        holder.execute(text(f"SELECT pg_advisory_unlock(:k, {SCHEMA_KEY})"),
                       {"k": EVENT_LOG_LOCK})
    blocker.dispose()
    assert runs_on(store, TUESDAY) == []  # nothing of the killed run was committed

    code, _out, err = finish(start_serve(workspace, env_for(url, "2026-03-10T07:06:00"),
                                        "--once"))
    assert code == 0, err
    assert len(runs_on(store, TUESDAY)) == 1
    assert queue_shape(store) == EXPECTED_QUEUE


def test_sigterm_lets_the_work_in_progress_finish_and_starts_nothing_new(
        database: tuple[Store, str], tmp_path: Path) -> None:
    store, url = database
    add_book(store)
    workspace = make_workspace(tmp_path / "ws")
    # 10:00: the run, the summary and the letter batch are all due; the run is slow.
    daemon = start_serve(workspace, env_for(url, "2026-03-10T10:00:00",
                                            RELANCE_TEST_PAUSE_AFTER_CLAIM="2"))
    seen: list[str] = []
    assert daemon.stderr is not None
    wait_for_event(daemon.stderr, "test.pause", seen)
    daemon.send_signal(signal.SIGTERM)
    code, _out, err = finish(daemon)
    log = "".join(seen) + err
    assert code == 0, log
    assert '"event": "serve.stopped"' in log
    row = job_run(store, "daily_run", TUESDAY)
    assert row is not None and row.status == "done"  # the run in progress finished
    assert job_run(store, "summary", TUESDAY) is None  # nothing new started
    assert job_run(store, "letter_batch", TUESDAY) is None
    assert queue_shape(store) == EXPECTED_QUEUE


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class SlowSmtp:
    """An SMTP server on loopback that takes its time over each message's DATA."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.receiving = threading.Event()
        self.accepted: list[str] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.receiving.set()
        await asyncio.sleep(self.seconds)
        self.accepted.extend(envelope.rcpt_tos)
        return "250 Message accepted"


def test_sigterm_during_a_dispatch_finishes_the_send_in_progress(
        database: tuple[Store, str], tmp_path: Path) -> None:
    from aiosmtpd.controller import Controller

    store, url = database
    add_book(store)
    port = free_port()
    workspace = make_workspace(tmp_path / "ws", CONFIG + (
        f'\n[smtp]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\n'
        'max_connections = 1\nfrom = "relance@acme.test"\n'))
    # 07:05: the day's run queues three e-mails (outside the sending hours: none sent).
    code, _out, err = finish(start_serve(workspace, env_for(url, AT_0705), "--once"))
    assert code == 0, err
    handler = SlowSmtp(seconds=2)
    server = Controller(handler, hostname="127.0.0.1", port=port)
    server.start()
    try:
        daemon = start_serve(workspace, env_for(url, "2026-03-10T10:00:00"))
        assert handler.receiving.wait(30), "no e-mail reached the server"
        daemon.send_signal(signal.SIGTERM)
        code, _out, err = finish(daemon)
    finally:
        server.stop()
    assert code == 0, err
    assert '"event": "serve.stopped"' in err
    assert len(handler.accepted) == 1  # the send in progress finished; no new one began
    states = action_states(store)
    assert states == {"sent": 1, "approved": 2}, states
