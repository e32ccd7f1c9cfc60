"""How long `relance` takes to answer before doing any work (run by hand, not in tests).

    .venv/bin/python bench/startup_bench.py [RUNS]

Each line is the best of RUNS (default 7) fresh processes, side by side with its floor:
the interpreter alone for `--help` and a mistyped command, the interpreter importing
SQLAlchemy and the models for a command that opens a store. Targets (issue 17): `--help`
under 150 ms, a command's fixed cost under 300 ms.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PYTHON = sys.executable
RELANCE = str(Path(PYTHON).with_name("relance"))


def best(argv: list[str], runs: int, cwd: Path | None = None) -> float:
    """The shortest wall time, in seconds, of `runs` fresh processes running `argv`."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       check=False, env={**os.environ, "COLUMNS": "100"})
        times.append(time.perf_counter() - started)
    return min(times)


def main(runs: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        workspace = Path(folder) / "ws"
        subprocess.run([RELANCE, "init", str(workspace)], check=True,
                       stdout=subprocess.DEVNULL)
        subprocess.run([RELANCE, "db", "upgrade"], cwd=workspace, check=True,
                       stdout=subprocess.DEVNULL)
        bare = best([PYTHON, "-c", "pass"], runs)
        models = best([PYTHON, "-c", "import relance.store.db, relance.store.models"], runs)
        lines = [
            ("relance --help", best([RELANCE, "--help"], runs), bare, 0.150),
            ("relance rnu (a typo)", best([RELANCE, "rnu"], runs), bare, 0.150),
            ("relance run --help", best([RELANCE, "run", "--help"], runs), bare, 0.300),
            ("relance db current", best([RELANCE, "db", "current"], runs, workspace),
             models, 0.300),
            ("relance queue (empty book)", best([RELANCE, "queue"], runs, workspace),
             models, 0.300),
        ]
    print(f"{'command':<30} {'time':>8} {'floor':>8} {'target':>8}")
    for name, took, floor, target in lines:
        mark = "ok" if took <= target else "over"
        print(f"{name:<30} {took * 1000:>6.0f}ms {floor * 1000:>6.0f}ms "
              f"{target * 1000:>6.0f}ms  {mark}")
    print("floor: the interpreter alone (python -c pass), or importing SQLAlchemy and the "
          "models for a command that opens the store")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 7)
