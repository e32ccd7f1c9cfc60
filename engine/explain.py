"""`relance explain INVOICE [--on DATE]`: why each rule acts on an invoice or not.

The reference interpreter evaluates every policy and every rule on the invoice's facts
as of the date, without short cuts, and keeps each sub-condition's outcome and the value
it read. The rule that acts is the one a run on that date would queue.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from relance.dsl.ast import CallTask, Escalate, Notify, Policy, Rule, Send
from relance.engine.facts import CREDITOR, DEBTOR, INVOICE, Facts, load_facts
from relance.engine.interpret import Trace, trace
from relance.engine.levels import Why, decide
from relance.kernel.display import show_date, show_money
from relance.kernel.errors import NotFound, UsageError
from relance.kernel.i18n import _, ngettext
from relance.kernel.money import to_decimal


@dataclass(frozen=True)
class RuleExplanation:
    identity: str
    place: str
    held: bool
    acts: bool
    why: str
    trace: Trace
    actions: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {"rule": self.identity, "place": self.place, "held": self.held,
                "acts": self.acts, "why": self.why, "actions": list(self.actions),
                "condition": self.trace.to_json()}


@dataclass(frozen=True)
class PolicyExplanation:
    name: str
    place: str
    scope: Trace | None
    in_scope: bool
    level: str | None
    level_on: dt.date | None
    acting: str | None
    rules: tuple[RuleExplanation, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "policy": self.name, "place": self.place, "in_scope": self.in_scope,
            "scope": self.scope.to_json() if self.scope else None,
            "level": self.level, "level_on": self.level_on.isoformat() if self.level_on else None,
            "acting": self.acting, "rules": [rule.to_json() for rule in self.rules],
        }


@dataclass(frozen=True)
class Explanation:
    invoice: str
    invoice_id: int
    debtor: str
    on: dt.date
    is_open: bool
    summary: str  # in English, for the JSON; `render` says it in the language spoken
    policies: tuple[PolicyExplanation, ...]
    balance_minor: int = 0
    currency: str = ""
    due_date: dt.date | None = None

    def to_json(self) -> dict[str, Any]:
        return {"invoice": self.invoice, "invoice_id": self.invoice_id, "debtor": self.debtor,
                "date": self.on.isoformat(), "open": self.is_open, "summary": self.summary,
                "policies": [policy.to_json() for policy in self.policies]}

    def acting(self) -> dict[str, str]:
        """Policy -> the identity of the rule that acts (only policies that act)."""
        return {p.name: p.acting for p in self.policies if p.acting is not None}

    def render(self) -> str:
        """The explanation as text, one line per rule and per sub-condition, in the
        language spoken; conditions, values read and actions stay in the rules' own
        notation (`overdue >= 15d`, `1250.00 EUR`, `letter 'reminder'`)."""
        lines = [_("{invoice} ({debtor}) on {day}: {summary}").format(
            invoice=self.invoice, debtor=self.debtor, day=show_date(self.on),
            summary=self._summary_text())]
        if not self.is_open:
            lines.append("  " + _("not open: runs do not evaluate it"))
        for policy in self.policies:
            lines.append("")
            level = policy.level or _("none")
            if policy.level_on:
                level = _("{level} (acted {day})").format(level=level,
                                                          day=show_date(policy.level_on))
            lines.append(_("policy {name} ({place}) — level: {level}").format(
                name=policy.name, place=policy.place, level=level))
            if policy.scope is not None:
                lines.append("  " + (_("scope holds:") if policy.in_scope
                                     else _("scope does not hold:")))
                lines += _trace_lines(policy.scope, 4)
            for rule in policy.rules:
                mark = _("ACTS") if rule.acts else (_("held") if rule.held else _("no"))
                lines.append(f"  [{mark}] {rule.identity} ({rule.place}): {_(rule.why)}")
                if rule.acts:
                    lines.append("      " + _("queues: {actions}").format(
                        actions="; ".join(rule.actions)))
                lines += _trace_lines(rule.trace, 6)
            if policy.acting is None:
                lines.append("  " + _("=> nothing acts in this policy"))
            else:
                lines.append("  " + _("=> {rule} acts").format(rule=policy.acting))
        return "\n".join(lines)

    def _summary_text(self) -> str:
        if self.due_date is None:
            return self.summary
        balance = show_money(self.balance_minor, self.currency)
        if not self.is_open:
            return _("balance {amount}").format(amount=balance)
        overdue = (self.on - self.due_date).days
        if overdue > 0:
            when = ngettext("{count} day overdue", "{count} days overdue", overdue).format(
                count=overdue)
        else:
            when = ngettext("due in {count} day", "due in {count} days", -overdue).format(
                count=-overdue)
        return _("open {amount}, due {day} ({when})").format(
            amount=balance, day=show_date(self.due_date), when=when)


def _trace_lines(node: Trace, indent: int, top: bool = True) -> list[str]:
    pad = " " * indent
    yes, no = _("yes"), _("no")
    width = max(len(yes), len(no))
    mark = (yes if node.held else no).ljust(width)
    if node.kind == "leaf":
        return [f"{pad}{mark} {node.text}{_value_text(node.value)}"]
    if node.kind == "not" and node.children[0].kind == "leaf":
        return [f"{pad}{mark} {node.text}{_value_text(node.children[0].value)}"]
    if top and node.kind == "and":  # a rule's conditions, one per line
        return [line for child in node.children for line in _trace_lines(child, indent, False)]
    out = [f"{pad}{mark} {node.text}"]
    for child in node.children:
        out += _trace_lines(child, indent + 2, False)
    return out


def _value_text(value: Any) -> str:
    if value is None:
        return "   (" + _("no value") + ")"
    if isinstance(value, list):
        value = ", ".join(value) or _("none")
    elif isinstance(value, bool):
        value = "true" if value else "false"
    return f"   ({value})"


def describe_action(spec: Send | CallTask | Notify | Escalate) -> str:
    """The action in the rules' own words (`call with priority high`), in every
    language: the policy language does not change with it."""
    if isinstance(spec, Send):
        tone = f" with tone {spec.tone}" if spec.tone else ""
        return f"{spec.channel} '{spec.template}'{tone}"
    if isinstance(spec, CallTask):
        return f"call with priority {spec.priority or 'normal'}"
    if isinstance(spec, Notify):
        return f"notify {spec.role} '{spec.template}'"
    return f"escalate to {spec.stage}"


def _rule_actions(rule: Rule) -> tuple[str, ...]:
    extra = ", requires approval" if rule.needs_approval else ""
    if rule.options.with_statement:
        extra += ", with statement"
    return tuple(describe_action(spec) + extra for spec in rule.actions)


def find_invoice(conn: Connection, reference: str, *,
                 within: Collection[int] | None = None) -> int:
    """An invoice's id from its number (or `CREDITOR:NUMBER`, or `#ID`); `within`: the
    creditors the user may see (engine/scope.py), others' invoices do not exist."""
    if reference.startswith("#") and reference[1:].isdigit():
        by_id = select(INVOICE.c.id).where(INVOICE.c.id == int(reference[1:]))
        if within is not None:
            by_id = by_id.where(INVOICE.c.creditor_id.in_(list(within)))
        ids = [int(row.id) for row in conn.execute(by_id)]
    else:
        query = select(INVOICE.c.id, CREDITOR.c.code).join(
            CREDITOR, CREDITOR.c.id == INVOICE.c.creditor_id)
        if within is not None:
            query = query.where(INVOICE.c.creditor_id.in_(list(within)))
        creditor, _colon, number = reference.rpartition(":")
        if creditor:
            query = query.where(CREDITOR.c.code == creditor)
        ids = [int(row.id) for row in conn.execute(query.where(INVOICE.c.number == number))]
        if len(ids) > 1:
            raise UsageError(_("{reference!r} names invoices of several creditors: write "
                               "CREDITOR:NUMBER").format(reference=reference))
    if not ids:
        raise NotFound(_("no invoice {reference!r}").format(reference=reference))
    return ids[0]


