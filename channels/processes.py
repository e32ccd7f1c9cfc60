"""E-mails sent from several processes at once: `[dispatch] processes`, one per core.

Rendering and committing an e-mail costs CPU in Python, so one process keeps one core
busy at most. A dispatch whose queue holds more e-mails than one claimed group starts
helper processes (`start_method`) that each run their own dispatch of the e-mail
channels on their own connection to the store. They share the queue through the claims
exactly as separate `relance dispatch` commands do (`relance.channels.claims`: `SKIP
LOCKED` on PostgreSQL, the write lock on SQLite), so every guarantee of one dispatcher
holds for each: a message is sent at most once, and one in doubt is made `uncertain` and
listed. Their reports are added to the caller's.

Default: one process per core, on PostgreSQL and on SQLite. A helper started as a fresh
interpreter takes half a second to a second of CPU to import what it needs, the time the
caller needs to send several hundred e-mails: so helpers start only for a queue of
`HELPER_QUEUE_MIN` e-mails or more, where two processes measured faster than one on both
databases (on SQLite they take turns at the file's write lock, briefly:
docs/performance.md, "Dispatch").
"""

from __future__ import annotations

import asyncio
import datetime as dt
import multiprocessing
import os
import sys
import threading
from collections.abc import Callable
from dataclasses import fields
from multiprocessing.connection import Connection
from typing import Any

from sqlalchemy import func, select, text

from relance.channels.claims import DispatchReport, claimable, now
from relance.channels.config import DispatchConfig
from relance.channels.in_doubt import count_uncertain
from relance.kernel.i18n import _
from relance.kernel.workspace import Workspace
from relance.store.db import Store, open_store
from relance.store.models import Action

# The channels helper processes take: the ones sent by SMTP, where the CPU goes.
MAIL_CHANNELS = frozenset({"email", "notify"})
# The fewest e-mails waiting for which a helper is started. Measured on 2 cores: with 500
# e-mails two processes were slower than one (600 against 880 a second), with 2,000
# they were faster (1,000 against 900), with 10,000 much faster (1,260 against 980).
HELPER_QUEUE_MIN = 1000


def process_count(config: DispatchConfig) -> int:
    """How many processes may send e-mails: `[dispatch] processes`, at most one per
    core; by default one per core."""
    cores = os.cpu_count() or 1
    wanted = cores if config.processes is None else config.processes
    return max(1, min(wanted, cores))


