"""`relance check`: what the grammar cannot see. Each check is a small function in a list
(`POLICY_CHECKS`, `WORKSPACE_CHECKS`) that yields diagnostics; `check_policies` runs them
all. A fault is reported once, where it starts: a condition with an unknown field is not
also reported as never holding.

"Can never act" is found by a sound approximation (it never cries wolf, it may miss a
case): a condition is read as a conjunction of simple constraints (a bound on a
duration, money, number or date; a yes/no; an enum or text value, a list), and

- an **empty range** is a conjunction whose constraints on one field cannot all hold
  (`overdue >= 30d and overdue < 10d`, `paused and not paused`, `stage = amicable and
  stage = litigation`), in the rule alone or together with the policy's `for`;
- a rule is **shadowed** when a later rule of the same policy is a conjunction whose
  every part is implied by the earlier rule's parts (the same sub-condition written
  again, or a looser bound on the same field: `overdue >= 45d` implies
  `overdue >= 15d`). The later rule then holds whenever the earlier one does, and since
  only the last candidate acts, the earlier level is always jumped over.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from relance.dsl import ast
from relance.dsl.diagnostics import Diagnostic, error, suggestion, warning
from relance.dsl.fields import CUSTOM_PREFIX, FIELDS, FieldSpec, FieldType, lookup

ORDERED_TYPES = frozenset({FieldType.DURATION, FieldType.MONEY, FieldType.NUMBER,
                           FieldType.DATE})
OUTBOUND = (ast.Send, ast.CallTask)

_TYPE_WORDS = {
    FieldType.DURATION: "a duration",
    FieldType.MONEY: "money",
    FieldType.NUMBER: "a number",
    FieldType.DATE: "a date",
    FieldType.TEXT: "text",
    FieldType.ENUM: "a word from a set of values",
    FieldType.FLAG: "yes/no",
    FieldType.TAGS: "a set of words",
}
_EXAMPLES = {
    FieldType.DURATION: "15d",
    FieldType.MONEY: "500 EUR",
    FieldType.NUMBER: "50",
    FieldType.DATE: "2026-01-31",
    FieldType.TEXT: "'north'",
    FieldType.ENUM: "franchisee",
    FieldType.FLAG: "true",
}


@lru_cache(maxsize=1)
def currencies() -> frozenset[str]:
    """ISO 4217 codes known to babel (the checker refuses others in money literals)."""
    from babel.numbers import list_currencies

    return frozenset(list_currencies())


# Suggested first: a misspelt "EUO" means EUR, not the obsolete European unit XEU.
COMMON_CURRENCIES = ("EUR", "USD", "GBP", "CHF", "CAD", "AUD", "JPY", "CNY", "SEK", "NOK",
                     "DKK", "PLN", "CZK", "HUF", "RON", "MAD", "TND", "XOF", "XAF", "XPF")


def currency_hint(code: str) -> str | None:
    return suggestion(code, COMMON_CURRENCIES) or suggestion(code, currencies())


@dataclass
class Workspace:
    """What the checks see: every parsed file, the template catalogue if known, and how
    many open invoices sit on each (policy, rule identity) level if the store was read."""

    rule_files: Sequence[ast.RuleFile]
    catalogue: Mapping[str, frozenset[str]] | None = None
    levels: Mapping[tuple[str, str], int] | None = None
    # Conditions with an unknown field or a type error, so later checks stay quiet.
    broken: set[int] = field(default_factory=set)


PolicyCheck = Callable[[ast.Policy, Workspace], Iterable[Diagnostic]]
WorkspaceCheck = Callable[[Workspace], Iterable[Diagnostic]]


def check_policies(
    rule_files: Sequence[ast.RuleFile],
    catalogue: Mapping[str, frozenset[str]] | None = None,
    levels: Mapping[tuple[str, str], int] | None = None,
) -> list[Diagnostic]:
    """Run every check over the parsed files of a workspace; returns the diagnostics.

    `catalogue` (template name -> channels) enables the template check; `levels`
    ((policy, rule identity) -> open invoices sitting there) enables the check of
    levels whose rule was removed."""
    workspace = Workspace(rule_files, catalogue, levels)
    found: list[Diagnostic] = []
    for rule_file in rule_files:
        if not rule_file.policies:
            found.append(warning("W305", "this file has no policy: its rules would never run",
                                 ast.Span(rule_file.path, 0, 0),
                                 "start it with 'policy NAME'"))
        for policy in rule_file.policies:
            for check in POLICY_CHECKS:
                found.extend(check(policy, workspace))
    for workspace_check in WORKSPACE_CHECKS:
        found.extend(workspace_check(workspace))
    return found


def check_rule_file(rule_file: ast.RuleFile,
                    catalogue: Mapping[str, frozenset[str]] | None = None) -> list[Diagnostic]:
    """Check one file on its own."""
    return check_policies([rule_file], catalogue)


# --------------------------------------------------------------------------- walking


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


def _conditions(policy: ast.Policy) -> Iterator[tuple[ast.Condition, ast.Rule | None]]:
    if policy.scope is not None:
        yield policy.scope, None
    for rule in policy.rules:
        yield rule.condition, rule


# --------------------------------------------------------------------------- types


def _value_type(value: ast.Scalar) -> str:
    match value:
        case ast.Duration():
            return "duration"
        case ast.MoneyValue():
            return "money"
        case ast.NumberValue():
            return "number"
        case ast.DateValue():
            return "date"
        case ast.TextValue():
            return "text"
        case ast.WordValue():
            return "word"
        case ast.BoolValue():
            return "flag"
    return "value"  # pragma: no cover


_VALUE_WORDS = {"duration": "a duration", "money": "money", "number": "a number",
                "date": "a date", "text": "a quoted text", "word": "a word",
                "flag": "true/false"}
_ACCEPTS: dict[FieldType, frozenset[str]] = {
    FieldType.DURATION: frozenset({"duration"}),
    FieldType.MONEY: frozenset({"money"}),
    FieldType.NUMBER: frozenset({"number"}),
    FieldType.DATE: frozenset({"date"}),
    FieldType.TEXT: frozenset({"text", "word"}),
    FieldType.ENUM: frozenset({"text", "word"}),
    FieldType.FLAG: frozenset({"flag"}),
    FieldType.TAGS: frozenset(),
}


def _show(value: ast.Scalar) -> str:
    match value:
        case ast.Duration():
            return str(value)
        case ast.MoneyValue():
            return f"{value.amount} {value.currency}"
        case ast.NumberValue():
            return str(value.value)
        case ast.DateValue():
            return value.value.isoformat()
        case ast.TextValue():
            return f"'{value.value}'"
        case ast.WordValue():
            return value.value
        case ast.BoolValue():
            return "true" if value.value else "false"
    return "?"  # pragma: no cover


def _unknown_field(ref: ast.FieldRef) -> Diagnostic:
    hint = suggestion(ref.name, FIELDS)
    if hint is None and "." in ref.name and not ref.name.startswith(CUSTOM_PREFIX):
        hint = f"custom columns are written {CUSTOM_PREFIX}NAME"
    return error("E201", f"unknown field '{ref.name}'", ref.span, hint)


def _value_fits(spec: FieldSpec, value: ast.Scalar, subject: str) -> Iterator[Diagnostic]:
    """Is `value` of the field's type, and a known value for it?"""
    kind = _value_type(value)
    if kind not in _ACCEPTS[spec.type]:
        if spec.type is FieldType.DURATION and isinstance(value, ast.NumberValue):
            number = _show(value)
            yield error("E202", f"'{spec.name}' is a duration: '{number}' needs a unit",
                        value.span,
                        f"write {number}d (days), {number}w (weeks) or {number}bd "
                        "(business days)")
        elif spec.type is FieldType.MONEY and isinstance(value, ast.NumberValue):
            yield error("E202", f"'{spec.name}' is money: '{_show(value)}' needs a currency",
                        value.span, f"write {_show(value)} EUR (or another currency code)")
        elif isinstance(value, ast.WordValue) and lookup(value.value) is not None:
            yield error("E202", f"'{spec.name}' is compared with the field '{value.value}'",
                        value.span, "the right side of a comparison is a value, never a field")
        else:
            example = _EXAMPLES.get(spec.type)
            yield error(
                "E202",
                f"'{spec.name}' is {_TYPE_WORDS[spec.type]}, not {_VALUE_WORDS[kind]} "
                f"({subject} {_show(value)})",
                value.span,
                f"compare it with {_TYPE_WORDS[spec.type]}, such as {example}"
                if example else None,
            )
        return
    if isinstance(value, ast.WordValue | ast.TextValue):
        word = value.value
        if spec.name == "currency":
            if word.upper() not in currencies():
                yield error("E204", f"unknown currency '{word}'", value.span,
                            currency_hint(word.upper()))
        elif spec.values and word.lower() not in spec.values:
            choices = ", ".join(spec.values)
            yield error("E203", f"'{spec.name}' is never '{word}': it is one of {choices}",
                        value.span, suggestion(word.lower(), spec.values))


