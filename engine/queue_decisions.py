"""Deciding on queued actions: approving and rejecting letters, calls and e-mails one by
one or in bulk, and the credit managers' approval of escalations (four eyes above the
workspace's threshold).

Each decision applies to the action as the operator saw it (`Seen`); bulk operations
apply to the actions still as seen and report the others, never overwriting them.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from relance.engine import mandates
from relance.engine.case_locking import (
    Conflict,
    Seen,
    audit_action,
    check_seen,
    clean_reason,
    locked_action,
    locked_task,
)
from relance.engine.roles import (
    Actor,
    NotAllowed,
    Policy,
    require_credit_manager,
    require_write,
)
from relance.engine.words import state_word
from relance.kernel.display import show_date, show_money
from relance.kernel.errors import RelanceError, UsageError
from relance.kernel.i18n import _
from relance.kernel.money import Money
from relance.store.models import (
    Action,
    ActionState,
    Approval,
    Channel,
    Debtor,
    Invoice,
    ItemState,
    Stage,
    utcnow,
)
from relance.store.settle import settle_queue


@dataclass
class BulkResult:
    """Which actions a bulk operation changed, and which it left because they changed."""

    done: list[int] = field(default_factory=list)
    conflicts: list[Conflict] = field(default_factory=list)
    # Seen in a state the decision does not apply to (approving an approved action).
    skipped: list[int] = field(default_factory=list)
    # Refused for this actor or this action (an operator on an escalation, the proposer
    # approving their own): (action id, why). Nothing of these was written.
    refused: list[tuple[int, str]] = field(default_factory=list)


class EscalationDecision(enum.StrEnum):
    APPROVED = "approved"  # final: the invoices moved to the target stage
    AWAITING_SECOND = "awaiting_second"  # four eyes: one approval recorded, one to go


# --------------------------------------------------------------------------- routine actions


def approve(session: Session, actor: Actor, seen: Seen, *, policy: Policy | None = None,
            now: dt.datetime | None = None) -> ActionState:
    """Approve one proposed action as seen; an escalation goes through
    `approve_escalation` (credit managers, four eyes). Returns the action's new state."""
    require_write(actor, _("approve actions"))
    action = locked_action(session, seen.action_id, actor)
    if action.channel == Channel.ESCALATE:
        decision = approve_escalation(session, actor, seen, policy=policy or Policy(), now=now)
        return (ActionState.SENT if decision == EscalationDecision.APPROVED
                else ActionState.PROPOSED)
    check_seen(session, action, seen)
    if action.state != ActionState.PROPOSED:
        raise UsageError(_("action {id} is {state}: only a proposed action can be approved")
                         .format(id=action.id, state=state_word(action.state)))
    when = now or utcnow()
    session.add(Approval(action_id=action.id, user=actor.name, role=actor.role.value,
                         decision="approve", content_hash=action.content_hash, decided_at=when))
    action.state = ActionState.APPROVED
    action.approved_by = actor.name
    action.approved_at = when
    audit_action(session, actor, action, "action.approved", {})
    return action.state


def reject(session: Session, actor: Actor, seen: Seen, reason: str, *,
           now: dt.datetime | None = None) -> None:
    """Reject one action with a reason: a proposed one (a letter, a call, an escalation),
    or an approved one the dispatch has not taken yet."""
    require_write(actor, _("reject actions"))
    text = clean_reason(reason, _("a rejection"))
    action = locked_action(session, seen.action_id, actor)
    if action.channel == Channel.ESCALATE:
        require_credit_manager(actor, _("refuse an escalation"))
    check_seen(session, action, seen)
    # An approved action not yet claimed by the dispatch can still be stopped.
    stoppable = ({ActionState.PROPOSED} if action.channel == Channel.ESCALATE
                 else {ActionState.PROPOSED, ActionState.APPROVED})
    if action.state not in stoppable:
        raise UsageError(_("action {id} is {state}: only a proposed or approved action can "
                           "be rejected").format(id=action.id, state=state_word(action.state)))
    session.add(Approval(action_id=action.id, user=actor.name, role=actor.role.value,
                         decision="reject", reason=text, content_hash=action.content_hash,
                         decided_at=now or utcnow()))
    action.state = ActionState.REJECTED
    audit_action(session, actor, action, "action.rejected", {"reason": text})


def approve_many(session: Session, actor: Actor, seen: Iterable[Seen], *,
                 policy: Policy | None = None, now: dt.datetime | None = None) -> BulkResult:
    """Approve every action still as seen; the others are reported, not touched."""
    require_write(actor, _("approve actions"))
    return _each_as_seen(session, seen, {ActionState.PROPOSED},
                         lambda one: approve(session, actor, one, policy=policy, now=now))


def reject_many(session: Session, actor: Actor, seen: Iterable[Seen], reason: str, *,
                now: dt.datetime | None = None) -> BulkResult:
    """Reject every action still as seen with one reason; report the others."""
    require_write(actor, _("reject actions"))
    clean_reason(reason, _("a rejection"))
    return _each_as_seen(session, seen, {ActionState.PROPOSED, ActionState.APPROVED},
                         lambda one: reject(session, actor, one, reason, now=now))


