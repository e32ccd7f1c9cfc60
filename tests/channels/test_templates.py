"""Template layout, resolution and the sandbox: hostile templates are refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from relance.channels.render import TemplateProblem, render, resolve
from relance.channels.templates import catalogue, parse_file_name

DEFAULT_SET = {"prevenance", "relance_1", "relance_2", "amiable_2", "mise_en_demeure",
               "escalation_notice", "late_alert"}


def test_default_catalogue_has_the_day_one_set() -> None:
    found = catalogue(None)
    assert set(found) >= DEFAULT_SET
    assert found["mise_en_demeure"] >= {"letter", "email"}
    assert found["relance_1"] >= {"email", "sms", "letter"}
    assert found["late_alert"] == frozenset({"notify"})


def test_workspace_and_creditor_templates_merge_into_the_catalogue(tmp_path: Path) -> None:
    (tmp_path / "courtoisie").mkdir()
    (tmp_path / "courtoisie" / "sms.fr.txt").write_text("Bonjour")
    (tmp_path / "_creditors" / "ACME" / "relance_acme").mkdir(parents=True)
    (tmp_path / "_creditors" / "ACME" / "relance_acme" / "letter.fr.html").write_text("x")
    (tmp_path / "_base").mkdir()
    (tmp_path / "_base" / "letter.fr.html").write_text("not a template name")
    found = catalogue(tmp_path)
    assert found["courtoisie"] == frozenset({"sms"})
    assert found["relance_acme"] == frozenset({"letter"})
    assert "_base" not in found
    assert "relance_acme" not in catalogue(tmp_path, creditor="OTHER")


def test_file_names() -> None:
    assert parse_file_name("letter.fr.firm.html") == ("letter", "fr", "firm", "html")
    assert parse_file_name("email.en.txt") == ("email", "en", None, "txt")
    assert parse_file_name("letter.html") is None
    assert parse_file_name("fax.fr.txt") is None


def test_resolution_prefers_creditor_then_workspace_then_defaults(tmp_path: Path) -> None:
    own = tmp_path / "_creditors" / "ACME" / "relance_1"
    own.mkdir(parents=True)
    (own / "sms.fr.txt").write_text("ACME {{ debtor }}")
    hit = resolve(tmp_path, creditor="ACME", name="relance_1", channel="sms", language="fr",
                  tone=None)
    assert hit.folder == tmp_path / "_creditors" / "ACME"
    other = resolve(tmp_path, creditor="OTHER", name="relance_1", channel="sms",
                    language="fr", tone=None)
    assert other.folder != hit.folder  # the package's default


def test_tone_and_language_fall_back() -> None:
    firm = resolve(None, creditor=None, name="relance_2", channel="letter", language="fr",
                   tone="firm")
    assert firm.tone == "firm"
    soft = resolve(None, creditor=None, name="relance_2", channel="letter", language="fr",
                   tone="soft")
    assert soft.tone is None  # no soft variant: the untoned letter
    german = resolve(None, creditor=None, name="relance_2", channel="letter", language="de",
                     tone=None)
    assert german.language == "fr"
    english = resolve(None, creditor=None, name="relance_2", channel="letter", language="en",
                      tone=None)
    assert english.language == "en"
    with pytest.raises(TemplateProblem, match="no template 'nope'"):
        resolve(None, creditor=None, name="nope", channel="letter", language="fr", tone=None)


def _one(tmp_path: Path, source: str, ext: str = "txt") -> str:
    folder = tmp_path / "t"
    folder.mkdir(exist_ok=True)
    (folder / f"sms.fr.{ext}").write_text(source)
    resolved = resolve(tmp_path, creditor=None, name="t", channel="sms", language="fr",
                       tone=None)
    return render(tmp_path, resolved, ext, {"name": "<b>Dupont & fils</b>", "items": [1, 2]},
                  creditor=None, seconds=2).body


HOSTILE = [
    "{{ ''.__class__.__mro__ }}",
    "{{ cycler.__init__.__globals__ }}",
    "{{ lipsum.__globals__ }}",
    "{{ (''|attr('format'))('{0.__class__}',1) }}",
    "{{ '{0.__class__}'.format(1) }}",
    "{{ name.__class__.__subclasses__() }}",
    "{{ items.append(3) }}",
]


@pytest.mark.parametrize("source", HOSTILE)
def test_sandbox_refuses_or_neutralises_the_escape_corpus(tmp_path: Path, source: str) -> None:
    try:
        out = _one(tmp_path, source)
    except TemplateProblem as exc:
        assert "t/sms.fr.txt" in exc.message
        return
    # Only `(''|attr('format'))(...)` gets here: it formats the EMPTY string, the
    # payload is a mere argument, so nothing is revealed.
    assert out == "", out


def test_format_payloads_on_a_real_format_string_are_refused(tmp_path: Path) -> None:
    with pytest.raises(TemplateProblem, match="refused by the template sandbox"):
        _one(tmp_path, "{{ ('{0.__class__}'|attr('format'))(1) }}")
    with pytest.raises(TemplateProblem, match="refused by the template sandbox"):
        _one(tmp_path, "{{ '{0.__class__.__mro__}'.format(name) }}")


def test_missing_variable_fails_instead_of_printing_blank(tmp_path: Path) -> None:
    with pytest.raises(TemplateProblem, match="amount"):
        _one(tmp_path, "Due: {{ amount }}")


def test_html_is_autoescaped_and_text_is_not(tmp_path: Path) -> None:
    assert _one(tmp_path, "{{ name }}", "html") == "&lt;b&gt;Dupont &amp; fils&lt;/b&gt;"
    assert _one(tmp_path, "{{ name }}", "txt") == "<b>Dupont & fils</b>"


def test_runaway_templates_stop(tmp_path: Path) -> None:
    with pytest.raises(TemplateProblem, match=r"too large|longer than|larger than"):
        _one(tmp_path, "{{ 'x' * 100000000 }}")
    with pytest.raises(TemplateProblem, match=r"longer than|larger than"):
        _one(tmp_path, "{% for i in range(100000) %}{% for j in range(100000) %}"
                       "{{ j }}{% endfor %}{% endfor %}")


def test_templates_cannot_include_files_outside_the_template_folders(tmp_path: Path) -> None:
    with pytest.raises(TemplateProblem):
        _one(tmp_path, '{% include "../../../../etc/passwd" %}')
    with pytest.raises(TemplateProblem):
        _one(tmp_path, '{% include "/etc/passwd" %}')
