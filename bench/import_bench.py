"""Benchmark: import a generated book of N invoice rows into SQLite and PostgreSQL, beside
the raw load floor of the same rows.

    .venv/bin/python bench/import_bench.py [--rows 1000000] [--no-pg | --pg-only] [--reimport]
        [--per-debtor 15] [--rounds 3]

For each database, in one run:

- **import**: `relance import` of the file into a fresh book (validation included);
  with `--reimport`, then again into that book (all unchanged), in a process of its own;
- **floor**: the least a load of the same rows can cost: the file read once by Python's
  CSV reader, then the very rows the import stored (its creditors, debtors, tags and
  invoices, fetched beforehand and not timed) written into another fresh book, by
  executemany of prebuilt tuples on SQLite and COPY on PostgreSQL, in one transaction,
  with no validation at all.

Each step runs in a child process so that its memory is its own: its peak resident size
(max RSS, from wait4's rusage) and its own memory (sampled by this process every 20 ms,
`run_bench.OwnMemory`: with the process that reads a large file apart while the import
writes), which leaves out the database file's pages that SQLite maps, the shared file
cache; the CPU time of that process is printed beside the wall time, and that of the
reading process beside it (on PostgreSQL the server's own work is in neither). Target
(issue 17): import <= 2x the floor, own memory < 500 MB for 1,000,000 rows. PostgreSQL
uses throw-away schemas of RELANCE_TEST_PG_URL's database.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.books import write_book  # noqa: E402
from bench.run_bench import OwnMemory  # noqa: E402

PG_URL = os.environ.get("RELANCE_TEST_PG_URL",
                        "postgresql+psycopg://postgres@127.0.0.1:5432/test")
LOADED_TABLES = ("creditor", "debtor", "debtor_tag", "invoice")
"""What an import of the bench's file writes, in the order a load must write it."""


def import_child(url: str, schema: str | None, path: Path) -> None:
    """Run in the child: import `path`, print the figures as a JSON line."""
    from relance.store.db import open_store
    from relance.store.importing import import_invoices

    store = open_store(url, schema=schema)
    started, cpu_started = time.perf_counter(), time.process_time()
    reader_started = _children_cpu()
    report = import_invoices(store, path, actor="bench")
    seconds = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    print(json.dumps({"seconds": seconds, "cpu": cpu,
                      "reader_cpu": _children_cpu() - reader_started, "rows": report.rows,
                      "created": report.created,
                      "unchanged": report.unchanged, "debtors": report.debtors_created}),
          flush=True)
    store.dispose()


def _children_cpu() -> float:
    """CPU seconds of this process's ended children: the process that read a large
    file while the import wrote (`store/importing/apart.py`)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _stored_rows(store: Any, table: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    """A table's columns and rows as the driver gives them (JSON as its text)."""
    from sqlalchemy import inspect

    with store.engine.connect() as conn:
        described = inspect(conn).get_columns(table)
        columns = [column["name"] for column in described]
        # COPY takes a JSON document as its text; psycopg would not adapt a dict there.
        listed = ", ".join(
            f"{column['name']}::text" if store.dialect == "postgresql"
            and "JSON" in str(column["type"]).upper() else column["name"]
            for column in described)
        rows = [tuple(row) for row in conn.exec_driver_sql(f"SELECT {listed} FROM {table}")]
    return columns, rows


def floor_child(source_url: str, source_schema: str | None, url: str, schema: str | None,
                path: Path) -> None:
    """Run in the child: load the rows the import stored into a fresh book, raw."""
    from relance.store.db import open_store

    source = open_store(source_url, schema=source_schema)
    tables = {table: _stored_rows(source, table) for table in LOADED_TABLES}
    source.dispose()
    store = open_store(url, schema=schema)
    with store.engine.connect() as conn:  # the tables exist: nothing of that is timed
        conn.exec_driver_sql("SELECT 1 FROM invoice LIMIT 1").all()
    started, cpu_started = time.perf_counter(), time.process_time()
    with path.open(encoding="utf-8", newline="") as handle:
        delimiter = ";" if ";" in handle.readline() else ","
        read = sum(1 for _row in csv.reader(handle, delimiter=delimiter))
    raw = store.engine.raw_connection()
    try:
        cursor = raw.cursor()
        if store.dialect == "sqlite":  # the store's connections leave BEGIN to the caller
            cursor.execute("BEGIN IMMEDIATE")
        for table in LOADED_TABLES:
            columns, rows = tables[table]
            if store.dialect == "postgresql":
                with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            else:
                marks = ", ".join("?" for _column in columns)
                cursor.executemany(f"INSERT INTO {table} ({', '.join(columns)}) "
                                   f"VALUES ({marks})", rows)
        raw.commit()
    finally:
        raw.close()
    seconds = time.perf_counter() - started
    print(json.dumps({"seconds": seconds, "cpu": time.process_time() - cpu_started,
                      "rows": read, "created": len(tables["invoice"][1])}), flush=True)
    store.dispose()


def _run(command: list[str], label: str) -> tuple[list[dict[str, Any]], float, float]:
    """Run a child; its JSON lines, its peak resident size and its peak own memory (MB),
    sampled from here (`OwnMemory`)."""
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    own = OwnMemory(process.pid)
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    own_mb = own.stop()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{label}: the child failed (exit {os.waitstatus_to_exitcode(status)})")
    results = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    return results, usage.ru_maxrss / 1024, own_mb  # Linux reports kilobytes