def _each_as_seen(session: Session, seen: Iterable[Seen], decidable: set[ActionState],
                  decide: Callable[[Seen], object]) -> BulkResult:
    """One decision on each action seen in a state it applies to, each in its own
    savepoint: a refusal or a conflict leaves nothing of that one behind and is
    reported, and the others go ahead."""
    result = BulkResult()
    for one in seen:
        if one.state not in decidable:
            result.skipped.append(one.action_id)
            continue
        try:
            with session.begin_nested():
                decide(one)
        except Conflict as conflict:
            result.conflicts.append(conflict)
        except RelanceError as refusal:
            result.refused.append((one.action_id, refusal.message))
        else:
            result.done.append(one.action_id)
    return result


# --------------------------------------------------------------------------- escalations


def current_lines(session: Session, action: Action) -> list[tuple[Invoice, int]]:
    """The active items' invoices with the balance each showed when queued."""
    lines = []
    for item in action.items:
        if item.state != ItemState.ACTIVE:
            continue
        invoice = session.get(Invoice, item.invoice_id)
        assert invoice is not None  # a foreign key
        lines.append((invoice, item.balance_minor))
    return lines


def refresh_content(session: Session, action_id: int, *, actor: str = "relance",
                    today: dt.date | None = None) -> bool:
    """Bring a waiting action up to date with its invoices before anyone decides on it
    (`relance.store.settle`): every case change already does so in its own transaction;
    this catches what changed the book around it (a database restored, a manual fix).
    Returns whether anything changed."""
    action = locked_action(session, action_id)
    settled = settle_queue(session, debtor_ids=[action.debtor_id], action_ids=[action_id],
                           today=today or dt.date.today(), actor=actor, cause="refresh")
    return bool(settled.changed or settled.cancelled)


def escalation_amounts(action: Action) -> list[Money]:
    """What an escalation moves, per currency, as queued."""
    totals: dict[str, int] = defaultdict(int)
    for item in action.items:
        if item.state == ItemState.ACTIVE:
            totals[item.currency] += item.balance_minor
    return [Money(currency, minor) for currency, minor in sorted(totals.items())]


def valid_approvals(action: Action) -> list[Approval]:
    """Approvals that still bind: given to the action's current content."""
    return [a for a in action.approvals
            if a.decision == "approve" and a.content_hash == action.content_hash]


def approve_escalation(session: Session, actor: Actor, seen: Seen, *, policy: Policy,
                       now: dt.datetime | None = None) -> EscalationDecision:
    """A credit manager's approval of an escalation proposal.

    Whoever proposed it cannot approve it. Above the workspace's four-eyes threshold the
    first approval is recorded and the proposal waits for a second, different credit
    manager; the last approval moves the invoices to the target stage and the action to
    `sent`. Approvals bind to the content hash: a payment since the proposal voids them.
    """
    require_credit_manager(actor, _("approve an escalation"))
    action = locked_task(session, seen, Channel.ESCALATE, ActionState.PROPOSED,
                         not_this=_("action {id} is a {channel}, not an escalation"),
                         not_now=_("escalation {id} is {state}: nothing to approve"),
                         actor=actor)
    if action.proposed_by == actor.name:
        raise NotAllowed(_("{user} proposed escalation {id}: another credit manager must "
                           "approve it").format(user=actor.name, id=action.id))
    for invoice, queued in current_lines(session, action):
        if invoice.balance_minor != queued or invoice.dispute_reason is not None:
            balance = show_money(invoice.balance_minor, invoice.currency)
            if invoice.dispute_reason is not None:
                message = _("invoice {number} changed since the proposal (balance now "
                            "{balance}, disputed): reload to review the escalation again")
            else:
                message = _("invoice {number} changed since the proposal (balance now "
                            "{balance}): reload to review the escalation again")
            raise Conflict(message.format(number=invoice.number, balance=balance),
                           action_id=action.id)
    debtor = session.get(Debtor, action.debtor_id)
    assert debtor is not None
    today = (now or utcnow()).date()
    if debtor.paused_until is not None and debtor.paused_until >= today:
        raise UsageError(_("{debtor} is paused until {day}: resume the case before "
                           "escalating it").format(debtor=debtor.name,
                                                   day=show_date(debtor.paused_until)))
    # A collection firm acts only under the creditor's mandate (refused, else, naming it).
    mandate = mandates.require_mandate_for_escalation(session, policy, action, today)
    earlier = valid_approvals(action)
    if any(a.user == actor.name for a in earlier):
        raise NotAllowed(_("{user} already approved escalation {id}: a second credit manager "
                           "must approve it").format(user=actor.name, id=action.id))
    when = now or utcnow()
    session.add(Approval(action_id=action.id, user=actor.name, role=actor.role.value,
                         decision="approve", content_hash=action.content_hash, decided_at=when))
    amounts = escalation_amounts(action)
    needed = 2 if policy.needs_two_approvals(amounts) else 1
    approvers = [a.user for a in earlier] + [actor.name]
    amount_text = ", ".join(str(m) for m in amounts)
    if len(approvers) < needed:
        audit_action(session, actor, action, "escalation.first_approval",
                     {"amount": amount_text, "needed": needed})
        return EscalationDecision.AWAITING_SECOND
    stage = action.target_stage or Stage.AMICABLE
    moved = []
    for invoice, _queued in current_lines(session, action):
        invoice.stage = stage
        moved.append(invoice.number)
    action.state = ActionState.SENT
    action.approved_by = ", ".join(approvers)[:120]
    action.approved_at = when
    action.sent_at = when
    if mandate is not None:
        mandates.open_mandate_case(session, mandate, debtor.id, today, actor=actor.name)
    audit_action(session, actor, action, "escalation.approved",
                 {"stage": stage.value, "invoices": moved, "approvers": approvers,
                  "amount": amount_text})
    return EscalationDecision.APPROVED

