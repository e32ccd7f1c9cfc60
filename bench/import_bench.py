"""Benchmark: import a generated book of N invoice rows into SQLite and PostgreSQL.

    .venv/bin/python bench/import_bench.py [--rows 1000000] [--no-pg] [--reimport]

Each import runs in a child process so that its peak memory (max RSS, from wait4's
rusage) is its own; the CPU time of the importing process is printed beside the wall
time (on PostgreSQL the server's own work is not in it). Targets (issue 2): 1,000,000
rows in under 60 s and under 1 GB on SQLite. PostgreSQL uses a throw-away schema of
RELANCE_TEST_PG_URL's database.
"""

from __future__ import annotations

import argparse
import json
import os
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

PG_URL = os.environ.get("RELANCE_TEST_PG_URL",
                        "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def child(url: str, schema: str | None, path: Path, times: int) -> None:
    """Run in the child: import `path` `times` times, print one JSON line per import."""
    from relance.store.db import open_store
    from relance.store.importing import import_invoices

    store = open_store(url, schema=schema)
    for _ in range(times):
        started, cpu_started = time.perf_counter(), time.process_time()
        report = import_invoices(store, path, actor="bench")
        seconds = time.perf_counter() - started
        cpu = time.process_time() - cpu_started
        print(json.dumps({"seconds": seconds, "cpu": cpu, "rows": report.rows,
                          "created": report.created,
                          "unchanged": report.unchanged, "debtors": report.debtors_created}),
              flush=True)
    store.dispose()


def measure(label: str, url: str, schema: str | None, path: Path,
            times: int) -> list[dict[str, Any]]:
    command = [sys.executable, __file__, "--child", url, "--schema", schema or "",
               "--file", str(path), "--times", str(times)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"{label}: the import failed (exit {process.returncode})")
    peak_mb = usage.ru_maxrss / 1024  # Linux reports kilobytes
    results = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    for index, result in enumerate(results):
        kind = "first import" if index == 0 else "re-import (unchanged)"
        rate = result["rows"] / result["seconds"]
        print(f"{label:10} {kind:22} {result['rows']:>9,} rows in {result['seconds']:6.1f} s"
              f" (CPU {result['cpu']:5.1f} s)  {rate:>9,.0f} rows/s   created "
              f"{result['created']:,}  unchanged {result['unchanged']:,}")
        result["peak_mb"] = peak_mb
    print(f"{label:10} peak memory of the importing process: {peak_mb:,.0f} MB")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--no-pg", action="store_true", help="SQLite only")
    parser.add_argument("--reimport", action="store_true",
                        help="also time a second import of the same file (all unchanged)")
    parser.add_argument("--child")
    parser.add_argument("--schema", default="")
    parser.add_argument("--file")
    parser.add_argument("--times", type=int, default=1)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.schema or None, Path(args.file), args.times)
        return
    times = 2 if args.reimport else 1
    with tempfile.TemporaryDirectory(prefix="relance-bench-") as folder:
        path = Path(folder) / "book.csv"
        started = time.perf_counter()
        write_book(path, args.rows)
        print(f"generated {args.rows:,} rows ({path.stat().st_size / 1e6:,.0f} MB) in "
              f"{time.perf_counter() - started:.1f} s")
        results = {"sqlite": measure("sqlite", f"sqlite:///{Path(folder) / 'bench.sqlite'}",
                                     None, path, times)}
        if not args.no_pg:
            from sqlalchemy import create_engine, text

            admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
            schema = f"bench_{uuid.uuid4().hex[:12]}"
            with admin.connect() as conn:
                conn.execute(text(f'CREATE SCHEMA "{schema}"'))
            try:
                results["postgresql"] = measure("postgresql", PG_URL, schema, path, times)
            finally:
                with admin.connect() as conn:
                    conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
                admin.dispose()
    print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs "
          "(wall times stretch when other work shares the machine; CPU times do not)")
    first = results["sqlite"][0]
    verdict = first["seconds"] < 60 and first["peak_mb"] < 1024
    if args.rows == 1_000_000:
        print(f"SQLite target (< 60 s, < 1 GB): {'met' if verdict else 'MISSED'}")


if __name__ == "__main__":
    main()
