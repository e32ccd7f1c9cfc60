"""The debtor's page under load, beside its floor (run by hand).

    .venv/bin/python bench/web_bench.py [--debtors 2000] [--rate 200] [--seconds 60]
        [--workers 1] [--pg | --both]

A book of N debtors, each with a few open invoices (late, so the page counts penalties)
and the personal link of an e-mail sent to them (`engine.portal_links.issue_link`, bound
to the e-mail as dispatch binds it), is served by a real `relance web` (uvicorn on a
free loopback port, a process of its own). A load generator, in another process, sends
an open-loop stream of GETs: request k is due at start + k / rate, whatever became of the
earlier ones, over HTTP/1.1 keep-alive connections it opens as it needs them. A latency
is counted from the moment the request was due, so a server that falls behind pays for
the queue it builds. Every visitor comes with an address of its own in
`X-Forwarded-For` (as behind the reverse proxy), so the per-address limit of link
lookups applies as it does in production.

Each database gets three phases at the same rate: a warm-up of pages (not counted), the
floor (the same server answering its style sheet, `/static/page.css`, through the same
middleware and connections), then random debtors' pages. A page answer counts as an error
unless it is a 200 that names its own debtor. Printed: the achieved rate, p50/p95/p99/max,
errors, and the server's CPU time per request.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PG_URL = os.environ.get("RELANCE_TEST_PG_URL",
                        "postgresql+psycopg://postgres@127.0.0.1:5432/test")
SECRET_FILE = ".relance/web.secret"
FLOOR_PATH = "/static/page.css"
# Connections the generator may hold open at once: a visitor per connection, at most.
MAX_CONNECTIONS = 1024
# uvicorn closes a keep-alive connection idle for 5 s; a browser would not send on one
# that old either, it opens another.
IDLE_SECONDS = 4.0


# -- the book ----------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """One debtor's page: its path and the reference the page must show."""

    path: str
    ref: str


def write_workspace(root: Path, url: str) -> None:
    """`relance.toml` with the database and `[web]`, the secret in an owner-only file."""
    from tests.channels.factory import make_workspace

    make_workspace(root)
    secret = root / SECRET_FILE
    secret.parent.mkdir(parents=True, exist_ok=True)
    secret.write_text("bench-secret-" + uuid.uuid4().hex + uuid.uuid4().hex + "\n")
    secret.chmod(0o600)
    (root / "relance.toml").write_text(
        f'[database]\nurl = "{url}"\n\n[web]\nbase_url = "https://pay.example.test"\n'
        f'secret_file = "{SECRET_FILE}"\n')


def build_book(root: Path, url: str, debtors: int, invoices_each: int) -> list[Target]:
    """N debtors with `invoices_each` late open invoices and the link of a sent e-mail."""
    from relance.engine.portal_links import issue_link, link_keys
    from relance.kernel.workspace import Workspace, load_config
    from relance.store.db import open_store
    from relance.store.models import ActionState, utcnow
    from tests.channels.factory import add_action, add_creditor, add_debtor, add_invoice

    config = root / "relance.toml"
    workspace = Workspace(root, load_config(config), config)
    keys = link_keys(workspace)
    assert keys is not None
    today = dt.date.today()
    rng = random.Random(18)
    store = open_store(url)
    targets = []
    try:
        with store.transaction() as session:
            creditor = add_creditor(session, penalty_rate="15")
            for k in range(debtors):
                ref = f"W-{k:05d}"
                debtor = add_debtor(session, creditor, ref, name=f"Client {ref}",
                                    language="fr" if k % 5 else "en")
                invoices = [add_invoice(session, debtor, f"FW-{k:05d}-{j}",
                                        rng.randint(10_000, 2_000_000),
                                        today - dt.timedelta(days=rng.randint(5, 120)),
                                        paid_minor=0 if j else rng.choice((0, 5_000)))
                            for j in range(invoices_each)]
                action = add_action(session, debtor, invoices, channel="email",
                                    template="rappel", state=ActionState.SENT,
                                    sent_at=utcnow())
                issued = issue_link(session, keys, debtor_id=debtor.id, action=action)
                targets.append(Target(f"/d/{issued.token}", ref))
    finally:
        store.dispose()
    return targets


