"""The two sides of `relance diff`: a rules folder on disk, or the rules of a git revision.

A revision (`HEAD~1`, a branch, a tag, a commit) is read with git's plumbing — the
tree is listed, each rule file's blob is read — into a temporary folder that is loaded
and then deleted: nothing is checked out, the working tree and the index stay as they
are. The rules folder is found in a revision at the same place, relative to the root of
its repository, as the workspace's rules folder is now.

A side whose rules do not load cleanly is refused (exit 2) with the compiler's
messages: comparing rules the engine would refuse to run says nothing useful.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from relance.dsl.loader import RULES_SUFFIX, LoadedRules, load_rules
from relance.kernel.errors import UsageError
from relance.kernel.i18n import _

WORKING_FOLDER = "."
"""How a side names the workspace's own rules folder, as it is on disk now."""

GIT_TIMEOUT_SECONDS = 60
SYMLINK_MODE = "120000"


@dataclass(frozen=True)
class RuleSide:
    """One side of a comparison: what was typed, what it turned out to be, its rules."""

    typed: str
    rules: LoadedRules
    folder: Path | None = None  # a folder read as it is on disk
    commit: str | None = None  # the commit a revision named

    def label(self) -> str:
        """The side as a person reads it: `HEAD~1 (1a2b3c4d5e6f)` or a folder."""
        if self.commit is not None:
            return _("{revision} (commit {commit})").format(revision=self.typed,
                                                           commit=self.commit[:12])
        if self.typed == WORKING_FOLDER:
            return _("the rules folder as it is ({folder})").format(folder=self.folder)
        return _("the folder {folder}").format(folder=self.folder)

    def to_json(self) -> dict[str, str | None]:
        return {"typed": self.typed, "commit": self.commit,
                "folder": str(self.folder) if self.folder is not None else None}


def load_side(typed: str | None, rules_dir: Path, root: Path) -> RuleSide:
    """The rules `typed` names: `.` or nothing for `rules_dir` as it is on disk, an
    existing folder as it is, anything else a git revision of the repository holding
    `rules_dir`. `root` is the workspace, which names the files in messages."""
    if typed is None or typed == WORKING_FOLDER:
        return _folder_side(typed or WORKING_FOLDER, rules_dir, root)
    folder = Path(typed)
    if folder.is_dir():
        return _folder_side(typed, folder, folder.resolve().parent)
    return _revision_side(typed, rules_dir)


def _folder_side(typed: str, folder: Path, root: Path) -> RuleSide:
    if not folder.is_dir():
        raise UsageError(_("no rules folder at {folder}").format(folder=folder))
    rules = load_rules([folder], root=root)
    side = RuleSide(typed, rules, folder=folder)
    _refuse_errors(side)
    return side


def _refuse_errors(side: RuleSide) -> None:
    if not side.rules.ok:
        raise UsageError(_("the rules of {side} have errors, nothing was compared:").format(
            side=side.label()) + "\n" + side.rules.render())


def _git(directory: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    git = shutil.which("git")
    if git is None:
        raise UsageError(_("git is not installed: a revision cannot be read (name two "
                           "folders instead)"))
    try:
        return subprocess.run([git, "-C", str(directory), *args], capture_output=True,
                              timeout=GIT_TIMEOUT_SECONDS, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        raise UsageError(_("git could not be run ({reason})").format(reason=exc)) from exc


def _git_text(directory: Path, *args: str) -> str | None:
    """What git printed, or None when it failed."""
    done = _git(directory, *args)
    if done.returncode != 0:
        return None
    return done.stdout.decode("utf-8", "surrogateescape").strip()


def _revision_side(revision: str, rules_dir: Path) -> RuleSide:
    # A name starting with a dash would be read by git as an option.
    if revision.startswith("-"):
        raise UsageError(_("{typed}: neither a folder nor a git revision").format(
            typed=revision))
    if not rules_dir.is_dir():
        raise UsageError(_("no rules folder at {folder}").format(folder=rules_dir))
    top = _git_text(rules_dir, "rev-parse", "--show-toplevel")
    if top is None:
        raise UsageError(_("{typed} is not a folder, and the rules folder {folder} is not "
                           "in a git repository: no revision can be read").format(
            typed=revision, folder=rules_dir))
    prefix = _git_text(rules_dir, "rev-parse", "--show-prefix") or ""
    commit = _git_text(Path(top), "rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}")
    if not commit:
        raise UsageError(_("{typed}: neither a folder nor a git revision of {repository}")
                         .format(typed=revision, repository=top))
    files = _rule_blobs(Path(top), commit, prefix)
    if files is None:
        raise UsageError(_("{typed} (commit {commit}) has no rules folder {folder}").format(
            typed=revision, commit=commit[:12], folder=prefix.rstrip("/") or "."))
    with tempfile.TemporaryDirectory(prefix="relance-diff-") as scratch:
        base = Path(scratch)
        for name, content in files.items():
            path = base.joinpath(*PurePosixPath(name).parts)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
        folder = base.joinpath(*PurePosixPath(prefix).parts) if prefix else base
        folder.mkdir(parents=True, exist_ok=True)
        rules = load_rules([folder], root=base)
    side = RuleSide(revision, rules, commit=commit)
    _refuse_errors(side)
    return side


def _rule_blobs(top: Path, commit: str, prefix: str) -> dict[str, bytes] | None:
    """The rule files under `prefix` at `commit` (path from the repository's root ->
    content), or None when the commit has no such folder."""
    if prefix and _git_text(top, "cat-file", "-t", f"{commit}:{prefix.rstrip('/')}") != "tree":
        return None
    listing = _git(top, "ls-tree", "-r", "-z", "--full-tree", commit, "--", prefix or ".")
    if listing.returncode != 0:
        return None
    files: dict[str, bytes] = {}
    for entry in listing.stdout.split(b"\0"):
        if not entry:
            continue
        meta, _tab, raw_name = entry.partition(b"\t")
        mode, kind, blob = meta.decode("ascii").split()
        name = raw_name.decode("utf-8", "surrogateescape")
        # A symbolic link's blob is the path it points to, not rules.
        if kind != "blob" or mode == SYMLINK_MODE or not name.endswith(RULES_SUFFIX):
            continue
        content = _git(top, "cat-file", "blob", blob)
        if content.returncode != 0:
            raise UsageError(_("git could not read {path} at {commit}").format(
                path=name, commit=commit[:12]))
        files[name] = content.stdout
    return files
