"""The whole daily run against its floor, on a large book. Run by hand:

    .venv/bin/python bench/run_bench.py                            # SQLite, 200,000 invoices
    .venv/bin/python bench/run_bench.py --db postgresql --invoices 200000

It generates the book once (`bench/engine_books.py`, kept under /tmp/relance-bench for
later runs: a SQLite file, or a PostgreSQL database used as a template) and, in each
round (`--repeat`), measures on a fresh copy of it, each in a process of its own so
that peak memory is its own:

- floor: the engine bench's hand-written SQL (`bench.engine_bench.floor_queries`), one
  query per policy, then a raw bulk insert of as many action, item, level and event
  rows as the run writes (`executemany` of prebuilt tuples on SQLite, `COPY` on
  PostgreSQL, the levels as an upsert), committed;
- run: `run_workspace_day` on a workspace holding the bench's rules, as `relance run`
  calls it: the payment plans, the payer profiles, the evaluation, the writes and the
  commit; the process's start-up (imports, settings, opening the store) is timed apart;
- second: the same date again with nothing changed (it reuses the first run);
- changed: the same date again after an import-like change to 1 % of the open
  invoices (their due dates moved a month earlier, one event naming their debtors, as an
  import writes);
- next: the day after, on a copy of the book as the first run left it: the daily run
  of a book already dunned, which evaluates the whole book but writes only that day's
  actions; beside it "next floor", the hand SQL of that day on another such copy and a
  raw insert of as many rows as the next run wrote.

The run's (policy, invoice, rule) items must be the floor's, on each day; the table shows the best
seconds of the rounds, the ratio to the floor, the process's CPU seconds (the floor's
on SQLite is all in-process; on PostgreSQL most of it is the server's, not counted),
and the peak memory.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

STARTED = time.perf_counter()

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

HOME = Path("/tmp/relance-bench")
PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"
MEASURES = ("floor", "run", "second", "changed", "next floor", "next")
NEXT_DAY = 1  # days after the bench's day, for the "next" measures
CHANGED_SHARE = 0.01


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class OwnMemory:
    """The largest private memory a process held, with its children's (an import reads
    a large file in a child), sampled every 20 ms: resident anonymous pages, without the
    database file's pages that SQLite maps (`store/db.py`), which are the system's file
    cache, shared and dropped under pressure. The peak resident size (`peak_mb`) counts
    both. Alone, a process's RssAnon; with children, each one's proportional share
    (Pss_Anon), so that the pages a child shares with its parent after the fork count
    once. Sampled from the parent: a thread sampling inside the measured process takes
    turns with it for the interpreter, which slowed an import by about 5 %."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = 0.0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def now(self) -> float:
        family = _with_children(self.pid)
        field, source = ("RssAnon:", "status") if len(family) == 1 else \
            ("Pss_Anon:", "smaps_rollup")
        total = 0
        for pid in family:
            try:
                for line in Path(f"/proc/{pid}/{source}").read_text().splitlines():
                    if line.startswith(field):
                        total += int(line.split()[1])
            except OSError:  # the process has ended
                pass
        return total / 1024

    def _sample(self) -> None:
        while not self._done.wait(0.02):
            self.peak = max(self.peak, self.now())

    def stop(self) -> float:
        self._done.set()
        self._thread.join()
        return max(self.peak, self.now())


def _with_children(pid: int) -> list[int]:
    """`pid` and its descendants, as /proc lists them."""
    family, index = [pid], 0
    while index < len(family):
        try:
            for task in Path(f"/proc/{family[index]}/task").iterdir():
                family.extend(int(child) for child in
                              (task / "children").read_text().split())
        except OSError:  # ended meanwhile
            pass
        index += 1
    return family


# --------------------------------------------------------------------------- books


def book_url(kind: str, invoices: int, copy: str = "") -> str:
    """The pristine book (`copy` empty), or the copy of that name."""
    name = f"run-{invoices}{'-' + copy if copy else ''}"
    if kind == "sqlite":
        return f"sqlite:///{HOME / name}.sqlite"
    return f"{PG_SERVER}/relance_bench_{name.replace('-', '_')}"


def _pg_admin(statement: str) -> None:
    from sqlalchemy import create_engine

    admin = create_engine(f"{PG_SERVER}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(statement)
    admin.dispose()


def ensure_book(kind: str, invoices: int) -> None:
    """The pristine book, generated once."""
    from sqlalchemy import create_engine, text

    from bench.engine_books import generate
    from relance.store.db import open_store

    url = book_url(kind, invoices)
    HOME.mkdir(parents=True, exist_ok=True)
    if kind == "postgresql":
        probe = create_engine(f"{PG_SERVER}/postgres")
        with probe.connect() as conn:
            exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :name"),
                                  {"name": url.rsplit("/", 1)[1]}).first()
        probe.dispose()
        if not exists:
            _pg_admin(f'CREATE DATABASE "{url.rsplit("/", 1)[1]}"')
    store = open_store(url)
    with store.engine.connect() as conn:
        present = conn.execute(text("SELECT COUNT(*) FROM invoice")).scalar_one()
    if present == 0:
        generate(store, invoices)
    elif present != invoices:
        raise SystemExit(f"{url} holds {present} invoices, not {invoices}")
    store.dispose()