# -- the server --------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class Server:
    """`relance web` over the workspace, in processes of its own."""

    def __init__(self, root: Path, url: str, workers: int) -> None:
        self.port = free_port()
        command = [str(Path(sys.executable).parent / "relance"), "--workspace", str(root),
                   "--db", url, "web", "--port", str(self.port)]
        if workers > 1:
            command += ["--workers", str(workers)]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL,
                                        start_new_session=True)
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("relance web did not start") from None
                time.sleep(0.1)

    def cpu_seconds(self) -> float:
        """User + system CPU of the server's processes (its workers included)."""
        total = 0.0
        tick = os.sysconf("SC_CLK_TCK")
        for pid in _process_tree(self.process.pid):
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += (int(fields[11]) + int(fields[12])) / tick
        return total

    def close(self) -> None:
        os.killpg(self.process.pid, signal.SIGINT)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def _process_tree(pid: int) -> list[int]:
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        found.append(current)
        try:
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        pending.extend(int(child) for child in children)
    return found


# -- the load generator (its own process) ------------------------------------------


class Connection:
    """One keep-alive HTTP/1.1 connection: a request, then its whole answer."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.used = time.perf_counter()

    async def get(self, path: str, forwarded_for: str) -> tuple[int, bytes]:
        self.writer.write(
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Forwarded-For: {forwarded_for}"
            "\r\nAccept: text/html\r\n\r\n".encode())
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                name, value = line.split(":", 1)
                headers[name.strip().lower()] = value.strip()
        if headers.get("transfer-encoding", "").lower() == "chunked":
            body = bytearray()
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
                body += await self.reader.readexactly(size + 2)
                if size == 0:
                    break
            return status, bytes(body)
        return status, await self.reader.readexactly(int(headers.get("content-length", 0)))

    def close(self) -> None:
        self.writer.close()


async def _generate(port: int, targets: list[tuple[str, str]], rate: float,
                    seconds: float, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    idle: list[Connection] = []
    opened = 0
    latencies: list[float] = []
    errors: dict[str, int] = {}
    total = int(rate * seconds)

    def failed(kind: str) -> None:
        errors[kind] = errors.get(kind, 0) + 1

    async def one(due: float, path: str, expected: str, visitor: int) -> None:
        nonlocal opened
        connection = idle.pop() if idle else None
        while connection is not None and time.perf_counter() - connection.used > IDLE_SECONDS:
            connection.close()
            opened -= 1
            connection = idle.pop() if idle else None
        try:
            if connection is None:
                if opened >= MAX_CONNECTIONS:
                    failed("no connection left")
                    return
                opened += 1
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                connection = Connection(reader, writer)
            status, body = await connection.get(
                path, f"10.{visitor >> 16 & 255}.{visitor >> 8 & 255}.{visitor & 255}")
        except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
            failed(exc.__class__.__name__)
            if connection is not None:
                connection.close()
                opened -= 1
            return
        connection.used = time.perf_counter()
        latencies.append(connection.used - due)
        idle.append(connection)
        if status != 200:
            failed(f"HTTP {status}")
        elif expected and expected.encode() not in body:
            failed("another page")

    loop_start = time.perf_counter() + 0.2
    tasks = []
    for k in range(total):
        due = loop_start + k / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        index = rng.randrange(len(targets))
        path, expected = targets[index]
        tasks.append(asyncio.create_task(one(due, path, expected, index)))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - loop_start
    for connection in idle:
        connection.close()
    return {"sent": total, "answered": len(latencies), "seconds": elapsed,
            "latencies": latencies, "errors": errors, "connections_max": opened}


def generate_main(args: argparse.Namespace) -> None:
    """The generator's process: targets as JSON lines on stdin, the result on stdout."""
    targets = [(str(path), str(ref)) for path, ref in
               (json.loads(line) for line in sys.stdin if line.strip())]
    result = asyncio.run(_generate(args.port, targets, args.rate, args.seconds, args.seed))
    print(json.dumps(result))


# -- a phase and its figures -------------------------------------------------------


@dataclass(frozen=True)
class Figures:
    sent: int
    rate: float
    p50: float
    p95: float
    p99: float
    worst: float
    errors: dict[str, int]
    cpu_ms: float
    connections: int


