"""Every message the language can print, exactly as a user reads it. The error corpus
(`corpus/`) holds one file per code; `messages.golden` holds the other wordings, each
as `### title`, the rule text, `---`, then what `relance check` prints for it.

Regenerate after a deliberate wording change with
`RELANCE_REGEN_CORPUS=1 .venv/bin/python -m pytest tests/dsl/test_messages.py`,
then read the diff.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from relance.dsl.loader import load_text

GOLDEN = Path(__file__).parent / "messages.golden"
CATALOGUE = {"relance_1": frozenset({"email", "sms"})}


def cases() -> list[tuple[str, str, str]]:
    found = []
    for section in GOLDEN.read_text(encoding="utf-8").split("### ")[1:]:
        title, rest = section.split("\n", 1)
        text, expected = rest.split("\n---\n", 1)
        found.append((title, text, expected.rstrip("\n")))
    return found


def render(text: str) -> str:
    return load_text(text, "t.rules", catalogue=CATALOGUE).render()


def test_regenerate_when_asked() -> None:
    if os.environ.get("RELANCE_REGEN_CORPUS"):
        GOLDEN.write_text("\n".join(f"### {title}\n{text}\n---\n{render(text)}\n"
                                    for title, text, _ in cases()), encoding="utf-8")


@pytest.mark.parametrize(("text", "expected"), [(t, e) for _, t, e in cases()],
                         ids=[title for title, _, _ in cases()])
def test_message(text: str, expected: str) -> None:
    assert render(text) == expected


def test_a_control_character_is_shown_by_its_code_and_masked_in_the_line() -> None:
    assert render("policy p when paused \x01 then call") == (
        "t.rules:1:22: error E103: unexpected character 'U+0001'\n"
        "  1 | policy p when paused ? then call\n"
        "    |                      ^")