def fresh_copy(kind: str, invoices: int, copy: str = "work", source: str | None = None) -> str:
    """A copy named `copy` of the pristine book, or of the copy at `source`, to measure
    on (the run writes to it)."""
    source = source or book_url(kind, invoices)
    target = book_url(kind, invoices, copy)
    if kind == "sqlite":
        shutil.copyfile(source.removeprefix("sqlite:///"), target.removeprefix("sqlite:///"))
        return target
    work, pristine = target.rsplit("/", 1)[1], source.rsplit("/", 1)[1]
    _pg_admin(f'DROP DATABASE IF EXISTS "{work}"')
    _pg_admin(f'CREATE DATABASE "{work}" TEMPLATE "{pristine}"')
    _pg_admin(f'ALTER DATABASE "{work}" SET search_path = public')
    return target


def drop_copy(url: str) -> None:
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).unlink(missing_ok=True)
    else:
        _pg_admin(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}"')


# --------------------------------------------------------------------------- measures


def workspace(url: str) -> Any:
    from bench.engine_bench import RULES
    from relance.kernel.workspace import Workspace

    root = HOME / "run-workspace"
    (root / "rules").mkdir(parents=True, exist_ok=True)
    (root / "rules" / "bench.rules").write_text(RULES)
    return Workspace(root, {"database": {"url": url}})


def items_of_day(url: str, on: dt.date) -> list[list[Any]]:
    """The (policy, invoice, rule) items queued on the day `on`."""
    from sqlalchemy import text

    from relance.store.db import open_store

    store = open_store(url, migrate=False)
    with store.engine.connect() as conn:
        found = conn.execute(text("SELECT policy, invoice_id, rule FROM action_item "
                                  "WHERE acted_on = :on"), {"on": on}).all()
    store.dispose()
    return sorted([list(row) for row in found])


def measure_run(url: str, on: dt.date) -> dict[str, Any]:
    """`relance run` of the day `on` in this process: start-up (imports, workspace,
    store) apart."""
    from relance.engine.workday import run_workspace_day
    from relance.store.db import open_store

    place = workspace(url)
    store = open_store(place.database_url())
    started, cpu = time.perf_counter(), time.process_time()
    report = run_workspace_day(place, store, on, actor="bench")
    seconds = time.perf_counter() - started
    cpu = time.process_time() - cpu
    store.dispose()
    return {"seconds": seconds, "cpu": cpu, "startup": started - STARTED,
            "reused": report.reused_from is not None,
            "scoped": report.debtors_evaluated,
            "counts": {"actions": report.actions_created + report.actions_extended,
                       "items": report.items_created}}


def apply_change(url: str, share: float) -> int:
    """Move the due date of `share` of the open invoices a month earlier, with one
    event naming their debtors, as an import of a corrected file writes it; the number
    changed."""
    from sqlalchemy import CursorResult, text

    from relance.store import audit
    from relance.store.db import open_store
    from relance.store.importing.invoices import named_debtors

    store = open_store(url, migrate=False)
    with store.write_transaction() as session:
        moved = ("due_date - 30" if store.dialect == "postgresql"
                 else "date(due_date, '-30 days')")
        which = "WHERE balance_minor > 0 AND id % :step = 0"
        step = {"step": round(1 / share)}
        debtors = set(session.connection().execute(
            text(f"SELECT DISTINCT debtor_id FROM invoice {which}"), step).scalars())
        result: CursorResult[Any] = session.connection().execute(text(
            f"UPDATE invoice SET due_date = {moved} {which}"), step)
        changed = result.rowcount
        audit.record(session, actor="bench", kind="import.invoices", subject_type="import",
                     subject_id="bench-change.csv",
                     data={"updated": changed, **named_debtors(debtors)})
    store.dispose()
    return int(changed)


def measure_floor(url: str, counts: dict[str, int], on: dt.date) -> dict[str, Any]:
    """The hand SQL's select, then as many rows as the run writes, raw (see module doc)."""
    from bench.engine_bench import measure_floor as hand_select
    from relance.store.db import open_store

    store = open_store(url, migrate=False)
    cpu = time.process_time()
    selected, found = hand_select(store, on)
    started = time.perf_counter()
    raw_insert(store, sorted(found), counts, on)
    inserted = time.perf_counter() - started
    cpu = time.process_time() - cpu
    store.dispose()
    return {"seconds": selected + inserted, "cpu": cpu, "select": selected,
            "insert": inserted,
            "found": sorted([list(t) for t in found])}


