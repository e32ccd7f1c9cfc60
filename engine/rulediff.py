"""What a rule change says: the policies and rules added, removed or changed.

Rules are compared by meaning, not by text: a policy by its name, a rule by its identity
(its name, or for an unnamed rule its action) within its policy, each printed the way
`relance fmt` prints it. Moving a rule to another file, re-indenting it, re-quoting a
template or reflowing a condition over three lines changes nothing here; a rule moved
above another does, since a policy's rules are levels in file order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from relance.dsl import ast
from relance.dsl.formatter import (
    format_action,
    format_condition,
    format_header,
    format_options,
)


class Change(StrEnum):
    ADDED = "added"
    REMOVED = "removed"
    CHANGED = "changed"


class Part(StrEnum):
    """What of a policy or rule changed."""

    SCOPE = "scope"  # the policy's `for ...`
    ORDER = "order"  # the order of the policy's rules, its levels
    CONDITION = "condition"
    ACTION = "action"
    OPTIONS = "options"


@dataclass(frozen=True)
class RuleDifference:
    """One policy (`rule` None: its header or the order of its rules) or one rule that
    differs; `old` and `new` are the lines the formatter prints, those that changed."""

    policy: str
    rule: str | None
    change: Change
    parts: tuple[Part, ...] = ()
    old: tuple[str, ...] = ()
    new: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"policy": self.policy, "rule": self.rule, "change": self.change.value,
                "parts": [part.value for part in self.parts], "old": list(self.old),
                "new": list(self.new)}


def when_line(rule: ast.Rule) -> str:
    return f"when {format_condition(rule.condition)}"


def then_line(rule: ast.Rule) -> str:
    actions = " and ".join(format_action(action) for action in rule.actions)
    return f"then {actions}{format_options(rule.options)}"


def rule_lines(rule: ast.Rule) -> tuple[str, ...]:
    """A rule as the formatter prints it, a named one's name on its own line."""
    lines = (when_line(rule), then_line(rule))
    return (f"rule {rule.name}:", *lines) if rule.name is not None else lines


def _rule_difference(policy: str, old: ast.Rule, new: ast.Rule) -> RuleDifference | None:
    parts: list[Part] = []
    if format_condition(old.condition) != format_condition(new.condition):
        parts.append(Part.CONDITION)
    if [format_action(a) for a in old.actions] != [format_action(a) for a in new.actions]:
        parts.append(Part.ACTION)
    if format_options(old.options) != format_options(new.options):
        parts.append(Part.OPTIONS)
    if not parts:
        return None
    old_lines: list[str] = []
    new_lines: list[str] = []
    if Part.CONDITION in parts:
        old_lines.append(when_line(old))
        new_lines.append(when_line(new))
    if Part.ACTION in parts or Part.OPTIONS in parts:
        old_lines.append(then_line(old))
        new_lines.append(then_line(new))
    return RuleDifference(policy, old.identity, Change.CHANGED, tuple(parts),
                          tuple(old_lines), tuple(new_lines))


def _whole_policy(policy: ast.Policy, change: Change) -> list[RuleDifference]:
    lines = (format_header(policy),)
    found = [RuleDifference(policy.name, None, change,
                            old=lines if change is Change.REMOVED else (),
                            new=lines if change is Change.ADDED else ())]
    for rule in policy.rules:
        body = rule_lines(rule)
        found.append(RuleDifference(policy.name, rule.identity, change,
                                    old=body if change is Change.REMOVED else (),
                                    new=body if change is Change.ADDED else ()))
    return found


def _policy_differences(old: ast.Policy, new: ast.Policy) -> list[RuleDifference]:
    found: list[RuleDifference] = []
    if format_header(old) != format_header(new):
        found.append(RuleDifference(old.name, None, Change.CHANGED, (Part.SCOPE,),
                                    (format_header(old),), (format_header(new),)))
    old_rules = {rule.identity: rule for rule in old.rules}
    new_rules = {rule.identity: rule for rule in new.rules}
    kept_old = [identity for identity in old_rules if identity in new_rules]
    kept_new = [identity for identity in new_rules if identity in old_rules]
    if kept_old != kept_new:
        found.append(RuleDifference(old.name, None, Change.CHANGED, (Part.ORDER,),
                                    (" > ".join(kept_old),), (" > ".join(kept_new),)))
    # Rules in the new order, a removed rule where it stood in the old one.
    for identity, rule in old_rules.items():
        if identity not in new_rules:
            found.append(RuleDifference(old.name, identity, Change.REMOVED,
                                        old=rule_lines(rule)))
    for identity, rule in new_rules.items():
        before = old_rules.get(identity)
        if before is None:
            found.append(RuleDifference(new.name, identity, Change.ADDED,
                                        new=rule_lines(rule)))
            continue
        changed = _rule_difference(new.name, before, rule)
        if changed is not None:
            found.append(changed)
    return found


def rule_differences(old: Sequence[ast.Policy], new: Sequence[ast.Policy]
                     ) -> list[RuleDifference]:
    """Every policy and rule that differs from `old` to `new`, policies in the new
    rules' order (removed ones after), empty when the rules mean the same."""
    old_policies = {policy.name: policy for policy in old}
    new_policies = {policy.name: policy for policy in new}
    found: list[RuleDifference] = []
    for name, policy in new_policies.items():
        before = old_policies.get(name)
        if before is None:
            found += _whole_policy(policy, Change.ADDED)
        else:
            found += _policy_differences(before, policy)
    for name, policy in old_policies.items():
        if name not in new_policies:
            found += _whole_policy(policy, Change.REMOVED)
    return found
