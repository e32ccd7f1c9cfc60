"""`relance fmt`: one canonical layout, idempotent, comments kept, meaning unchanged."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from relance.dsl import ast
from relance.dsl.formatter import format_file, format_text
from relance.dsl.parser import parse_text
from tests.dsl.helpers import EXAMPLE, parse_ok
from tests.dsl.strategies import rule_files


def fmt(text: str) -> str:
    formatted, diagnostics = format_text(text, "t.rules")
    assert formatted is not None, [d.render(text) for d in diagnostics]
    return formatted


def test_the_franchise_example_is_already_canonical() -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    assert fmt(text) == text


def test_canonical_layout() -> None:
    messy = """# The network
policy   franchise   for segment=franchisee   # who
rule relance_1 :   when overdue>=1d and(not paused)   then send email "relance_1"
   with tone soft , every 2w,requires approval
  when overdue >= 15d and not paused
  then send letter 'amiable_2'
rule  both : when (paused or disputed) and not (promised or in_plan) then call and
 notify sales_rep 'late_alert'   # trailing
# the end
"""
    assert fmt(messy) == """# The network
policy franchise for segment = franchisee  # who

rule relance_1:
  when overdue >= 1d and not paused
  then send email 'relance_1' with tone soft, requires approval, every 2w

when overdue >= 15d and not paused then send letter 'amiable_2'

rule both:
  when (paused or disputed) and not (promised or in_plan)
  then call and notify sales_rep 'late_alert'  # trailing

# the end
"""


def test_comments_inside_a_rule_move_above_it() -> None:
    text = ("policy p\n\nrule r:\n  when paused  # why this\n    and disputed\n"
            "  then call\n")
    assert fmt(text) == ("policy p\n\n# why this\nrule r:\n  when paused and disputed\n"
                         "  then call\n")


def test_parentheses_only_where_the_meaning_needs_them() -> None:
    assert "when (a or b) and c or not (d and e) then" in fmt(
        "policy p when ((a or b) and (c)) or (not (d and e)) then call")
    # Written grouping that changes nothing in the tree is dropped; grouping that the
    # tree records (an `and` inside an `and`) is kept.
    assert "when a and (b and c) then" in fmt("policy p when a and (b and c) then call")


def test_a_file_with_errors_is_not_rewritten() -> None:
    formatted, diagnostics = format_text("policy p when overdue >= 15days then call", "t")
    assert formatted is None
    assert [d.code for d in diagnostics] == ["E105"]


def test_quotes_texts_holding_a_quote_with_double_quotes() -> None:
    assert "'vip' in tags" in fmt("policy p when \"vip\" in tags then call")
    assert "attr.name = \"l'atelier\"" in fmt("policy p when attr.name = \"l'atelier\" then call")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rule_files)
def test_printing_any_tree_and_parsing_it_gives_the_same_tree(tree: ast.RuleFile) -> None:
    text = format_file(tree)
    parsed, diagnostics = parse_text(text, "gen.rules")
    assert not diagnostics, [d.render(text) for d in diagnostics]
    assert parsed is not None
    assert parsed == tree
    assert format_file(parsed) == text


@st.composite
def commented_files(draw: st.DrawFn) -> str:
    """A generated file with comments put on their own lines and at line ends."""
    lines = format_file(draw(rule_files)).splitlines()
    out = []
    for index, line in enumerate(lines):
        if draw(st.integers(0, 4)) == 0:
            out.append(f"# before {index}")
        suffix = f"  # end {index}" if line.strip() and draw(st.integers(0, 4)) == 0 else ""
        out.append(line + suffix)
    if draw(st.booleans()):
        out.append("# last")
    return "\n".join(out) + "\n"


@settings(max_examples=100, deadline=None)
@given(commented_files())
def test_formatting_keeps_comments_and_meaning_and_is_idempotent(text: str) -> None:
    once = fmt(text)
    assert fmt(once) == once
    assert parse_ok(once).policies == parse_ok(text).policies
    comments = [c.text for c in parse_ok(text).comments]
    assert sorted(c.text for c in parse_ok(once).comments) == sorted(comments)


@st.composite
def scrambled_files(draw: st.DrawFn) -> str:
    """A generated file re-laid out token by token: random spaces, line breaks and
    comments between any two tokens."""
    from relance.dsl.parser import _lark

    text = format_file(draw(rule_files))
    tokens = [token.value for token in _lark().lex(text)]
    out = []
    for index, token in enumerate(tokens):
        out.append(token)
        out.append(draw(st.sampled_from([" ", "\n", "   \n\t ", f"  # c{index}\n"])))
    return "".join(out)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scrambled_files())
def test_any_layout_with_comments_anywhere_formats_stably(text: str) -> None:
    once = fmt(text)
    assert fmt(once) == once
    assert parse_ok(once).policies == parse_ok(text).policies
    assert sorted(c.text for c in parse_ok(once).comments) == sorted(
        c.text for c in parse_ok(text).comments)


def test_windows_line_endings_and_a_byte_order_mark_are_read_and_normalised() -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    windows = "\ufeff" + text.replace("\n", "\r\n")
    assert fmt(windows) == text
    assert parse_ok(windows).policies == parse_ok(text).policies
