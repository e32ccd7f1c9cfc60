"""Shared helpers for the language tests."""

from __future__ import annotations

from pathlib import Path

from relance.dsl import ast
from relance.dsl.loader import LoadedRules, load_text
from relance.dsl.parser import parse_text

EXAMPLE = Path(__file__).resolve().parents[2] / "rules" / "franchise.rules"


def parse_ok(text: str, path: str = "t.rules") -> ast.RuleFile:
    """Parse text that must be free of syntax errors."""
    rule_file, diagnostics = parse_text(text, path)
    assert rule_file is not None and not diagnostics, [d.render(text) for d in diagnostics]
    return rule_file


def only_rule(text: str) -> ast.Rule:
    (policy,) = parse_ok(text).policies
    (rule,) = policy.rules
    return rule


def condition(text: str) -> ast.Condition:
    return only_rule(f"policy p\nwhen {text} then call").condition


def report(text: str, path: str = "t.rules",
           catalogue: dict[str, frozenset[str]] | None = None) -> str:
    """Every diagnostic of a text, rendered as `relance check` prints it."""
    loaded: LoadedRules = load_text(text, path, catalogue=catalogue)
    return loaded.render()


def codes(text: str, catalogue: dict[str, frozenset[str]] | None = None) -> list[str]:
    return [d.code for d in load_text(text, "t.rules", catalogue=catalogue).diagnostics]
