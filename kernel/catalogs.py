"""Keeping the translation catalogs in step with the code (a developer's tool).

    python -m relance.kernel.catalogs check              # what a catalog lacks or has extra
    python -m relance.kernel.catalogs add DOMAIN FILE…   # the new sentences of FILEs, to fill
    python -m relance.kernel.catalogs prune [DOMAIN]     # drop sentences the code no longer has
    python -m relance.kernel.catalogs compile            # .po -> .mo (scripts/setup.sh runs it)

The sentences are found by Babel's extractor: the literal first argument of `_()`,
`N_()` and the two of `ngettext()`. A sentence is translated once, in one domain (the
catalog of the part of the program that owns it); `check` is what the test suite runs.
"""

from __future__ import annotations

import importlib.util
import io
import os
import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from babel.messages.catalog import Catalog, Message
from babel.messages.extract import extract_from_file
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

from relance.kernel.i18n import LOCALE_DIR, SOURCE_LANGUAGE, SUPPORTED, compiled_path, domains

KEYWORDS = {"_": None, "N_": None, "ngettext": (1, 2)}
# Every package whose code speaks to people (the migrations speak only to the database).
PACKAGES = ("relance", "relance.kernel", "relance.dsl", "relance.store", "relance.engine",
            "relance.channels", "relance.scheduler", "relance.demo", "relance.tui",
            "relance.web")
SKIPPED_FOLDERS = ("migrations",)
_PLACEHOLDER = re.compile(r"(?<!\{)\{([A-Za-z_][A-Za-z0-9_]*)?[^{}]*\}(?!\})")


def translated_languages() -> list[str]:
    return [language for language in SUPPORTED if language != SOURCE_LANGUAGE]


def source_files() -> list[Path]:
    """The Python files of relance's packages (each package's own folder, not below)."""
    files: set[Path] = set()
    for package in PACKAGES:
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            continue
        for folder in spec.submodule_search_locations:
            root = Path(folder)
            for path in root.rglob("*.py"):
                relative = path.relative_to(root).parts
                if any(part in SKIPPED_FOLDERS for part in relative):
                    continue
                # A sub-folder that is a package of its own is walked as that package.
                if len(relative) > 1 and (root / relative[0] / "__init__.py").exists() \
                        and f"{package}.{relative[0]}" in PACKAGES:
                    continue
                files.add(path.resolve())
    return sorted(files)


MessageId = str | tuple[str, ...] | list[str]


@dataclass(frozen=True)
class Found:
    message: MessageId
    path: Path
    line: int


def extract(paths: Iterable[Path]) -> Iterator[Found]:
    for path in paths:
        for line, message, _comments, _context in extract_from_file(
                "python", str(path), keywords=KEYWORDS, comment_tags=()):
            if isinstance(message, tuple):
                yield Found((message[0], message[1]), path, line)
            else:
                yield Found(message, path, line)


def key_of(message: MessageId) -> str:
    """The singular of a counted sentence, the sentence itself otherwise."""
    return message if isinstance(message, str) else message[0]


def read_catalog(po_file: Path) -> Catalog:
    with po_file.open("rb") as handle:
        return read_po(handle, locale=po_file.parent.parent.name, domain=po_file.stem)


def write_catalog(po_file: Path, catalog: Catalog) -> None:
    po_file.parent.mkdir(parents=True, exist_ok=True)
    with po_file.open("wb") as handle:
        write_po(handle, catalog, width=100, omit_header=False, sort_output=False,
                 include_previous=False, no_location=True)


# gettext's plural rule for French, two forms (0 and 1 singular), rather than CLDR's three
# (a third for millions): a translator writes "lettre" and "lettres", nothing else.
PLURAL_RULES = {"fr": (2, "(n > 1)")}


def new_catalog(language: str, domain: str) -> Catalog:
    catalog = Catalog(locale=language, domain=domain, project="relance", version="",
                      copyright_holder="the relance authors", fuzzy=False,
                      language_team=f"relance {language}", last_translator="relance authors")
    if language in PLURAL_RULES:
        # Babel reads these from a catalog's header; a new one takes them from here.
        catalog._num_plurals, catalog._plural_expr = PLURAL_RULES[language]  # type: ignore[assignment]
    return catalog


def placeholders(text: str) -> set[str]:
    return {match.group(0).split("!")[0].split(":")[0].strip("{}")
            for match in _PLACEHOLDER.finditer(text)}


def _translations(message: Message) -> list[str]:
    if isinstance(message.string, tuple | list):
        return [str(text) for text in message.string]
    return [str(message.string or "")]


