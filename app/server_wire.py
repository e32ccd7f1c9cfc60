"""Where the command server listens, and how its messages cross the socket.

The command server (`relance.command_server`) keeps SQLAlchemy, the models and the
core imported in one resident process and forks a copy of itself for each `relance`
command, so that a command that reads the book starts in tens of milliseconds instead of
the half second its imports cost (issue 17). The `relance` script talks to it through a
Unix socket (`relance.server_client`). This module is what both sides share, and imports
only the standard library: the script loads it before anything else.

The socket is in a folder only this user may enter: `RELANCE_RUNTIME_DIR`, else
`$XDG_RUNTIME_DIR/relance`, else `/tmp/relance-<uid>`. A folder another user could enter
or write is not used, and the server accepts only processes of its own user. Each
installation of relance (its interpreter and its code) has its own socket there, so that
two virtual environments never answer for each other.

A message is a JSON object preceded by its length (4 bytes, big-endian); the first
message of a command carries the command's standard input, output and error as file
descriptors (SCM_RIGHTS), so that the forked process writes to the terminal or pipe of
the `relance` that asked.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import struct
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

ENV_RUNTIME_FOLDER = "RELANCE_RUNTIME_DIR"
# Set to 1 (or anything but 0/empty) to run every command in its own process.
ENV_NO_SERVER = "RELANCE_NO_SERVER"

_LENGTH = struct.Struct(">I")
# A request carries the environment: generous, but a bound all the same.
MAX_MESSAGE = 4 * 1024 * 1024


class WireError(Exception):
    """The other side broke the protocol, or went away mid-message."""


def server_supported() -> bool:
    """Whether this system has what the server needs: fork, Unix sockets that pass file
    descriptors and tell the peer's user (Linux; not macOS's sockets, nor Windows)."""
    return all((hasattr(os, "fork"), hasattr(os, "getuid"), hasattr(socket, "AF_UNIX"),
                hasattr(socket, "SO_PEERCRED"), hasattr(socket, "send_fds")))


def server_disabled(environ: Mapping[str, str] = os.environ) -> bool:
    return environ.get(ENV_NO_SERVER, "") not in ("", "0") or not server_supported()


def runtime_folder(create: bool = False) -> Path | None:
    """The folder of the server's socket, None when there is none that only this user
    can enter. `create` makes it (mode 0700) if it does not exist."""
    chosen = os.environ.get(ENV_RUNTIME_FOLDER)
    if chosen:
        folder = Path(chosen)
    elif os.environ.get("XDG_RUNTIME_DIR"):
        folder = Path(os.environ["XDG_RUNTIME_DIR"]) / "relance"
    else:
        folder = Path("/tmp") / f"relance-{os.getuid()}"
    try:
        if create:
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        status = folder.lstat()
    except OSError:
        return None
    if not os.path.isdir(folder) or os.path.islink(folder):
        return None
    if status.st_uid != os.getuid() or status.st_mode & 0o077:
        return None  # another user could connect to the socket, or put one there
    return folder


def installation_key() -> str:
    """What tells one installation of relance from another: its interpreter and the
    folder its code is imported from."""
    import relance

    where = f"{sys.executable}\0{Path(relance.__file__).resolve().parent}"
    return hashlib.sha256(where.encode()).hexdigest()[:12]


def socket_path(folder: Path) -> Path:
    return folder / f"server-{installation_key()}.sock"


# What a Unix socket's address holds (sun_path, 108 bytes with its final NUL).
MAX_SOCKET_PATH = 107


def socket_path_fits(path: Path) -> bool:
    return len(os.fsencode(path)) <= MAX_SOCKET_PATH


def interpreter_flags() -> dict[str, object]:
    """The interpreter's options (`-X ...`, `-O`, `-I`...), for a server to decline a
    caller started with others. UTF-8 mode is left to `text_encodings`: the interpreter
    turns it on by itself under a locale it lacks, and then sets LC_CTYPE for the
    processes it starts, so that a server and its caller may differ in the flag while
    reading and writing text alike."""
    flags = {name: getattr(sys.flags, name) for name in dir(sys.flags)
             if not name.startswith(("_", "n_")) and name not in ("count", "index",
                                                                  "utf8_mode")}
    return {**flags, "xoptions": {str(k): str(v) for k, v in sys._xoptions.items()}}


def text_encodings() -> list[str]:
    """How the process names files and reads and writes text by default."""
    import codecs
    import locale

    return [codecs.lookup(sys.getfilesystemencoding()).name,
            sys.getfilesystemencodeerrors(),
            codecs.lookup(locale.getpreferredencoding(False)).name]


# The limits a shell's `ulimit` sets (-v -c -t -d -f -l -n -u -s): a served command runs
# under its caller's, as the caller's own process would.
_LIMITS = ("RLIMIT_AS", "RLIMIT_CORE", "RLIMIT_CPU", "RLIMIT_DATA", "RLIMIT_FSIZE",
           "RLIMIT_MEMLOCK", "RLIMIT_NOFILE", "RLIMIT_NPROC", "RLIMIT_STACK")


def resource_limits() -> dict[str, list[int]]:
    """The process's resource limits, (soft, hard) by name."""
    import resource

    return {name: list(resource.getrlimit(getattr(resource, name)))
            for name in _LIMITS if hasattr(resource, name)}


