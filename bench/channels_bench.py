"""How fast e-mails go out and letters render, beside their floors (run by hand).

    .venv/bin/python bench/channels_bench.py [--emails N] [--letters N] [--connections C]

Every figure is the whole work, measured in one run beside its floor:

- e-mails, floor: N prebuilt messages (bytes) sent over C connections (aiosmtplib) to
  a loopback aiosmtpd sink running in a process of its own;
- e-mails, relance: N queued e-mails (text + HTML, two invoices each) through
  `dispatch` to the same sink, `[smtp] max_connections = C`: claims and state commits,
  context, rendering, MIME, the kept copy, sending; with `[dispatch] processes = 1`,
  then `= 2` (the dispatch starts a helper process from 1,000 e-mails waiting; they
  share the queue through the claims), on SQLite or (`--db postgresql`) a schema of
  its own on the test server.
  The sink counts the Message-IDs it receives: each must arrive once;
- the CPU per e-mail of the dispatching process, and the kernel's part of it: each
  e-mail's exact bytes are kept in a file of their own before it leaves, and on this
  machine's ext4 creating a file costs from 0.02 to 1 ms of kernel time depending on
  the folder, enough to move the rate by half (`TMPDIR=/dev/shm` puts the workspace on
  tmpfs, where it costs 0.01 ms);
- letters, floor: WeasyPrint rendering one prepared letter's HTML N times in a pool of
  two processes; relance: N grouped letters (`mise_en_demeure`, penalties) through
  `dispatch` with `[dispatch] letter_processes = 2`, print batches included.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import re
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from relance.channels.dispatch import dispatch
from relance.store.db import Store, open_store
from tests.channels.factory import (
    TODAY,
    add_action,
    add_creditor,
    add_debtor,
    add_invoice,
    make_workspace,
)
from tests.channels.smtp_server import free_port

_MESSAGE_ID = re.compile(rb"^Message-ID: (<[^>\r\n]*>)", re.MULTILINE | re.IGNORECASE)


def book(store: Store, n: int, channel: str, template: str) -> None:
    with store.transaction() as s:
        creditor = add_creditor(s, penalty_rate="15")
        for k in range(n):
            debtor = add_debtor(s, creditor, f"B-{k:05d}")
            a = add_invoice(s, debtor, f"FB-{k:05d}-1", 150_000 + k, TODAY - dt.timedelta(days=40))
            b = add_invoice(s, debtor, f"FB-{k:05d}-2", 22_000 + k, TODAY - dt.timedelta(days=70))
            add_action(s, debtor, [a, b], channel=channel, template=template)


# -- the sink: aiosmtpd in a process of its own ----------------------------------------


class _CountingHandler:
    def __init__(self) -> None:
        self.ids: Counter[bytes] = Counter()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        found = _MESSAGE_ID.search(envelope.content)
        self.ids[found.group(1) if found else b""] += 1
        return "250 OK"


def _run_sink(port: int) -> None:
    """Serve until stdin closes, then print `messages distinct` and exit."""
    from aiosmtpd.controller import Controller

    handler = _CountingHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    print("ready", flush=True)
    while True:
        line = sys.stdin.readline()
        if not line:
            break
        print(f"{sum(handler.ids.values())} {len(handler.ids)}", flush=True)
        handler.ids.clear()
    controller.stop()


class Sink:
    """The sink process; `received()` returns (messages, distinct Message-IDs) since the
    last call."""

    def __init__(self) -> None:
        self.port = free_port()
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--sink", str(self.port)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None and self.process.stdin is not None
        assert self.process.stdout.readline().strip() == "ready"

    def received(self) -> tuple[int, int]:
        assert self.process.stdout is not None and self.process.stdin is not None
        self.process.stdin.write("count\n")
        self.process.stdin.flush()
        total, distinct = self.process.stdout.readline().split()
        return int(total), int(distinct)

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=30)


# -- e-mails -------------------------------------------------------------------------


def _prebuilt(n: int) -> list[bytes]:
    body = ("Bonjour,\r\n\r\nFB-00001-1 : 1 500,00 EUR\r\nFB-00001-2 : 220,00 EUR\r\n" * 4)
    return [(f"From: Acme <a@acme.test>\r\nTo: D <d{k}@client.test>\r\nSubject: Rappel\r\n"
             f"Message-ID: <floor-{k}@acme.test>\r\nMIME-Version: 1.0\r\n"
             f"Content-Type: text/plain; charset=utf-8\r\n\r\n{body}").encode()
            for k in range(n)]


async def _floor_send(port: int, messages: list[bytes], connections: int) -> None:
    import aiosmtplib

    async def line(part: list[bytes]) -> None:
        client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, timeout=30)
        await client.connect()
        for k, data in enumerate(part):
            await client.sendmail("a@acme.test", [f"d{k}@client.test"], data)
        await client.quit()

    await asyncio.gather(*(line(messages[i::connections]) for i in range(connections)))


def email_floor(sink: Sink, n: int, connections: int) -> float:
    messages = _prebuilt(n)
    start = time.perf_counter()
    asyncio.run(_floor_send(sink.port, messages, connections))
    elapsed = time.perf_counter() - start
    assert sink.received() == (n, n)
    return n / elapsed


PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@contextlib.contextmanager
def bench_store(db: str, root: Path) -> Iterator[Store]:
    """A fresh store: a SQLite file in the workspace, or a PostgreSQL schema of its own
    (dropped afterwards)."""
    if db == "sqlite":
        store = open_store(f"sqlite:///{root / 'relance.sqlite'}")
        try:
            yield store
        finally:
            store.dispose()
        return
    from sqlalchemy import create_engine, text

    schema = f"bench_mail_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    store = open_store(PG_URL, schema=schema)
    try:
        yield store
    finally:
        store.dispose()
        with admin.connect() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def email_dispatch(sink: Sink, n: int, connections: int, processes: int, db: str = "sqlite",
                   ) -> tuple[float, float, float]:
    """(e-mails per second, CPU ms per e-mail in this process, the part of it spent in
    the kernel) through `dispatch` with `[dispatch] processes`; a helper's CPU is not
    counted (it is another process)."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "ws"
        workspace = make_workspace(root, {
            "smtp": {"host": "127.0.0.1", "port": sink.port, "security": "none",
                     "max_connections": connections, "timeout": 30},
            "dispatch": {"batch_size": 200, "processes": processes}})
        with bench_store(db, root) as store:
            book(store, n, "email", "rappel")
            before = resource.getrusage(resource.RUSAGE_SELF)
            start = time.perf_counter()
            report = dispatch(store, workspace, today=TODAY)
            elapsed = time.perf_counter() - start
            after = resource.getrusage(resource.RUSAGE_SELF)
            kernel = after.ru_stime - before.ru_stime
            cpu = after.ru_utime - before.ru_utime + kernel
            assert not report.errors, report.errors
            assert report.sent == n, report.sent
        assert sink.received() == (n, n), "each e-mail must arrive exactly once"
        return n / elapsed, 1000 * cpu / n, 1000 * kernel / n


