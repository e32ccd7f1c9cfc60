"""`relance serve` watches the intake folders: a real daemon process, a short interval,
a file dropped while it runs, on SQLite and PostgreSQL."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from relance.store.db import Store, open_store
from tests.conftest import PG_URL, PostgresSchemas
from tests.intake.drops import GOOD, Action, IntakeFile, count, drop, setup_workspace
from tests.scheduler.book import RELANCE, env_for, finish, start_serve

# A real daemon for several seconds: not in the quick set.
pytestmark = pytest.mark.slow

TUESDAY_9H = "2026-03-10T09:00:00"


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Store, str]]:
    """A migrated store, and the URL the daemon reaches it by."""
    if request.param == "sqlite":
        (tmp_path / "ws").mkdir()
        url = f"sqlite:///{tmp_path / 'ws' / 'relance.sqlite'}"
        store = open_store(url)
        try:
            yield store, url
        finally:
            store.dispose()
        return
    schemas: PostgresSchemas = request.getfixturevalue("pg_schemas")
    schema = schemas.create()
    store = open_store(PG_URL, schema=schema)
    try:
        yield store, f"{PG_URL}?options=-csearch_path%3D{schema}"
    finally:
        store.dispose()
        schemas.drop(schema)


def wait_until(check: Callable[[], bool], seconds: float = 45) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.3)
    return False


def test_serve_imports_a_dropped_file_and_runs_the_day(database: tuple[Store, str],
                                                       tmp_path: Path) -> None:
    store, url = database
    workspace = setup_workspace(tmp_path / "ws", store)
    env = env_for(url, TUESDAY_9H)
    dropped = drop(workspace, "ACME", "export.csv", GOOD)
    daemon = start_serve(workspace.root, env)
    try:
        imported = wait_until(lambda: count(store, IntakeFile) == 1 and count(store, Action) == 2)
        time.sleep(1)
    finally:
        daemon.send_signal(signal.SIGTERM)
        code, _out, err = finish(daemon)
    assert imported, err
    assert code == 0, err
    assert not dropped.exists()
    assert len(list((workspace.root / "intake" / "ACME" / "archive").rglob("*export.csv"))) == 1
    assert '"job": "intake"' in err and '"imported": 1' in err

    status = subprocess.run([*RELANCE, "--workspace", str(workspace.root), "serve",
                             "--status"], env=env, capture_output=True, text=True, check=False)
    assert status.returncode == 0, status.stderr
    [line] = [row for row in status.stdout.splitlines() if row.startswith("intake")]
    assert "/5s" in line and "done" in line and "imported 1" in line