def _money_currency(value: ast.Scalar) -> Iterator[Diagnostic]:
    if isinstance(value, ast.MoneyValue) and value.currency not in currencies():
        yield error("E204", f"unknown currency '{value.currency}'", value.span,
                    currency_hint(value.currency))


def _check_atom(atom: ast.Condition) -> list[Diagnostic]:
    """The type errors of one leaf condition."""
    found: list[Diagnostic] = []
    match atom:
        case ast.Compare(field=ref, op=op, value=value):
            found.extend(_money_currency(value))
            spec = lookup(ref.name)
            if spec is None:
                return [_unknown_field(ref), *found]
            if spec.type is FieldType.TAGS:
                found.append(error(
                    "E206", f"'{ref.name}' is a set of words: it cannot be compared with '{op}'",
                    atom.span, f"test one word with: {_show(value)} in {ref.name}"))
                return found
            if found:
                return found
            found.extend(_value_fits(spec, value, op))
            if not found and op not in ("=", "!=") and spec.type not in ORDERED_TYPES:
                found.append(error(
                    "E205",
                    f"'{op}' does not apply to '{ref.name}' ({_TYPE_WORDS[spec.type]})",
                    atom.span, "use = or != (or 'in [...]')"))
        case ast.InList(field=ref, values=values):
            for item in values.items:
                found.extend(_money_currency(item))
            spec = lookup(ref.name)
            if spec is None:
                return [_unknown_field(ref), *found]
            if spec.type is FieldType.TAGS:
                sample = _show(values.items[0]) if values.items else "'vip'"
                found.append(error(
                    "E206", f"'{ref.name}' is a set of words: test one word at a time",
                    atom.span, f"write {sample} in {ref.name}"))
                return found
            if spec.type is FieldType.FLAG:
                found.append(error("E205", f"'in' does not apply to '{ref.name}' (yes/no)",
                                   atom.span, f"write {ref.name} or not {ref.name}"))
                return found
            for item in values.items:
                found.extend(_value_fits(spec, item, "in"))
        case ast.HasTag(value=value, field=ref):
            spec = lookup(ref.name)
            left = lookup(value.value) if isinstance(value, ast.WordValue) else None
            if spec is None and left is not None:
                # `segment in franchisee`: a field tested against one bare word.
                found.append(error(
                    "E206", f"'{value.value}' is a field: 'in' needs a list after it",
                    ref.span, f"write {value.value} in [{ref.name}]"))
            elif spec is None:
                return [_unknown_field(ref)]
            elif spec.type is not FieldType.TAGS:
                shown = _show(value)
                found.append(error(
                    "E206", f"'{ref.name}' is not a set of words: 'in' needs a list here",
                    ref.span,
                    f"write {ref.name} in [{shown}]" if left is None else None))
        case ast.FlagTest(field=ref):
            spec = lookup(ref.name)
            if spec is None:
                return [_unknown_field(ref)]
            if spec.type is not FieldType.FLAG:
                example = _EXAMPLES.get(spec.type, "...")
                if spec.type is FieldType.TAGS:
                    hint = f"test one word: 'vip' in {ref.name}"
                elif spec.type in ORDERED_TYPES:
                    hint = f"for example: {ref.name} >= {example}"
                else:
                    hint = f"for example: {ref.name} = {example}"
                found.append(error(
                    "E207", f"'{ref.name}' is {_TYPE_WORDS[spec.type]}, not yes/no: "
                    "compare it with a value", ref.span, hint))
        case _:
            pass
    return found


