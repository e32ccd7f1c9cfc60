"""How long `relance` takes to answer before doing any work (run by hand, not in tests).

    .venv/bin/python bench/startup_bench.py [RUNS]

Each line is the best of RUNS (default 7) fresh processes: wall time, CPU time (user +
system, which a loaded machine inflates less), and the ratio to its floor measured in
the same run. Floors: the interpreter alone, for what needs no database; the
interpreter importing SQLAlchemy, for `db current` (an engine and one query); with the
ORM and the models too, for a command that reads the book.
Typer's help renderer (`typer.rich_utils`, most of rich with it) is printed for
reference: every help screen pays it. Targets (issue 17): `--help` under 150 ms, a
command's fixed cost under 300 ms, on an idle machine.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

PYTHON = sys.executable
RELANCE = str(Path(PYTHON).with_name("relance"))


@dataclass(frozen=True)
class Timing:
    wall: float  # seconds, best of the runs
    cpu: float


def best(argv: list[str], runs: int, cwd: Path | None = None) -> Timing:
    """The shortest wall and CPU times of `runs` fresh processes running `argv`."""
    walls, cpus = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        subprocess.run(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       check=False, env={**os.environ, "COLUMNS": "100"})
        walls.append(time.perf_counter() - started)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return Timing(min(walls), min(cpus))


def main(runs: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        workspace = Path(folder) / "ws"
        subprocess.run([RELANCE, "init", str(workspace)], check=True,
                       stdout=subprocess.DEVNULL)
        subprocess.run([RELANCE, "db", "upgrade"], cwd=workspace, check=True,
                       stdout=subprocess.DEVNULL)
        bare = best([PYTHON, "-c", "pass"], runs)
        renderer = best([PYTHON, "-c", "import typer.rich_utils"], runs)
        core = best([PYTHON, "-c", "import sqlalchemy"], runs)
        models = best([PYTHON, "-c", "import relance.store.db, relance.store.models"], runs)
        lines = [
            ("relance --help", best([RELANCE, "--help"], runs), bare, 0.150),
            ("relance rnu (a typo)", best([RELANCE, "rnu"], runs), bare, 0.150),
            ("relance run --help", best([RELANCE, "run", "--help"], runs), bare, 0.300),
            ("relance check (3 rule files)", best([RELANCE, "check"], runs, workspace),
             bare, 0.300),
            ("relance db current", best([RELANCE, "db", "current"], runs, workspace),
             core, 0.300),
            ("relance queue (empty book)", best([RELANCE, "queue"], runs, workspace),
             models, 0.300),
        ]
    print(f"{'':<30} {'wall':>7} {'cpu':>7} {'floor':>7} {'ratio':>6} {'target':>7}")
    for name, timing in (("floor: python -c pass", bare),
                         ("floor: SQLAlchemy", core),
                         ("floor: SQLAlchemy + models", models),
                         ("(typer's help renderer)", renderer)):
        print(f"{name:<30} {timing.wall * 1000:>5.0f}ms {timing.cpu * 1000:>5.0f}ms")
    for name, took, floor, target in lines:
        mark = "ok" if took.wall <= target else "over"
        print(f"{name:<30} {took.wall * 1000:>5.0f}ms {took.cpu * 1000:>5.0f}ms "
              f"{floor.wall * 1000:>5.0f}ms {took.wall / floor.wall:>5.1f}x "
              f"{target * 1000:>5.0f}ms  {mark}")
    print("ratio: wall time over the floor's, same run: the interpreter alone; with "
          "SQLAlchemy for db current; with SQLAlchemy and the models for queue")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 7)
