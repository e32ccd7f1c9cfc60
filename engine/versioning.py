"""Rule-set versions: the exact text of the rules a run used, stored once per content.

A version is identified by a SHA-256 over the sorted files (path and text), so the same
rules give the same version on every machine. Beside it each run records the state of the
rules folder in git (`folder_state`): clean at a commit, dirty (edits not committed,
identified by a hash of the diff) or untracked; a commit is named only for rules that are
exactly that commit's. The text itself goes into the database, so that an audit years
later shows the rule that fired even if the repository is gone.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from relance.store.models import RuleSet

_PG_RULESET_LOCK = 0x7275_6C65  # "rule"


def ruleset_hash(files: Mapping[str, str]) -> str:
    """A stable hash of the rule files: sorted paths, each with its exact text."""
    digest = hashlib.sha256()
    for path in sorted(files):
        for part in (path, files[path]):
            encoded = part.encode("utf-8")
            digest.update(len(encoded).to_bytes(8, "big"))
            digest.update(encoded)
    return digest.hexdigest()


def _git(directory: Path, *args: str) -> subprocess.CompletedProcess[bytes] | None:
    git = shutil.which("git")
    if git is None:
        return None
    try:
        return subprocess.run([git, "-C", str(directory), *args], capture_output=True,
                              timeout=30, check=False)
    except (OSError, subprocess.SubprocessError):
        return None


@dataclass(frozen=True)
class FolderState:
    """The rules folder in git: `clean` at `commit`, `dirty` (its uncommitted edits hash
    to `diff_hash`; `commit` is the one they are edits of, if any) or `untracked`."""

    state: str
    commit: str | None = None
    diff_hash: str | None = None

    @property
    def clean_commit(self) -> str | None:
        """The commit these rules are exactly, or None."""
        return self.commit if self.state == "clean" else None


UNTRACKED = FolderState("untracked")


def folder_state(directory: Path | None) -> FolderState:
    """Whether the rules in `directory` are exactly a git commit's.

    Dirty means a tracked file of the folder differs from HEAD, or a file git does not
    ignore is not committed; the diff hash covers both, so two dirty runs on the same
    edits name the same hash."""
    if directory is None or not directory.is_dir():
        return UNTRACKED
    head = _git(directory, "rev-parse", "--verify", "-q", "HEAD")
    inside = _git(directory, "rev-parse", "--is-inside-work-tree")
    if inside is None or inside.returncode != 0:
        return UNTRACKED
    commit = head.stdout.decode().strip() if head is not None and head.returncode == 0 else ""
    status = _git(directory, "status", "--porcelain=v1", "-z", "--untracked-files=all",
                  "--", ".")
    if status is None or status.returncode != 0:
        return UNTRACKED
    if not status.stdout and len(commit) == 40:
        return FolderState("clean", commit)
    digest = hashlib.sha256()
    if commit:
        diff = _git(directory, "diff", "--binary", "HEAD", "--", ".")
        digest.update(diff.stdout if diff is not None else b"")
    for entry in sorted(status.stdout.split(b"\0")):
        if entry.startswith(b"?? ") or (entry and not commit):
            name = entry[3:].decode("utf-8", "surrogateescape")
            digest.update(entry)
            path = directory / name
            if path.is_file():
                digest.update(path.read_bytes())
    return FolderState("dirty", commit if len(commit) == 40 else None, digest.hexdigest())


def git_commit(directory: Path | None) -> str | None:
    """The commit the rules in `directory` are exactly (the folder is clean), if any."""
    return folder_state(directory).clean_commit


def record_ruleset(session: Session, rules: object, directory: Path | None = None) -> RuleSet:
    """The stored version of these rules (created on first use) in the caller's transaction.

    `rules` is anything with a `files` mapping (the loader's `LoadedRules`); `directory`
    is the rules folder, used to find the git commit."""
    files: Mapping[str, str] = getattr(rules, "files", {})
    content = ruleset_hash(files)
    if session.get_bind().dialect.name == "postgresql":
        # Two runs storing the same new version at once would collide on the unique hash.
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_RULESET_LOCK})
    existing = session.scalars(select(RuleSet).where(RuleSet.content_hash == content)).first()
    if existing is not None:
        # Not back-filled with a later commit: actions queued before the rules were
        # committed must not appear to come from that commit (a run's own state says).
        return existing
    ruleset = RuleSet(content_hash=content, git_commit=git_commit(directory),
                      files=dict(files))
    session.add(ruleset)
    session.flush()
    return ruleset