def check_types(policy: ast.Policy, workspace: Workspace) -> Iterator[Diagnostic]:
    """Unknown fields, values of the wrong type, unknown enum values and currencies."""
    for condition, _rule in _conditions(policy):
        bad = False
        for atom in atoms(condition):
            problems = _check_atom(atom)
            if problems:
                bad = True
                yield from problems
        if bad:
            workspace.broken.add(id(condition))


# --------------------------------------------------------------------------- references


def check_after_references(policy: ast.Policy, workspace: Workspace) -> Iterator[Diagnostic]:
    """`after X`: X must be a rule of this policy, and an earlier one."""
    order = {rule.identity: index for index, rule in enumerate(policy.rules)}
    for condition, owner in _conditions(policy):
        for atom in atoms(condition):
            if not isinstance(atom, ast.After):
                continue
            if atom.rule not in order:
                hint = suggestion(atom.rule, order)
                if hint is None and order:
                    hint = "the rules of this policy are: " + ", ".join(
                        f"'{name}'" for name in order)
                yield error("E210",
                            f"no rule '{atom.rule}' in policy '{policy.name}'",
                            atom.span, hint)
                workspace.broken.add(id(condition))
                continue
            if owner is None:
                continue
            position = order[atom.rule]
            own = order.get(owner.identity, -1)
            if position == own and owner.options.every is None:
                yield error("E211",
                            f"rule '{owner.identity}' waits for itself, so it can never act",
                            atom.span,
                            "add ', every DURATION' to repeat it, or name an earlier rule")
            elif position > own:
                yield error(
                    "E211",
                    f"rule '{owner.identity}' waits for '{atom.rule}', which comes later: "
                    "it can never act",
                    atom.span,
                    "levels only move forward; 'after' must name an earlier rule")