def problems(language: str, files: list[Path] | None = None) -> list[str]:
    """What is wrong with `language`'s catalogs against the code: a sentence no catalog
    translates, translated twice differently, with other placeholders, or no longer used."""
    found = list(extract(files if files is not None else source_files()))
    used = {key_of(item.message) for item in found}
    known: dict[str, tuple[str, Message]] = {}
    issues: list[str] = []
    for po_file in domains(language):
        catalog = read_catalog(po_file)
        for message in catalog:
            if not message.id:
                continue
            key = key_of(message.id)
            if key in known and _translations(known[key][1]) != _translations(message):
                issues.append(f"{po_file.name}: {key!r} is translated differently in "
                              f"{known[key][0]}")
            known.setdefault(key, (po_file.name, message))
            if key not in used:
                issues.append(f"{po_file.name}: {key!r} is no longer in the code "
                              "(prune it)")
    for item in found:
        key = key_of(item.message)
        where = f"{item.path.name}:{item.line}"
        entry = known.get(key)
        if entry is None:
            issues.append(f"{where}: no {language} translation of {key!r}")
            continue
        texts = _translations(entry[1])
        if not all(texts) or entry[1].fuzzy:
            issues.append(f"{where}: the {language} translation of {key!r} is empty or fuzzy")
            continue
        wanted = placeholders(key)
        if any(placeholders(text) != wanted for text in texts):
            issues.append(f"{where}: the {language} translation of {key!r} names other "
                          f"placeholders than {sorted(wanted)}")
    return sorted(set(issues))


def add(domain: str, paths: list[Path]) -> int:
    """Append to `domain`'s catalog (each translated language) the sentences of `paths`
    that no catalog of that language has yet, untranslated; the number added."""
    added = 0
    for language in translated_languages():
        known = {key_of(message.id) for po_file in domains(language)
                 for message in read_catalog(po_file) if message.id}
        po_file = LOCALE_DIR / language / "LC_MESSAGES" / f"{domain}.po"
        catalog = read_catalog(po_file) if po_file.exists() else new_catalog(language, domain)
        for item in extract(paths):
            key = key_of(item.message)
            if key in known:
                continue
            known.add(key)
            catalog.add(item.message, string=("", "") if isinstance(item.message, tuple) else "")
            added += 1
        write_catalog(po_file, catalog)
    return added


def prune(domain: str | None = None) -> int:
    """Drop from the catalogs (of `domain`, else all) the sentences the code lost."""
    used = {key_of(item.message) for item in extract(source_files())}
    dropped = 0
    for language in translated_languages():
        for po_file in domains(language):
            if domain is not None and po_file.stem != domain:
                continue
            catalog = read_catalog(po_file)
            gone = [message.id for message in catalog
                    if message.id and key_of(message.id) not in used]
            for message_id in gone:
                catalog.delete(message_id)
            dropped += len(gone)
            if gone:
                write_catalog(po_file, catalog)
    return dropped


def compile_all() -> list[Path]:
    return [compile_catalog(po_file)
            for language in translated_languages() for po_file in domains(language)]


def compile_catalog(po_file: Path) -> Path:
    """The `.mo` beside `po_file`, replaced whole and never rewritten in place.

    Programs running meanwhile (the test suite's workers, a scheduler) open these files
    as they start: one caught half written would fail to start, so the new file is
    written beside the old and renamed over it; an unchanged one is only marked fresh.
    """
    mo_file = compiled_path(po_file)
    buffer = io.BytesIO()
    write_mo(buffer, read_catalog(po_file))
    if mo_file.exists() and mo_file.read_bytes() == buffer.getvalue():
        if mo_file.stat().st_mtime < po_file.stat().st_mtime:
            os.utime(mo_file)
        return mo_file
    fresh = mo_file.with_name(f".{mo_file.name}.{os.getpid()}")
    fresh.write_bytes(buffer.getvalue())
    os.replace(fresh, mo_file)
    return mo_file


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("check", "add", "prune", "compile"):
        print(__doc__, file=sys.stderr)
        return 2
    command, rest = argv[0], argv[1:]
    if command == "check":
        found = [issue for language in translated_languages() for issue in problems(language)]
        print("\n".join(found) if found else "catalogs complete")
        return 1 if found else 0
    if command == "add":
        if len(rest) < 2:
            print("usage: add DOMAIN FILE…", file=sys.stderr)
            return 2
        print(f"{add(rest[0], [Path(name).resolve() for name in rest[1:]])} sentences added")
        return 0
    if command == "prune":
        print(f"{prune(rest[0] if rest else None)} sentences dropped")
        return 0
    print(f"{len(compile_all())} catalogs compiled")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
