"""The "can never act" analysis is sound: when it says a condition never holds, no
invoice satisfies it; when it says one condition implies another, every invoice that
satisfies the first satisfies the second. Checked by brute force over a small world."""

from __future__ import annotations

import itertools
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from relance.dsl import ast
from relance.dsl.check_walk import conjuncts
from relance.dsl.constraints import Facts

SEGMENTS = ("a", "b", "c")
WORLD = [
    {"overdue": overdue, "risk": risk, "segment": segment, "paused": paused}
    for overdue, risk, segment, paused in itertools.product(
        range(-3, 33), range(0, 8), (*SEGMENTS, "d"), (False, True))
]
OPS = ("=", "!=", "<", "<=", ">", ">=")


def holds(condition: ast.Condition, invoice: dict[str, object]) -> bool:
    """A reference evaluator for the few fields of the world."""
    match condition:
        case ast.And(operands=operands):
            return all(holds(o, invoice) for o in operands)
        case ast.Or(operands=operands):
            return any(holds(o, invoice) for o in operands)
        case ast.Not(operand=operand):
            return not holds(operand, invoice)
        case ast.FlagTest(field=ref):
            return bool(invoice[ref.name])
        case ast.InList(field=ref, values=values, negated=negated):
            inside = invoice[ref.name] in {v.value for v in values.items}  # type: ignore[union-attr]
            return inside != negated
        case ast.Compare(field=ref, op=op, value=value):
            left = invoice[ref.name]
            if isinstance(value, ast.Duration):
                right: object = value.calendar_days
            elif isinstance(value, ast.NumberValue | ast.WordValue | ast.BoolValue):
                right = value.value
            else:  # pragma: no cover
                raise AssertionError(value)
            results: dict[str, bool] = {
                "=": left == right, "!=": left != right,
                "<": left < right, "<=": left <= right,  # type: ignore[operator]
                ">": left > right, ">=": left >= right,  # type: ignore[operator]
            }
            return results[op]
    raise AssertionError(condition)  # pragma: no cover


leaves = st.one_of(
    st.builds(lambda op, n, unit: ast.Compare(
        ast.FieldRef("overdue"), op, ast.Duration(n if unit == "d" else n // 7 or 1, unit)),
        st.sampled_from(OPS), st.integers(-2, 32), st.sampled_from(["d", "w"])),
    st.builds(lambda op, n: ast.Compare(ast.FieldRef("risk"), op, ast.NumberValue(Decimal(n))),
              st.sampled_from(OPS), st.integers(0, 7)),
    st.builds(lambda op, s: ast.Compare(ast.FieldRef("segment"), op, ast.WordValue(s)),
              st.sampled_from(["=", "!="]), st.sampled_from(SEGMENTS)),
    st.builds(lambda items, negated: ast.InList(
        ast.FieldRef("segment"), ast.ListValue(tuple(ast.WordValue(i) for i in items)),
        negated), st.lists(st.sampled_from(SEGMENTS), max_size=3), st.booleans()),
    st.just(ast.FlagTest(ast.FieldRef("paused"))),
    st.builds(lambda b: ast.Compare(ast.FieldRef("paused"), "=", ast.BoolValue(b)),
              st.booleans()),
)
parts = st.one_of(leaves, leaves.map(lambda c: ast.Not(c)),
                  st.lists(leaves, min_size=2, max_size=2).map(
                      lambda cs: ast.Or(tuple(cs))))
conjunctions = st.lists(parts, min_size=1, max_size=4).map(
    lambda cs: cs[0] if len(cs) == 1 else ast.And(tuple(cs)))


@settings(max_examples=400, deadline=None)
@given(conjunctions)
def test_a_condition_said_to_never_hold_never_holds(condition: ast.Condition) -> None:
    if Facts.of(conjuncts(condition)).contradictory():
        assert not any(holds(condition, invoice) for invoice in WORLD)


@settings(max_examples=400, deadline=None)
@given(conjunctions, conjunctions)
def test_an_implied_condition_holds_whenever_its_premise_does(
        premise: ast.Condition, conclusion: ast.Condition) -> None:
    facts = Facts.of(conjuncts(premise))
    if all(facts.implies(part) for part in conjuncts(conclusion)):
        for invoice in WORLD:
            if holds(premise, invoice):
                assert holds(conclusion, invoice), invoice


def test_the_analysis_does_find_things() -> None:
    overdue = ast.FieldRef("overdue")
    assert Facts.of([ast.Compare(overdue, ">=", ast.Duration(30, "d")),
                      ast.Compare(overdue, "<", ast.Duration(10, "d"))]).contradictory()
    assert Facts.of([ast.Compare(overdue, ">=", ast.Duration(45, "d"))]).implies(
        ast.Compare(overdue, ">=", ast.Duration(2, "w")))
    not_paused_or_disputed = ast.Not(ast.Or((ast.FlagTest(ast.FieldRef("paused")),
                                             ast.FlagTest(ast.FieldRef("disputed")))))
    assert Facts.of(conjuncts(not_paused_or_disputed)).implies(
        ast.Not(ast.FlagTest(ast.FieldRef("paused"))))
