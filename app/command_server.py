"""The command server: relance's imports paid once, a fork of them for each command.

A command that reads the book spends most of its start-up importing SQLAlchemy, its ORM,
the models and the core (some 400 ms on a 2-core machine, issue 17), before a query
that takes a few milliseconds. This process imports them once and waits on a Unix socket
(`relance.server_wire`); for each `relance` command handed to it
(`relance.server_client`) it forks, and the copy becomes that command: the caller's
standard streams, folder, environment, umask, resource limits and arguments, its
language chosen afresh, then `relance.cli.main` as the script would run it. The copy
starts from the state right after the imports (nothing a command did is ever seen by the
next one), and this process reports each copy's end to its caller, signal included.

What is imported ahead is what does not depend on the caller: the libraries and
relance's core layers (store, engine, rule language, kernel), none of which reads the
environment or translates a sentence when imported (the command line does, so it is
imported by each copy). A request from another interpreter, import path or set of
interpreter flags, or with a hard resource limit above the server's (which the copy
could not take), is declined, and run by the script itself. Before each command the
files of every module imported ahead are checked against their state at start: when
one changed (an upgrade, a `git pull`), the server declines new commands, lets the
running ones finish and starts again from the new code.

It stops when asked (`relance server stop`, SIGTERM), after its idle time without a
command, or when its socket is taken over by another server; it writes one line per
start, restart and stop to its log beside the socket.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import datetime as dt
import importlib
import io
import locale
import os
import pkgutil
import selectors
import signal
import socket
import sys
import sysconfig
import time
import traceback
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

from relance.server_wire import (
    WireError,
    interpreter_flags,
    limits_within,
    peer_is_this_user,
    receive_message,
    resource_limits,
    runtime_folder,
    send_message,
    socket_path,
    take_limits,
    text_encodings,
)

DEFAULT_IDLE_MINUTES = 120.0
# How `relance server start` runs it: no `__main__` module of its own, so that the
# processes a command spawns (multiprocessing's "spawn") import nothing of it.
LAUNCH_CODE = "from relance.command_server import main; main()"
# The core layers: imported whole, their database migrations apart (Alembic runs those).
_PRELOADED_PACKAGES = ("relance.kernel", "relance.dsl", "relance.engine", "relance.store")
_NOT_PRELOADED = ("relance.store.migrations",)
_PRELOADED_LIBRARIES = ("sqlalchemy", "sqlalchemy.orm", "sqlalchemy.dialects.sqlite",
                        "sqlalchemy.dialects.postgresql",
                        "sqlalchemy.dialects.postgresql.psycopg", "psycopg", "lark")
_REQUEST_SECONDS = 5.0  # for a caller to send its request whole


def preload(extra: Sequence[str] = ()) -> None:
    """Import what every command would import."""
    for name in (*_PRELOADED_LIBRARIES, *extra):
        importlib.import_module(name)
    for package_name in _PRELOADED_PACKAGES:
        for name in _modules_of(package_name):
            importlib.import_module(name)
    from sqlalchemy.orm import configure_mappers

    configure_mappers()  # else each command would configure the models at its first query


def _modules_of(package_name: str) -> Iterator[str]:
    package = importlib.import_module(package_name)
    yield package_name
    for module in pkgutil.walk_packages(package.__path__, package_name + ".",
                                        onerror=lambda _name: None):
        if not module.name.startswith(_NOT_PRELOADED):
            yield module.name


def _watched_files() -> dict[str, tuple[int, int]]:
    """The source and compiled files of every module imported, the standard library's
    apart, with their modification time and size."""
    # The base interpreter's: in a virtual environment, "platstdlib" is the
    # environment's own lib folder, site-packages included.
    base = {"base": sys.base_prefix, "platbase": sys.base_exec_prefix}
    standard = tuple({os.path.join(sysconfig.get_paths(vars=base)[key], "")
                      for key in ("stdlib", "platstdlib")})
    files: dict[str, tuple[int, int]] = {}
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        if not path or path.startswith(standard):
            continue
        files[path] = _file_state(path)
    return files


def _file_state(path: str) -> tuple[int, int]:
    try:
        status = os.stat(path)
    except OSError:
        return (-1, -1)
    return (status.st_mtime_ns, status.st_size)


@dataclass
class Server:
    listener: socket.socket
    path: Path
    idle_seconds: float
    relaunch: list[str]
    watched: dict[str, tuple[int, int]]
    bound_inode: int
    # PYTHON* variables are read when the interpreter starts (PYTHONWARNINGS,
    # PYTHONHASHSEED...): a caller with others is declined.
    python_variables: dict[str, str] = field(
        default_factory=lambda: python_variables(os.environ))
    started: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    served: int = 0
    children: dict[int, socket.socket | None] = field(default_factory=dict)
    stopping: bool = False
    restarting: bool = False
    last_activity: float = field(default_factory=time.monotonic)

    def serve(self) -> NoReturn:
        wake_read, wake_write = socket.socketpair()
        wake_read.setblocking(False)
        wake_write.setblocking(False)
        signal.set_wakeup_fd(wake_write.fileno(), warn_on_full_buffer=False)
        signal.signal(signal.SIGCHLD, lambda *_args: None)
        signal.signal(signal.SIGTERM, self._stop_on_signal)
        signal.signal(signal.SIGINT, self._stop_on_signal)  # run in the foreground
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        selector = selectors.DefaultSelector()
        selector.register(self.listener, selectors.EVENT_READ, "listener")
        selector.register(wake_read, selectors.EVENT_READ, "wake")
        self._wake = (wake_read, wake_write)
        self._selector = selector
        while True:
            self._reap()
            if not self.stopping and not self._still_ours():
                _log(self.path, "stopping: another server took the socket over")
                self.stopping = True
            if (self.stopping or self.restarting) and not self.children:
                break
            if (not self.children and not self.stopping
                    and self._idle_for() >= self.idle_seconds):
                _log(self.path, f"stopping after {self.idle_seconds / 60:.0f} minutes "
                     "without a command")
                break
            timeout = max(0.05, self.idle_seconds - self._idle_for())
            for key, _events in selector.select(timeout=min(timeout, 60.0)):
                if key.data == "listener":
                    self._accept()
                elif key.data == "wake":
                    _drain(wake_read)
                else:
                    self._caller_gone(key.data)
        self._close_listener()
        if self.restarting:
            _log(self.path, "restarting: the code changed")
            os.execv(sys.executable, self.relaunch)
        _log(self.path, f"stopped after {self.served} commands")
        sys.exit(0)

    def _idle_for(self) -> float:
        return time.monotonic() - self.last_activity

    def _stop_on_signal(self, _signum: int, _frame: Any) -> None:
        self.stopping = True

    def _close_listener(self) -> None:
        try:
            if self._still_ours():
                self.path.unlink()
        except OSError:
            pass
        self.listener.close()

    def _still_ours(self) -> bool:
        """The socket file is this server's (not one another server bound since)."""
        try:
            return os.stat(self.path).st_ino == self.bound_inode
        except OSError:
            return False

    def _accept(self) -> None:
        try:
            connection, _address = self.listener.accept()
        except OSError:
            return
        fds: list[int] = []
        try:
            connection.settimeout(_REQUEST_SECONDS)
            if not peer_is_this_user(connection):
                connection.close()
                return
            request, fds = receive_message(connection, max_fds=3)
            if request is None:
                connection.close()
                return
            self._answer(connection, request, fds)
        except (OSError, WireError, ValueError):
            connection.close()
        finally:
            for fd in fds:
                with contextlib.suppress(OSError):
                    os.close(fd)

    def _answer(self, connection: socket.socket, request: dict[str, Any],
                fds: list[int]) -> None:
        kind = request.get("kind")
        if kind == "status":
            send_message(connection, self._status())
            connection.close()
        elif kind == "stop":
            self.stopping = True
            send_message(connection, {"stopping": True, "running": len(self.children)})
            connection.close()
        elif kind == "run":
            reason = self._declined(request, fds)
            if reason:
                send_message(connection, {"declined": reason})
                connection.close()
                return
            self._fork_command(connection, request, fds)
        else:
            connection.close()

    def _declined(self, request: dict[str, Any], fds: list[int]) -> str | None:
        if self.stopping:
            return "stopping"
        if self.restarting or self._code_changed():
            self.restarting = True
            return "restarting"
        if len(fds) != 3:
            return "streams"
        # The first entry is the script's folder (or the current one): not where relance
        # or its libraries come from.
        path = request.get("path")
        if (request.get("executable") != sys.executable or not isinstance(path, list)
                or path[1:] != sys.path[1:]):
            return "interpreter"
        if (request.get("flags") != interpreter_flags()
                or request.get("encodings") != text_encodings()
                or python_variables(request.get("env") or {}) != self.python_variables):
            return "flags"
        # A caller allowed more than the server (a hard limit it may not raise): alone.
        if not limits_within(request.get("limits"), resource_limits()):
            return "limits"
        return None

    def _code_changed(self) -> bool:
        return any(_file_state(path) != state for path, state in self.watched.items())

    def _status(self) -> dict[str, Any]:
        return {"pid": os.getpid(), "started": self.started.isoformat(timespec="seconds"),
                "served": self.served, "running": len(self.children),
                "idle_minutes": self.idle_seconds / 60, "socket": str(self.path),
                "python": sys.executable, "modules": len(sys.modules)}

    def _fork_command(self, connection: socket.socket, request: dict[str, Any],
                      fds: list[int]) -> None:
        pid = os.fork()
        if pid == 0:
            _become_command(request, fds, keep_out=[self.listener, *self._wake,
                                                    connection,
                                                    *(c for c in self.children.values()
                                                      if c is not None)])
        self.served += 1
        self.last_activity = time.monotonic()
        self.children[pid] = connection
        connection.settimeout(None)
        try:
            send_message(connection, {"pid": pid})
            self._selector.register(connection, selectors.EVENT_READ, pid)
        except OSError:
            self._caller_gone(pid)

    def _caller_gone(self, pid: int) -> None:
        """The caller closed its end while its command runs (it was killed): the command
        is hung up on, as a terminal's would be."""
        connection = self.children.get(pid)
        if connection is None:
            return
        try:
            if connection.recv(1, socket.MSG_PEEK):
                return  # a caller sends nothing after its request; ignore what it did
        except OSError:
            pass
        self._forget_caller(pid)
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGHUP)

    def _forget_caller(self, pid: int) -> None:
        connection = self.children.get(pid)
        if connection is not None:
            with contextlib.suppress(KeyError, ValueError):
                self._selector.unregister(connection)
            connection.close()
            self.children[pid] = None

    def _reap(self) -> None:
        while self.children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                self.children.clear()
                return
            if pid == 0:
                return
            connection = self.children.get(pid)
            if connection is not None:
                code = os.waitstatus_to_exitcode(status)
                ended = ({"exit": code} if code >= 0 else
                         {"exit": 128 - code, "signal": -code})
                with contextlib.suppress(OSError):
                    send_message(connection, ended)
                self._forget_caller(pid)
            self.children.pop(pid, None)
            self.last_activity = time.monotonic()