class Database:
    """Where one side of the comparison runs: fresh books on SQLite or PostgreSQL."""

    def __init__(self, name: str, folder: Path) -> None:
        self.name = name
        self.folder = folder
        self.schemas: list[str] = []
        self.count = 0

    def fresh(self) -> tuple[str, str]:
        """A new empty book: (url, schema), the schema empty on SQLite."""
        self.count += 1
        if self.name == "sqlite":
            return f"sqlite:///{self.folder / f'book{self.count}.sqlite'}", ""
        from sqlalchemy import create_engine, text

        schema = f"bench_{uuid.uuid4().hex[:12]}"
        self.schemas.append(schema)
        admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        admin.dispose()
        return PG_URL, schema

    def drop(self) -> None:
        if self.name != "postgresql":
            return
        from sqlalchemy import create_engine, text

        admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            for schema in self.schemas:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


def compare(database: Database, path: Path, times: int, rounds: int) -> dict[str, Any]:
    """Import, then the floor, on one database, `rounds` times in turns; prints each and
    their ratio, and returns the best of each (this machine's speed drifts over minutes:
    rounds in turns compare the two at their best rather than at two moments)."""
    label = database.name
    best: dict[str, Any] = {}
    for _round in range(rounds):
        url, schema = database.fresh()
        # Each import in a process of its own, as a user runs them: a re-import's
        # memory is its own, not added to what the first import left in the process.
        imports: list[dict[str, Any]] = []
        memories: list[tuple[float, float]] = []
        for _time in range(times):
            results, peak_mb, own_mb = _run(
                [sys.executable, __file__, "--child", url, "--schema", schema, "--file",
                 str(path)], label)
            imports.extend(results)
            memories.append((peak_mb, own_mb))
        floor_url, floor_schema = database.fresh()
        floors, floor_mb, _floor_own = _run(
            [sys.executable, __file__, "--floor", url, "--schema", schema, "--into",
             floor_url, "--into-schema", floor_schema, "--file", str(path)], label)
        floor = floors[0]
        print(f"{label:10} {'floor (raw load)':22} {floor['created']:>9,} invoices in "
              f"{floor['seconds']:6.1f} s (CPU {floor['cpu']:5.1f} s)  peak {floor_mb:,.0f} MB")
        for index, result in enumerate(imports):
            kind = "import" if index == 0 else "re-import (unchanged)"
            ratio = result["seconds"] / floor["seconds"]
            reader = f" + reader {result['reader_cpu']:4.1f} s" if result["reader_cpu"] else ""
            print(f"{label:10} {kind:22} {result['rows']:>9,} rows     in "
                  f"{result['seconds']:6.1f} s (CPU {result['cpu']:5.1f} s{reader})  peak "
                  f"{memories[index][0]:,.0f} MB, own {memories[index][1]:,.0f} MB  "
                  f"{ratio:4.1f}x the floor  "
                  f"created {result['created']:,}  unchanged {result['unchanged']:,}")
        if not best or floor["seconds"] < best["floor"]["seconds"]:
            best["floor"] = floor
        if "imports" not in best or imports[0]["seconds"] < best["imports"][0]["seconds"]:
            best["imports"] = imports
        best["peak_mb"] = max(best.get("peak_mb", 0.0), *(peak for peak, _own in memories))
        best["own_mb"] = max(best.get("own_mb", 0.0), *(own for _peak, own in memories))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--no-pg", action="store_true", help="SQLite only")
    parser.add_argument("--pg-only", action="store_true",
                        help="PostgreSQL only (the 10,000,000-row book)")
    parser.add_argument("--reimport", action="store_true",
                        help="also time a second import of the same file (all unchanged)")
    parser.add_argument("--per-debtor", type=int, default=15,
                        help="invoices per debtor (default 15); the rows go through the "
                             "debtors in turn, so fewer means more debtors between two "
                             "rows of the same one")
    parser.add_argument("--child")
    parser.add_argument("--floor")
    parser.add_argument("--schema", default="")
    parser.add_argument("--into")
    parser.add_argument("--into-schema", default="")
    parser.add_argument("--file")
    parser.add_argument("--rounds", type=int, default=1,
                        help="import and floor this many times in turns; the best of each "
                             "is compared")
    args = parser.parse_args()
    if args.child:
        import_child(args.child, args.schema or None, Path(args.file))
        return
    if args.floor:
        floor_child(args.floor, args.schema or None, args.into, args.into_schema or None,
                    Path(args.file))
        return
    with tempfile.TemporaryDirectory(prefix="relance-bench-") as folder:
        path = Path(folder) / "book.csv"
        started = time.perf_counter()
        write_book(path, args.rows, invoices_per_debtor=args.per_debtor)
        print(f"generated {args.rows:,} rows, {max(1, args.rows // args.per_debtor):,} "
              f"debtors ({path.stat().st_size / 1e6:,.0f} MB) in "
              f"{time.perf_counter() - started:.1f} s")
        names = ["sqlite"] if args.no_pg else ["postgresql"] if args.pg_only else [
            "sqlite", "postgresql"]
        results: dict[str, dict[str, Any]] = {}
        for name in names:
            database = Database(name, Path(folder))
            try:
                results[name] = compare(database, path, 2 if args.reimport else 1,
                                        args.rounds)
            finally:
                database.drop()
    print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs "
          "(wall times stretch when other work shares the machine; the ratios are taken "
          "in one window)")
    for name, result in results.items():
        ratio = result["imports"][0]["seconds"] / result["floor"]["seconds"]
        met = ratio <= 2 and result["own_mb"] < 500
        print(f"{name}: import {ratio:.1f}x the floor (best of {args.rounds} each), own memory "
              f"{result['own_mb']:,.0f} MB"
              f" (peak resident {result['peak_mb']:,.0f} MB, the database file's mapped pages"
              f" included) (target <= 2x, < 500 MB): {'met' if met else 'MISSED'}")


if __name__ == "__main__":
    main()
