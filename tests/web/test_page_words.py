"""Every sentence of the page templates is marked in `relance.web`'s Python (the
catalogs read Python only), so that French and English debtors read their own language."""

from __future__ import annotations

from jinja2 import Environment
from jinja2.ext import babel_extract

from relance.kernel.catalogs import extract, key_of
from relance.kernel.i18n import translations
from relance.web.common import STATIC_DIR, TEMPLATES_DIR

WEB = TEMPLATES_DIR.parent


def template_sentences() -> dict[str, str]:
    found: dict[str, str] = {}
    for path in sorted(TEMPLATES_DIR.glob("*.html")):
        with path.open("rb") as handle:
            for line, _function, message, _comments in babel_extract(
                    handle, ("_", "gettext", "ngettext"), [], {}):
                text = message if isinstance(message, str) else (message or (None,))[0]
                if text:
                    found[text] = f"{path.name}:{line}"
    return found


def test_every_template_sentence_is_marked_and_translated() -> None:
    marked = {key_of(item.message) for item in extract(sorted(WEB.glob("*.py")))}
    sentences = template_sentences()
    assert "Pay by bank transfer" in sentences
    unmarked = [f"{where}: {text!r}" for text, where in sentences.items() if text not in marked]
    assert not unmarked, unmarked
    french = translations("fr")
    untranslated = [text for text in sentences if french.gettext(text) == text
                    and text not in ("IBAN", "BIC", "Total")]
    assert not untranslated, untranslated


def test_the_templates_hold_no_script_and_no_inline_style() -> None:
    environment = Environment()
    for path in TEMPLATES_DIR.glob("*.html"):
        text = path.read_text(encoding="utf-8")
        environment.parse(text)
        lowered = text.lower()
        assert "<script" not in lowered and " style=" not in lowered, path.name
        assert " onclick=" not in lowered and "javascript:" not in lowered, path.name
    assert (STATIC_DIR / "page.css").is_file()
