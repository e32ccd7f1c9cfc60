"""Rules that can never act (`relance check`): an empty range, in the rule alone or with
the policy's `for` (E230), and a rule shadowed by a later one that holds whenever it does
(E231): only the last candidate acts, so the earlier level is always jumped over.
"""

from __future__ import annotations

from collections.abc import Iterator

from relance.dsl import ast
from relance.dsl.check_walk import Workspace, conjuncts, rule_head
from relance.dsl.constraints import Facts
from relance.dsl.diagnostics import Diagnostic, error
from relance.kernel.i18n import _


def check_never_acts(policy: ast.Policy, workspace: Workspace) -> Iterator[Diagnostic]:
    """Empty ranges (in a rule, or in the rule and the policy's scope) and shadowed rules."""
    scope_parts = conjuncts(policy.scope)
    scope_ok = policy.scope is None or id(policy.scope) not in workspace.broken
    if policy.scope is not None and scope_ok and Facts.of(scope_parts).contradictory():
        yield error("E230", _("the scope of policy '{policy}' can never hold")
                    .format(policy=policy.name),
                    policy.scope.span, _("two of its conditions contradict each other"))
        return
    facts: list[Facts | None] = []
    for rule in policy.rules:
        if id(rule.condition) in workspace.broken:
            facts.append(None)
            continue
        own = Facts.of(conjuncts(rule.condition))
        empty_list = any(
            isinstance(atom, ast.InList) and not atom.values.items and not atom.negated
            for atom in conjuncts(rule.condition))
        if empty_list or own.contradictory():
            yield error("E230", _("rule '{rule}' can never act: its condition never holds")
                        .format(rule=rule.identity), rule.condition.span,
                        _("two of its conditions contradict each other"))
            workspace.broken.add(id(rule.condition))
            facts.append(None)
            continue
        if scope_ok and Facts.of([*scope_parts, *conjuncts(rule.condition)]).contradictory():
            yield error("E230", _("rule '{rule}' can never act: its condition contradicts "
                                  "the scope of policy '{policy}'").format(
                                      rule=rule.identity, policy=policy.name),
                        rule.condition.span,
                        _("see 'policy {policy} for ...'").format(policy=policy.name))
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
                    _("rule '{rule}' can never act: '{later}' comes later and holds "
                      "whenever it does").format(rule=rule.identity, later=later.identity),
                    rule_head(rule),
                    _("only the last rule that holds acts; move this rule after '{later}' "
                      "or narrow '{later}'").format(later=later.identity))
                break
