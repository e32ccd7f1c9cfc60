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


def ruleset_state(ruleset: RuleSet | None, run: Run | None) -> dict[str, Any] | None:
    """The rules version as the action's run recorded it: the content hash, and the
    folder's state in git at that run. `git_commit` is set only when the rules were
    exactly that commit (`clean`); `base_commit` is the commit that `dirty` rules are
    uncommitted edits of. `state` is `not_run` for an action no run queued (a case
    change), whose rules folder nobody looked at."""
    if ruleset is None and run is None:
        return None
    state = run.rules_state if run is not None else "not_run"
    base = run.rules_git_commit if run is not None else None
    return {"hash": ruleset.content_hash if ruleset is not None else None,
            "state": state,
            "git_commit": base if state == "clean" else None,
            "base_commit": base if state == "dirty" else None,
            "diff_hash": run.rules_diff_hash if run is not None else None}


def version_line(version: dict[str, Any] | None) -> str:
    """Which rules an action came from, for a person: clean at a commit, uncommitted
    edits (with the hash naming them), outside git, or no run at all."""
    if version is None:
        return _("no rules version: no run queued this action (a case change)")
    rules = (_("rules {hash}").format(hash=version["hash"][:12]) if version["hash"]
             else _("rules unknown"))
    state = version["state"]
    if state == "clean":
        where = _("git {commit} (clean)").format(commit=version["git_commit"])
    elif state == "dirty" and version["base_commit"]:
        where = _("uncommitted edits of {commit} (diff {diff})").format(
            commit=version["base_commit"][:12], diff=(version["diff_hash"] or "")[:12])
    elif state == "dirty":
        where = _("uncommitted files, in a repository without a commit yet "
                  "(diff {diff})").format(diff=(version["diff_hash"] or "")[:12])
    elif state == "not_run":
        where = _("no run queued this action (a case change): the rules folder's state "
                  "was not recorded")
    else:
        where = _("no git repository")
    return f"{rules}, {where}"


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
        out.append("  " + version_line(d["ruleset"]))
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
        "ruleset": ruleset_state(ruleset, run),
        "items": items,
        "approvals": approvals,
        "events": events,
    }
    return AuditReport(data)
