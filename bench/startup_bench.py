"""How long `relance` takes to answer before doing any work (run by hand, not in tests).

    .venv/bin/python bench/startup_bench.py [RUNS] [--before FOLDER]

Each line is the best of RUNS (default 7) fresh processes: wall time, CPU time (user +
system, which a loaded machine inflates less), and the ratio of each to its floor
measured in the same run. Floors: the interpreter alone, for what needs no database;
the interpreter importing SQLAlchemy, for `db current` (an engine and one query); with
the ORM and the models too, for a command that reads the book.
Typer's help renderer (`typer.rich_utils`, most of rich with it) is printed for
reference: `relance --help` does without it, a command's `--help` pays it.
`--before FOLDER` runs every line a second time, interleaved with the first, from
another copy of relance: FOLDER holds a `relance` package (say, a `git archive` of an
older commit laid out as the installed package), put first on PYTHONPATH.
Targets (issue 17): `--help` under 150 ms, a command's fixed cost under 300 ms, on an
idle machine.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

PYTHON = sys.executable
RELANCE = str(Path(PYTHON).with_name("relance"))


@dataclass(frozen=True)
class Timing:
    wall: float  # seconds, best of the runs
    cpu: float


def _once(argv: list[str], cwd: Path | None, env: Mapping[str, str]) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   check=False, env={**env, "COLUMNS": "100"})
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime


def best(argv: list[str], runs: int, cwd: Path | None = None,
         envs: tuple[Mapping[str, str], ...] = (os.environ,)) -> list[Timing]:
    """The shortest wall and CPU times of `runs` fresh processes running `argv`, under
    each environment; the environments take turns, so that a change in the machine's
    load falls on all of them."""
    walls: list[list[float]] = [[] for _ in envs]
    cpus: list[list[float]] = [[] for _ in envs]
    for _ in range(runs):
        for index, env in enumerate(envs):
            wall, cpu = _once(argv, cwd, env)
            walls[index].append(wall)
            cpus[index].append(cpu)
    return [Timing(min(w), min(c)) for w, c in zip(walls, cpus, strict=True)]


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:>5.0f}ms"


def _served_lines(runs: int, workspace: Path, folder: Path,
                  ) -> list[tuple[str, list[Timing], Timing, float]]:
    """The same commands handed to a command server (`relance server start`), started
    in a runtime folder of its own and stopped afterwards. The CPU time is the script's
    alone: the command runs in the server's fork, which is not this bench's child."""
    runtime = folder / "run"
    runtime.mkdir(mode=0o700)
    env = {key: value for key, value in os.environ.items() if key != "RELANCE_NO_SERVER"}
    env["RELANCE_RUNTIME_DIR"] = str(runtime)
    subprocess.run([RELANCE, "server", "start"], check=True, env=env,
                   stdout=subprocess.DEVNULL)
    try:
        envs = (env,)
        bare = best([PYTHON, "-c", "pass"], runs)[0]
        return [
            ("served: relance run --help", best([RELANCE, "run", "--help"], runs,
                                                envs=envs), bare, 0.300),
            ("served: relance check", best([RELANCE, "check"], runs, workspace, envs),
             bare, 0.300),
            ("served: relance db current", best([RELANCE, "db", "current"], runs,
                                                workspace, envs), bare, 0.300),
            ("served: relance queue", best([RELANCE, "queue"], runs, workspace, envs),
             bare, 0.300),
        ]
    finally:
        subprocess.run([RELANCE, "server", "stop"], env=env, stdout=subprocess.DEVNULL,
                       check=False)


def main(runs: int, before: Path | None) -> None:
    # Each command in its own process here, whatever server the user keeps running.
    alone = {**os.environ, "RELANCE_NO_SERVER": "1"}
    envs: tuple[Mapping[str, str], ...] = (alone,)
    if before is not None:
        envs += ({**alone, "PYTHONPATH": str(before.resolve())},)
    with tempfile.TemporaryDirectory(dir="/tmp") as folder:
        workspace = Path(folder) / "ws"
        subprocess.run([RELANCE, "init", str(workspace)], check=True,
                       stdout=subprocess.DEVNULL)
        subprocess.run([RELANCE, "db", "upgrade"], cwd=workspace, check=True,
                       stdout=subprocess.DEVNULL)
        bare = best([PYTHON, "-c", "pass"], runs)[0]
        renderer = best([PYTHON, "-c", "import typer.rich_utils"], runs)[0]
        core = best([PYTHON, "-c", "import sqlalchemy"], runs)[0]
        models = best([PYTHON, "-c", "import relance.store.db, relance.store.models"],
                      runs)[0]
        lines = [
            ("relance --help", best([RELANCE, "--help"], runs, envs=envs), bare, 0.150),
            ("relance rnu (a typo)", best([RELANCE, "rnu"], runs, envs=envs), bare, 0.150),
            ("relance run --help", best([RELANCE, "run", "--help"], runs, envs=envs), bare,
             0.300),
            ("relance queue --help", best([RELANCE, "queue", "--help"], runs, envs=envs),
             bare, 0.300),
            ("relance check (3 rule files)",
             best([RELANCE, "check"], runs, workspace, envs), bare, 0.300),
            ("relance db current", best([RELANCE, "db", "current"], runs, workspace, envs),
             core, 0.300),
            ("relance queue (empty book)", best([RELANCE, "queue"], runs, workspace, envs),
             models, 0.300),
        ]
        served_lines = _served_lines(runs, workspace, Path(folder))
    print(f"{'':<30} {'wall':>7} {'cpu':>7}")
    for name, timing in (("floor: python -c pass", bare),
                         ("floor: SQLAlchemy", core),
                         ("floor: SQLAlchemy + models", models),
                         ("(typer's help renderer)", renderer)):
        print(f"{name:<30} {_ms(timing.wall)} {_ms(timing.cpu)}")
    print()
    heading = f"{'':<30} {'wall':>7} {'cpu':>7} {'ratio':>13}"
    if before is not None:
        heading += f" {'before':>7} {'cpu':>7}"
    print(heading + f" {'target':>7}")
    for name, (took, *earlier), floor, target in lines:
        mark = "ok" if took.wall <= target else "over"
        line = (f"{name:<30} {_ms(took.wall)} {_ms(took.cpu)} "
                f"{took.wall / floor.wall:>5.1f}x {took.cpu / floor.cpu:>5.1f}x")
        for timing in earlier:
            line += f" {_ms(timing.wall)} {_ms(timing.cpu)}"
        print(f"{line} {_ms(target)}  {mark}")
    print()
    for name, (took, *_ignored), floor, target in served_lines:
        mark = "ok" if took.wall <= target else "over"
        print(f"{name:<30} {_ms(took.wall)} {_ms(took.cpu)} "
              f"{took.wall / floor.wall:>5.1f}x {'':>6} {_ms(target)}  {mark}")
    print("ratio: wall, then CPU time, over the floor's in the same run: the interpreter "
          "alone; with SQLAlchemy for db current; with SQLAlchemy and the models for queue")
    print("served: with a command server running (`relance server start`); the CPU time "
          "is the script's own, the ratio is over the interpreter alone")
    print(f"load average: {Path('/proc/loadavg').read_text().split()[0]}"
          if Path("/proc/loadavg").exists() else "")


if __name__ == "__main__":
    arguments = sys.argv[1:]
    before_folder: Path | None = None
    if "--before" in arguments:
        at = arguments.index("--before")
        before_folder = Path(arguments[at + 1])
        del arguments[at:at + 2]
    main(int(arguments[0]) if arguments else 7, before_folder)
