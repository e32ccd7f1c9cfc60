"""The references of `relance check`: `after` naming a rule that exists and comes earlier
(E210, E211), templates that exist on the channel they are sent on (E212), one rule per
identity in a policy and one policy per name in a workspace (E220, E221), open
invoices sitting on a level whose rule was removed (W306), and `creditor` compared with
a code no creditor of the book has (W307).
"""

from __future__ import annotations

from collections.abc import Iterator

from relance.dsl import ast
from relance.dsl.check_walk import Workspace, atoms, conditions_of, rule_head
from relance.dsl.diagnostics import Diagnostic, did_you_mean, error, suggestion, warning
from relance.kernel.i18n import _, ngettext


def check_after_references(policy: ast.Policy, workspace: Workspace) -> Iterator[Diagnostic]:
    """`after X`: X must be a rule of this policy, and an earlier one."""
    order = {rule.identity: index for index, rule in enumerate(policy.rules)}
    for condition, owner in conditions_of(policy):
        for atom in atoms(condition):
            if not isinstance(atom, ast.After):
                continue
            if atom.rule not in order:
                hint = suggestion(atom.rule, order)
                if hint is None and order:
                    hint = _("the rules of this policy are: {rules}").format(
                        rules=", ".join(f"'{name}'" for name in order))
                yield error("E210",
                            _("no rule '{rule}' in policy '{policy}'").format(
                                rule=atom.rule, policy=policy.name),
                            atom.span, hint)
                workspace.broken.add(id(condition))
                continue
            if owner is None:
                continue
            position = order[atom.rule]
            own = order.get(owner.identity, -1)
            if position == own and owner.options.every is None:
                yield error("E211",
                            _("rule '{rule}' waits for itself, so it can never act").format(
                                rule=owner.identity),
                            atom.span,
                            _("add ', every DURATION' to repeat it, or name an earlier rule"))
            elif position > own:
                yield error(
                    "E211",
                    _("rule '{rule}' waits for '{other}', which comes later: it can never "
                      "act").format(rule=owner.identity, other=atom.rule),
                    atom.span,
                    _("levels only move forward; 'after' must name an earlier rule"))


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
                yield error("E212", _("unknown template '{template}'").format(
                                template=template), action.span,
                            suggestion(template, catalogue))
            elif channel not in channels:
                have = ", ".join(sorted(channels)) or _("no channel")
                yield error("E212",
                            _("template '{template}' has no {channel} version (it has: "
                              "{channels})").format(template=template, channel=channel,
                                                    channels=have),
                            action.span,
                            _("add {template}/{channel}.LANG.EXT to the templates, or send it "
                              "on another channel").format(template=template,
                                                           channel=channel))


def check_duplicate_rules(policy: ast.Policy, workspace: Workspace) -> Iterator[Diagnostic]:
    """Two rules with one identity in a policy."""
    seen: dict[str, ast.Rule] = {}
    for rule in policy.rules:
        first = seen.get(rule.identity)
        if first is not None:
            if rule.name:
                hint = _("the first is at line {line}; rename one").format(
                    line=first.span.line)
            else:
                hint = _("the first is at line {line}; name one with 'rule NAME:'").format(
                    line=first.span.line)
            yield error("E220",
                        _("two rules are '{rule}' in policy '{policy}'").format(
                            rule=rule.identity, policy=policy.name),
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
                yield error("E221", _("a second policy is named '{policy}'").format(
                                policy=policy.name), header,
                            _("the first is at {place}; rename one").format(place=first.span))
            else:
                seen[policy.name] = policy


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
        if policy is None:
            span = ast.Span("(store)", 0, 0)
            message = ngettext(
                "{count} open invoice sits on policy '{policy}', which is no longer in the "
                "rules",
                "{count} open invoices sit on policy '{policy}', which is no longer in the "
                "rules", count).format(count=count, policy=policy_name)
        else:
            line = policy.span
            span = ast.Span(line.file, line.line, line.column, line.line,
                            line.column + len(f"policy {policy_name}"))
            message = ngettext(
                "{count} open invoice sits on rule '{rule}' of policy '{policy}', which is "
                "no longer there",
                "{count} open invoices sit on rule '{rule}' of policy '{policy}', which is "
                "no longer there", count).format(count=count, rule=identity,
                                                 policy=policy_name)
        yield warning("W306", message, span,
                      _("they continue from the last rule they reached that still exists; "
                        "an operator can reset their level"))


def check_creditor_codes(policy: ast.Policy, workspace: Workspace) -> Iterator[Diagnostic]:
    """`creditor = CODE` (or `!=`, `in`) with a code no creditor of the book has: most
    likely a typo, since the comparison then never holds (or, with `!=`, always). Only
    when the store was read: rules are checked without a database too, and a creditor
    may be added after its rules. Codes compare ignoring case, as a run compares them."""
    if workspace.creditors is None:
        return
    known = {code.lower(): code for code in workspace.creditors}
    for condition, _owner in conditions_of(policy):
        if id(condition) in workspace.broken:
            continue
        for atom in atoms(condition):
            values: tuple[ast.Scalar, ...] = ()
            if isinstance(atom, ast.Compare) and atom.field.name == "creditor":
                values = (atom.value,)
            elif isinstance(atom, ast.InList) and atom.field.name == "creditor":
                values = atom.values.items
            for value in values:
                if not isinstance(value, ast.WordValue | ast.TextValue) \
                        or value.value.lower() in known:
                    continue
                close = did_you_mean(value.value.lower(), known)
                if close is not None:
                    hint = _("did you mean '{word}'?").format(word=known[close])
                elif known:
                    hint = _("the creditors' codes are: {codes}").format(
                        codes=", ".join(sorted(known.values())))
                else:
                    hint = _("the book has no creditor yet")
                yield warning("W307", _("no creditor has the code '{code}'").format(
                                  code=value.value), value.span, hint)