def python_variables(environ: Any) -> dict[str, str]:
    return {str(name): str(value) for name, value in environ.items()
            if str(name).startswith("PYTHON")}


def _drain(wake: socket.socket) -> None:
    try:
        while wake.recv(4096):
            pass
    except BlockingIOError:
        pass


# ------------------------------------------------------------ the forked copy


def _become_command(request: dict[str, Any], fds: list[int],
                    keep_out: Sequence[socket.socket]) -> NoReturn:
    """In the forked copy: take the caller's place, run its command, exit with its code."""
    code = 70  # EX_SOFTWARE: the copy could not take the caller's place
    try:
        signal.set_wakeup_fd(-1)
        for signum in (signal.SIGCHLD, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        for other in keep_out:
            other.close()
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
            os.close(fd)
        os.chdir(request["cwd"])
        os.umask(int(request["umask"]))
        take_limits(request["limits"])
        os.environ.clear()
        os.environ.update({str(k): str(v) for k, v in request["env"].items()})
        time.tzset()  # the C library read TZ when the server started
        with contextlib.suppress(locale.Error):  # as the interpreter does at its start
            locale.setlocale(locale.LC_CTYPE, "")
        sys.argv = [str(arg) for arg in request["argv"]]
        # The caller's first import folder (the script's): the server's would be the
        # current folder, where a file could stand in for a library.
        sys.path[0] = str(request["path"][0])
        _standard_streams(request.get("streams") or {})
    except BaseException:
        os._exit(code)
    code = _run_command(sys.argv[1:])
    os._exit(code)


def _standard_streams(streams: dict[str, dict[str, str]]) -> None:
    """New sys.stdin, stdout and stderr over the caller's descriptors, made as the
    interpreter makes them: the caller's encoding and error handling, stdout
    line-buffered at a terminal, stderr always."""
    for fd, name in enumerate(("stdin", "stdout", "stderr")):
        spec = streams.get(name)
        if spec is None:
            setattr(sys, name, None)
            setattr(sys, f"__{name}__", None)
            continue
        raw = io.FileIO(fd, "r" if fd == 0 else "w", closefd=False)
        buffered: io.BufferedReader | io.BufferedWriter = (
            io.BufferedReader(raw) if fd == 0 else io.BufferedWriter(raw))
        stream = io.TextIOWrapper(buffered, encoding=spec["encoding"],
                                  errors=spec["errors"], newline="\n",
                                  line_buffering=fd == 2 or (fd == 1 and raw.isatty()))
        setattr(sys, name, stream)
        setattr(sys, f"__{name}__", stream)


def _run_command(args: list[str]) -> int:
    """`relance ARGS` as the interpreter would run the script: its exit code, an
    uncaught exception printed, Ctrl-C ending the process by SIGINT."""
    code = 0
    try:
        from relance.cli import main  # chooses the language from this caller's command

        main(args, here=True)
    except SystemExit as stop:
        code = _exit_code(stop.code)
    except KeyboardInterrupt:
        traceback.print_exc()
        _flush()
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)
    except BaseException:
        sys.excepthook(*sys.exc_info())
        code = 1
    atexit._run_exitfuncs()
    if not _flush() and code == 0:
        code = 120  # the interpreter's code when the output could not be written
    return code


