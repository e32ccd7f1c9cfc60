"""`relance check`: what the grammar cannot see. Each check is a small function in a list
(`POLICY_CHECKS`, `WORKSPACE_CHECKS`) that yields diagnostics; `check_policies` runs them
all. A fault is reported once, where it starts: a condition with an unknown field is not
also reported as never holding.

The checks live by job: types (`check_types`), references (`check_references`), rules
that can never act (`check_reach`, reasoning with `constraints`) and warnings
(`check_warnings`); what they share is in `check_walk`.

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

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence

from relance.dsl import ast
from relance.dsl.check_options import check_statement_option
from relance.dsl.check_reach import check_never_acts
from relance.dsl.check_references import (
    check_after_references,
    check_creditor_codes,
    check_duplicate_policies,
    check_duplicate_rules,
    check_removed_levels,
    check_templates,
)
from relance.dsl.check_types import check_types
from relance.dsl.check_walk import Workspace
from relance.dsl.check_warnings import (
    check_jumped_dependencies,
    check_money_currency,
    check_paused,
)
from relance.dsl.diagnostics import Diagnostic, warning
from relance.kernel.i18n import _

PolicyCheck = Callable[[ast.Policy, Workspace], Iterable[Diagnostic]]
WorkspaceCheck = Callable[[Workspace], Iterable[Diagnostic]]

POLICY_CHECKS: list[PolicyCheck] = [
    check_types,
    check_after_references,
    check_templates,
    check_statement_option,
    check_duplicate_rules,
    check_never_acts,
    check_paused,
    check_money_currency,
    check_jumped_dependencies,
    check_creditor_codes,
]

WORKSPACE_CHECKS: list[WorkspaceCheck] = [
    check_duplicate_policies,
    check_removed_levels,
]


def check_policies(
    rule_files: Sequence[ast.RuleFile],
    catalogue: Mapping[str, frozenset[str]] | None = None,
    levels: Mapping[tuple[str, str], int] | None = None,
    creditors: Collection[str] | None = None,
) -> list[Diagnostic]:
    """Run every check over the parsed files of a workspace; returns the diagnostics.

    `catalogue` (template name -> channels) enables the template check; `levels`
    ((policy, rule identity) -> open invoices sitting there) enables the check of
    levels whose rule was removed; `creditors` (the book's creditor codes) the check of
    `creditor` values."""
    workspace = Workspace(rule_files, catalogue, levels, creditors)
    found: list[Diagnostic] = []
    for rule_file in rule_files:
        if not rule_file.policies:
            found.append(warning("W305",
                                 _("this file has no policy: its rules would never run"),
                                 ast.Span(rule_file.path, 0, 0),
                                 _("start it with 'policy NAME'")))
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