def check_templates(policy: ast.Policy, workspace: Workspace) -> Iterator[Diagnostic]:
    """Templates must exist for the channel they are sent on (when a catalogue is known)."""
    catalogue = workspace.catalogue
    if catalogue is None:
        return
    for rule in policy.rules:
        for action in rule.actions:
            channel: str
            if isinstance(action, ast.Send):
                channel, template = action.channel, action.template
            elif isinstance(action, ast.Notify):
                channel, template = "notify", action.template
            else:
                continue
            channels = catalogue.get(template)
            if channels is None:
                yield error("E212", f"unknown template '{template}'", action.span,
                            suggestion(template, catalogue))
            elif channel not in channels:
                have = ", ".join(sorted(channels)) or "no channel"
                yield error("E212",
                            f"template '{template}' has no {channel} version (it has: {have})",
                            action.span,
                            f"add {template}/{channel}.LANG.EXT to the templates, "
                            "or send it on another channel")


def check_duplicate_rules(policy: ast.Policy, workspace: Workspace) -> Iterator[Diagnostic]:
    """Two rules with one identity in a policy."""
    seen: dict[str, ast.Rule] = {}
    for rule in policy.rules:
        first = seen.get(rule.identity)
        if first is not None:
            hint = (f"the first is at line {first.span.line}; "
                    + ("rename one" if rule.name else "name one with 'rule NAME:'"))
            yield error("E220",
                        f"two rules are '{rule.identity}' in policy '{policy.name}'",
                        rule_head(rule), hint)
        else:
            seen[rule.identity] = rule


