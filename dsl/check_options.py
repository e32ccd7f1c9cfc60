"""The options of `relance check` that depend on the actions they go with: `with
statement` sends the debtor's account statement along with a document, so only a letter
or an e-mail can carry it (E213); an SMS, a call, an alert or an escalation has nowhere
to put it.
"""

from __future__ import annotations

from collections.abc import Iterator

from relance.dsl import ast
from relance.dsl.check_walk import Workspace
from relance.dsl.diagnostics import Diagnostic, error
from relance.kernel.i18n import N_, _

# The channels whose message has room for a PDF statement.
STATEMENT_CHANNELS = ("letter", "email")

# Each action that cannot carry a statement, named in the message.
_CANNOT_CARRY = {
    "sms": N_("an SMS cannot carry the account statement: 'with statement' goes with "
              "a letter or an e-mail"),
    "call": N_("a call cannot carry the account statement: 'with statement' goes with "
               "a letter or an e-mail"),
    "notify": N_("an internal alert cannot carry the account statement: 'with statement' "
                 "goes with a letter or an e-mail"),
    "escalate": N_("an escalation cannot carry the account statement: 'with statement' "
                   "goes with a letter or an e-mail"),
}


def _kind(action: ast.ActionSpec) -> str:
    if isinstance(action, ast.Send):
        return action.channel
    if isinstance(action, ast.CallTask):
        return "call"
    return "notify" if isinstance(action, ast.Notify) else "escalate"


def carries_statement(action: ast.ActionSpec) -> bool:
    return isinstance(action, ast.Send) and action.channel in STATEMENT_CHANNELS


def check_statement_option(policy: ast.Policy, workspace: Workspace) -> Iterator[Diagnostic]:
    """`with statement` applies to every action of its rule: each must be a letter or an
    e-mail, or the operator would believe a statement went out that never did."""
    for rule in policy.rules:
        if not rule.options.with_statement:
            continue
        for action in rule.actions:
            if carries_statement(action):
                continue
            # The option's own place when known; an action's when the tree was built
            # by hand.
            span = rule.options.statement_span
            if span == ast.NO_SPAN:
                span = action.span
            yield error("E213",
                        _(_CANNOT_CARRY[_kind(action)]),
                        span,
                        _("remove 'with statement', or attach the statement in a rule "
                          "that sends a letter or an e-mail"))
