"""Dispatchers to kill: `python -m bench.faults.launcher URL SCHEMA WORKSPACE CONFIG_JSON`.

The launcher imports relance once, then reads commands on stdin: `go` forks a child
that runs the real `dispatch()` on the database and prints the child's pid; `wait PID`
reaps it and prints `ended PID STATUS`. Forking a warm process lets a kill land after
a few milliseconds of work as well as after seconds, instead of mostly during imports.
The children's errors go to `WORKSPACE/children.log`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import traceback
from pathlib import Path
from typing import Any

from relance.channels.dispatch import dispatch
from relance.kernel.workspace import Workspace
from relance.store.db import open_store
from tests.channels.factory import TODAY

ROOT = Path(__file__).resolve().parents[2]


def _child(url: str, schema: str, workspace: Workspace) -> int:
    log = os.open(workspace.root / "children.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    os.dup2(log, 2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    try:
        store = open_store(url, schema=schema or None, migrate=False)
        dispatch(store, workspace, today=TODAY)
        return 0
    except BaseException:
        traceback.print_exc()
        return 1


def _warm_up_letters() -> None:
    """Render one page here, so that every child inherits WeasyPrint's loaded fonts
    instead of spending its first second loading them (the kills would then land
    mostly there)."""
    try:
        from weasyprint import HTML
    except ImportError:  # no PDF renderer: the campaign's letters will say so
        return
    HTML(string="<p>warm</p>").write_pdf()


def main(url: str, schema: str, root: str, config: str) -> None:
    workspace = Workspace(Path(root), json.loads(config))
    _warm_up_letters()
    print("ready", flush=True)
    for line in sys.stdin:
        command, _, argument = line.strip().partition(" ")
        if command == "go":
            pid = os.fork()
            if pid == 0:
                os._exit(_child(url, schema, workspace))
            print(pid, flush=True)
        elif command == "wait":
            _, status = os.waitpid(int(argument), 0)
            print(f"ended {argument} {status}", flush=True)
        else:
            return


class Launcher:
    """The parent's handle on a launcher process."""

    def __init__(self, url: str, schema: str | None, root: Path,
                 config: dict[str, Any]) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.faults.launcher", url, schema or "", str(root),
             json.dumps(config)],
            cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        if self._read() != "ready":
            raise RuntimeError("the dispatcher launcher did not start")

    def _read(self) -> str:
        assert self.process.stdout is not None
        return self.process.stdout.readline().strip()

    def _send(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    def start(self) -> int:
        """A new dispatcher; its pid."""
        self._send("go")
        return int(self._read())

    def wait(self, pid: int) -> int:
        """Reap dispatcher `pid`; its wait status (0: it finished its work)."""
        self._send(f"wait {pid}")
        return int(self._read().split()[-1])

    def close(self) -> None:
        self._send("quit")
        self.process.wait(timeout=30)

    def __enter__(self) -> Launcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


if __name__ == "__main__":
    main(*sys.argv[1:])