def check_duplicate_policies(workspace: Workspace) -> Iterator[Diagnostic]:
    """Policy names are unique across the workspace."""
    seen: dict[str, ast.Policy] = {}
    for rule_file in workspace.rule_files:
        for policy in rule_file.policies:
            first = seen.get(policy.name)
            if first is not None:
                span = policy.span
                header = ast.Span(span.file, span.line, span.column, span.line,
                                  span.column + len(f"policy {policy.name}"))
                yield error("E221", f"a second policy is named '{policy.name}'", header,
                            f"the first is at {first.span}; rename one")
            else:
                seen[policy.name] = policy


# --------------------------------------------------------------------------- constraints


@dataclass(frozen=True)
class _Bound:
    """`field OP value` on an ordered field, with the value as a comparable key."""

    field: str
    kind: str  # values of different kinds never compare: "days", "bd", "EUR", "number"...
    op: str
    value: Any


@dataclass(frozen=True)
class _Equal:
    """`field = v` (positive) or `field != v`, or membership in a set of values."""

    field: str
    values: frozenset[Any]
    positive: bool


_Constraint = _Bound | _Equal
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


def constraint(condition: ast.Condition, negated: bool = False) -> _Constraint | None:
    """The simple constraint a leaf condition states, or None if it is not simple."""
    if isinstance(condition, ast.Not):
        return constraint(condition.operand, not negated)
    if isinstance(condition, ast.FlagTest):
        spec = lookup(condition.field.name)
        if spec is None or spec.type is not FieldType.FLAG:
            return None
        return _Equal(condition.field.name, frozenset({("flag", True)}), not negated)
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
            return _Bound(condition.field.name, kind, op, value)
        if spec.type in (FieldType.ENUM, FieldType.TEXT, FieldType.FLAG) and op in ("=", "!="):
            if spec.type is FieldType.ENUM and kind == "text":
                key = ("word", value.lower())
            return _Equal(condition.field.name, frozenset({key}), op == "=")
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
        return _Equal(condition.field.name, frozenset(keys), positive)
    return None


