"""The command server (`relance server`): a command run in it prints, exits and fails
exactly as the same command run alone; the caller's signals reach it; it restarts when
the code changes, declines what it cannot run as the caller would, and stops when told
or idle.

Every test drives the real `relance` script in processes of its own, against a real
server started by `relance server start`, on a real SQLite file (and PostgreSQL where
the database matters).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.books import write_book
from relance.server_client import command_words, served
from tests.conftest import EXAMPLES, PG_URL, PostgresSchemas

RELANCE = str(Path(sys.executable).parent / "relance")


class Server:
    """A command server of its own (its own runtime folder), and how to run `relance`
    with or without it."""

    def __init__(self, folder: Path, extra_env: dict[str, str] | None = None) -> None:
        self.folder = folder
        self.env = {key: value for key, value in os.environ.items()
                    if key not in ("RELANCE_NO_SERVER", "LANGUAGE", "LC_ALL", "LC_MESSAGES")}
        self.env.update(RELANCE_RUNTIME_DIR=str(folder), LANG="en_GB.UTF-8",
                        **(extra_env or {}))

    def relance(self, *args: str, through_server: bool = True, cwd: Path | None = None,
                env: dict[str, str] | None = None, stdin: str | None = None,
                ) -> subprocess.CompletedProcess[str]:
        environment = {**self.env, **(env or {})}
        if not through_server:
            environment["RELANCE_NO_SERVER"] = "1"
        return subprocess.run([RELANCE, *args], capture_output=True, text=True, cwd=cwd,
                              env=environment, input=stdin, timeout=120, check=False)

    def status(self) -> dict[str, object]:
        done = self.relance("--json", "server", "status")
        status: dict[str, object] = json.loads(done.stdout)
        return status

    def served(self) -> int:
        return int(str(self.status()["served"]))

    def log(self) -> str:
        return "".join(path.read_text() for path in self.folder.glob("*.log"))


def _short_folder() -> Path:
    # A Unix socket's path must stay under 108 bytes: pytest's tmp_path may not.
    return Path(tempfile.mkdtemp(prefix="relance-srv-", dir="/tmp"))


@pytest.fixture
def server() -> Iterator[Server]:
    folder = _short_folder()
    running = Server(folder)
    started = running.relance("server", "start", "--idle", "10")
    assert started.returncode == 0, started.stderr
    try:
        yield running
    finally:
        pid = running.status().get("pid")
        running.relance("server", "stop")
        if pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(str(pid)), signal.SIGKILL)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def _built_workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The worked example's book and franchise rules, run on 23/11/2026: built once."""
    ws = tmp_path_factory.mktemp("built") / "ws"
    alone = Server(_short_folder())
    for args in (("init", str(ws)),
                 ("-w", str(ws), "import", "invoices", str(EXAMPLES / "invoices.csv"))):
        done = alone.relance(*args, through_server=False)
        assert done.returncode == 0, done.stderr
    for path in (ws / "rules").iterdir():
        if not path.name.startswith("franchise.rules"):
            path.unlink()
    done = alone.relance("-w", str(ws), "run", "--on", "2026-11-23", through_server=False)
    assert done.returncode == 0, done.stderr
    shutil.rmtree(alone.folder)
    return ws


@pytest.fixture
def workspace(_built_workspace: Path, tmp_path: Path) -> Path:
    """A copy of the built workspace of this test's own (some tests change it)."""
    return Path(shutil.copytree(_built_workspace, tmp_path / "ws"))


def _same_either_way(server: Server, *args: str, cwd: Path | None = None,
                     env: dict[str, str] | None = None,
                     ) -> subprocess.CompletedProcess[str]:
    alone = server.relance(*args, through_server=False, cwd=cwd, env=env)
    served = server.relance(*args, cwd=cwd, env=env)
    assert (served.returncode, served.stdout, served.stderr) == \
        (alone.returncode, alone.stdout, alone.stderr), args
    return served


# ------------------------------------------------------------------ the same command


