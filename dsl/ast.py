"""The policy language's syntax tree: immutable records that remember where they came from.

Every node carries a `Span` (file, line, column) for error messages, but spans are left
out of equality, so that two files meaning the same thing (say, before and after
`relance fmt`) have equal trees.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal


@dataclass(frozen=True)
class Span:
    """A place in a rule file: 1-based line and column of the start and of the end."""

    file: str
    line: int
    column: int
    end_line: int = 0
    end_column: int = 0

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


NO_SPAN = Span("<none>", 0, 0)


# --------------------------------------------------------------------------- values

DurationUnit = Literal["d", "w", "bd"]


@dataclass(frozen=True)
class Duration:
    """`15d`, `2w` (calendar days) or `10bd` (business days of the creditor's country)."""

    count: int
    unit: DurationUnit
    span: Span = dataclasses.field(default=NO_SPAN, compare=False, repr=False)

    @property
    def business(self) -> bool:
        return self.unit == "bd"

    @property
    def calendar_days(self) -> int:
        """Length in calendar days; only meaningful when not in business days."""
        return self.count * 7 if self.unit == "w" else self.count

    def __str__(self) -> str:
        return f"{self.count}{self.unit}"


@dataclass(frozen=True)
class MoneyValue:
    """`1250.50 EUR`: an exact decimal and an upper-case currency code."""

    amount: Decimal
    currency: str
    span: Span = dataclasses.field(default=NO_SPAN, compare=False, repr=False)


@dataclass(frozen=True)
class NumberValue:
    value: Decimal
    span: Span = dataclasses.field(default=NO_SPAN, compare=False, repr=False)


@dataclass(frozen=True)
class DateValue:
    value: dt.date
    span: Span = dataclasses.field(default=NO_SPAN, compare=False, repr=False)


@dataclass(frozen=True)
class TextValue:
    """A quoted string: compared exactly."""

    value: str
    span: Span = dataclasses.field(default=NO_SPAN, compare=False, repr=False)


@dataclass(frozen=True)
class WordValue:
    """A bare word (`franchisee`, `eur`, `fr`): an enum value, compared case-insensitively."""

    value: str
    span: Span = dataclasses.field(default=NO_SPAN, compare=False, repr=False)


@dataclass(frozen=True)
class BoolValue:
    value: bool
    span: Span = dataclasses.field(default=NO_SPAN, compare=False, repr=False)


Scalar = Duration | MoneyValue | NumberValue | DateValue | TextValue | WordValue | BoolValue


@dataclass(frozen=True)
class ListValue:
    items: tuple[Scalar, ...]
    span: Span = dataclasses.field(default=NO_SPAN, compare=False, repr=False)


Value = Scalar | ListValue


# --------------------------------------------------------------------------- conditions


@dataclass(frozen=True)
class FieldRef:
    """A field of the invoice, its debtor or creditor: `overdue`, `segment`, `attr.region`."""

    name: str
    span: Span = dataclasses.field(default=NO_SPAN, compare=False, repr=False)

    @property
    def is_custom(self) -> bool:
        return self.name.startswith("attr.")


CompareOp = Literal["=", "!=", "<", "<=", ">", ">="]


@dataclass(frozen=True)
class Compare:
    """`field OP value`; the right side is always a value, never a field."""

    field: FieldRef
    op: CompareOp
    value: Scalar
    span: Span = dataclasses.field(default=NO_SPAN, compare=False, repr=False)


@dataclass(frozen=True)
class InList:
    """`field in [a, b]` or `field not in [a, b]`."""

    field: FieldRef
    values: ListValue
    negated: bool = False
    span: Span = dataclasses.field(default=NO_SPAN, compare=False, repr=False)


@dataclass(frozen=True)
class HasTag:
    """`'vip' in tags` / `'vip' not in tags`: a value looked up in a set-valued field."""

    value: TextValue | WordValue
    field: FieldRef
    negated: bool = False
    span: Span = dataclasses.field(default=NO_SPAN, compare=False, repr=False)


@dataclass(frozen=True)
class FlagTest:
    """A boolean field used on its own: `paused`, `disputed`, `promised`."""

    field: FieldRef
    span: Span = dataclasses.field(default=NO_SPAN, compare=False, repr=False)


@dataclass(frozen=True)
class After:
    """`after RULE by DURATION`: RULE (a name or an unnamed rule's identity such as
    `letter amiable_2`) acted on this invoice in this policy at least DURATION ago."""

    rule: str
    by: Duration
    span: Span = dataclasses.field(default=NO_SPAN, compare=False, repr=False)


@dataclass(frozen=True)
class Not:
    operand: Condition
    span: Span = dataclasses.field(default=NO_SPAN, compare=False, repr=False)


@dataclass(frozen=True)
class And:
    operands: tuple[Condition, ...]
    span: Span = dataclasses.field(default=NO_SPAN, compare=False, repr=False)


@dataclass(frozen=True)
class Or:
    operands: tuple[Condition, ...]
    span: Span = dataclasses.field(default=NO_SPAN, compare=False, repr=False)


Condition = Compare | InList | HasTag | FlagTest | After | Not | And | Or


# --------------------------------------------------------------------------- actions

SendChannel = Literal["letter", "email", "sms"]
Priority = Literal["low", "normal", "high"]
TargetStage = Literal["amicable", "litigation"]


@dataclass(frozen=True)
class Send:
    channel: SendChannel
    template: str
    tone: str | None = None
    span: Span = dataclasses.field(default=NO_SPAN, compare=False, repr=False)

    @property
    def identity(self) -> str:
        return f"{self.channel} {self.template}"


@dataclass(frozen=True)
class CallTask:
    priority: Priority | None = None  # None: the default, normal
    span: Span = dataclasses.field(default=NO_SPAN, compare=False, repr=False)

    @property
    def identity(self) -> str:
        return "call"


@dataclass(frozen=True)
class Notify:
    role: str
    template: str
    span: Span = dataclasses.field(default=NO_SPAN, compare=False, repr=False)

    @property
    def identity(self) -> str:
        return f"notify {self.role} {self.template}"


@dataclass(frozen=True)
class Escalate:
    stage: TargetStage
    span: Span = dataclasses.field(default=NO_SPAN, compare=False, repr=False)

    @property
    def identity(self) -> str:
        return f"escalate {self.stage}"


ActionSpec = Send | CallTask | Notify | Escalate


@dataclass(frozen=True)
class Options:
    requires_approval: bool = False
    every: Duration | None = None
    per_invoice: bool = False
    # `with statement`: the debtor's account statement goes with the letter or e-mail.
    with_statement: bool = False
    # Where `with statement` was written, for the checker's message (not part of meaning).
    statement_span: Span = dataclasses.field(default=NO_SPAN, compare=False, repr=False)


# --------------------------------------------------------------------------- structure


@dataclass(frozen=True)
class Rule:
    """`rule NAME: when CONDITION then ACTION [and ACTION]* [, OPTION]*` (the name is optional)."""

    name: str | None
    condition: Condition
    actions: tuple[ActionSpec, ...]
    options: Options = Options()
    span: Span = dataclasses.field(default=NO_SPAN, compare=False, repr=False)

    @property
    def identity(self) -> str:
        """How levels, `after` and the audit trail refer to this rule."""
        if self.name is not None:
            return self.name
        # The parser refuses unnamed rules with several actions, so there is one.
        return self.actions[0].identity

    @property
    def needs_approval(self) -> bool:
        return self.options.requires_approval or any(
            isinstance(action, Escalate) for action in self.actions
        )


@dataclass(frozen=True)
class Policy:
    """An independent track: its rules are levels in file order."""

    name: str
    scope: Condition | None
    rules: tuple[Rule, ...]
    span: Span = dataclasses.field(default=NO_SPAN, compare=False, repr=False)

    def rule(self, identity: str) -> Rule | None:
        return next((rule for rule in self.rules if rule.identity == identity), None)


@dataclass(frozen=True)
class Comment:
    """A `#` comment, kept for the formatter."""

    text: str
    span: Span = dataclasses.field(default=NO_SPAN, compare=False, repr=False)


@dataclass(frozen=True)
class RuleFile:
    path: str
    policies: tuple[Policy, ...]
    comments: tuple[Comment, ...] = dataclasses.field(default=(), compare=False)