@dataclass
class _Interval:
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

    def normalised(self, kind: str) -> _Interval:
        """Strict bounds made inclusive on whole-day kinds (`> 5d` is `>= 6d`)."""
        if not _discrete(kind):
            return self
        copy = _Interval(self.low, self.low_strict, self.high, self.high_strict,
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
class _Facts:
    """What a conjunction of constraints says about each field."""

    intervals: dict[tuple[str, str], _Interval] = field(default_factory=dict)
    allowed: dict[str, set[Any]] = field(default_factory=dict)
    excluded: dict[str, set[Any]] = field(default_factory=dict)
    parts: list[ast.Condition] = field(default_factory=list)

    @classmethod
    def of(cls, parts: Iterable[ast.Condition]) -> _Facts:
        facts = cls()
        for part in parts:
            facts.parts.append(part)
            found = constraint(part)
            if isinstance(found, _Bound):
                interval = facts.intervals.setdefault((found.field, found.kind), _Interval())
                interval.add(found.op, found.value)
            elif isinstance(found, _Equal):
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
        if isinstance(found, _Bound):
            interval = self.intervals.get((found.field, found.kind))
            return interval is not None and interval.implies(found.op, found.value, found.kind)
        if isinstance(found, _Equal):
            allowed = self.allowed.get(found.field)
            excluded = self.excluded.get(found.field, set())
            if found.positive:
                return allowed is not None and (allowed - excluded) <= found.values
            if allowed is not None and not ((allowed - excluded) & found.values):
                return True
            return found.values <= excluded
        return False


def _flag_false(name: str) -> _Equal:
    return _Equal(name, frozenset({("flag", True)}), False)


def check_never_acts(policy: ast.Policy, workspace: Workspace) -> Iterator[Diagnostic]:
    """Empty ranges (in a rule, or in the rule and the policy's scope) and shadowed rules."""
    scope_parts = conjuncts(policy.scope)
    scope_ok = policy.scope is None or id(policy.scope) not in workspace.broken
    if policy.scope is not None and scope_ok and _Facts.of(scope_parts).contradictory():
        yield error("E230", f"the scope of policy '{policy.name}' can never hold",
                    policy.scope.span, "two of its conditions contradict each other")
        return
    facts: list[_Facts | None] = []
    for rule in policy.rules:
        if id(rule.condition) in workspace.broken:
            facts.append(None)
            continue
        own = _Facts.of(conjuncts(rule.condition))
        empty_list = any(
            isinstance(atom, ast.InList) and not atom.values.items and not atom.negated
            for atom in conjuncts(rule.condition))
        if empty_list or own.contradictory():
            yield error("E230", f"rule '{rule.identity}' can never act: its condition "
                        "never holds", rule.condition.span,
                        "two of its conditions contradict each other")
            workspace.broken.add(id(rule.condition))
            facts.append(None)
            continue
        if scope_ok and _Facts.of([*scope_parts, *conjuncts(rule.condition)]).contradictory():
            yield error("E230", f"rule '{rule.identity}' can never act: its condition "
                        f"contradicts the scope of policy '{policy.name}'",
                        rule.condition.span, f"see 'policy {policy.name} for ...'")
            workspace.broken.add(id(rule.condition))
            facts.append(None)
            continue
        facts.append(own)
    for index, rule in enumerate(policy.rules):
        earlier = facts[index]
        if earlier is None:
            continue
        for later in policy.rules[index + 1:]:
            # A duplicate identity is its own error (E220), reported once.
            if id(later.condition) in workspace.broken or later.identity == rule.identity:
                continue
            if all(earlier.implies(part) for part in conjuncts(later.condition)):
                yield error(
                    "E231",
                    f"rule '{rule.identity}' can never act: '{later.identity}' comes "
                    "later and holds whenever it does",
                    rule_head(rule),
                    "only the last rule that holds acts; move this rule after "
                    f"'{later.identity}' or narrow '{later.identity}'")
                break


# --------------------------------------------------------------------------- warnings


def check_paused(policy: ast.Policy, workspace: Workspace) -> Iterator[Diagnostic]:
    """Letters, e-mails, SMS and calls should not go to a paused debtor. A rule that
    requires approval is exempt: an operator sees the pause before approving."""
    scope_parts = conjuncts(policy.scope)
    for rule in policy.rules:
        outbound = [action for action in rule.actions if isinstance(action, OUTBOUND)]
        if not outbound or rule.needs_approval or id(rule.condition) in workspace.broken:
            continue
        facts = _Facts.of([*scope_parts, *conjuncts(rule.condition)])
        if not facts.implies(ast.Not(ast.FlagTest(ast.FieldRef("paused")))):
            what = _action_words(outbound[0])
            yield warning("W301", f"rule '{rule.identity}' {what} even when the debtor "
                          "is paused", rule.condition.span,
                          "add 'and not paused' to its condition (or to the policy's 'for')")


def _action_words(action: ast.ActionSpec) -> str:
    if isinstance(action, ast.Send):
        article = "an" if action.channel in ("email", "sms") else "a"
        word = {"email": "e-mail", "sms": "SMS", "letter": "letter"}[action.channel]
        return f"sends {article} {word}"
    return "asks for a call"


def _fixes_currency(parts: Iterable[ast.Condition]) -> bool:
    for part in parts:
        found = constraint(part)
        if isinstance(found, _Equal) and found.field == "currency" and found.positive \
                and len(found.values) == 1:
            return True
    return False


def check_money_currency(policy: ast.Policy, workspace: Workspace) -> Iterator[Diagnostic]:
    """Money is never converted: comparing it makes sense once the currency is fixed."""
    scope_fixed = _fixes_currency(conjuncts(policy.scope))
    if scope_fixed:
        return
    for condition, rule in _conditions(policy):
        if id(condition) in workspace.broken:
            continue
        if rule is not None and _fixes_currency(conjuncts(rule.condition)):
            continue
        for atom in atoms(condition):
            values: tuple[ast.Scalar, ...] = ()
            if isinstance(atom, ast.Compare):
                values = (atom.value,)
            elif isinstance(atom, ast.InList):
                values = atom.values.items
            money = [v for v in values if isinstance(v, ast.MoneyValue)]
            if money:
                currency = money[0].currency
                yield warning(
                    "W302",
                    f"policy '{policy.name}' compares money in {currency} without fixing "
                    "the currency: invoices in other currencies never match",
                    atom.span,
                    f"add 'currency = {currency.lower()}' to the policy's 'for'")
                return


def _requires(rule: ast.Rule, target: str, policy: ast.Policy, seen: set[str]) -> bool:
    """Can `rule` hold only once `target` has acted (through a chain of `after`)?"""
    for part in conjuncts(rule.condition):
        if isinstance(part, ast.After):
            if part.rule == target:
                return True
            if part.rule in seen:
                continue
            seen.add(part.rule)
            before = policy.rule(part.rule)
            if before is not None and _requires(before, target, policy, seen):
                return True
    return False


def check_jumped_dependencies(policy: ast.Policy, workspace: Workspace) -> Iterator[Diagnostic]:
    """`after X` never holds once X was jumped over: warn when a later level can act
    while X holds, without itself waiting for X."""
    order = {rule.identity: index for index, rule in enumerate(policy.rules)}
    scope_parts = conjuncts(policy.scope)
    warned: set[tuple[str, str]] = set()
    for position, rule in enumerate(policy.rules):
        if id(rule.condition) in workspace.broken:
            continue
        for atom in atoms(rule.condition):
            if not isinstance(atom, ast.After) or atom.rule not in order:
                continue
            target_index = order[atom.rule]
            if target_index >= position or (rule.identity, atom.rule) in warned:
                continue
            target = policy.rules[target_index]
            for jumper in policy.rules[target_index + 1:]:
                if id(jumper.condition) in workspace.broken or _requires(
                        jumper, target.identity, policy, {jumper.identity}):
                    continue
                together = _Facts.of([*scope_parts, *conjuncts(target.condition),
                                      *conjuncts(jumper.condition)])
                if together.contradictory():
                    continue
                warned.add((rule.identity, atom.rule))
                yield warning(
                    "W303",
                    f"'{atom.rule}' can be jumped over by '{jumper.identity}', and then "
                    f"'after {atom.rule}' never holds for rule '{rule.identity}'",
                    atom.span,
                    f"make '{jumper.identity}' wait for '{atom.rule}' too, or exclude "
                    "the case from its condition")
                break


POLICY_CHECKS: list[PolicyCheck] = [
    check_types,
    check_after_references,
    check_templates,
    check_duplicate_rules,
    check_never_acts,
    check_paused,
    check_money_currency,
    check_jumped_dependencies,
]

def check_removed_levels(workspace: Workspace) -> Iterator[Diagnostic]:
    """Open invoices whose level is a rule that no longer exists: they continue from
    the last rule they reached that still exists."""
    if not workspace.levels:
        return
    policies = {policy.name: policy for rule_file in workspace.rule_files
                for policy in rule_file.policies}
    for (policy_name, identity), count in sorted(workspace.levels.items()):
        policy = policies.get(policy_name)
        if count <= 0 or (policy is not None and policy.rule(identity) is not None):
            continue
        invoices = f"{count} open invoice" + ("s sit" if count != 1 else " sits")
        if policy is None:
            span = ast.Span("(store)", 0, 0)
            where = f"policy '{policy_name}', which is no longer in the rules"
        else:
            line = policy.span
            span = ast.Span(line.file, line.line, line.column, line.line,
                            line.column + len(f"policy {policy_name}"))
            where = f"rule '{identity}' of policy '{policy_name}', which is no longer there"
        yield warning("W306", f"{invoices} on {where}", span,
                      "they continue from the last rule they reached that still exists; "
                      "an operator can reset their level")


WORKSPACE_CHECKS: list[WorkspaceCheck] = [
    check_duplicate_policies,
    check_removed_levels,
]
