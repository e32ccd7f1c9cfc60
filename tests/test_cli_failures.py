"""What the system or the database refuses reaches the user as one sentence and exit
code 1, never a traceback: a database server that does not answer, a database file the
system will not let SQLite write, an output the system will not take. A book named in a
folder that does not exist is a mistake told the same way, exit code 2."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

RELANCE = str(Path(sys.executable).parent / "relance")


def _relance(command: str, cwd: Path, limits: str = "",
             env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    env = {**{key: value for key, value in os.environ.items()
              if key not in ("LANGUAGE", "LC_ALL", "LC_MESSAGES")}, **(env or {})}
    env.update(LANG="en_GB.UTF-8", RELANCE_NO_SERVER="1")
    shell = f"{'ulimit ' + limits + ' && ' if limits else ''}exec {RELANCE} {command}"
    return subprocess.run(["bash", "-c", shell], capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=120, check=False)


def _one_sentence(done: subprocess.CompletedProcess[str], start: str, code: int = 1) -> None:
    assert done.returncode == code, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith(start) and done.stderr.count("\n") == 1, done.stderr


def test_a_database_server_that_does_not_answer(tmp_path: Path) -> None:
    done = _relance("--db postgresql+psycopg://postgres@127.0.0.1:1/test queue", tmp_path)
    _one_sentence(done, "relance: the database cannot be used: connection failed:")
    assert "Connection refused" in done.stderr


def test_a_database_file_the_system_will_not_let_sqlite_write(tmp_path: Path) -> None:
    assert _relance(f"init {tmp_path / 'ws'}", tmp_path).returncode == 0
    # SQLite's shared-memory file beside the book needs 32 KB: a 1 KB file size limit.
    done = _relance("queue", tmp_path / "ws", limits="-f 1")
    _one_sentence(done, "relance: the database cannot be used: disk I/O error")


def test_an_output_the_system_will_not_take(tmp_path: Path) -> None:
    out = tmp_path / "help.txt"
    done = _relance(f"run --help > {out}", tmp_path, limits="-f 1")
    _one_sentence(done, "relance: File too large")
    assert out.stat().st_size == 1024  # as much as the limit allowed


def test_a_book_in_a_folder_that_does_not_exist_is_told_not_made(tmp_path: Path) -> None:
    """A mistyped `--db` (or RELANCE_DATABASE_URL, or relance.toml) used to make the
    folders and an empty book, and the queue then read as empty."""
    missing = tmp_path / "typo" / "books"
    for command in ("queue", "db current", "db upgrade", "report aged"):
        done = _relance(f"--db sqlite:///{missing / 'relance.sqlite'} {command}", tmp_path)
        _one_sentence(done, f"relance: no book at {missing / 'relance.sqlite'}: the folder "
                            f"{missing} does not exist", code=2)
    assert not (tmp_path / "typo").exists()
    done = _relance("queue", tmp_path, env={"RELANCE_DATABASE_URL": f"sqlite:///{missing}/b"})
    _one_sentence(done, f"relance: no book at {missing}/b: the folder {missing} does not",
                  code=2)
    # In a folder that exists, a new book is made as before (`db upgrade` on purpose);
    # and the workspace's own book with the workspace's folder (`--workspace DIR`).
    done = _relance(f"--db sqlite:///{tmp_path / 'new.sqlite'} db upgrade", tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "new.sqlite").is_file()
    assert _relance(f"-w {tmp_path / 'ws'} queue", tmp_path).returncode == 0
    assert (tmp_path / "ws" / "relance.sqlite").is_file()
