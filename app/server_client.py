"""The `relance` script's side of the command server: hand the command over, relay
signals, and exit as the command did.

When a command server of this installation is running (`relance server start`), the
script sends it the command line, the current folder, the environment and its standard
streams, and the server forks a process that runs the command exactly as the script
would have, writing straight to the script's terminal or pipes. The script meanwhile
passes on the signals it gets (Ctrl-C, a terminal hung up, Ctrl-Z) and at the end exits
with the command's code, or dies of the signal that ended it, as a shell expects.

Nothing is handed over when no server answers, when `RELANCE_NO_SERVER` is set, for the
long-running or full-screen commands (the desk, the scheduler, the web server, the
server itself), or when the server declines (an interpreter or import path of its own,
or code changed since it started: it then restarts itself). The command then runs here,
as without a server. Standard library only: this runs before any import is paid for.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
from collections.abc import Sequence
from types import FrameType

from relance.kernel.i18n import _
from relance.server_wire import (
    WireError,
    interpreter_flags,
    peer_is_this_user,
    receive_message,
    resource_limits,
    runtime_folder,
    send_message,
    server_disabled,
    server_supported,
    socket_path,
    text_encodings,
)

# Options of `relance` itself that take a value: skipped to find the command's words.
_VALUED_OPTIONS = frozenset({"--db", "--workspace", "-w", "--user"})
# Commands that stay in the script's own process: full-screen, or running for hours
# (their start-up is nothing beside that), or the server's own.
_NOT_SERVED: tuple[tuple[str, ...], ...] = (("tui",), ("serve",), ("server",),
                                            ("web", "serve"))
# Passed on to the command's process as they come.
_RELAYED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT,
            signal.SIGUSR1, signal.SIGUSR2)
# A command that died of one of these makes the script die of it too, so that a shell
# loop stops on Ctrl-C as it would without the server.
_MIRRORED_DEATHS = frozenset({signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT,
                              signal.SIGPIPE})


def command_words(args: Sequence[str]) -> list[str]:
    """The words naming the command (`["web", "serve"]`), global options skipped."""
    words: list[str] = []
    skip = False
    for arg in args:
        if skip:
            skip = False
        elif arg in _VALUED_OPTIONS:
            skip = True
        elif arg.startswith("-"):
            if words:
                break
        else:
            words.append(arg)
    return words


def served(args: Sequence[str]) -> bool:
    words = command_words(args)
    return not any(words[:len(kept)] == list(kept) for kept in _NOT_SERVED)


def run_through_server(args: Sequence[str]) -> int | None:
    """Run `relance ARGS` in the command server: the exit code; None when it must run in
    this process (no server, not served, declined).

    Once the request is sent, only the server's explicit refusal lets the command run
    here: if the server went away without a word, it may have started the command, and
    running it a second time (a payment recorded twice) is worse than saying so."""
    if server_disabled() or not served(args) or not _real_standard_streams():
        return None
    folder = runtime_folder()
    if folder is None:
        return None
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        try:
            connection.connect(str(socket_path(folder)))
            if not peer_is_this_user(connection):
                return None
            send_message(connection, _request(args), [0, 1, 2])
        except (OSError, WireError, ValueError):
            return None  # no server there (refused, no socket): nothing was handed over
        try:
            reply, _fds = receive_message(connection)
        except (OSError, WireError, ValueError):
            reply = None
        except KeyboardInterrupt:
            return 130  # closing the connection hangs up the command if it started
        if reply is not None and "declined" in reply:
            return None
        if reply is None or "pid" not in reply:
            return _in_doubt()
        return _follow(connection, int(reply["pid"]))
    finally:
        connection.close()


def _in_doubt() -> int:
    sys.stderr.write("relance: " + _(
        "the command server stopped while taking the command: it may have run in part. "
        "Check before running it again.") + "\n")
    return 1


def _real_standard_streams() -> bool:
    """sys.stdin, stdout and stderr are the process's descriptors 0, 1 and 2 (not a
    test's capture, say): those are what the server's copy would write to."""
    try:
        return all(stream is not None and stream.fileno() == fd
                   for fd, stream in enumerate((sys.stdin, sys.stdout, sys.stderr)))
    except (AttributeError, OSError, ValueError):
        return False


def _request(args: Sequence[str]) -> dict[str, object]:
    streams = {name: {"encoding": stream.encoding, "errors": stream.errors}
               for name, stream in (("stdin", sys.stdin), ("stdout", sys.stdout),
                                    ("stderr", sys.stderr)) if stream is not None}
    return {"kind": "run", "argv": [sys.argv[0], *args], "cwd": os.getcwd(),
            "env": dict(os.environ), "umask": _umask(), "path": sys.path,
            "executable": sys.executable, "flags": interpreter_flags(),
            "encodings": text_encodings(), "limits": resource_limits(),
            "streams": streams}


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _follow(connection: socket.socket, pid: int) -> int:
    """Relay signals to the command's process until the server tells how it ended."""

    def relay(signum: int, _frame: FrameType | None) -> None:
        with contextlib.suppress(OSError):  # already ended: its end is on its way
            os.kill(pid, signum)

    def suspend(_signum: int, _frame: FrameType | None) -> None:
        # Ctrl-Z: stop the command, then this process as the terminal asked.
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGSTOP)
        signal.signal(signal.SIGTSTP, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTSTP)
        # Resumed (`fg`): the command goes on too.
        signal.signal(signal.SIGTSTP, suspend)
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGCONT)

    for signum in _RELAYED:
        signal.signal(signum, relay)
    signal.signal(signal.SIGTSTP, suspend)
    try:
        message, _fds = receive_message(connection)
    except (OSError, WireError, ValueError):
        message = None
    if message is None or "exit" not in message:
        return _in_doubt()
    code = int(message["exit"])
    died_of = int(message.get("signal") or 0)
    if died_of in _MIRRORED_DEATHS:
        sys.stdout.flush()
        signal.signal(died_of, signal.SIG_DFL)
        os.kill(os.getpid(), died_of)
    return code


def ask_server(kind: str) -> dict[str, object] | None:
    """The running server's answer to `status` or `stop`; None when none answers."""
    if not server_supported():
        return None
    folder = runtime_folder()
    if folder is None:
        return None
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    connection.settimeout(5.0)
    try:
        connection.connect(str(socket_path(folder)))
        if not peer_is_this_user(connection):
            return None
        send_message(connection, {"kind": kind})
        reply, _fds = receive_message(connection)
        return reply
    except (OSError, WireError, ValueError):
        return None
    finally:
        connection.close()
