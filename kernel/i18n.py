"""The language relance speaks to people, and its translations (gettext).

Every sentence a person reads is written in English in the code, inside `_()` (or
`ngettext()` when it counts something), and translated through the catalogs of
`kernel/locale/<language>/LC_MESSAGES/<domain>.po`. English is the source language,
so it needs no catalog; French is complete (a test fails on a sentence the French
catalogs lack). The catalogs are split by domain so that parts of the program can be
worked on side by side; a sentence is looked up in every domain of the language.

Which language: `[ui] language` of `relance.toml`, else the environment (`LANGUAGE`,
`LC_ALL`, `LC_MESSAGES`, `LANG`, as gettext reads them), else French. The command line
decides before it defines its help texts (`language_for_invocation`), the workspace's
setting then applies to everything the command prints (`use_workspace_language`).

A module-level constant that must be translated when shown, not when imported, is
marked with `N_()` and passed through `_()` where it is used.

Placeholders are named (`_("{count} letters sent").format(count=n)`) so that a
translation may put them in its own order; the catalog test checks that both sides
name the same ones.
"""

from __future__ import annotations

import gettext as gettext_module
import io
import marshal
import os
import struct
import zlib
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache
from pathlib import Path
from typing import Any

SUPPORTED: tuple[str, ...] = ("fr", "en")
DEFAULT_LANGUAGE = "fr"
SOURCE_LANGUAGE = "en"
LOCALE_DIR = Path(__file__).parent / "locale"
# gettext's order: the first of these that is set decides.
LANGUAGE_VARIABLES = ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG")

_active: list[str] = [DEFAULT_LANGUAGE]
# A `using_language` block's language, seen only by its own thread or task.
_override: ContextVar[str | None] = ContextVar("relance_language", default=None)


def supported(code: str | None) -> str | None:
    """`fr` for `fr`, `fr_FR.UTF-8`, `FR-be`; None for a language relance does not speak
    (or `C`/`POSIX`, which name no language)."""
    if not code:
        return None
    short = code.strip().lower().replace("-", "_").split("_")[0].split(".")[0]
    return short if short in SUPPORTED else None


def language_from_environment(environ: Mapping[str, str] = os.environ) -> str | None:
    """The language the environment asks for, if relance speaks it."""
    for name in LANGUAGE_VARIABLES:
        value = environ.get(name, "")
        if not value:
            continue
        # LANGUAGE is a list of preferences (`fr:en`); the others are one locale.
        for choice in value.split(":") if name == "LANGUAGE" else [value]:
            found = supported(choice)
            if found:
                return found
        if name != "LANGUAGE":
            return None  # the locale in force names a language we do not speak
    return None


def choose_language(configured: str | None, environ: Mapping[str, str] = os.environ) -> str:
    """`[ui] language` if set, else the environment's, else French."""
    return supported(configured) or language_from_environment(environ) or DEFAULT_LANGUAGE


