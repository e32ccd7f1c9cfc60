"""The French catalogs translate every sentence of the code, and nothing else."""

from __future__ import annotations

import os
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo

from relance.kernel.catalogs import compile_all, compile_catalog, problems, read_catalog
from relance.kernel.i18n import domains


def test_the_french_catalogs_translate_every_sentence_of_the_code() -> None:
    found = problems("fr")
    assert not found, (f"{len(found)} problems in the French catalogs (see "
                       "docs/translating.md):\n" + "\n".join(found))


def test_a_missing_sentence_is_named_with_its_file_and_line(tmp_path: Path) -> None:
    module = tmp_path / "new_screen.py"
    module.write_text('from relance.kernel.i18n import _\n\nTITLE = _("A sentence nobody '
                      'translated yet")\n', encoding="utf-8")
    found = problems("fr", files=[module])
    assert "new_screen.py:3: no fr translation of 'A sentence nobody translated yet'" in found


def test_compiled_catalogs_hold_what_the_po_files_say() -> None:
    """What setup compiles is what the repository's catalogs say, entry for entry."""
    for mo_file in compile_all():
        po_file = mo_file.with_suffix(".po")
        import gettext

        with mo_file.open("rb") as handle:
            compiled = gettext.GNUTranslations(handle)
        for message in read_catalog(po_file):
            if message.id and isinstance(message.id, str) and message.string:
                assert compiled.gettext(message.id) == message.string
    assert domains("fr"), "no French catalog at all"


def test_compiling_while_programs_start_never_shows_them_half_a_catalog(
        tmp_path: Path) -> None:
    """The suite's workers and a running scheduler read the `.mo` files while setup or a
    developer compiles: each reader sees a whole catalog, the old one or the new."""
    import gettext
    import threading

    po_file = tmp_path / "fr" / "LC_MESSAGES" / "cli.po"
    po_file.parent.mkdir(parents=True)
    po_file.write_bytes(next(p for p in domains("fr") if p.name == "cli.po").read_bytes())
    empty = tmp_path / "empty.mo"
    with empty.open("wb") as handle:
        write_mo(handle, Catalog(locale="fr"))
    mo_file = compile_catalog(po_file)
    stop = threading.Event()
    failures: list[str] = []

    def read_it() -> None:
        while not stop.is_set():
            try:
                with mo_file.open("rb") as handle:
                    gettext.GNUTranslations(handle)
            except Exception as error:  # whatever breaks a start counts
                failures.append(repr(error))

    reader = threading.Thread(target=read_it)
    reader.start()
    try:
        for _ in range(200):  # an outdated .mo each round, so that it is really rewritten
            os.replace(empty.with_name("empty.mo"), mo_file)
            with empty.open("wb") as handle:
                write_mo(handle, Catalog(locale="fr"))
            compile_catalog(po_file)
    finally:
        stop.set()
        reader.join()
    assert not failures, failures[:3]
    with mo_file.open("rb") as compiled:
        assert gettext.GNUTranslations(compiled).gettext("Usage: ") == "Utilisation : "


def test_an_unchanged_catalog_is_left_as_it_is(tmp_path: Path) -> None:
    po_file = tmp_path / "fr" / "LC_MESSAGES" / "cli.po"
    po_file.parent.mkdir(parents=True)
    po_file.write_bytes(next(p for p in domains("fr") if p.name == "cli.po").read_bytes())
    first = compile_catalog(po_file).stat().st_ino
    assert compile_catalog(po_file).stat().st_ino == first