def helpers_wanted(store: Store, config: DispatchConfig, channels: set[str],
                   processes: int) -> int:
    """How many helper processes to start beside the caller: none for one process, and
    none while fewer than `HELPER_QUEUE_MIN` e-mails wait, or while they fit in one
    claimed group (a helper would start for nothing: its interpreter takes longer to
    start than the caller needs to send them)."""
    mail = sorted(channels & MAIL_CHANNELS)
    if processes <= 1 or not mail:
        return 0
    with store.transaction() as session:
        waiting = int(session.scalar(select(func.count()).select_from(Action).where(
            *claimable(mail, now()))) or 0)
    if waiting < HELPER_QUEUE_MIN or waiting <= config.batch_size:
        return 0
    return min(processes - 1, waiting // config.batch_size)


def start_method() -> str:
    """How a helper process starts: `fork` when this process runs no other thread, the
    helper then going on from the modules already imported and sending at once; a fresh
    interpreter (`spawn`) otherwise (the scheduler's threads, a progress bar's, the
    TUI's), since a fork copies the locks other threads hold at that instant and a
    helper could wait forever on one of them. Nor is it forked from inside a running
    event loop, which the helper would inherit as its own and could not start another."""
    if (threading.active_count() == 1 and not _in_event_loop()
            and "fork" in multiprocessing.get_all_start_methods()):
        return "fork"
    return "spawn"


def _in_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _store_address(store: Store) -> tuple[str, str | None]:
    """The URL (with its password) and PostgreSQL schema a helper opens the store with."""
    url = store.engine.url.render_as_string(hide_password=False)
    if store.is_sqlite:
        return url, None
    with store.engine.connect() as connection:
        return url, str(connection.execute(text("SELECT current_schema()")).scalar_one())


class Helpers:
    """Helper processes dispatching the e-mail channels while the caller dispatches."""

    def __init__(self, store: Store, workspace: Workspace, *, today: dt.date,
                 channels: set[str], count: int, stop: threading.Event) -> None:
        url, schema = _store_address(store)
        method = start_method()
        if method == "fork":
            # Nothing the caller holds may be used twice: its pooled connections are
            # closed (SQLite forbids using a connection across a fork; the helper opens
            # its own) and its buffered output written, else the helper would write
            # the copy again as it ends.
            store.engine.dispose()
            sys.stdout.flush()
            sys.stderr.flush()
        context = (multiprocessing.get_context("fork") if method == "fork"
                   else multiprocessing.get_context("spawn"))
        self.stop = stop
        self.flag = context.Event()
        self.done = threading.Event()
        self.children: list[tuple[Any, Connection]] = []
        mail = sorted(channels & MAIL_CHANNELS)
        for _n in range(count):
            receiver, sender = context.Pipe(duplex=False)
            child = context.Process(target=_helper_main, name="relance-dispatch",
                                    args=(url, schema, workspace, today, mail, self.flag,
                                          sender))
            child.start()
            sender.close()
            self.children.append((child, receiver))
        # The caller's stop (SIGTERM to the scheduler) reaches the helpers through a
        # flag they watch: each finishes its send in progress and starts nothing new.
        self.bridge = threading.Thread(target=self._pass_stop, daemon=True)
        self.bridge.start()

    def _pass_stop(self) -> None:
        while not self.done.wait(0.2):
            if self.stop.is_set():
                self.flag.set()
                return

    def join(self, report: DispatchReport) -> None:
        """Wait for every helper and add its report to `report`; one that died is named
        in its errors (what it held in flight is settled by the next dispatch's
        recovery, as for a dispatcher killed)."""
        try:
            for child, receiver in self.children:
                outcome: DispatchReport | str | None = None
                try:
                    outcome = receiver.recv()
                except EOFError:
                    outcome = None
                child.join()
                if isinstance(outcome, DispatchReport):
                    add_report(report, outcome)
                else:
                    report.errors.append(_(
                        "a dispatch process stopped before the end ({problem}): what it "
                        "held is settled by the next dispatch").format(
                            problem=outcome or _("exit code {code}").format(
                                code=child.exitcode)))
                receiver.close()
        finally:
            self.done.set()

    def abandon(self) -> None:
        """The caller failed: tell the helpers to stop, then wait for them."""
        self.flag.set()
        self.join(DispatchReport())


def add_report(total: DispatchReport, part: DispatchReport) -> None:
    """Add a helper's counts and lists to the caller's report."""
    for spec in fields(DispatchReport):
        mine, theirs = getattr(total, spec.name), getattr(part, spec.name)
        if spec.name in ("worker", "dry_run", "outbox", "batch", "outstanding_uncertain"):
            continue
        if isinstance(mine, list):
            mine.extend(theirs)
        elif isinstance(mine, int):
            setattr(total, spec.name, mine + theirs)
    total.batch = total.batch or part.batch


def _helper_main(url: str, schema: str | None, workspace: Workspace, today: dt.date,
                 channels: list[str], flag: Any, sender: Connection) -> None:
    """A helper process: dispatch the e-mail channels, send the report back."""
    from relance.channels.dispatch import dispatch

    stop = threading.Event()

    def watch() -> None:
        flag.wait()
        stop.set()

    threading.Thread(target=watch, daemon=True).start()
    store: Store | None = None
    try:
        store = open_store(url, schema=schema, migrate=False)
        report = dispatch(store, workspace, today=today, channels=set(channels), stop=stop,
                          processes=1)
        sender.send(report)
    except BaseException as exc:  # told to the caller, who reports it
        sender.send(f"{type(exc).__name__}: {exc}")
        raise
    finally:
        if store is not None:
            store.dispose()
        sender.close()


def start_helpers(store: Store, workspace: Workspace, config: DispatchConfig, *,
                  today: dt.date, channels: set[str], processes: int,
                  stop: threading.Event) -> Helpers | None:
    """The helper processes this dispatch wants, started; None when it wants none."""
    count = helpers_wanted(store, config, channels, processes)
    if count == 0:
        return None
    return Helpers(store, workspace, today=today, channels=channels, count=count, stop=stop)


Runner = Callable[[], DispatchReport]


def with_helpers(helpers: Helpers | None, run: Runner, store: Store) -> DispatchReport:
    """Run the caller's own dispatch beside `helpers`, then add theirs to its report."""
    if helpers is None:
        return run()
    try:
        report = run()
    except BaseException:
        helpers.abandon()
        raise
    helpers.join(report)
    report.outstanding_uncertain = count_uncertain(store)
    return report


__all__ = ["HELPER_QUEUE_MIN", "MAIL_CHANNELS", "Helpers", "add_report", "process_count",
           "start_helpers", "with_helpers"]
