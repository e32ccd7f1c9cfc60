"""Leader election: of several `relance serve` processes, one runs the once-a-day jobs.

On PostgreSQL the leader holds a session advisory lock on a connection of its own; the
server drops it when that process or its connection dies, and a standby takes over at
its next tick. On SQLite (one machine) an exclusive `flock` on a lock file beside the
database does the same; the kernel releases it when the process dies, even by SIGKILL.

Leadership only decides who *tries*; the `job_run` table's unique (job, day) key is what
makes a day's run happen once even if two processes ever both believed they led.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import ModuleType
from typing import IO, Protocol

from sqlalchemy import text
from sqlalchemy.engine import make_url

from relance.kernel.errors import ConfigError
from relance.kernel.i18n import _
from relance.store.db import Store
from relance.store.leases import AdvisoryLock

LEADER_LOCK_NAME = "scheduler.leader"


def pid_alive(pid: int) -> bool:
    """Whether a process of this machine still runs: the holder of a lock, a claim or a
    lease recorded with its pid."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True

class Leadership(Protocol):
    def try_lead(self) -> bool:
        """Become (or stay) the leader if nobody else is; True when leading."""
        ...

    def release(self) -> None: ...

    def describe(self) -> str: ...


def _flock_module() -> ModuleType:
    # Imported here, not at the top: `fcntl` exists on Unix only, and every command
    # loads this module through the command line; only `relance serve` on SQLite locks,
    # and it asks when it starts rather than at its first tick.
    try:
        import fcntl
    except ImportError as exc:
        raise ConfigError(_(
            "relance serve on SQLite needs the Unix file lock (fcntl), which this platform "
            "lacks: point it at PostgreSQL (--db postgresql://...) to run the scheduler here"
        )) from exc
    return fcntl


class FileLeadership:
    """An exclusive, non-blocking `flock` on `path`, held while this process leads."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fcntl = _flock_module()
        self._handle: IO[str] | None = None

    def try_lead(self) -> bool:
        if self._handle is not None:
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = self.path.open("a+", encoding="utf-8")
        try:
            self._fcntl.flock(handle.fileno(), self._fcntl.LOCK_EX | self._fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return False
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._handle = handle
        return True

    def release(self) -> None:
        handle, self._handle = self._handle, None
        if handle is not None:
            self._fcntl.flock(handle.fileno(), self._fcntl.LOCK_UN)
            handle.close()

    def describe(self) -> str:
        return f"lock file {self.path}"  # not for people: the JSON log's `how`


class AdvisoryLeadership:
    """A PostgreSQL session advisory lock (see `relance.store.leases.AdvisoryLock`)."""

    def __init__(self, store: Store, name: str = LEADER_LOCK_NAME) -> None:
        # Advisory locks are database-wide: deployments in separate schemas of one
        # database must not elect one leader between them.
        with store.engine.connect() as conn:
            schema = conn.execute(text("SELECT current_schema()")).scalar()
        self.lock = AdvisoryLock(store.engine, f"{name}:{schema}")

    def try_lead(self) -> bool:
        return self.lock.try_acquire()

    def release(self) -> None:
        self.lock.release()

    def describe(self) -> str:
        return f"PostgreSQL advisory lock {self.lock.key}"  # not for people: the JSON log


def sqlite_lock_path(store: Store, fallback_dir: Path) -> Path:
    """The lock file beside the SQLite database (the thing that is shared)."""
    database = make_url(str(store.engine.url)).database
    if database and database != ":memory:":
        return Path(database).with_name(Path(database).name + ".scheduler.lock")
    return fallback_dir / ".relance-scheduler.lock"


def leadership_for(store: Store, workspace_root: Path) -> Leadership:
    if store.is_sqlite:
        return FileLeadership(sqlite_lock_path(store, workspace_root))
    return AdvisoryLeadership(store)
