"""docs/language.md cannot drift: its examples are parsed and checked, its field table
is the code's, and its error catalogue lists every code with a working example."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from relance.channels.templates import catalogue
from relance.dsl.diagnostics import CODES
from relance.dsl.loader import load_text
from relance.dsl.reference import fields_table

DOC = Path(__file__).resolve().parents[2] / "docs" / "language.md"
TEXT = DOC.read_text(encoding="utf-8")
BLOCKS = [(m.group(1).strip(), m.group(2), TEXT[: m.start()].count("\n") + 2)
          for m in re.finditer(r"```rules([^\n]*)\n(.*?)```", TEXT, re.S)]
GOOD = [(body, line) for info, body, line in BLOCKS if info == ""]
WRONG = [(info.removeprefix("expect="), body, line) for info, body, line in BLOCKS if info]
TEMPLATES = catalogue(None)


@pytest.mark.parametrize(("body", "line"), GOOD, ids=[f"line {line}" for _, line in GOOD])
def test_every_example_parses_and_checks_clean(body: str, line: int) -> None:
    loaded = load_text(body, f"docs/language.md@{line}", catalogue=TEMPLATES)
    assert loaded.diagnostics == (), loaded.render()
    assert loaded.policies


@pytest.mark.parametrize(("code", "body", "line"), WRONG, ids=[c for c, _, _ in WRONG])
def test_every_wrong_example_gives_its_code(code: str, body: str, line: int) -> None:
    loaded = load_text(body, f"docs/language.md@{line}", catalogue=TEMPLATES)
    assert [d.code for d in loaded.diagnostics] == [code], loaded.render()


def test_the_error_catalogue_documents_every_code() -> None:
    documented = re.findall(r"^\*\*([EW]\d{3}) — ", TEXT, re.M)
    assert sorted(documented) == sorted(CODES)
    assert len(documented) == len(set(documented))


def test_nearly_every_code_has_an_example() -> None:
    shown = {code for code, _, _ in WRONG}
    # E100 (an unreadable file) and E111 (64 levels of nesting) do not fit on a page,
    # and W306 and W307 need a database.
    assert set(CODES) - shown == {"E100", "E111", "W306", "W307"}


def test_the_field_table_is_the_code_s() -> None:
    section = TEXT.split("<!-- fields:start -->\n", 1)[1].split("\n<!-- fields:end -->", 1)[0]
    assert section == fields_table()


def test_the_design_card_example_is_in_the_reference() -> None:
    example = (Path(__file__).resolve().parents[2] / "rules" / "franchise.rules").read_text(
        encoding="utf-8")
    assert example in TEXT
