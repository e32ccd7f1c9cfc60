"""What every check of `relance check` shares: what it sees of the workspace, and how it
walks a condition (its leaves, its top-level `and` parts, the head of a rule).
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from relance.dsl import ast
from relance.dsl.fields import FieldType

# The field types compared with < <= > >=; the others only with = != and `in`.
ORDERED_TYPES = frozenset({FieldType.DURATION, FieldType.MONEY, FieldType.NUMBER,
                           FieldType.DATE})


@dataclass
class Workspace:
    """What the checks see: every parsed file, the template catalogue if known, and, if
    the store was read, how many open invoices sit on each (policy, rule identity) level
    and the creditors' codes."""

    rule_files: Sequence[ast.RuleFile]
    catalogue: Mapping[str, frozenset[str]] | None = None
    levels: Mapping[tuple[str, str], int] | None = None
    creditors: Collection[str] | None = None
    # Conditions with an unknown field or a type error, so later checks stay quiet.
    broken: set[int] = field(default_factory=set)


def atoms(condition: ast.Condition) -> Iterator[ast.Condition]:
    """Every leaf of a condition (comparisons, flags, `after`...)."""
    if isinstance(condition, ast.And | ast.Or):
        for operand in condition.operands:
            yield from atoms(operand)
    elif isinstance(condition, ast.Not):
        yield from atoms(condition.operand)
    else:
        yield condition


def conjuncts(condition: ast.Condition | None) -> list[ast.Condition]:
    """The parts of a condition joined by `and` at the top: nested `and`s flattened,
    `not not x` read as `x` and `not (a or b)` as `not a and not b`."""
    if condition is None:
        return []
    if isinstance(condition, ast.And):
        return [part for operand in condition.operands for part in conjuncts(operand)]
    if isinstance(condition, ast.Not):
        inner = condition.operand
        if isinstance(inner, ast.Not):
            return conjuncts(inner.operand)
        if isinstance(inner, ast.Or):
            return [part for operand in inner.operands
                    for part in conjuncts(ast.Not(operand, operand.span))]
    return [condition]


def rule_head(rule: ast.Rule) -> ast.Span:
    """Where a message about a whole rule points: `rule NAME` for a named rule, the
    action (which gives its identity) for an unnamed one."""
    if rule.name is None:
        return rule.actions[0].span
    span = rule.span
    return ast.Span(span.file, span.line, span.column, span.line,
                    span.column + len(f"rule {rule.name}"))


def conditions_of(policy: ast.Policy) -> Iterator[tuple[ast.Condition, ast.Rule | None]]:
    """The policy's scope (with no rule) then each rule's condition, with its rule."""
    if policy.scope is not None:
        yield policy.scope, None
    for rule in policy.rules:
        yield rule.condition, rule