def configured_language(workspace: Path | None) -> str | None:
    """`[ui] language` of the `relance.toml` in `workspace` or its nearest parent,
    read without checking the rest of the file (that is the workspace's job)."""
    folder = (workspace or Path.cwd()).resolve()
    for candidate in (folder, *folder.parents):
        config = candidate / "relance.toml"
        if config.is_file():
            import tomllib  # only here: most help screens are drawn outside a workspace

            try:
                data = tomllib.loads(config.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
                return None  # reported, in its own words, when the workspace is opened
            ui = data.get("ui")
            language = ui.get("language") if isinstance(ui, dict) else None
            return language if isinstance(language, str) else None
        if workspace is not None:
            return None  # an explicit workspace is not searched upwards
    return None


def language_for_invocation(argv: Sequence[str], environ: Mapping[str, str] = os.environ,
                            ) -> str:
    """The language of one `relance …` command: its workspace's (`--workspace`/`-w`, else
    found from the current folder up), else the environment's, else French."""
    workspace: Path | None = None
    for index, arg in enumerate(argv):
        if arg in ("--workspace", "-w") and index + 1 < len(argv):
            workspace = Path(argv[index + 1])
        elif arg.startswith("--workspace="):
            workspace = Path(arg.partition("=")[2])
    return choose_language(configured_language(workspace), environ)


# ------------------------------------------------------------------------ translations


def domains(language: str) -> list[Path]:
    """The catalogs (`.po`) of a language, in a stable order."""
    return sorted((LOCALE_DIR / language / "LC_MESSAGES").glob("*.po"))


def compiled_path(po_file: Path) -> Path:
    return po_file.with_suffix(".mo")


def _compile_in_memory(po_file: Path) -> gettext_module.GNUTranslations:
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with po_file.open("rb") as handle:
        catalog = read_po(handle)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return gettext_module.GNUTranslations(buffer)


def _load_domain(po_file: Path) -> gettext_module.GNUTranslations:
    """The compiled catalog (written by `scripts/setup.sh`, `python -m
    relance.kernel.catalogs compile`), or the `.po` compiled here when the `.mo` is
    missing or older than it (a checkout edited since, an install without the build)."""
    mo_file = compiled_path(po_file)
    try:
        if mo_file.stat().st_mtime >= po_file.stat().st_mtime:
            with mo_file.open("rb") as handle:
                return gettext_module.GNUTranslations(handle)
    except (OSError, struct.error, ValueError, UnicodeDecodeError):
        pass  # none, or damaged (a copy cut short, a disk error): the `.po` still says
    return _compile_in_memory(po_file)


@cache
def translations(language: str) -> gettext_module.NullTranslations:
    """Every domain of `language` in one catalog (`_Catalog`), kept between processes;
    else chained into one: a lookup tries each in turn."""
    chain: gettext_module.NullTranslations = gettext_module.NullTranslations()
    if language == SOURCE_LANGUAGE:
        return chain
    files = domains(language)
    kept = _kept_catalog(language, files)
    if kept is not None:
        return kept
    first: gettext_module.NullTranslations | None = None
    for po_file in files:
        domain = _load_domain(po_file)
        if first is None:
            first = domain
        else:
            first.add_fallback(domain)
    return first or chain


class _Catalog(gettext_module.NullTranslations):
    """Every domain of a language merged into one dictionary: what the chain of domains
    answers, in one look-up (a sentence is translated in one domain only)."""

    def __init__(self, messages: dict[Any, str], plural_forms: str) -> None:
        super().__init__()
        self._messages = messages
        expression = plural_forms.partition("plural=")[2].strip().rstrip(";") or "n != 1"
        self._plural = gettext_module.c2py(expression)

    def gettext(self, message: str) -> str:
        found = self._messages.get(message)
        if found is None:  # a counted sentence asked for without its count, as gettext
            found = self._messages.get((message, self._plural(1)))
        return message if found is None else found

    def ngettext(self, msgid1: str, msgid2: str, n: int) -> str:
        found = self._messages.get((msgid1, self._plural(n)))
        if found is None:
            return msgid1 if n == 1 else msgid2
        return found


def _kept_catalog(language: str, po_files: list[Path]) -> _Catalog | None:
    """The compiled domains of `language` merged into one catalog, read from the user's
    cache when it holds them as they are now (issue 17: reading some thirty `.mo` files
    was a tenth of `relance --help`). None when a `.mo` is missing or older than its
    `.po` (compiled in memory then, as before) or when there is no cache folder."""
    from relance.kernel.user_cache import cache_folder, write_whole

    stamps: list[str] = []
    for po_file in po_files:
        try:
            compiled = compiled_path(po_file).stat()
            if compiled.st_mtime < po_file.stat().st_mtime:
                return None
        except OSError:
            return None
        stamps.append(f"{po_file.name} {compiled.st_mtime_ns} {compiled.st_size}")
    folder = cache_folder() if po_files else None
    if folder is None:
        return None
    # One file per checkout or install (named after where its catalogs are), holding
    # the state of the `.mo` files it was merged from: a compiled catalog changed since
    # is merged again. (No hashlib: its import costs more than the file saves.)
    path = folder / f"catalog-{language}-{zlib.crc32(str(LOCALE_DIR).encode()):08x}.marshal"
    try:
        kept_stamps, plural_forms, messages = marshal.loads(path.read_bytes())
        if kept_stamps == stamps:
            return _Catalog(messages, plural_forms)
    except (OSError, EOFError, ValueError, TypeError):  # none yet, or damaged
        pass
    merged: dict[Any, str] = {}
    plural_forms = ""
    for po_file in po_files:
        domain = _load_domain(po_file)
        plural_forms = plural_forms or domain.info().get("plural-forms", "")
        # The first domain that has a sentence answers it, as in the chain.
        for key, text in domain._catalog.items():  # type: ignore[attr-defined]
            merged.setdefault(key, text)
    write_whole(path, marshal.dumps((stamps, plural_forms, merged)))
    return _Catalog(merged, plural_forms)


def set_language(language: str) -> None:
    """Speak `language` (one of `SUPPORTED`) from now on, in this process; inside a
    `using_language` block, until the block ends."""
    chosen = supported(language) or DEFAULT_LANGUAGE
    if _override.get() is not None:
        _override.set(chosen)
    else:
        _active[0] = chosen


def current_language() -> str:
    return _override.get() or _active[0]


@contextmanager
def using_language(language: str) -> Iterator[None]:
    """Speak `language` inside the block (a letter to a debtor, a test), then as before.

    Only the thread or task inside the block speaks it: the web answers several debtors
    at once, each in their own language, while the rest of the process keeps its own."""
    token = _override.set(supported(language) or DEFAULT_LANGUAGE)
    try:
        yield
    finally:
        _override.reset(token)


def _(message: str) -> str:
    """`message` in the current language."""
    language = current_language()
    if language == SOURCE_LANGUAGE:
        return message
    return translations(language).gettext(message)


def ngettext(singular: str, plural: str, count: int) -> str:
    """The form of a counted sentence for `count`, in the current language (French
    counts 0 and 1 as singular, English only 1)."""
    language = current_language()
    if language == SOURCE_LANGUAGE:
        return singular if count == 1 else plural
    return translations(language).ngettext(singular, plural, count)


def N_(message: str) -> str:
    """Mark `message` for the catalogs without translating it yet (a constant defined at
    import, translated with `_()` where it is shown)."""
    return message


set_language(language_from_environment() or DEFAULT_LANGUAGE)