def percentile(ordered: list[float], share: float) -> float:
    """The nearest-rank percentile of sorted values (0 without any)."""
    if not ordered:
        return 0.0
    rank = max(1, -(-len(ordered) * share // 100))
    return ordered[int(rank) - 1]


def run_phase(server: Server, targets: list[tuple[str, str]], rate: float,
              seconds: float, seed: int) -> Figures:
    cpu_before = server.cpu_seconds()
    generator = subprocess.Popen(
        [sys.executable, __file__, "--generate", "--port", str(server.port),
         "--rate", str(rate), "--seconds", str(seconds), "--seed", str(seed)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    lines = "".join(json.dumps(list(target)) + "\n" for target in targets)
    out, _err = generator.communicate(lines)
    if generator.returncode != 0:
        raise RuntimeError("the load generator failed")
    cpu = server.cpu_seconds() - cpu_before
    result = json.loads(out)
    ordered = sorted(result["latencies"])
    answered = max(1, result["answered"])
    return Figures(sent=result["sent"], rate=result["answered"] / result["seconds"],
                   p50=percentile(ordered, 50), p95=percentile(ordered, 95),
                   p99=percentile(ordered, 99), worst=ordered[-1] if ordered else 0.0,
                   errors=result["errors"], cpu_ms=1000 * cpu / answered,
                   connections=result["connections_max"])


def row(database: str, work: str, figures: Figures) -> str:
    errors = sum(figures.errors.values())
    detail = (" (" + ", ".join(f"{kind}: {count}" for kind, count in figures.errors.items())
              + ")") if errors else ""
    return (f"| {database} | {work} | {figures.rate:,.1f}/s | {1000 * figures.p50:,.1f} | "
            f"{1000 * figures.p95:,.1f} | {1000 * figures.p99:,.1f} | "
            f"{1000 * figures.worst:,.1f} | {errors}{detail} | {figures.cpu_ms:,.2f} | "
            f"{figures.connections} |")


# -- the databases -----------------------------------------------------------------


@contextlib.contextmanager
def _pg_admin() -> Iterator[Any]:
    """A connection to the bench's PostgreSQL database outside any transaction (schemas
    are made, analysed and dropped there), closed with its engine."""
    from sqlalchemy import create_engine

    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            yield conn
    finally:
        admin.dispose()


def fresh_pg_schema() -> str:
    from sqlalchemy import text

    schema = f"webbench_{uuid.uuid4().hex[:12]}"
    with _pg_admin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    return schema


def analyze_pg_schema(schema: str) -> None:
    """Statistics for the book just built, as a database in service has them (its
    autovacuum keeps them): without, the planner guesses empty tables, and the page's
    reads and the visits' writes scan where they would look up."""
    from sqlalchemy import text

    with _pg_admin() as conn:
        tables = conn.scalars(text("SELECT tablename FROM pg_tables WHERE schemaname = :schema"),
                              {"schema": schema}).all()
        for table in tables:  # this schema's only: a bare ANALYZE walks every schema
            conn.execute(text(f'ANALYZE "{schema}"."{table}"'))


def drop_pg_schema(schema: str) -> None:
    from sqlalchemy import text

    with _pg_admin() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))


def bench_database(database: str, args: argparse.Namespace) -> list[str]:
    folder = Path(tempfile.mkdtemp(prefix="relance-webbench-"))
    schema = None
    try:
        if database == "postgresql":
            schema = fresh_pg_schema()
            # The schema rides in the URL, so that `relance web` opens the same one.
            url = f"{PG_URL}?options=-csearch_path%3D{schema}"
        else:
            url = f"sqlite:///{folder / 'ws' / 'relance.sqlite'}"
        root = folder / "ws"
        write_workspace(root, url)
        started = time.perf_counter()
        targets = build_book(root, url, args.debtors, args.invoices)
        if schema is not None:
            analyze_pg_schema(schema)
        print(f"{database}: {len(targets):,} debtors and links built in "
              f"{time.perf_counter() - started:.1f} s", file=sys.stderr)
        pages = [(target.path, target.ref) for target in targets]
        server = Server(root, url, args.workers)
        try:
            run_phase(server, pages, args.rate, args.warmup, seed=1)
            floor = run_phase(server, [(FLOOR_PATH, "")], args.rate, args.seconds, seed=2)
            ours = run_phase(server, pages, args.rate, args.seconds, seed=3)
        finally:
            server.close()
        rows = [row(database, f"floor: {FLOOR_PATH}", floor),
                row(database, "debtor's page", ours)]
        print("\n".join(rows), file=sys.stderr)
        return rows
    finally:
        if schema is not None:
            drop_pg_schema(schema)
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--debtors", type=int, default=2000)
    parser.add_argument("--invoices", type=int, default=3, help="open invoices per debtor")
    parser.add_argument("--rate", type=float, default=200.0, help="requests per second")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--pg", action="store_true", help="PostgreSQL only")
    parser.add_argument("--both", action="store_true", help="SQLite, then PostgreSQL")
    parser.add_argument("--generate", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.generate:
        generate_main(args)
        return
    databases = ["sqlite", "postgresql"] if args.both else (
        ["postgresql"] if args.pg else ["sqlite"])
    rows = []
    for database in databases:
        rows.extend(bench_database(database, args))
    print(f"{args.rate:g} GETs/s for {args.seconds:g} s, {args.debtors:,} debtors, "
          f"{args.workers} worker(s); load {Path('/proc/loadavg').read_text().strip()}")
    print("| database | work | achieved | p50 ms | p95 ms | p99 ms | max ms | errors "
          "| server CPU ms/req | connections |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for line in rows:
        print(line)


if __name__ == "__main__":
    main()
