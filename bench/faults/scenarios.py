"""The campaign's scenarios; each returns its verdict per channel (and what it did)."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from bench.faults.book import Sizes, recoveries
from bench.faults.checker import Verdict
from bench.faults.hostile import HostileSmtp
from bench.faults.rounds import open_round

# A kill lands after up to this long: from a dispatcher that has just recovered what the
# last one left to one that has sent several groups (on a busy 2-core machine a child
# needs about a second to reach its first send).
MAX_KILL_DELAY = 3.0


@dataclass(frozen=True)
class KillRound:
    verdicts: dict[str, Verdict]
    kills: int  # dispatchers SIGKILLed while running
    idle: int  # dispatchers that had finished before their kill came
    recovered: Counter[str]  # released / sent / uncertain: how the next one settled them


def _running(pid: int) -> bool:
    """Alive and not a zombie (the launcher reaps only when asked)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            return not handle.read().split(") ", 1)[1].startswith("Z")
    except (OSError, IndexError):
        return False


def kill_round(kind: str, folder: Path, sizes: Sizes, kills: int, rng: random.Random,
               number: int, max_delay: float = MAX_KILL_DELAY) -> KillRound:
    """Dispatchers SIGKILLed after a random delay and restarted, `kills` times or until
    the queue is empty, then a clean dispatch finishes the queue."""
    landed = idle = 0
    with open_round(kind, folder, sizes, number) as rnd:
        while landed < kills and rnd.work_left():
            pid = rnd.launcher.start()
            time.sleep(rng.uniform(0.0, max_delay))
            if _running(pid):
                os.kill(pid, signal.SIGKILL)
                landed += 1
            else:
                idle += 1
            rnd.launcher.wait(pid)
        rnd.finish_queue()
        return KillRound(rnd.verdicts(), landed, idle, recoveries(rnd.database.store))


def hostile_round(kind: str, folder: Path, emails: int, number: int) -> dict[str, Verdict]:
    """E-mails through a server that refuses, stalls, drops and takes-then-drops."""
    timeout = 1.0
    handler = HostileSmtp(stall_seconds=timeout * 2.5)
    with open_round(kind, folder, Sizes(email=emails), number, smtp_handler=handler,
                    smtp_timeout=timeout) as rnd:
        rnd.finish_queue()
        return rnd.verdicts()


def concurrent_round(kind: str, folder: Path, sizes: Sizes, dispatchers: int,
                     number: int) -> dict[str, Verdict]:
    """`dispatchers` dispatchers started together over one queue."""
    with open_round(kind, folder, sizes, number) as rnd:
        pids = [rnd.launcher.start() for _ in range(dispatchers)]
        for pid in pids:
            rnd.launcher.wait(pid)
        rnd.finish_queue()
        return rnd.verdicts()


def restart_command() -> list[str]:
    versions = sorted(os.listdir("/etc/postgresql"))
    return ["pg_ctlcluster", "--skip-systemctl-redirect", versions[-1], "main", "restart"]


def restart_round(folder: Path, sizes: Sizes, number: int, after: float = 1.0
                  ) -> dict[str, Verdict]:
    """PostgreSQL restarted under a running dispatch; the next dispatches finish."""
    with open_round("postgresql", folder, sizes, number) as rnd:
        pid = rnd.launcher.start()
        time.sleep(after)
        subprocess.run(restart_command(), check=True, capture_output=True, timeout=120)
        rnd.launcher.wait(pid)
        rnd.finish_queue()
        return rnd.verdicts()
