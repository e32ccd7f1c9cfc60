"""Whatever the text, the parser, checker and formatter answer with diagnostics, never
with an exception: random text, random tokens of the language, and valid files with
characters deleted, inserted or swapped."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from relance.dsl.checker import check_policies
from relance.dsl.diagnostics import CODES, Diagnostic
from relance.dsl.formatter import format_file
from relance.dsl.parser import parse_text
from tests.dsl.helpers import EXAMPLE

VALID = EXAMPLE.read_text(encoding="utf-8")
WORDS = ["policy", "for", "rule", "when", "then", "and", "or", "not", "in", "after", "by",
         "send", "letter", "email", "with", "tone", "call", "priority", "notify",
         "escalate", "to", "requires", "approval", "every", "per", "invoice", "true",
         "overdue", "paused", "tags", "segment", "=", ">=", "<", "!=", "(", ")", "[", "]",
         ",", ":", "15d", "2w", "10bd", "1250.50", "EUR", "2026-01-31", "'x'", "'vip'",
         "#c\n", "\n", "r1", "15", "-3d", "attr.x"]


def run_everything(text: str) -> list[Diagnostic]:
    rule_file, diagnostics = parse_text(text, "fuzz.rules")
    assert all(d.code in CODES for d in diagnostics)
    assert all(d.span.file == "fuzz.rules" for d in diagnostics)
    if rule_file is None:
        assert diagnostics and diagnostics[0].is_error
        assert all(d.render(text) for d in diagnostics)
        return diagnostics
    found = check_policies([rule_file])
    assert all(d.code in CODES for d in found)
    for d in [*diagnostics, *found]:
        assert d.render(text)
    if not any(d.is_error for d in diagnostics):
        formatted = format_file(rule_file)
        again, problems = parse_text(formatted, "fuzz.rules")
        assert again is not None and not problems
        assert again.policies == rule_file.policies
        assert sorted(c.text.rstrip() for c in again.comments) == sorted(
            c.text.rstrip() for c in rule_file.comments)
        assert format_file(again) == formatted
    return [*diagnostics, *found]


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_random_text(text: str) -> None:
    run_everything(text)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(WORDS), max_size=40))
def test_random_sequences_of_the_language_s_words(words: list[str]) -> None:
    run_everything(" ".join(words))


@st.composite
def mutated(draw: st.DrawFn) -> str:
    text = VALID
    for _ in range(draw(st.integers(1, 4))):
        position = draw(st.integers(0, len(text)))
        kind = draw(st.sampled_from(["delete", "insert", "word", "swap"]))
        if kind == "delete":
            end = position + draw(st.integers(1, 8))
            text = text[:position] + text[end:]
        elif kind == "insert":
            text = text[:position] + draw(st.text(min_size=1, max_size=3)) + text[position:]
        elif kind == "word":
            text = text[:position] + " " + draw(st.sampled_from(WORDS)) + " " + text[position:]
        elif position + 1 < len(text):
            text = (text[:position] + text[position + 1] + text[position]
                    + text[position + 2:])
    return text


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutated_valid_files(text: str) -> None:
    run_everything(text)


def test_deep_nesting_is_a_diagnostic_not_a_crash() -> None:
    redundant = "policy p when " + "(" * 5000 + "paused" + ")" * 5000 + " then call"
    assert parse_text(redundant, "fuzz.rules")[1] == []
    for condition in ("not " * 3000 + "paused", "a and (" * 3000 + "b" + ")" * 3000):
        rule_file, diagnostics = parse_text(f"policy p when {condition} then call", "f")
        assert rule_file is None
        assert [d.code for d in diagnostics] == ["E111"]