def explain_invoice(
    conn: Connection, policies: Sequence[Policy], invoice_id: int, on: dt.date
) -> Explanation:
    """Every policy and rule on this invoice as of `on`, with the reasons."""
    book = load_facts(conn, on, invoice_ids=[invoice_id])
    if not book:
        row = conn.execute(
            select(INVOICE.c.number, INVOICE.c.balance_minor, INVOICE.c.currency,
                   INVOICE.c.due_date, DEBTOR.c.ref)
            .join(DEBTOR, DEBTOR.c.id == INVOICE.c.debtor_id)
            .where(INVOICE.c.id == invoice_id)
        ).one()
        balance = to_decimal(row.balance_minor, row.currency)
        return Explanation(row.number, invoice_id, row.ref, on, False,
                           f"balance {balance} {row.currency}", (),  # not for people: JSON
                           balance_minor=row.balance_minor, currency=row.currency,
                           due_date=row.due_date)
    facts = book[0]
    return Explanation(
        invoice=facts.number, invoice_id=invoice_id, debtor=facts.debtor_ref, on=on,
        is_open=True, summary=_summary(facts),
        policies=tuple(_explain_policy(policy, facts) for policy in policies),
        balance_minor=facts.balance_minor, currency=facts.currency, due_date=facts.due_date,
    )


def _summary(facts: Facts) -> str:
    """The summary for the JSON (programs read it): English, exact amounts, ISO dates."""
    balance = to_decimal(facts.balance_minor, facts.currency)
    overdue = (facts.on - facts.due_date).days
    when = f"{overdue} days overdue" if overdue > 0 else f"due in {-overdue} days"
    return f"open {balance} {facts.currency}, due {facts.due_date.isoformat()} ({when})"


def _explain_policy(policy: Policy, facts: Facts) -> PolicyExplanation:
    decision = decide(policy, facts)
    level = facts.level(policy.name)
    rules = []
    for outcome in decision.outcomes:
        rule = outcome.rule
        rules.append(RuleExplanation(
            identity=rule.identity, place=f"{rule.span.file}:{rule.span.line}",
            held=outcome.held, acts=outcome.why is Why.ACTS, why=str(outcome.why),
            trace=trace(rule.condition, facts, policy.name), actions=_rule_actions(rule),
        ))
    return PolicyExplanation(
        name=policy.name, place=f"{policy.span.file}:{policy.span.line}",
        scope=trace(policy.scope, facts, policy.name) if policy.scope is not None else None,
        in_scope=decision.in_scope, level=level.rule, level_on=level.acted_on,
        acting=decision.acting.identity if decision.acting else None, rules=tuple(rules),
    )
