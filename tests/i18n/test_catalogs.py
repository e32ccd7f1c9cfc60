"""The French catalogs translate every sentence of the code, and nothing else."""

from __future__ import annotations

from pathlib import Path

from relance.kernel.catalogs import compile_all, problems, read_catalog
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
