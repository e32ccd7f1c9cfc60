"""The error corpus: each `corpus/NAME.rules` is a wrong rule file and
`corpus/NAME.expected` is exactly what `relance check` prints for it. The files read
like the manual's error catalogue; the message is part of the product.

Regenerate after a deliberate wording change with
`RELANCE_REGEN_CORPUS=1 .venv/bin/python -m pytest tests/dsl/test_corpus.py`,
then read the diff.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from relance.dsl.loader import load_rules

CORPUS = Path(__file__).parent / "corpus"
CASES = sorted(CORPUS.glob("*.rules"))

# The templates the corpus may name, and the channels each exists for.
CATALOGUE = {
    "prevenance": frozenset({"email"}),
    "relance_1": frozenset({"email", "letter"}),
    "relance_2": frozenset({"email"}),
    "amiable_2": frozenset({"letter"}),
    "mise_en_demeure": frozenset({"letter", "email"}),
    "late_alert": frozenset({"notify"}),
}


def render(case: Path) -> str:
    loaded = load_rules([case], root=CORPUS, catalogue=CATALOGUE)
    return loaded.render() + "\n"


def test_the_corpus_is_large_enough_and_complete() -> None:
    assert len(CASES) >= 30
    expected = {path.stem for path in CORPUS.glob("*.expected")}
    assert expected == {path.stem for path in CASES}


@pytest.mark.parametrize("case", CASES, ids=[case.stem for case in CASES])
def test_each_wrong_file_gets_its_exact_message(case: Path) -> None:
    expected_path = case.with_suffix(".expected")
    actual = render(case)
    if os.environ.get("RELANCE_REGEN_CORPUS"):
        expected_path.write_text(actual, encoding="utf-8")
    assert actual == expected_path.read_text(encoding="utf-8")


@pytest.mark.parametrize("case", CASES, ids=[case.stem for case in CASES])
def test_the_file_name_says_which_code_it_shows(case: Path) -> None:
    code = case.stem.split("_")[0].upper()
    loaded = load_rules([case], root=CORPUS, catalogue=CATALOGUE)
    assert [d.code for d in loaded.diagnostics] == [code]
