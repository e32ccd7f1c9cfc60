"""`relance test --coverage`: what the rule tests exercised of each rule.

While the rule tests run, every day of every case is also decided by the engine's
reference interpreter (`engine.levels.decide`, the evaluator explain prints and the
differential test holds equal to the SQL of runs), on the same book the run reads. For
each rule of the policies under test it keeps:

- whether some test made it act on an invoice, and whether some test evaluated it on an
  invoice in the policy's scope without it acting (and for which reasons);
- for each condition of its `when` (each comparison, flag, tag test, `after`, `in`
  list, with a `not` kept on the condition it negates), whether it was ever true and
  ever false; the policy's scope gets the same.

Only the invoices a case compares count: with `only = [...]` the others are not
checked, so what rules do to them is not tested either.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Connection

from relance.dsl.ast import And, Condition, Not, Or, Policy
from relance.dsl.formatter import format_condition
from relance.dsl.loader import LoadedRules
from relance.engine.facts import load_facts
from relance.engine.interpret import Trace, trace
from relance.engine.levels import Why, decide


@dataclass
class ConditionCoverage:
    """One condition of a `when` (or a scope), as `relance fmt` prints it."""

    text: str
    ever_true: bool = False
    ever_false: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"condition": self.text, "ever_true": self.ever_true,
                "ever_false": self.ever_false}


def _never(conditions: list[ConditionCoverage], outcome: bool) -> list[str]:
    return [c.text for c in conditions if not (c.ever_true if outcome else c.ever_false)]


@dataclass
class RuleCoverage:
    identity: str
    place: str
    conditions: list[ConditionCoverage]
    evaluations: int = 0
    acted: bool = False
    not_acted: bool = False
    # Why it did not act, in the words of `engine.levels.Why` (English, for the JSON).
    not_acted_because: set[str] = field(default_factory=set)

    @property
    def never_false(self) -> list[str]:
        return _never(self.conditions, False)

    @property
    def never_true(self) -> list[str]:
        return _never(self.conditions, True)

    @property
    def covered(self) -> bool:
        """Acted, did not act, and every condition was seen both true and false."""
        return (self.acted and self.not_acted and not self.never_false
                and not self.never_true)

    def to_json(self) -> dict[str, Any]:
        return {"rule": self.identity, "place": self.place, "covered": self.covered,
                "evaluations": self.evaluations, "acted": self.acted,
                "not_acted": self.not_acted,
                "not_acted_because": sorted(self.not_acted_because),
                "never_false": self.never_false, "never_true": self.never_true,
                "conditions": [c.to_json() for c in self.conditions]}


@dataclass
class PolicyCoverage:
    name: str
    place: str
    scope: list[ConditionCoverage]
    rules: list[RuleCoverage]
    invoice_days: int = 0

    def rule(self, identity: str) -> RuleCoverage:
        return next(rule for rule in self.rules if rule.identity == identity)

    def to_json(self) -> dict[str, Any]:
        return {"policy": self.name, "place": self.place, "invoice_days": self.invoice_days,
                "scope": {"never_false": _never(self.scope, False),
                          "never_true": _never(self.scope, True),
                          "conditions": [c.to_json() for c in self.scope]},
                "rules": [rule.to_json() for rule in self.rules]}


@dataclass(frozen=True)
class CoverageReport:
    policies: tuple[PolicyCoverage, ...]

    def rules(self) -> Iterator[RuleCoverage]:
        for policy in self.policies:
            yield from policy.rules

    @property
    def total(self) -> int:
        return sum(1 for _rule in self.rules())

    @property
    def covered(self) -> int:
        return sum(1 for rule in self.rules() if rule.covered)

    @property
    def percent(self) -> Decimal:
        """Rules fully covered, in percent (100 when there is no rule to cover)."""
        if not self.total:
            return Decimal(100)
        return (Decimal(100 * self.covered) / self.total).quantize(Decimal("0.01"))

    def to_json(self) -> dict[str, Any]:
        return {"rules": self.total, "covered": self.covered, "percent": str(self.percent),
                "policies": [policy.to_json() for policy in self.policies]}


# --------------------------------------------------------------------------- conditions


def _is_compound(cond: Condition) -> bool:
    return isinstance(cond, And | Or | Not)


def conditions_of(cond: Condition | None) -> list[Condition]:
    """The conditions a coverage line names, in reading order: `and`, `or` and a `not`
    over either are opened; `not paused` stays one condition, as written."""
    if cond is None:
        return []
    if isinstance(cond, And | Or):
        return [part for operand in cond.operands for part in conditions_of(operand)]
    if isinstance(cond, Not) and _is_compound(cond.operand):
        return conditions_of(cond.operand)
    return [cond]


def outcomes_of(cond: Condition, node: Trace) -> list[bool]:
    """The outcome of each of `conditions_of(cond)` in `node`, the interpreter's trace of
    `cond` (it evaluates every part, without short cuts, in the same order)."""
    if isinstance(cond, And | Or):
        return [held for operand, child in zip(cond.operands, node.children, strict=True)
                for held in outcomes_of(operand, child)]
    if isinstance(cond, Not) and _is_compound(cond.operand):
        return outcomes_of(cond.operand, node.children[0])
    return [node.held]


def _blank_conditions(cond: Condition | None) -> list[ConditionCoverage]:
    return [ConditionCoverage(format_condition(part)) for part in conditions_of(cond)]


def _mark(conditions: list[ConditionCoverage], outcomes: list[bool]) -> None:
    for condition, held in zip(conditions, outcomes, strict=True):
        if held:
            condition.ever_true = True
        else:
            condition.ever_false = True


# --------------------------------------------------------------------------- recording


class CoverageRecorder:
    """Collects coverage across test files: a rule file tested by several test files
    is counted once, with what all of them exercised."""

    def __init__(self) -> None:
        self._policies: dict[tuple[str, str], PolicyCoverage] = {}

    def _key(self, policy: Policy, root: Path) -> tuple[str, str]:
        return (str((root / policy.span.file).resolve()), policy.name)

    def watch(self, rules: LoadedRules, root: Path) -> None:
        """Take the policies of `rules` (loaded relative to `root`) under watch, so that
        a policy no case evaluates still shows, uncovered."""
        for policy in rules.policies:
            key = self._key(policy, root)
            if key in self._policies:
                continue
            self._policies[key] = PolicyCoverage(
                name=policy.name, place=f"{policy.span.file}:{policy.span.line}",
                scope=_blank_conditions(policy.scope),
                rules=[RuleCoverage(rule.identity, f"{rule.span.file}:{rule.span.line}",
                                    _blank_conditions(rule.condition))
                       for rule in policy.rules])

    def observe(self, conn: Connection, rules: LoadedRules, root: Path, on: dt.date,
                only: Collection[str] = ()) -> None:
        """Decide day `on` over the book `conn` sees, as the run about to happen will;
        `only`: the invoice numbers the case compares (empty: all)."""
        self.watch(rules, root)
        book = [facts for facts in load_facts(conn, on) if not only or facts.number in only]
        for policy in rules.policies:
            covered = self._policies[self._key(policy, root)]
            for facts in book:
                covered.invoice_days += 1
                if policy.scope is not None:
                    _mark(covered.scope, outcomes_of(
                        policy.scope, trace(policy.scope, facts, policy.name)))
                decision = decide(policy, facts)
                if not decision.in_scope:
                    continue  # the run does not evaluate the rules there
                for outcome in decision.outcomes:
                    rule = covered.rule(outcome.rule.identity)
                    rule.evaluations += 1
                    if outcome.why is Why.ACTS:
                        rule.acted = True
                    else:
                        rule.not_acted = True
                        rule.not_acted_because.add(outcome.why.value)
                    condition = outcome.rule.condition
                    _mark(rule.conditions, outcomes_of(
                        condition, trace(condition, facts, policy.name)))

    def report(self) -> CoverageReport:
        return CoverageReport(tuple(self._policies.values()))