def raw_insert(store: Any, found: list[tuple[str, int, str]], counts: dict[str, int],
               on: dt.date) -> None:
    """`counts["actions"]` actions, an item and a level per found triple, an event per
    action: prebuilt tuples, `executemany` (SQLite) or `COPY` (PostgreSQL), one commit."""
    # As each driver takes them: SQLite's dates are text.
    sqlite = store.dialect == "sqlite"
    stamp = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
    now: Any = stamp.isoformat(" ") if sqlite else stamp
    day: Any = on.isoformat() if sqlite else on
    with store.engine.connect() as conn:
        top = conn.exec_driver_sql("SELECT COALESCE(MAX(id), 0) FROM action").scalar_one()
        debtors = conn.exec_driver_sql("SELECT COUNT(*) FROM debtor").scalar_one()
        raw = conn.connection.dbapi_connection
        n_actions = max(1, counts["actions"])
        facts = json.dumps({"overdue": "16d", "balance": "1 234,56 EUR", "segment": "smb"})
        actions: list[tuple[Any, ...]] = [
                   (top + n, f"floor|{on}|{n}", 1, 1 + n % debtors, day, "letter", "relance_2",
                    "approved", False, "0" * 64, "bench", 0, "{}", now, now)
                   for n in range(1, n_actions + 1)]
        items: list[tuple[Any, ...]] = [
            (top + 1 + n % n_actions, invoice, policy, rule, "bench.rules", 1, day, 0,
             "active", 100, "EUR", facts) for n, (policy, invoice, rule) in enumerate(found)]
        levels: list[tuple[Any, ...]] = [(invoice, policy, rule, day, now)
                                         for policy, invoice, rule in found]
        data = json.dumps({"run": 1, "channel": "letter", "template": "relance_2",
                           "invoices": ["F00000001"], "rules": ["standard/r2"],
                           "state": "approved"})
        events: list[tuple[Any, ...]] = [
            (now, "bench", "action.queued", "action", str(top + n), data, 1, 1 + n % debtors,
             f"{n - 1:064d}", f"{n:064d}") for n in range(n_actions)]
        action_cols = ("id, idempotency_key, creditor_id, debtor_id, created_on, channel, "
                       "template, state, requires_approval, content_hash, proposed_by, "
                       "attempts, output, created_at, updated_at")
        item_cols = ("action_id, invoice_id, policy, rule, rule_file, rule_line, acted_on, "
                     "step, state, balance_minor, currency, facts")
        event_cols = ("at, actor, kind, subject_type, subject_id, data, creditor_id, "
                      "debtor_id, prev_hash, hash")
        upsert = (" ON CONFLICT (invoice_id, policy) DO UPDATE SET rule = excluded.rule, "
                  "acted_on = excluded.acted_on, updated_at = excluded.updated_at")
        level_cols = "invoice_id, policy, rule, acted_on, updated_at"
        cursor = raw.cursor()
        if sqlite:
            for table, cols, rows, then in (
                    ("action", action_cols, actions, ""), ("action_item", item_cols, items, ""),
                    ("invoice_level", level_cols, levels, upsert),
                    ("event", event_cols, events, "")):
                marks = ", ".join("?" for _ in cols.split(","))
                cursor.executemany(f"INSERT INTO {table} ({cols}) VALUES ({marks}){then}",
                                   rows)
            raw.commit()
        else:
            for table, cols, rows in (("action", action_cols, actions),
                                      ("action_item", item_cols, items),
                                      ("event", event_cols, events)):
                with cursor.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            cursor.execute("CREATE TEMPORARY TABLE floor_level "
                           "(LIKE invoice_level INCLUDING DEFAULTS) ON COMMIT DROP")
            with cursor.copy(f"COPY floor_level ({level_cols}) FROM STDIN") as copy:
                for row in levels:
                    copy.write_row(row)
            cursor.execute(f"INSERT INTO invoice_level ({level_cols}) SELECT {level_cols} "
                           f"FROM floor_level{upsert}")
            raw.commit()
        cursor.close()


def child(name: str, url: str, out: Path, counts: dict[str, int]) -> None:
    from bench.engine_books import ON

    on = ON + dt.timedelta(days=NEXT_DAY) if name.startswith("next") else ON
    if name.endswith("floor"):
        result = measure_floor(url, counts, on)
    else:
        if name == "changed":
            changed = apply_change(url, CHANGED_SHARE)
            print(f"  changed {changed} invoices", file=sys.stderr)
        result = measure_run(url, on)
        if name in ("run", "next"):
            result["found"] = items_of_day(url, on)
    result["peak_mb"] = peak_mb()
    out.write_text(json.dumps(result))


