"""The reference interpreter: a condition evaluated in Python over one invoice's `Facts`.

It is the meaning of the language: the SQL compiler must agree with it on every book
(the differential test checks this), and `explain` prints its trace. Comparisons follow
the contract: money is never converted (another currency: `=` false, `!=` true, ordered
comparisons false), enum values compare case-insensitively, a missing value (no risk
score, no such custom column) is unequal to everything and never ordered, and
`last_action` with no outbound action behind it is longer than any duration.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from relance.dsl.ast import (
    After,
    And,
    BoolValue,
    Compare,
    Condition,
    DateValue,
    Duration,
    FieldRef,
    FlagTest,
    HasTag,
    InList,
    MoneyValue,
    Not,
    NumberValue,
    Or,
    Scalar,
    TextValue,
    WordValue,
)
from relance.dsl.fields import FieldType, lookup
from relance.engine.durations import Calendar, Op, amount, compare_ints, elapsed
from relance.engine.facts import Facts
from relance.engine.payer_profile import SCALED, hundredths_text
from relance.kernel.display import show_date
from relance.kernel.errors import RelanceError
from relance.kernel.i18n import _
from relance.kernel.money import money_text, to_decimal


class RuleError(RelanceError):
    """A condition the engine cannot evaluate (the checker should have refused it)."""


# The date each duration field is measured from, and its sign: `due_in` runs backwards.
DURATION_FIELDS: dict[str, tuple[str, int]] = {
    "overdue": ("due_date", 1),
    "due_in": ("due_date", -1),
    "age": ("issue_date", 1),
    "last_action": ("last_action_on", 1),
    "instalment_overdue": ("instalment_since", 1),
}


def field_type(ref: FieldRef) -> FieldType:
    spec = lookup(ref.name)
    if spec is None:
        raise RuleError(_("{place}: unknown field {field!r}").format(place=ref.span,
                                                                     field=ref.name))
    return spec.type


def raw_value(name: str, facts: Facts) -> Any:
    """The stored value behind a field, before any comparison."""
    if name.startswith("attr."):
        value = facts.attrs.get(name[len("attr.") :])
        return None if value is None else str(value)
    if name in DURATION_FIELDS:
        return getattr(facts, DURATION_FIELDS[name][0])
    simple = {
        "amount": facts.amount_minor,
        "balance": facts.balance_minor,
        "debtor_balance": facts.debtor_balance_minor,
        "debtor_overdue": facts.debtor_overdue_minor,
        "creditor": facts.creditor_code,
        "paused": facts.paused,
    }
    if name in simple:
        return simple[name]
    if name in SCALED:  # the decimal text of the stored hundredths (`12.50`), or None
        return hundredths_text(getattr(facts, SCALED[name]))
    return getattr(facts, name)


def duration_value(name: str, facts: Facts, business: bool) -> int | None:
    """A duration field in days (business days when asked); None: never (last_action)."""
    column, sign = DURATION_FIELDS[name]
    since: dt.date | None = getattr(facts, column)
    if since is None:
        return None
    return sign * elapsed(since, facts.on, business=business, country=facts.creditor_country,
                          subdivision=facts.creditor_region)


def _ordered(op: Op, left: Any, right: Any) -> bool:
    if op == "=":
        return bool(left == right)
    if op == "!=":
        return bool(left != right)
    if op == "<":
        return bool(left < right)
    if op == "<=":
        return bool(left <= right)
    if op == ">":
        return bool(left > right)
    return bool(left >= right)


def _refuse(ref: FieldRef, value: Scalar, what: str) -> RuleError:
    """`what`, translated by the caller, is what the field cannot be compared with."""
    return RuleError(_("{place}: {field} cannot be compared with {what} ({value!r})").format(
        place=ref.span, field=ref.name, what=what, value=value))


def compare(cond: Compare, facts: Facts) -> tuple[bool, Any]:
    """Whether `field OP value` holds, and the value read (for explain and the audit)."""
    ref, op, value = cond.field, cond.op, cond.value
    kind = field_type(ref)
    if kind is FieldType.DURATION:
        if not isinstance(value, Duration):
            raise _refuse(ref, value, _("a non-duration"))
        days = duration_value(ref.name, facts, value.business)
        if days is None:  # no outbound action yet: longer than anything
            return op in (">", ">=", "!="), None
        return compare_ints(days, op, amount(value)), f"{days}{'bd' if value.business else 'd'}"
    if kind is FieldType.MONEY:
        if not isinstance(value, MoneyValue):
            raise _refuse(ref, value, _("a non-money value"))
        minor: int = raw_value(ref.name, facts)
        shown = money_text(minor, facts.currency)
        if value.currency.upper() != facts.currency.upper():
            return op == "!=", shown
        return _ordered(op, to_decimal(minor, facts.currency), value.amount), shown
    if kind is FieldType.NUMBER:
        if not isinstance(value, NumberValue):
            raise _refuse(ref, value, _("a non-number"))
        number = raw_value(ref.name, facts)
        if number is None:
            return op == "!=", None
        return _ordered(op, Decimal(number), value.value), number
    if kind is FieldType.DATE:
        if not isinstance(value, DateValue):
            raise _refuse(ref, value, _("a non-date"))
        day: dt.date = raw_value(ref.name, facts)
        return _ordered(op, day, value.value), day.isoformat()
    if kind is FieldType.FLAG:
        if not isinstance(value, BoolValue) or op not in ("=", "!="):
            raise _refuse(ref, value, _("anything but true or false"))
        flag = bool(raw_value(ref.name, facts))
        return (flag == value.value) == (op == "="), flag
    if kind in (FieldType.ENUM, FieldType.TEXT):
        if not isinstance(value, TextValue | WordValue) or op not in ("=", "!="):
            raise _refuse(ref, value, _("an ordered comparison or a non-text value"))
        text = raw_value(ref.name, facts)
        if text is None:
            return op == "!=", None
        if kind is FieldType.ENUM:
            same = str(text).lower() == value.value.lower()
        else:
            same = str(text) == value.value
        return same == (op == "="), text
    raise RuleError(_("{place}: {field} cannot be compared").format(place=ref.span,
                                                                    field=ref.name))


def _in_list_as_or(cond: InList) -> Condition:
    """`x in [a, b]` means `x = a or x = b`; `not in` is its negation."""
    alternatives = tuple(Compare(cond.field, "=", item) for item in cond.values.items)
    either = Or(alternatives, cond.span)
    return Not(either, cond.span) if cond.negated else either


def after_first(cond: After, facts: Facts, policy: str) -> dt.date | None:
    return facts.first_acted.get((policy, cond.rule))


def after_holds(cond: After, facts: Facts, policy: str) -> bool:
    first = after_first(cond, facts, policy)
    if first is None:
        return False
    days = elapsed(first, facts.on, business=cond.by.business, country=facts.creditor_country,
                   subdivision=facts.creditor_region)
    return days >= amount(cond.by)


def holds(cond: Condition, facts: Facts, policy: str) -> bool:
    """Whether the condition holds for this invoice in this policy."""
    if isinstance(cond, And):
        return all(holds(part, facts, policy) for part in cond.operands)
    if isinstance(cond, Or):
        return any(holds(part, facts, policy) for part in cond.operands)
    if isinstance(cond, Not):
        return not holds(cond.operand, facts, policy)
    if isinstance(cond, Compare):
        return compare(cond, facts)[0]
    if isinstance(cond, InList):
        return holds(_in_list_as_or(cond), facts, policy)
    if isinstance(cond, HasTag):
        return (cond.value.value.lower() in facts.tags) != cond.negated
    if isinstance(cond, FlagTest):
        if field_type(cond.field) is not FieldType.FLAG:
            raise RuleError(_("{place}: {field} is not a yes/no field").format(
                place=cond.field.span, field=cond.field.name))
        return bool(raw_value(cond.field.name, facts))
    if isinstance(cond, After):
        return after_holds(cond, facts, policy)
    raise RuleError(_("unknown condition {condition!r}").format(condition=cond))


# --------------------------------------------------------------------------- traces


@dataclass(frozen=True)
class Trace:
    """One node of a condition with its outcome: what explain prints."""

    text: str
    held: bool
    value: Any = None  # the value read, for leaves
    children: tuple[Trace, ...] = ()
    kind: str = "leaf"  # and, or, not, leaf

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"condition": self.text, "held": self.held}
        if not self.children:
            out["value"] = self.value
        else:
            out["parts"] = [child.to_json() for child in self.children]
        return out


def show_value(value: Scalar) -> str:
    if isinstance(value, Duration):
        return str(value)
    if isinstance(value, MoneyValue):
        return f"{value.amount} {value.currency}"
    if isinstance(value, TextValue):
        return repr(value.value)
    if isinstance(value, BoolValue):
        return "true" if value.value else "false"
    if isinstance(value, DateValue):
        return value.value.isoformat()
    if isinstance(value, NumberValue | WordValue):
        return str(value.value)
    return repr(value)


def render(cond: Condition) -> str:
    """The condition as rule text (canonical spacing)."""
    if isinstance(cond, And):
        return " and ".join(_paren(part, Or) for part in cond.operands)
    if isinstance(cond, Or):
        return " or ".join(render(part) for part in cond.operands)
    if isinstance(cond, Not):
        inner = render(cond.operand)
        simple = isinstance(cond.operand, FlagTest | Compare | After)
        return f"not {inner}" if simple else f"not ({inner})"
    if isinstance(cond, Compare):
        return f"{cond.field.name} {cond.op} {show_value(cond.value)}"
    if isinstance(cond, InList):
        items = ", ".join(show_value(item) for item in cond.values.items)
        return f"{cond.field.name} {'not in' if cond.negated else 'in'} [{items}]"
    if isinstance(cond, HasTag):
        return f"{cond.value.value!r} {'not in' if cond.negated else 'in'} {cond.field.name}"
    if isinstance(cond, FlagTest):
        return cond.field.name
    return f"after {_rule_ref(cond.rule)} by {cond.by}"


def _rule_ref(identity: str) -> str:
    return f"'{identity}'" if " " in identity else identity


def _paren(cond: Condition, kind: type) -> str:
    return f"({render(cond)})" if isinstance(cond, kind) else render(cond)


def trace(cond: Condition, facts: Facts, policy: str) -> Trace:
    """Evaluate every part of the condition (no short cut) and keep the values read."""
    if isinstance(cond, And | Or):
        children = tuple(trace(part, facts, policy) for part in cond.operands)
        results = [child.held for child in children]
        held = all(results) if isinstance(cond, And) else any(results)
        kind = "and" if isinstance(cond, And) else "or"
        return Trace(render(cond), held, None, children, kind)
    if isinstance(cond, Not):
        inner = trace(cond.operand, facts, policy)
        return Trace(render(cond), not inner.held, None, (inner,), "not")
    if isinstance(cond, Compare):
        held, value = compare(cond, facts)
        return Trace(render(cond), held, value)
    if isinstance(cond, InList):
        value = raw_value(cond.field.name, facts)
        return Trace(render(cond), holds(cond, facts, policy), value)
    if isinstance(cond, HasTag):
        return Trace(render(cond), holds(cond, facts, policy), sorted(facts.tags))
    if isinstance(cond, FlagTest):
        return Trace(render(cond), holds(cond, facts, policy), holds(cond, facts, policy))
    first = after_first(cond, facts, policy)
    # History stops the day before: what a run queued on this very day is not seen yet.
    # A sentence for explain (the values read beside it are in the rules' notation).
    shown = (_("first acted {day}").format(day=show_date(first)) if first
             else _("not acted before {day}").format(day=show_date(facts.on)))
    return Trace(render(cond), after_holds(cond, facts, policy), shown)


# --------------------------------------------------------------------------- recorded facts

# What the audit keeps of a condition: one probe per value read, computed once per rule.
# (key shown to the auditor, kind, field or tag or rule, counted in business days)
Probe = tuple[str, str, str, bool]


def probes(cond: Condition | None) -> list[Probe]:
    """The values a condition reads, in reading order, each once."""
    found: dict[str, Probe] = {}
    if cond is not None:
        _probe(cond, found)
    return list(found.values())


def _field_probe(name: str, business: bool, found: dict[str, Probe]) -> None:
    kind = field_type(FieldRef(name))
    key = f"{name} (bd)" if business else name
    if kind is FieldType.DURATION:
        found.setdefault(key, (key, "duration", name, business))
    elif kind is FieldType.MONEY:
        found.setdefault(key, (key, "money", name, False))
    elif kind is FieldType.FLAG:
        found.setdefault(key, (key, "flag", name, False))
    else:
        found.setdefault(key, (key, "plain", name, False))


def _probe(cond: Condition, found: dict[str, Probe]) -> None:
    if isinstance(cond, And | Or):
        for part in cond.operands:
            _probe(part, found)
    elif isinstance(cond, Not):
        _probe(cond.operand, found)
    elif isinstance(cond, Compare):
        business = isinstance(cond.value, Duration) and cond.value.business
        _field_probe(cond.field.name, business, found)
    elif isinstance(cond, InList | FlagTest):
        _field_probe(cond.field.name, False, found)
    elif isinstance(cond, HasTag):
        tag = cond.value.value.lower()
        key = f"{tag!r} in tags"
        found.setdefault(key, (key, "tag", tag, False))
    else:
        key = f"after {cond.rule}"
        found.setdefault(key, (key, "after", cond.rule, False))


def record(
    wanted: list[Probe], get: Any, on: dt.date, calendar: Calendar, currency: str
) -> dict[str, Any]:
    """The probes' values, JSON-safe; `get(kind, name)` reads a raw value; business
    days are counted in the creditor's `calendar` (country, region)."""
    country, region = calendar
    out: dict[str, Any] = {}
    for key, kind, name, business in wanted:
        raw = get(kind, name)
        if kind == "duration":
            if raw is None:
                out[key] = None
            else:
                sign = DURATION_FIELDS[name][1]
                days = sign * elapsed(raw, on, business=business, country=country,
                                      subdivision=region)
                out[key] = f"{days}{'bd' if business else 'd'}"
        elif kind == "money":
            out[key] = money_text(raw, currency)
        elif kind in ("flag", "tag"):
            out[key] = bool(raw)
        elif isinstance(raw, dt.date):
            out[key] = raw.isoformat()
        else:
            out[key] = raw
    return out


def facts_read(cond: Condition | None, facts: Facts, policy: str) -> dict[str, Any]:
    """The values of the fields a condition reads, JSON-safe: what the audit keeps."""

    def get(kind: str, name: str) -> Any:
        if kind == "tag":
            return name in facts.tags
        if kind == "after":
            return facts.first_acted.get((policy, name))
        return raw_value(name, facts)

    return record(probes(cond), get, facts.on, (facts.creditor_country, facts.creditor_region),
                  facts.currency)