def limits_within(wanted: object, own: Mapping[str, Sequence[int]]) -> bool:
    """Whether a process with the limits `own` may take the limits `wanted`: the same
    kinds, none above its own hard limit (raising one needs a privilege)."""
    import resource

    def size(value: int) -> float:
        return float("inf") if value == resource.RLIM_INFINITY else value

    if not isinstance(wanted, dict) or set(wanted) != set(own):
        return False
    for name, (_own_soft, own_hard) in own.items():
        pair = wanted[name]
        if not (isinstance(pair, list) and len(pair) == 2
                and all(type(value) is int for value in pair)):
            return False
        soft, hard = pair
        if size(hard) > size(own_hard) or size(soft) > size(hard):
            return False
    return True


def take_limits(wanted: Mapping[str, Sequence[int]]) -> None:
    """Set the process's resource limits to `wanted` (checked by `limits_within`)."""
    import resource

    for name, (soft, hard) in wanted.items():
        resource.setrlimit(getattr(resource, name), (soft, hard))


def peer_is_this_user(connection: socket.socket) -> bool:
    """The process at the other end runs as this process's user (SO_PEERCRED: pid, uid,
    gid as three native ints)."""
    credentials = connection.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12)
    return int.from_bytes(credentials[4:8], sys.byteorder) == os.getuid()


def send_message(connection: socket.socket, message: dict[str, Any],
                 fds: list[int] | None = None) -> None:
    data = json.dumps(message, ensure_ascii=False).encode()
    framed = _LENGTH.pack(len(data)) + data
    if fds:
        sent = socket.send_fds(connection, [framed], fds)
        framed = framed[sent:]
    if framed:
        connection.sendall(framed)


def receive_message(connection: socket.socket, max_fds: int = 0,
                    ) -> tuple[dict[str, Any] | None, list[int]]:
    """The next message and the descriptors that came with it; (None, []) when the other
    side closed the connection between messages."""
    fds: list[int] = []
    buffer = b""
    try:
        while len(buffer) < _LENGTH.size:
            chunk = _receive(connection, _LENGTH.size - len(buffer), max_fds, fds)
            if not chunk:
                if buffer:
                    raise WireError("connection closed mid-message")  # not for people: caught
                return None, fds
            buffer += chunk
        (length,) = _LENGTH.unpack(buffer)
        if length > MAX_MESSAGE:
            raise WireError(f"message of {length} bytes")  # not for people: caught
        body = b""
        while len(body) < length:
            chunk = _receive(connection, length - len(body), max_fds, fds)
            if not chunk:
                raise WireError("connection closed mid-message")  # not for people: caught
            body += chunk
        message = json.loads(body)
    except BaseException:
        for fd in fds:
            os.close(fd)
        raise
    if not isinstance(message, dict):
        for fd in fds:
            os.close(fd)
        raise WireError("message is not an object")  # not for people: caught
    return message, fds


def _receive(connection: socket.socket, size: int, max_fds: int, fds: list[int]) -> bytes:
    if max_fds and not fds:
        data, received, _flags, _address = socket.recv_fds(connection, size, max_fds)
        fds.extend(received)
        return data
    return connection.recv(size)