# --------------------------------------------------------------------------- driver


def run_child(name: str, url: str, counts: dict[str, int]) -> dict[str, Any]:
    out = HOME / f"run-{name.replace(' ', '-')}.json"
    command = [sys.executable, __file__, "--measure", name, "--url", url, "--out", str(out),
               "--counts", json.dumps(counts)]
    process = subprocess.Popen(command)
    own = OwnMemory(process.pid)
    code = process.wait()
    own_mb = own.stop()
    if code != 0:
        raise subprocess.CalledProcessError(code, command)
    result: dict[str, Any] = json.loads(out.read_text())
    result["own_mb"] = own_mb
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--invoices", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=2,
                        help="rounds; each measure keeps its best (default 2)")
    parser.add_argument("--measure", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--url", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--out", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--counts", default="{}", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        child(args.measure, args.url, Path(args.out), json.loads(args.counts))
        return
    ensure_book(args.db, args.invoices)
    print(f"{args.db}: {args.invoices:,} invoices; best of {args.repeat} rounds", flush=True)
    results: dict[str, list[dict[str, Any]]] = {name: [] for name in MEASURES}
    for round_number in range(1, args.repeat + 1):
        # The runs first: each floor writes as many rows as its run did.
        url = fresh_copy(args.db, args.invoices)
        results["run"].append(run_child("run", url, {}))
        # The book as the first run left it, twice: one for the next day's run, one for
        # its floor.
        after_run = {name: fresh_copy(args.db, args.invoices, name, source=url)
                     for name in ("next", "next-floor")}
        for name in ("second", "changed"):
            results[name].append(run_child(name, url, {}))
        results["next"].append(run_child("next", after_run["next"], {}))
        results["next floor"].append(run_child(
            "next floor", after_run["next-floor"], results["next"][-1]["counts"]))
        results["floor"].append(run_child("floor", fresh_copy(args.db, args.invoices),
                                          results["run"][-1]["counts"]))
        for copy in after_run.values():
            drop_copy(copy)
        for name in MEASURES:
            got = results[name][-1]
            print(f"  round {round_number}  {name:<10} {got['seconds']:8.2f} s   "
                  f"cpu {got['cpu']:6.2f} s   peak {got['peak_mb']:6.0f} MB   "
                  f"own {got['own_mb']:6.0f} MB", flush=True)
    report(results)


def report(results: dict[str, list[dict[str, Any]]]) -> None:
    """The table: each measure's best, beside the floor of its day."""
    same = {day: all(r["found"] == results[floor][0]["found"] for r in results[day])
            for day, floor in (("run", "floor"), ("next", "next floor"))}
    for floor_name, run_name in (("floor", "run"), ("next floor", "next")):
        floors, counts = results[floor_name], results[run_name][0]["counts"]
        print(f"\n{floor_name}: select {min(r['select'] for r in floors):.2f} s + insert "
              f"{min(r['insert'] for r in floors):.2f} s of {counts['actions']:,} actions, "
              f"{counts['items']:,} items and levels, {counts['actions']:,} events")
    print(f"start-up of a run's process (imports, workspace, store), apart: "
          f"{min(r['startup'] for r in results['run']):.2f} s")
    print(f"\n{'':<10} {'best s':>8} {'x floor':>8} {'cpu s':>7} {'x floor':>8} "
          f"{'peak MB':>8} {'own MB':>7}  note")
    for name in MEASURES:
        runs = results[name]
        floor_runs = results["next floor" if name.startswith("next") else "floor"]
        floor = min(r["seconds"] for r in floor_runs)
        floor_cpu = min(r["cpu"] for r in floor_runs)
        best = min(r["seconds"] for r in runs)
        scoped = [r["scoped"] for r in runs if r.get("scoped") is not None]
        note = ""
        if name in same:
            note = "same items as the hand SQL" if same[name] else "ITEMS DIFFER"
        elif name in ("second", "changed"):
            note = ("reused the first run" if all(r.get("reused") for r in runs)
                    else f"evaluated {max(scoped):,} debtors" if len(scoped) == len(runs)
                    else "evaluated")
        cpu = min(r["cpu"] for r in runs)
        print(f"{name:<10} {best:8.2f} {best / floor:8.2f} {cpu:7.2f} {cpu / floor_cpu:8.2f} "
              f"{max(r['peak_mb'] for r in runs):8.0f} {max(r['own_mb'] for r in runs):7.0f}"
              f"  {note}")
    if not all(same.values()):
        raise SystemExit("the run's items are not the hand SQL's")


if __name__ == "__main__":
    main()
