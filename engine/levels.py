"""Levels: which rule of a policy acts on an invoice on day D (the interpreter's side).

Rules are levels in file order. Candidates are the rules after the invoice's current
level whose condition holds, plus the current level itself when it repeats (`every N`)
and last acted at least N ago; the last candidate acts and the levels it jumps over
count as passed. A policy acts at most once per invoice per day.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from relance.dsl.ast import Policy, Rule
from relance.engine.durations import amount, elapsed
from relance.engine.facts import Facts
from relance.engine.interpret import holds
from relance.kernel.i18n import N_


def level_index(policy: Policy, facts: Facts) -> int:
    """The position of the invoice's current level in the policy, -1 before the first.

    A level whose rule was removed from the file falls back on the last rule that acted
    on the invoice in this policy and still exists.
    """
    level = facts.level(policy.name)
    if level.rule is None:
        return -1
    positions = {rule.identity: index for index, rule in enumerate(policy.rules)}
    if level.rule in positions:
        return positions[level.rule]
    for item in reversed(facts.items):
        if item.policy == policy.name and item.rule in positions:
            return positions[item.rule]
    return -1


def repeats_now(rule: Rule, policy: Policy, facts: Facts) -> bool:
    """The current level's `every N` is due: its last action is at least N old."""
    every = rule.options.every
    acted_on = facts.level(policy.name).acted_on
    if every is None or acted_on is None:
        return False
    days = elapsed(acted_on, facts.on, business=every.business, country=facts.creditor_country,
                   subdivision=facts.creditor_region)
    return days >= amount(every)


class Why(enum.StrEnum):
    """Why a rule does or does not act on an invoice: what explain says (in English in
    its JSON, translated with `_()` where it prints them)."""

    ACTS = N_("acts")
    OUT_OF_SCOPE = N_("the policy's scope does not hold")
    ACTED_TODAY = N_("the policy already acted on this invoice today")
    CONDITION_FALSE = N_("its condition does not hold")
    PASSED = N_("already passed (at or below the current level)")
    CURRENT = N_("current level: it acted already and does not repeat")
    NOT_DUE_AGAIN = N_("current level; its `every` is not due yet")
    NOT_LAST = N_("holds, but a later rule also holds and acts instead")


@dataclass(frozen=True)
class RuleOutcome:
    rule: Rule
    index: int
    held: bool
    why: Why


@dataclass(frozen=True)
class Decision:
    """The outcome of one policy on one invoice."""

    policy: Policy
    in_scope: bool
    level: int
    acting: Rule | None
    outcomes: tuple[RuleOutcome, ...]


def decide(policy: Policy, facts: Facts) -> Decision:
    """Evaluate every rule of the policy on the invoice and pick the one that acts."""
    in_scope = policy.scope is None or holds(policy.scope, facts, policy.name)
    current = level_index(policy, facts)
    acted_today = facts.level(policy.name).acted_on == facts.on
    held = [holds(rule.condition, facts, policy.name) for rule in policy.rules]
    candidates = [
        index
        for index, rule in enumerate(policy.rules)
        if held[index]
        and (index > current or (index == current and repeats_now(rule, policy, facts)))
    ]
    acting = max(candidates) if candidates and in_scope and not acted_today else None
    outcomes = []
    for index, rule in enumerate(policy.rules):
        if not in_scope:
            why = Why.OUT_OF_SCOPE
        elif index == acting:
            why = Why.ACTS
        elif not held[index]:
            why = Why.CONDITION_FALSE
        elif acted_today:
            why = Why.ACTED_TODAY
        elif index < current:
            why = Why.PASSED
        elif index == current and index not in candidates:
            why = Why.NOT_DUE_AGAIN if rule.options.every else Why.CURRENT
        else:
            why = Why.NOT_LAST
        outcomes.append(RuleOutcome(rule, index, held[index], why))
    return Decision(
        policy=policy,
        in_scope=in_scope,
        level=current,
        acting=policy.rules[acting] if acting is not None else None,
        outcomes=tuple(outcomes),
    )
