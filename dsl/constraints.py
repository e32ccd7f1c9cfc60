"""The reasoning behind "can never act": a condition read as a conjunction of simple
constraints (a bound on a duration, money, number or date; a yes/no; an enum or text
value or a list of them), and what such a conjunction says about each field.

It is a sound approximation: `Facts.contradictory` and `Facts.implies` answer yes only
when it is so, and may answer no when they cannot tell. So a check built on them never
cries wolf; it may miss a case.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from relance.dsl import ast
from relance.dsl.check_walk import ORDERED_TYPES
from relance.dsl.fields import FieldType, lookup


@dataclass(frozen=True)
class Bound:
    """`field OP value` on an ordered field, with the value as a comparable key."""

    field: str
    kind: str  # values of different kinds never compare: "days", "bd", "EUR", "number"...
    op: str
    value: Any


@dataclass(frozen=True)
class Equal:
    """`field = v` (positive) or `field != v`, or membership in a set of values."""

    field: str
    values: frozenset[Any]
    positive: bool


Constraint = Bound | Equal
_NEGATED_OP = {"=": "!=", "!=": "=", "<": ">=", "<=": ">", ">": "<=", ">=": "<"}


def _key(value: ast.Scalar) -> tuple[str, Any] | None:
    match value:
        case ast.Duration(count=count, unit="bd"):
            return "bd", count
        case ast.Duration():
            return "days", value.calendar_days
        case ast.MoneyValue(amount=amount, currency=currency):
            return f"money {currency}", amount
        case ast.NumberValue(value=number):
            return "number", number
        case ast.DateValue(value=date):
            return "date", date
        case ast.WordValue(value=word):
            return "word", word.lower()
        case ast.TextValue(value=text):
            return "text", text
        case ast.BoolValue(value=flag):
            return "flag", flag
    return None  # pragma: no cover


def _discrete(kind: str) -> bool:
    return kind in ("days", "bd", "date")


def _step(value: Any, kind: str, direction: int) -> Any:
    if kind == "date":
        return value + dt.timedelta(days=direction)
    return value + direction


def constraint(condition: ast.Condition, negated: bool = False) -> Constraint | None:
    """The simple constraint a leaf condition states, or None if it is not simple."""
    if isinstance(condition, ast.Not):
        return constraint(condition.operand, not negated)
    if isinstance(condition, ast.FlagTest):
        spec = lookup(condition.field.name)
        if spec is None or spec.type is not FieldType.FLAG:
            return None
        return Equal(condition.field.name, frozenset({("flag", True)}), not negated)
    if isinstance(condition, ast.Compare):
        spec = lookup(condition.field.name)
        if spec is None:
            return None
        key = _key(condition.value)
        if key is None:
            return None
        op = _NEGATED_OP[condition.op] if negated else condition.op
        kind, value = key
        if spec.type in ORDERED_TYPES and kind not in ("word", "text", "flag"):
            # A money comparison against another currency is false, never converted:
            # its kind keeps bounds of different currencies apart.
            return Bound(condition.field.name, kind, op, value)
        if spec.type in (FieldType.ENUM, FieldType.TEXT, FieldType.FLAG) and op in ("=", "!="):
            if spec.type is FieldType.ENUM and kind == "text":
                key = ("word", value.lower())
            return Equal(condition.field.name, frozenset({key}), op == "=")
        return None
    if isinstance(condition, ast.InList):
        spec = lookup(condition.field.name)
        if spec is None or spec.type not in (FieldType.ENUM, FieldType.TEXT):
            return None
        keys = set()
        for item in condition.values.items:
            key = _key(item)
            if key is None:
                return None
            if spec.type is FieldType.ENUM and key[0] == "text":
                key = ("word", str(key[1]).lower())
            keys.add(key)
        positive = condition.negated == negated
        return Equal(condition.field.name, frozenset(keys), positive)
    return None


@dataclass
class Interval:
    low: Any = None
    low_strict: bool = False
    high: Any = None
    high_strict: bool = False
    excluded: set[Any] = field(default_factory=set)

    def add(self, op: str, value: Any) -> None:
        if op in (">", ">=", "="):
            strict = op == ">"
            if self.low is None or value > self.low or (value == self.low and strict):
                self.low, self.low_strict = value, strict
        if op in ("<", "<=", "="):
            strict = op == "<"
            if self.high is None or value < self.high or (value == self.high and strict):
                self.high, self.high_strict = value, strict
        if op == "!=":
            self.excluded.add(value)

    def normalised(self, kind: str) -> Interval:
        """Strict bounds made inclusive on whole-day kinds (`> 5d` is `>= 6d`)."""
        if not _discrete(kind):
            return self
        copy = Interval(self.low, self.low_strict, self.high, self.high_strict,
                         set(self.excluded))
        if copy.low is not None and copy.low_strict:
            copy.low, copy.low_strict = _step(copy.low, kind, 1), False
        if copy.high is not None and copy.high_strict:
            copy.high, copy.high_strict = _step(copy.high, kind, -1), False
        return copy

    def empty(self, kind: str) -> bool:
        interval = self.normalised(kind)
        low, high = interval.low, interval.high
        if low is None or high is None:
            return False
        if low > high:
            return True
        if low == high:
            return interval.low_strict or interval.high_strict or low in interval.excluded
        return False

    def implies(self, op: str, value: Any, kind: str) -> bool:
        """Does every point of this interval satisfy `OP value`?"""
        interval = self.normalised(kind)
        low, high = interval.low, interval.high
        if op == ">=":
            return low is not None and low >= value
        if op == ">":
            return low is not None and (low > value or (low == value and interval.low_strict))
        if op == "<=":
            return high is not None and high <= value
        if op == "<":
            return high is not None and (
                high < value or (high == value and interval.high_strict))
        if op == "=":
            return (low is not None and low == high == value and not interval.low_strict
                    and not interval.high_strict)
        if op == "!=":
            return value in interval.excluded or (
                (low is not None and (low > value or (low == value and interval.low_strict)))
                or (high is not None and (
                    high < value or (high == value and interval.high_strict))))
        return False  # pragma: no cover


@dataclass
class Facts:
    """What a conjunction of constraints says about each field."""

    intervals: dict[tuple[str, str], Interval] = field(default_factory=dict)
    allowed: dict[str, set[Any]] = field(default_factory=dict)
    excluded: dict[str, set[Any]] = field(default_factory=dict)
    parts: list[ast.Condition] = field(default_factory=list)

    @classmethod
    def of(cls, parts: Iterable[ast.Condition]) -> Facts:
        facts = cls()
        for part in parts:
            facts.parts.append(part)
            found = constraint(part)
            if isinstance(found, Bound):
                interval = facts.intervals.setdefault((found.field, found.kind), Interval())
                interval.add(found.op, found.value)
            elif isinstance(found, Equal):
                if found.positive:
                    previous = facts.allowed.get(found.field)
                    facts.allowed[found.field] = (
                        set(found.values) if previous is None else previous & found.values)
                else:
                    facts.excluded.setdefault(found.field, set()).update(found.values)
        return facts

    def contradictory(self) -> bool:
        if any(interval.empty(kind) for (_f, kind), interval in self.intervals.items()):
            return True
        for name, allowed in self.allowed.items():
            remaining = allowed - self.excluded.get(name, set())
            if not remaining:
                return True
        # A yes/no field excluded from being true is false, and the other way round.
        for name, excluded in self.excluded.items():
            spec = lookup(name)
            if spec is not None and spec.type is FieldType.FLAG and len(excluded) >= 2:
                return True
        return False

    def implies(self, condition: ast.Condition) -> bool:
        """Is `condition` sure to hold whenever all these facts do? (Sound, incomplete.)"""
        if any(condition == part for part in self.parts):
            return True
        if isinstance(condition, ast.Or):
            return any(self.implies(operand) for operand in condition.operands)
        if isinstance(condition, ast.And):
            return all(self.implies(operand) for operand in condition.operands)
        found = constraint(condition)
        if isinstance(found, Bound):
            interval = self.intervals.get((found.field, found.kind))
            return interval is not None and interval.implies(found.op, found.value, found.kind)
        if isinstance(found, Equal):
            allowed = self.allowed.get(found.field)
            excluded = self.excluded.get(found.field, set())
            if found.positive:
                return allowed is not None and (allowed - excluded) <= found.values
            if allowed is not None and not ((allowed - excluded) & found.values):
                return True
            return found.values <= excluded
        return False
