"""Where templates live and which channels each one exists for.

Layout (the same in the package's default set and in a workspace's `templates/`)::

    templates/
      _base/                       shared layout: letter.html, email.html, style.css, fonts/
      <name>/<channel>.<lang>[.<tone>].<ext>
      _creditors/<code>/<name>/<channel>.<lang>[.<tone>].<ext>   per-creditor overrides
      _creditors/<code>/_base/...                                per-creditor layout

`channel` is one of `letter`, `email`, `sms`, `notify`; `lang` a language code (`fr`,
`en`); `tone` a free word (`soft`, `firm`, `courteous`...); `ext` is `html` (letters,
the HTML part of e-mails) or `txt` (SMS, the plain-text part of e-mails and alerts).
Folders whose name starts with `_` are never templates.

Resolution for (creditor, name, channel, language, tone) looks, in order, in the
creditor's folder of the workspace, the workspace, then the package's defaults; in each
folder it tries the exact tone, then no tone, and the language, then French, then
English. The first folder holding the template wins whole (no mixing of files across
folders), so a credit manager who copies a template owns all its variants.
"""

from __future__ import annotations

import functools
import importlib.resources
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

CHANNELS = ("letter", "email", "sms", "notify")
EXTENSIONS = ("html", "txt")
CREDITORS_DIR = "_creditors"
BASE_DIR = "_base"
FALLBACK_LANGUAGES = ("fr", "en")

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-]*$")
_FILE_RE = re.compile(
    r"^(?P<channel>letter|email|sms|notify)\.(?P<lang>[a-z]{2}(?:[_-][A-Za-z]{2})?)"
    r"(?:\.(?P<tone>[a-z][a-z0-9_\-]*))?\.(?P<ext>html|txt)$"
)


@functools.cache
def default_templates_dir() -> Path:
    """The folder of the templates shipped with relance (package `relance.templates`);
    looked up once: every rendering asks for it, several times."""
    return Path(str(importlib.resources.files("relance.templates")))


@dataclass(frozen=True)
class TemplateFile:
    """One file of a template: which channel, language, tone and part it is."""

    path: Path
    name: str
    channel: str
    language: str
    tone: str | None
    ext: str


def parse_file_name(filename: str) -> tuple[str, str, str | None, str] | None:
    """(channel, language, tone, ext) of a template file name, or None if it is not one."""
    match = _FILE_RE.match(filename)
    if match is None:
        return None
    return match["channel"], match["lang"], match["tone"], match["ext"]


def _template_dirs(folder: Path) -> Iterator[Path]:
    if not folder.is_dir():
        return
    for child in sorted(folder.iterdir()):
        if child.is_dir() and not child.name.startswith(("_", ".")) and _NAME_RE.match(
            child.name
        ):
            yield child


def scan(folder: Path) -> Iterator[TemplateFile]:
    """Every template file directly under `folder/<name>/` (not the `_` folders)."""
    for template_dir in _template_dirs(folder):
        for file in sorted(template_dir.iterdir()):
            parsed = parse_file_name(file.name)
            if parsed is None or not file.is_file():
                continue
            channel, language, tone, ext = parsed
            yield TemplateFile(file, template_dir.name, channel, language, tone, ext)


def search_folders(templates_dir: Path | None, creditor: str | None = None) -> list[Path]:
    """The folders searched for one creditor, most specific first."""
    folders: list[Path] = []
    if templates_dir is not None:
        if creditor:
            folders.append(templates_dir / CREDITORS_DIR / creditor)
        folders.append(templates_dir)
    folders.append(default_templates_dir())
    return folders


def _merge(catalogue: dict[str, set[str]], files: Iterable[TemplateFile]) -> None:
    for file in files:
        catalogue.setdefault(file.name, set()).add(file.channel)


def catalogue(
    templates_dir: Path | None, *, creditor: str | None = None
) -> dict[str, frozenset[str]]:
    """Each template name mapped to the channels ('letter', 'email', 'sms', 'notify') it
    exists for: the package's defaults merged with the workspace's `templates/` folder.

    With `creditor`, that creditor's overrides are added; without, every creditor's
    overrides are (a rule file may name a template only one creditor has).
    """
    found: dict[str, set[str]] = {}
    _merge(found, scan(default_templates_dir()))
    if templates_dir is not None:
        _merge(found, scan(templates_dir))
        creditors_root = templates_dir / CREDITORS_DIR
        if creditor is not None:
            _merge(found, scan(creditors_root / creditor))
        elif creditors_root.is_dir():
            for folder in sorted(creditors_root.iterdir()):
                if folder.is_dir():
                    _merge(found, scan(folder))
    return {name: frozenset(channels) for name, channels in sorted(found.items())}


def tones(templates_dir: Path | None, name: str, channel: str) -> frozenset[str]:
    """The tones a template has for a channel, in any folder (for the checker's hints)."""
    result: set[str] = set()
    for folder in search_folders(templates_dir):
        for file in scan(folder):
            if file.name == name and file.channel == channel and file.tone:
                result.add(file.tone)
    return frozenset(result)
