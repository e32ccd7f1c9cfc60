"""The warnings of `relance check` about what a policy does, not whether it reads right:
letters, e-mails, SMS and calls that could reach a paused debtor (W301), money compared
before the currency is fixed (W302), and `after X` that never holds once X can be jumped
over (W303).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from relance.dsl import ast
from relance.dsl.check_walk import Workspace, atoms, conditions_of, conjuncts
from relance.dsl.constraints import Equal, Facts, constraint
from relance.dsl.diagnostics import Diagnostic, warning
from relance.kernel.i18n import _

OUTBOUND = (ast.Send, ast.CallTask)


def check_paused(policy: ast.Policy, workspace: Workspace) -> Iterator[Diagnostic]:
    """Letters, e-mails, SMS and calls should not go to a paused debtor. A rule that
    requires approval is exempt: an operator sees the pause before approving."""
    scope_parts = conjuncts(policy.scope)
    for rule in policy.rules:
        outbound = [action for action in rule.actions if isinstance(action, OUTBOUND)]
        if not outbound or rule.needs_approval or id(rule.condition) in workspace.broken:
            continue
        facts = Facts.of([*scope_parts, *conjuncts(rule.condition)])
        if not facts.implies(ast.Not(ast.FlagTest(ast.FieldRef("paused")))):
            yield warning("W301", _paused_message(outbound[0]).format(rule=rule.identity),
                          rule.condition.span,
                          _("add 'and not paused' to its condition (or to the policy's "
                            "'for')"))


def _paused_message(action: ast.ActionSpec) -> str:
    # One whole sentence per action: a translation cannot build it from pieces.
    if isinstance(action, ast.Send):
        if action.channel == "email":
            return _("rule '{rule}' sends an e-mail even when the debtor is paused")
        if action.channel == "sms":
            return _("rule '{rule}' sends an SMS even when the debtor is paused")
        return _("rule '{rule}' sends a letter even when the debtor is paused")
    return _("rule '{rule}' asks for a call even when the debtor is paused")


def _fixes_currency(parts: Iterable[ast.Condition]) -> bool:
    for part in parts:
        found = constraint(part)
        if isinstance(found, Equal) and found.field == "currency" and found.positive \
                and len(found.values) == 1:
            return True
    return False


def check_money_currency(policy: ast.Policy, workspace: Workspace) -> Iterator[Diagnostic]:
    """Money is never converted: comparing it makes sense once the currency is fixed."""
    scope_fixed = _fixes_currency(conjuncts(policy.scope))
    if scope_fixed:
        return
    for condition, rule in conditions_of(policy):
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
                    _("policy '{policy}' compares money in {currency} without fixing the "
                      "currency: invoices in other currencies never match").format(
                          policy=policy.name, currency=currency),
                    atom.span,
                    _("add 'currency = {code}' to the policy's 'for'").format(
                        code=currency.lower()))
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
                together = Facts.of([*scope_parts, *conjuncts(target.condition),
                                      *conjuncts(jumper.condition)])
                if together.contradictory():
                    continue
                warned.add((rule.identity, atom.rule))
                yield warning(
                    "W303",
                    _("'{target}' can be jumped over by '{jumper}', and then 'after "
                      "{target}' never holds for rule '{rule}'").format(
                          target=atom.rule, jumper=jumper.identity, rule=rule.identity),
                    atom.span,
                    _("make '{jumper}' wait for '{target}' too, or exclude the case from its "
                      "condition").format(jumper=jumper.identity, target=atom.rule))
                break
