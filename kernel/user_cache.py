"""The folder where relance keeps what it can rebuild: the rule parser, built from the
grammar (`relance.dsl.parser_cache`), and the translations merged into one catalog
(`relance.kernel.i18n`), so that each process starts without rebuilding them.

`RELANCE_CACHE_DIR`, else `$XDG_CACHE_HOME/relance`, else `~/.cache/relance`. Its files
are loaded as they are (the parser is unpickled), so a folder that another user can
write is not used: relance then builds them in each process, as if nothing were kept.
"""

from __future__ import annotations

import os
from pathlib import Path

ENV_CACHE_FOLDER = "RELANCE_CACHE_DIR"


def cache_folder() -> Path | None:
    """The folder for relance's caches, created if need be; None when there is none that
    only this user can write."""
    chosen = os.environ.get(ENV_CACHE_FOLDER)
    if chosen:
        folder = Path(chosen)
    else:
        base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        folder = Path(base) / "relance"
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        status = folder.stat()
    except (OSError, RuntimeError):  # RuntimeError: no home folder to be found
        return None
    if hasattr(os, "getuid") and (status.st_uid != os.getuid() or status.st_mode & 0o022):
        return None  # another user could put a file of their own making there
    return folder


def write_whole(path: Path, data: bytes) -> None:
    """Write `data` to `path` whole or not at all (another process may be reading it);
    a cache that cannot be written only costs the time it would have saved."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}")
    try:
        temporary.write_bytes(data)
        os.replace(temporary, path)
    except OSError:
        temporary.unlink(missing_ok=True)
