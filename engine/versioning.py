"""Rule-set versions: the exact text of the rules a run used, stored once per content.

A version is identified by a SHA-256 over the sorted files (path and text), so the same
rules give the same version on every machine; when the rules folder is in a git
repository the commit is kept beside it. The text itself goes into the database, so that
an audit years later shows the rule that fired even if the repository is gone.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from collections.abc import Mapping
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


def git_commit(directory: Path | None) -> str | None:
    """The commit checked out in the git repository holding `directory`, if any."""
    git = shutil.which("git")
    if directory is None or git is None or not directory.is_dir():
        return None
    try:
        done = subprocess.run(
            [git, "-C", str(directory), "rev-parse", "HEAD"],
            capture_output=True, text=True, timeout=10, check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = done.stdout.strip()
    if done.returncode != 0 or len(commit) != 40:
        return None
    return commit


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
    commit = git_commit(directory)
    if existing is not None:
        if existing.git_commit is None and commit is not None:
            existing.git_commit = commit
        return existing
    ruleset = RuleSet(content_hash=content, git_commit=commit, files=dict(files))
    session.add(ruleset)
    session.flush()
    return ruleset