def _exit_code(value: object) -> int:
    if value is None:
        return 0
    if isinstance(value, int):
        return value & 0xFF
    print(value, file=sys.stderr)
    return 1


def _flush() -> bool:
    written = True
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):
            written = False
    return written


# ------------------------------------------------------------ starting


def _log(path: Path, line: str) -> None:
    stamp = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    sys.stderr.write(f"{stamp} pid {os.getpid()} {path.name}: {line}\n")
    sys.stderr.flush()


def _bind(path: Path) -> tuple[socket.socket, int]:
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    previous = os.umask(0o177)
    try:
        listener.bind(str(path))
    finally:
        os.umask(previous)
    listener.listen(64)
    return listener, os.stat(path).st_ino


def main(argv: Sequence[str] | None = None) -> None:
    """Run the server in this process (`relance server start` launches it detached)."""
    parser = argparse.ArgumentParser(prog="relance-command-server")
    parser.add_argument("--idle", type=float, default=DEFAULT_IDLE_MINUTES)
    parser.add_argument("--preload", action="append", default=[])
    options = parser.parse_args(argv)
    folder = runtime_folder(create=True)
    if folder is None:
        sys.stderr.write("relance-command-server: no runtime folder only this user can "
                         "enter\n")
        sys.exit(2)
    path = socket_path(folder)
    if sys.path and sys.path[0] in ("", "."):
        sys.path[0] = str(Path(sys.executable).parent)  # as for the `relance` script
    preload(options.preload)
    listener, inode = _bind(path)
    relaunch = [sys.executable, "-c", LAUNCH_CODE,
                *(sys.argv[1:] if argv is None else argv)]
    server = Server(listener=listener, path=path, idle_seconds=options.idle * 60,
                    relaunch=relaunch, watched=_watched_files(), bound_inode=inode)
    _log(path, f"ready, {len(sys.modules)} modules imported")
    server.serve()
