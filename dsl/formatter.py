"""`relance fmt`: one canonical layout for rule files.

    # comments stay, directly above what they were written before
    policy NAME for SCOPE

    rule NAME:
      when CONDITION
      then ACTION and ACTION, OPTION, OPTION

    when CONDITION then ACTION, OPTION      <- an unnamed rule stays on one line

One blank line between blocks, two-space indent, single quotes, canonical option order
(`requires approval`, `every`, `per invoice`, `with statement`), parentheses only where
the meaning needs them. Formatting never changes the tree (`parse(fmt(x)) == parse(x)`)
and is idempotent.

Comments: a comment at the end of the line where a header or a rule ends stays there;
any other comment inside a header or a rule moves just above it; comments between
blocks stay above the next block; comments after the last block stay at the end.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from relance.dsl import ast
from relance.dsl.diagnostics import Diagnostic, has_errors
from relance.dsl.parser import parse_text

INDENT = "  "
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


# --------------------------------------------------------------------------- values


def format_decimal(value: object) -> str:
    """A decimal in plain notation (`100`, never `1E+2`)."""
    return format(value, "f")


def quote(text: str) -> str:
    """A quoted text, in single quotes unless it holds one."""
    return f'"{text}"' if "'" in text else f"'{text}'"


def format_value(value: ast.Value) -> str:
    match value:
        case ast.Duration(count=count, unit=unit):
            return f"{count}{unit}"
        case ast.MoneyValue(amount=amount, currency=currency):
            return f"{format_decimal(amount)} {currency}"
        case ast.NumberValue(value=number):
            return format_decimal(number)
        case ast.DateValue(value=date):
            return date.isoformat()
        case ast.TextValue(value=text):
            return quote(text)
        case ast.WordValue(value=word):
            return word
        case ast.BoolValue(value=flag):
            return "true" if flag else "false"
        case ast.ListValue(items=items):
            return "[" + ", ".join(format_value(item) for item in items) + "]"
    raise TypeError(f"not a value: {value!r}")  # pragma: no cover


# --------------------------------------------------------------------------- conditions


def _rule_ref(identity: str) -> str:
    return identity if _IDENTIFIER.fullmatch(identity) else quote(identity)


def format_condition(condition: ast.Condition) -> str:
    """A condition on one line; parentheses where precedence (not > and > or) needs them."""
    match condition:
        case ast.Or(operands=operands):
            return " or ".join(
                _wrap(operand, isinstance(operand, ast.Or)) for operand in operands)
        case ast.And(operands=operands):
            return " and ".join(
                _wrap(operand, isinstance(operand, ast.And | ast.Or)) for operand in operands)
        case ast.Not(operand=operand):
            return "not " + _wrap(operand, isinstance(operand, ast.And | ast.Or))
        case ast.Compare(field=ref, op=op, value=value):
            return f"{ref.name} {op} {format_value(value)}"
        case ast.InList(field=ref, values=values, negated=negated):
            return f"{ref.name} {'not in' if negated else 'in'} {format_value(values)}"
        case ast.HasTag(value=value, field=ref, negated=negated):
            return f"{format_value(value)} {'not in' if negated else 'in'} {ref.name}"
        case ast.FlagTest(field=ref):
            return ref.name
        case ast.After(rule=rule, by=by):
            return f"after {_rule_ref(rule)} by {format_value(by)}"
    raise TypeError(f"not a condition: {condition!r}")  # pragma: no cover


def _wrap(condition: ast.Condition, parenthesise: bool) -> str:
    text = format_condition(condition)
    return f"({text})" if parenthesise else text


# --------------------------------------------------------------------------- actions


def format_action(action: ast.ActionSpec) -> str:
    match action:
        case ast.Send(channel=channel, template=template, tone=tone):
            text = f"send {channel} {quote(template)}"
            return f"{text} with tone {tone}" if tone else text
        case ast.CallTask(priority=priority):
            return f"call with priority {priority}" if priority else "call"
        case ast.Notify(role=role, template=template):
            return f"notify {role} {quote(template)}"
        case ast.Escalate(stage=stage):
            return f"escalate to {stage}"
    raise TypeError(f"not an action: {action!r}")  # pragma: no cover


def format_options(options: ast.Options) -> str:
    parts = []
    if options.requires_approval:
        parts.append("requires approval")
    if options.every is not None:
        parts.append(f"every {format_value(options.every)}")
    if options.per_invoice:
        parts.append("per invoice")
    if options.with_statement:
        parts.append("with statement")
    return "".join(f", {part}" for part in parts)


def format_rule(rule: ast.Rule) -> str:
    """A rule without its comments (named: three lines; unnamed: one)."""
    actions = " and ".join(format_action(action) for action in rule.actions)
    then = f"then {actions}{format_options(rule.options)}"
    when = f"when {format_condition(rule.condition)}"
    if rule.name is None:
        return f"{when} {then}"
    return f"rule {rule.name}:\n{INDENT}{when}\n{INDENT}{then}"


def format_header(policy: ast.Policy) -> str:
    scope = f" for {format_condition(policy.scope)}" if policy.scope is not None else ""
    return f"policy {policy.name}{scope}"


# --------------------------------------------------------------------------- files


@dataclass
class _Block:
    text: str
    start: int
    end: int
    end_column: int
    leading: list[str] = field(default_factory=list)
    trailing: str | None = None

    def render(self) -> str:
        text = self.text + (f"  {self.trailing}" if self.trailing else "")
        return "\n".join([*self.leading, text])


def _blocks(rule_file: ast.RuleFile) -> list[_Block]:
    blocks: list[_Block] = []
    for policy in rule_file.policies:
        if policy.scope is not None:
            end, end_column = policy.scope.span.end_line, policy.scope.span.end_column
        else:
            end, end_column = policy.span.line, policy.span.column + 1
            if not policy.rules:
                end, end_column = policy.span.end_line, policy.span.end_column
        blocks.append(_Block(format_header(policy), policy.span.line, end, end_column))
        for rule in policy.rules:
            blocks.append(_Block(format_rule(rule), rule.span.line, rule.span.end_line,
                                 rule.span.end_column))
    return blocks


def format_file(rule_file: ast.RuleFile) -> str:
    """The canonical text of a parsed file, comments placed as the module says."""
    blocks = _blocks(rule_file)
    tail: list[str] = []
    for comment in sorted(rule_file.comments, key=lambda c: (c.span.line, c.span.column)):
        text = comment.text.rstrip()
        line = comment.span.line
        ending_here = [b for b in blocks if b.end == line and comment.span.column >= b.end_column]
        if ending_here and ending_here[-1].trailing is None:
            ending_here[-1].trailing = text
            continue
        holder = next((b for b in blocks if b.start <= line <= b.end), None)
        if holder is None:
            holder = next((b for b in blocks if b.start > line), None)
        if holder is None:
            tail.append(text)
        else:
            holder.leading.append(text)
    parts = [block.render() for block in blocks]
    if tail:
        parts.append("\n".join(tail))
    return "\n\n".join(parts) + "\n" if parts else ""


def format_text(text: str, path: str = "<text>") -> tuple[str | None, list[Diagnostic]]:
    """The canonical text, or None (with the diagnostics) when the file has errors:
    a file that does not parse cleanly is never rewritten."""
    rule_file, diagnostics = parse_text(text, path)
    if rule_file is None or has_errors(diagnostics):
        return None, diagnostics
    return format_file(rule_file), diagnostics
