"""`relance audit ACTION`: why an action exists, under which rules, and who decided what.

Everything comes from the database, not from the rule files on disk: the rule text is
cut out of the rule-set version the run stored, so the answer holds years later.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from relance.dsl.parser import parse_text
from relance.engine.roles import ROLE_WORDS, Role
from relance.engine.words import state_word
from relance.kernel.display import show_date, show_datetime, show_money
from relance.kernel.errors import NotFound
from relance.kernel.i18n import N_, _
from relance.kernel.money import money_text
from relance.store.models import (
    Action,
    ActionItem,
    ActionState,
    Approval,
    Debtor,
    Event,
    Invoice,
    RuleSet,
    Run,
)


def rule_text(files: dict[str, Any], path: str, line: int, identity: str) -> str | None:
    """The text of the rule `identity` that starts at `path:line` in a stored version."""
    source = files.get(path)
    if not isinstance(source, str):
        return None
    lines = source.splitlines()
    parsed, _problems = parse_text(source, path)
    if parsed is not None:
        for policy in parsed.policies:
            for rule in policy.rules:
                if rule.identity == identity and rule.span.line == line:
                    end = rule.span.end_line or line
                    return "\n".join(lines[line - 1 : end])
    if 0 < line <= len(lines):  # unparsable today: from its line to the next blank one
        out = []
        for text in lines[line - 1 :]:
            if not text.strip():
                break
            out.append(text)
        return "\n".join(out)
    return None


# Words of the story as it is printed (the JSON keeps the stored values).
ITEM_STATES = {"active": N_("active"), "dropped": N_("dropped")}
DECISIONS = {"approve": N_("approval"), "reject": N_("rejection")}


def _moment(text: str) -> str:
    """A stored moment (`str(datetime)`) as a person reads it."""
    try:
        return show_datetime(dt.datetime.fromisoformat(text))
    except ValueError:
        return text


def _word(words: dict[str, str], value: str) -> str:
    return _(words[value]) if value in words else value


@dataclass(frozen=True)
class AuditReport:
    data: dict[str, Any]

    def render(self) -> str:
        """The story in the language spoken; event kinds and the facts a rule read stay
        as stored (names for programs, values in the rules' notation)."""
        d = self.data
        a = d["action"]
        state = a["state"]
        if state in {s.value for s in ActionState}:
            state = state_word(ActionState(state))
        out = [
            _("action {id}: {channel} {template} to {debtor} — {state}").format(
                id=a["id"], channel=a["channel"], template=a["template"] or "",
                debtor=d["debtor"], state=state).replace("  ", " "),
            "  " + _("queued on {day} by {who} (run {run}), content hash {hash}").format(
                day=show_date(dt.date.fromisoformat(a["created_on"])), who=a["proposed_by"],
                run=a["run_id"], hash=a["content_hash"][:12]),
        ]
        rs = d["ruleset"]
        if rs:
            if rs["git_commit"]:
                version = _("rules version {hash}, git commit {commit}").format(
                    hash=rs["hash"][:12], commit=rs["git_commit"])
            else:
                version = _("rules version {hash}, not in a git repository").format(
                    hash=rs["hash"][:12])
            out.append("  " + version)
        for item in d["items"]:
            out.append("")
            balance = (show_money(item["balance_minor"], item["currency"])
                       if "balance_minor" in item else item["balance"])
            line = _("invoice {number} — policy {policy}, rule {rule} ({place}), {balance} at "
                     "queue time, item {state}").format(
                number=item["invoice"], policy=item["policy"], rule=item["rule"],
                place=f"{item['file']}:{item['line']}", balance=balance,
                state=_word(ITEM_STATES, item["state"]))
            out.append(line + (f" ({item['drop_reason']})" if item["drop_reason"] else ""))
            if item["rule_text"]:
                out.append("  " + _("rule text:"))
                out += [f"    {text}" for text in item["rule_text"].splitlines()]
            out.append("  " + _("facts seen:"))
            out += [f"    {key}: {value}" for key, value in item["facts"].items()]
        out.append("")
        out.append(_("approvals:") if d["approvals"] else _("approvals: none"))
        for ap in d["approvals"]:
            role = (_(ROLE_WORDS[Role(ap["role"])]) if ap["role"] in {r.value for r in Role}
                    else ap["role"])
            valid = "" if ap["valid"] else " " + _("(void: the content changed since)")
            out.append(f"  {_moment(ap['decided_at'])} {ap['user']} ({role}) "
                       f"{_word(DECISIONS, ap['decision'])}"
                       + (f": {ap['reason']}" if ap["reason"] else "") + valid)
        out.append(_("events:"))
        for ev in d["events"]:
            out.append(f"  {_moment(ev['at'])} {ev['actor']} {ev['kind']}")
        return "\n".join(out)


def audit_action(session: Session, action_id: int) -> AuditReport:
    """The full story of one action, JSON-safe."""
    action = session.get(Action, action_id)
    if action is None:
        raise NotFound(_("no action {id}").format(id=action_id))
    debtor = session.get(Debtor, action.debtor_id)
    ruleset = session.get(RuleSet, action.ruleset_id) if action.ruleset_id else None
    run = session.get(Run, action.run_id) if action.run_id else None
    items = []
    for item, number in session.execute(
        select(ActionItem, Invoice.number)
        .join(Invoice, Invoice.id == ActionItem.invoice_id)
        .where(ActionItem.action_id == action_id)
        .order_by(ActionItem.id)
    ):
        items.append({
            "invoice": number, "policy": item.policy, "rule": item.rule,
            "file": item.rule_file, "line": item.rule_line, "acted_on": str(item.acted_on),
            "balance": money_text(item.balance_minor, item.currency),
            "balance_minor": item.balance_minor, "currency": item.currency,
            "state": str(item.state), "drop_reason": item.drop_reason, "facts": item.facts,
            "rule_text": rule_text(ruleset.files, item.rule_file, item.rule_line, item.rule)
            if ruleset else None,
        })
    approvals = [
        {"user": ap.user, "role": ap.role, "decision": ap.decision, "reason": ap.reason,
         "decided_at": str(ap.decided_at), "content_hash": ap.content_hash,
         "valid": ap.content_hash in ("", action.content_hash)}
        for ap in session.scalars(
            select(Approval).where(Approval.action_id == action_id).order_by(Approval.id))
    ]
    events = [
        {"at": str(ev.at), "actor": ev.actor, "kind": ev.kind, "data": ev.data}
        for ev in session.scalars(
            select(Event).where(Event.subject_type == "action",
                                Event.subject_id == str(action_id)).order_by(Event.id))
    ]
    data = {
        "action": {
            "id": action.id, "channel": str(action.channel), "template": action.template,
            "tone": action.tone, "priority": action.priority,
            "target_stage": str(action.target_stage) if action.target_stage else None,
            "state": str(action.state), "created_on": str(action.created_on),
            "proposed_by": action.proposed_by, "approved_by": action.approved_by,
            "requires_approval": action.requires_approval,
            "content_hash": action.content_hash, "run_id": action.run_id,
        },
        "debtor": f"{debtor.ref} {debtor.name}" if debtor else str(action.debtor_id),
        "run": {"id": run.id, "date": str(run.run_date), "started_by": run.started_by}
        if run else None,
        "ruleset": {"hash": ruleset.content_hash, "git_commit": ruleset.git_commit}
        if ruleset else None,
        "items": items,
        "approvals": approvals,
        "events": events,
    }
    return AuditReport(data)
