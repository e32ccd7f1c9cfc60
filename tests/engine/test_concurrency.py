"""Two runs for the same date at the same moment cannot both queue (a lock per date)."""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path

from relance.engine.run import RunReport, run_day
from relance.store.db import Store
from tests.engine.helpers import actions_of, example_rules, load_example

D = dt.date(2026, 11, 22)


def test_two_simultaneous_runs_queue_once(store: Store, examples_dir: Path) -> None:
    load_example(store, examples_dir)
    rules = example_rules(examples_dir)
    start = threading.Barrier(2)
    reports: list[RunReport] = []
    failures: list[BaseException] = []

    def worker(name: str) -> None:
        try:
            start.wait()
            reports.append(run_day(store, rules, D, actor=name))
        except BaseException as exc:  # reported below, not lost in the thread
            failures.append(exc)

    threads = [threading.Thread(target=worker, args=(f"worker-{n}",)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not failures
    assert sorted(report.actions_created for report in reports) == [0, 6]
    assert len(actions_of(store)) == 6


def test_runs_on_different_dates_do_not_wait_for_each_other_s_lock(
    store: Store, examples_dir: Path
) -> None:
    load_example(store, examples_dir)
    rules = example_rules(examples_dir)
    first = run_day(store, rules, D, actor="a")
    second = run_day(store, rules, D + dt.timedelta(days=15), actor="b")
    assert first.actions_created == 6
    # 15 days after the letters: the formal notices (F-0001, F-0003, F-0005) and the
    # first reminder of F-0004 moving on to the letter.
    assert second.actions_created >= 3