# -- letters -------------------------------------------------------------------------


def _render_once(args: tuple[str, str, tuple[str, ...]]) -> int:
    from relance.channels.letter import render_pdf_bytes

    html, base, roots = args
    _pdf, pages, _refused = render_pdf_bytes(html, base_dir=Path(base),
                                             roots=[Path(r) for r in roots])
    return pages


def letters_floor(n: int, processes: int) -> float:
    """WeasyPrint alone: one prepared letter's HTML rendered n times in a pool."""
    from sqlalchemy import select

    from relance.channels.config import dispatch_config
    from relance.channels.prepare import Renderer
    from relance.channels.templates import default_templates_dir
    from relance.store.models import Action, Creditor

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "ws"
        workspace = make_workspace(root)
        store = open_store(f"sqlite:///{root / 'relance.sqlite'}")
        book(store, 1, "letter", "mise_en_demeure")
        renderer = Renderer(store, workspace, TODAY, dispatch_config(workspace))
        with store.transaction() as session:
            action = session.scalars(select(Action)).one()
            prepared = renderer.prepare(session, action)
            creditor = session.scalars(select(Creditor)).one()
            roots = tuple(str(r) for r in renderer.resource_roots(creditor))
        store.dispose()
        job = (prepared.letter_html or "", str(default_templates_dir()), roots)
        _render_once(job)  # WeasyPrint imported before the pool forks, as dispatch does
        start = time.perf_counter()
        with ProcessPoolExecutor(max_workers=processes) as pool:
            list(pool.map(_render_once, [job] * n, chunksize=max(1, n // (processes * 4))))
        return n / (time.perf_counter() - start)


def letters(n: int, processes: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "ws"
        workspace = make_workspace(root, {"dispatch": {"letter_processes": processes,
                                                       "batch_size": n}})
        store = open_store(f"sqlite:///{root / 'relance.sqlite'}")
        book(store, n, "letter", "mise_en_demeure")
        start = time.perf_counter()
        report = dispatch(store, workspace, today=TODAY)
        elapsed = time.perf_counter() - start
        assert report.sent == n, report.errors
        store.dispose()
        return n / elapsed


def _row(work: str, floor: float, ours: float, unit: str, extra: str = "") -> str:
    return (f"| {work} | {floor:,.0f} {unit} | {ours:,.1f} {unit}{extra} | "
            f"{floor / ours:.2f}x |")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sink", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--emails", type=int, default=2000)
    parser.add_argument("--letters", type=int, default=60)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--no-letters", action="store_true")
    args = parser.parse_args()
    if args.sink:
        _run_sink(args.sink)
        return
    print("| work | floor (same run) | relance | floor / relance |")
    print("| --- | --- | --- | --- |")
    sink = Sink()
    try:
        n, c = args.emails, args.connections
        floor = email_floor(sink, n, c)
        db = args.db
        runs: list[tuple[str, Callable[[], tuple[float, float, float]]]] = [
            (f"{n:,} e-mails, {db}, 1 dispatch process, {c} connections",
             lambda: email_dispatch(sink, n, c, 1, db)),
            (f"{n:,} e-mails, {db}, 2 dispatch processes, {c} connections each",
             lambda: email_dispatch(sink, n, c, 2, db)),
        ]
        for work, run in runs:
            rate, cpu, kernel = run()
            extra = (f" ({cpu:.2f} ms CPU per e-mail, {kernel:.2f} of it in the kernel)"
                     if "1 dispatch" in work else "")
            print(_row(work, floor, rate, "msg/s", extra), flush=True)
    finally:
        sink.close()
    print(f"(load average: {Path('/proc/loadavg').read_text().split()[0]})")
    if args.no_letters:
        return
    m = args.letters
    print(_row(f"{m} letters, 2 processes", letters_floor(m, 2), letters(m, 2), "letters/s"))


if __name__ == "__main__":
    main()