def test_a_command_in_the_server_prints_and_exits_as_alone_in_either_language(
        server: Server, workspace: Path) -> None:
    commands = [
        ("queue",),
        ("--json", "queue"),
        ("queue", "--state", "proposed", "--channel", "letter"),
        ("history", "no-such-debtor"),  # refused: exit 2, one sentence
        ("queue", "--state", "nope"),  # a usage error, framed
        ("report", "aged"),
        ("check",),
        ("db", "current"),
    ]
    before = server.served()
    results = [_same_either_way(server, *command, cwd=workspace) for command in commands]
    french = [_same_either_way(server, *command, cwd=workspace,
                               env={"LANG": "fr_FR.UTF-8"}) for command in commands]
    assert server.served() - before == 2 * len(commands)
    assert results[0].returncode == 0 and "amiable" in results[0].stdout
    assert json.loads(results[1].stdout)  # the queue as a JSON document
    assert results[3].returncode == 2 and results[4].returncode == 2
    assert results[0].stdout != french[0].stdout  # each in its caller's language
    assert "Usage" in results[4].stderr and "Utilisation" in french[4].stderr


def test_the_workspace_and_environment_are_the_callers(
        server: Server, workspace: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    # Outside the workspace: not its book.
    outside = _same_either_way(server, "queue", cwd=elsewhere)
    assert "amiable" not in outside.stdout
    # The workspace named by option, then by the environment's database URL.
    by_option = _same_either_way(server, "-w", str(workspace), "queue", cwd=elsewhere)
    assert by_option.returncode == 0 and "amiable" in by_option.stdout
    database = f"sqlite:///{workspace / 'relance.sqlite'}"
    by_env = _same_either_way(server, "queue", cwd=workspace,
                              env={"RELANCE_DATABASE_URL": database, "RELANCE_USER": "zoe"})
    assert by_env.stdout == by_option.stdout


def test_today_is_the_callers_time_zones(server: Server, workspace: Path) -> None:
    """25 hours apart, the two zones never share a date: each command's `today` is its
    caller's, not the server's."""
    ahead = _same_either_way(server, "run", "--dry-run", cwd=workspace,
                             env={"TZ": "Pacific/Kiritimati"})
    behind = _same_either_way(server, "run", "--dry-run", cwd=workspace,
                              env={"TZ": "Pacific/Pago_Pago"})
    assert ahead.stdout.split(":")[0] != behind.stdout.split(":")[0]


def test_commands_run_side_by_side_each_as_alone(server: Server, workspace: Path) -> None:
    commands = [("queue",), ("--json", "queue"), ("report", "aged"), ("check",)] * 2
    alone = [server.relance(*command, cwd=workspace, through_server=False)
             for command in commands]
    before = server.served()
    started = [subprocess.Popen([RELANCE, *command], cwd=workspace, env=server.env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for command in commands]
    together = [(process.wait(timeout=120), *process.communicate()) for process in started]
    assert together == [(done.returncode, done.stdout, done.stderr) for done in alone]
    assert server.served() - before == len(commands)


def test_a_command_on_postgresql_runs_in_the_server_as_alone(
        server: Server, pg_schemas: PostgresSchemas, examples_dir: Path,
        tmp_path: Path) -> None:
    schema = pg_schemas.create()
    try:
        url = f"{PG_URL}?options=-csearch_path%3D{schema}"
        ws = tmp_path / "pgws"
        assert server.relance("init", str(ws)).returncode == 0
        imported = server.relance("--db", url, "-w", str(ws), "import", "invoices",
                                  str(examples_dir / "invoices.csv"))
        assert imported.returncode == 0, imported.stderr
        queue = _same_either_way(server, "--db", url, "-w", str(ws), "--json", "queue")
        current = _same_either_way(server, "--db", url, "-w", str(ws), "db", "current")
        assert queue.returncode == 0 and current.returncode == 0
        assert "up to date" in current.stdout.lower()
    finally:
        pg_schemas.drop(schema)


def test_standard_input_is_the_callers(server: Server, workspace: Path,
                                       examples_dir: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.rules"
    broken.write_text("when nonsense\n")
    outcomes = []
    for args, given in ((("check", "/dev/stdin"), examples_dir / "franchise.rules"),
                        (("check", "/dev/stdin"), broken),
                        (("import", "invoices", "/dev/stdin"),
                         examples_dir / "invoices.csv")):
        runs = []
        for through_server in (True, False):
            with given.open() as stdin:  # as `relance ... < FILE` gives it
                runs.append(subprocess.run(
                    [RELANCE, *args], stdin=stdin, capture_output=True, text=True,
                    cwd=workspace, check=False,
                    env={**server.env, **({} if through_server else
                                          {"RELANCE_NO_SERVER": "1"})}))
        assert (runs[0].returncode, runs[0].stdout, runs[0].stderr) == \
            (runs[1].returncode, runs[1].stdout, runs[1].stderr)
        outcomes.append(runs[0])
    assert outcomes[0].returncode == 0 and "6 rules" in outcomes[0].stdout
    assert outcomes[1].returncode == 1 and "stdin:1" in outcomes[1].stdout
    assert outcomes[2].returncode == 0 and "10 rows" in outcomes[2].stdout


# ------------------------------------------------------------------ signals


def _reads_its_standard_input(pid: int) -> bool:
    """The process has opened /dev/stdin (a second descriptor on its input pipe): the
    import is past its start and waits for rows."""
    try:
        links = [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")]
        return links.count(os.readlink(f"/proc/{pid}/fd/0")) >= 2
    except OSError:
        return False


def _children(pid: int) -> list[int]:
    with open(f"/proc/{pid}/task/{pid}/children") as listing:
        return [int(child) for child in listing.read().split()]


def _started_waiting_on_stdin(server: Server, workspace: Path,
                              through_server: bool = True) -> subprocess.Popen[str]:
    """An import reading a pipe that stays open: a command that waits."""
    env = server.env if through_server else {**server.env, "RELANCE_NO_SERVER": "1"}
    server_pid = int(str(server.status()["pid"])) if through_server else 0
    process = subprocess.Popen([RELANCE, "import", "invoices", "/dev/stdin"],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, cwd=workspace, env=env)
    deadline = time.monotonic() + 30
    while not any(_reads_its_standard_input(pid) for pid in
                  (_children(server_pid) if through_server else [process.pid])):
        assert time.monotonic() < deadline and process.poll() is None
        time.sleep(0.05)
    return process


def test_ctrl_c_ends_the_command_as_it_would_end_it_alone(
        server: Server, workspace: Path) -> None:
    ended = []
    for through_server in (True, False):
        process = _started_waiting_on_stdin(server, workspace, through_server)
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)  # its input still open: the signal alone ends it
        out, err = process.communicate(timeout=30)
        ended.append((process.returncode, out, err))
    assert ended[0] == ended[1]
    assert ended[0][0] == 130  # interrupted, as the shell reports it
    assert server.status()["running"] == 0


def test_a_caller_killed_outright_hangs_its_command_up(
        server: Server, workspace: Path) -> None:
    process = _started_waiting_on_stdin(server, workspace)
    process.kill()
    process.wait(timeout=30)
    deadline = time.monotonic() + 30
    while server.status()["running"] != 0:
        assert time.monotonic() < deadline, "the orphaned command still runs"
        time.sleep(0.05)


def test_stop_lets_the_running_command_end(server: Server, workspace: Path) -> None:
    process = _started_waiting_on_stdin(server, workspace)
    stopping = subprocess.Popen([RELANCE, "server", "stop"], env=server.env,
                                stdout=subprocess.PIPE, text=True)
    time.sleep(1)
    assert stopping.poll() is None and process.poll() is None  # it waits for the import
    before = server.served()
    assert server.relance("queue", cwd=workspace).returncode == 0  # meanwhile: alone
    assert server.served() == before
    _out, err = process.communicate(timeout=60)
    # A pipe read to its end is no file to import, as alone.
    assert process.returncode == 2 and "/dev/stdin" in err
    stopped, _ = stopping.communicate(timeout=60)
    assert "Command server stopped." in stopped


def test_a_server_gone_mid_command_is_told_not_hidden(
        server: Server, workspace: Path) -> None:
    process = _started_waiting_on_stdin(server, workspace)
    os.kill(int(str(server.status()["pid"])), signal.SIGKILL)
    _out, err = process.communicate(timeout=30)  # its input closed: the orphan may end
    assert process.returncode == 1
    assert "it may have run in part. Check before running it again." in err


# ------------------------------------------------------------------ declining, restarting


def _limited(server: Server, limits: str, command: str, cwd: Path,
             through_server: bool = True) -> subprocess.CompletedProcess[str]:
    """`command` run by a shell that set `limits` (its `ulimit` options) first."""
    env = server.env if through_server else {**server.env, "RELANCE_NO_SERVER": "1"}
    return subprocess.run(["bash", "-c", f"ulimit {limits} && exec {RELANCE} {command}"],
                          capture_output=True, text=True, cwd=cwd, env=env, timeout=120,
                          check=False)


def test_a_command_runs_under_its_callers_resource_limits(server: Server,
                                                           tmp_path: Path) -> None:
    """A file size limit of 100 KB: a queue of 400 KB, written to a file, stops at the
    limit with one sentence in the server's copy as in a process of its own."""
    book = write_book(tmp_path / "book.csv", 3_000)
    ws = tmp_path / "ws"
    for args in (("init", str(ws)), ("-w", str(ws), "import", "invoices", str(book)),
                 ("-w", str(ws), "run", "--on", "2026-11-23")):
        done = server.relance(*args, through_server=False)
        assert done.returncode == 0, done.stderr
    before = server.served()
    ends = []
    for through_server in (True, False):
        out = tmp_path / f"queue-{through_server}.json"
        done = _limited(server, "-f 100", f"--json queue > {out}", ws, through_server)
        ends.append((done.returncode, out.stat().st_size, done.stderr))
    assert ends[0] == ends[1]
    assert ends[0] == (1, 100 * 1024, "relance: File too large\n")
    assert server.served() == before + 1
    roomy = _limited(server, "-f 1000", "--json queue", ws)
    assert roomy.returncode == 0 and len(roomy.stdout) > 300_000
    assert server.served() == before + 2


def test_a_caller_allowed_more_than_the_server_runs_alone(workspace: Path) -> None:
    folder = _short_folder()
    tight = Server(folder)
    started = _limited(tight, "-n 512", "server start --idle 10", workspace,
                       through_server=False)
    assert started.returncode == 0, started.stderr
    try:
        before = tight.served()
        within = _limited(tight, "-n 256", "queue", workspace)
        assert within.returncode == 0 and tight.served() == before + 1
        beyond = _limited(tight, "-n 1024", "queue", workspace)  # above the server's
        assert (beyond.returncode, beyond.stdout) == (within.returncode, within.stdout)
        assert tight.served() == before + 1
    finally:
        tight.relance("server", "stop")
        shutil.rmtree(folder, ignore_errors=True)




def test_other_python_variables_are_declined_and_the_command_runs_alone(
        server: Server, workspace: Path) -> None:
    before = server.served()
    warned = _same_either_way(server, "queue", cwd=workspace,
                              env={"PYTHONWARNINGS": "error::DeprecationWarning"})
    assert warned.returncode == 0
    assert server.served() == before


def test_the_server_has_computed_nothing_a_caller_could_change() -> None:
    """What the server imports ahead fills no cache: a cached value (a translation, a
    setting) would be the server's, not each caller's."""
    probe = """
import functools, sys
from relance.command_server import preload
preload()
filled = []
for name, module in list(sys.modules.items()):
    if not name.startswith("relance"):
        continue
    for attribute, value in vars(module).items():
        info = getattr(value, "cache_info", None)
        if info is not None and getattr(value, "__module__", None) == name \
                and info().currsize:
            filled.append(f"{name}.{attribute}")
print(sorted(filled))
"""
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          check=True, cwd="/")
    assert done.stdout.strip() == "[]"


def test_another_interpreter_flag_is_declined_and_the_command_runs_alone(
        server: Server, workspace: Path) -> None:
    before = server.served()
    flagged = subprocess.run([sys.executable, "-X", "importtime", "-m", "relance", "queue"],
                             capture_output=True, text=True, cwd=workspace, env=server.env,
                             check=False)
    alone = server.relance("queue", cwd=workspace, through_server=False)
    assert (flagged.returncode, flagged.stdout) == (alone.returncode, alone.stdout)
    assert "import time:" in flagged.stderr  # profiled where it ran: here
    assert server.served() == before


def test_the_server_restarts_when_a_module_it_imported_changes(
        workspace: Path, tmp_path: Path) -> None:
    modules = tmp_path / "modules"
    modules.mkdir()
    extra = modules / "relance_site_extra.py"
    extra.write_text("GREETING = 'first'\n")
    running = Server(_short_folder(), {"PYTHONPATH": str(modules)})
    started = running.relance("server", "start", "--preload", "relance_site_extra")
    assert started.returncode == 0, started.stderr
    try:
        first_start = running.status()["started"]
        assert running.relance("queue", cwd=workspace).returncode == 0
        assert running.served() == 1
        extra.write_text("GREETING = 'second, longer'\n")
        # Declined (the code changed): run alone, correctly, while the server restarts.
        changed = _same_either_way(running, "queue", cwd=workspace)
        assert changed.returncode == 0
        deadline = time.monotonic() + 60
        while True:
            done = running.relance("--json", "server", "status")
            restarted = done.returncode == 0 and \
                json.loads(done.stdout)["started"] != first_start
            if restarted or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert "restarting: the code changed" in running.log()
        assert running.relance("queue", cwd=workspace).returncode == 0
        assert running.served() == 1  # the new server ran it
    finally:
        running.relance("server", "stop")
        shutil.rmtree(running.folder, ignore_errors=True)


def test_the_files_watched_are_the_libraries_and_relance_not_the_standard_library() -> None:
    import sqlalchemy

    import relance.store.models
    from relance.command_server import _watched_files

    watched = _watched_files()
    assert sqlalchemy.__file__ in watched and relance.store.models.__file__ in watched
    assert os.__file__ not in watched and json.__file__ not in watched


# ------------------------------------------------------------------ starting and stopping


def test_start_status_stop(tmp_path: Path) -> None:
    running = Server(_short_folder())
    try:
        assert running.relance("server", "status").returncode == 1
        assert "No command server is running." in running.relance("server", "status").stdout
        started = running.relance("server", "start")
        assert started.returncode == 0 and "Command server started" in started.stdout
        again = running.relance("server", "start")
        assert "already running" in again.stdout
        status = running.relance("server", "status")
        assert status.returncode == 0 and "0 commands" in status.stdout
        socket = Path(str(running.status()["socket"]))
        assert socket.parent == running.folder and oct(socket.stat().st_mode)[-3:] == "600"
        stopped = running.relance("server", "stop")
        assert stopped.returncode == 0 and "stopped" in stopped.stdout
        assert running.relance("server", "status").returncode == 1
        assert not socket.exists()
    finally:
        running.relance("server", "stop")
        shutil.rmtree(running.folder, ignore_errors=True)


def test_a_server_in_the_foreground_serves_each_caller_in_their_language(
        workspace: Path) -> None:
    running = Server(_short_folder())
    process = subprocess.Popen([RELANCE, "server", "start", "--foreground"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               env=running.env)
    try:
        deadline = time.monotonic() + 60
        while running.relance("server", "status").returncode != 0:
            assert time.monotonic() < deadline and process.poll() is None
            time.sleep(0.1)
        french = _same_either_way(running, "queue", "--state", "nope", cwd=workspace,
                                  env={"LANG": "fr_FR.UTF-8"})
        assert "Utilisation" in french.stderr and running.served() == 1
        assert int(str(running.status()["pid"])) == process.pid  # in the same process
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    finally:
        process.kill()
        process.wait()
        shutil.rmtree(running.folder, ignore_errors=True)


def test_an_idle_server_stops_by_itself() -> None:
    running = Server(_short_folder())
    try:
        assert running.relance("server", "start", "--idle", "0.02").returncode == 0
        deadline = time.monotonic() + 30
        while running.relance("server", "status").returncode == 0:
            assert time.monotonic() < deadline, "still running after its idle time"
            time.sleep(0.2)
        assert "without a command" in running.log()
    finally:
        running.relance("server", "stop")
        shutil.rmtree(running.folder, ignore_errors=True)


def test_a_runtime_folder_others_may_enter_is_not_used(workspace: Path) -> None:
    folder = _short_folder()
    folder.chmod(0o755)
    running = Server(folder)
    try:
        refused = running.relance("server", "start")
        assert refused.returncode == 2
        assert "RELANCE_RUNTIME_DIR" in refused.stderr and "Traceback" not in refused.stderr
        # Commands go on without a server.
        assert running.relance("queue", cwd=workspace).returncode == 0
        assert not list(folder.iterdir())
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_a_runtime_folder_too_deep_for_a_socket_is_refused_in_a_sentence(
        tmp_path: Path) -> None:
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    deep.mkdir(parents=True, mode=0o700)
    deep.chmod(0o700)
    refused = Server(deep).relance("server", "start")
    assert refused.returncode == 2 and "too deep" in refused.stderr


def test_handing_a_command_over_imports_neither_the_database_layer_nor_typer() -> None:
    """What the script loads before it talks to the server: what every served command
    pays, whatever the machine."""
    probe = ("import sys; from relance.cli import main; "
             "from relance.server_client import run_through_server; "
             "heavy = [name for name in ('sqlalchemy', 'typer', 'rich', 'relance.store') "
             "if name in sys.modules]; print(heavy)")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == "[]"


def test_without_what_the_server_needs_every_command_runs_alone(
        server: Server, workspace: Path) -> None:
    """macOS has no SO_PEERCRED, Windows no fork: with a server there all the same, the
    script neither fails nor hands over, and `server status` says none runs."""
    probe = ("import socket, sys; del socket.SO_PEERCRED; "
             "sys.argv = ['relance', *sys.argv[1:]]; from relance.cli import main; main()")
    before = server.served()
    runs = [subprocess.run([sys.executable, "-c", probe, *args], capture_output=True,
                           text=True, cwd=workspace, env=server.env, check=False)
            for args in (["queue"], ["server", "status"])]
    assert [done.returncode for done in runs] == [0, 1], [done.stderr for done in runs]
    assert "amiable" in runs[0].stdout  # the queue, run alone
    assert "No command server is running." in runs[1].stdout
    assert server.served() == before


# ------------------------------------------------------------------ what is served


@pytest.mark.parametrize(("args", "words", "in_server"), [
    (["queue"], ["queue"], True),
    (["--json", "-w", "ws", "queue", "--state", "proposed"], ["queue"], True),
    (["--db", "sqlite:///x", "db", "current"], ["db", "current"], True),
    (["tui"], ["tui"], False),
    (["-w", "tui", "serve"], ["serve"], False),  # a workspace named `tui`
    (["web", "serve", "--port", "0"], ["web", "serve"], False),
    (["web", "issue", "D1"], ["web", "issue", "D1"], True),
    (["server", "status"], ["server", "status"], False),
])
def test_full_screen_and_long_running_commands_stay_in_their_own_process(
        args: list[str], words: list[str], in_server: bool) -> None:
    assert command_words(args)[:len(words)] == words
    assert served(args) is in_server
