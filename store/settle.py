"""Bringing the queue in line with the case, in the transaction that changed the case.

Every change to a case (a payment, a reversal, a credit note, a pause, a dispute, a
promise, a plan, an invoice import) calls `settle_queue` for the debtors it touched,
before its transaction commits. Each action still waiting (proposed, approved, waiting
to retry) on any channel is checked invoice by invoice against the book as it now is:

- an invoice now paid, or whose debtor is paused, or disputed, promised or put in a
  plan since the action was queued, is dropped from the action (`store.content.
  stale_reason` says which);
- an invoice whose balance changed keeps its place with the new balance, so a grouped
  letter states what is owed now;
- an action left with no invoice is cancelled; an action whose content changed gets a new
  content hash, and an approval given to the old content no longer binds: an approved
  letter, e-mail or SMS goes back to `proposed` to be approved again. Calls and alerts are
  internal work: they keep their state with the new amounts.

Actions in flight are the dispatch's; it checks them again itself before sending.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from relance.store import audit
from relance.store.content import ContentLine, content_hash, stale_reason, wants_statement
from relance.store.models import (
    Action,
    ActionState,
    Channel,
    Debtor,
    Invoice,
    InvoiceStatus,
    ItemState,
    PaymentPlan,
    PaymentPlanInvoice,
    PlanStatus,
    Promise,
    PromiseStatus,
)

PENDING_STATES = (ActionState.PROPOSED, ActionState.APPROVED, ActionState.RETRY_WAIT)
# What reaches the debtor without a person looking again: its approval binds to content.
SENT_UNSEEN = frozenset({Channel.LETTER, Channel.EMAIL, Channel.SMS})
_CHUNK = 500


@dataclass
class Settlement:
    """What settling the queue did, by action id; and, when asked (`keep`), the book as
    it was read to settle them (the actions with their items and approvals, their
    invoices and debtors), for a caller that goes on with them in the same state: the
    dispatcher renders what it claimed from them instead of reading them again."""

    cancelled: list[int] = field(default_factory=list)
    changed: list[int] = field(default_factory=list)
    back_to_proposed: list[int] = field(default_factory=list)
    dropped_items: int = 0
    actions: dict[int, Action] = field(default_factory=dict)
    invoices: dict[int, Invoice] = field(default_factory=dict)
    debtors: dict[int, Debtor] = field(default_factory=dict)

    def merge(self, other: Settlement) -> None:
        self.cancelled += other.cancelled
        self.changed += other.changed
        self.back_to_proposed += other.back_to_proposed
        self.dropped_items += other.dropped_items
        self.actions.update(other.actions)
        self.invoices.update(other.invoices)
        self.debtors.update(other.debtors)


@dataclass
class _Case:
    """What the book says now about the invoices of the actions being settled."""

    invoices: dict[int, Invoice]
    debtors: dict[int, Debtor]
    # invoice id -> the latest day a standing promise or an active plan covering it began
    promised_since: dict[int, dt.date]
    planned_since: dict[int, dt.date]


def _load_case(session: Session, actions: list[Action], today: dt.date) -> _Case:
    invoice_ids = sorted({i.invoice_id for a in actions for i in a.items
                          if i.state == ItemState.ACTIVE})
    debtor_ids = sorted({a.debtor_id for a in actions})
    invoices: dict[int, Invoice] = {}
    for start in range(0, len(invoice_ids), _CHUNK):
        chunk = invoice_ids[start:start + _CHUNK]
        invoices.update((inv.id, inv) for inv in session.scalars(
            select(Invoice).where(Invoice.id.in_(chunk))))
    debtors = {d.id: d for d in session.scalars(select(Debtor).where(Debtor.id.in_(debtor_ids)))}
    promised: dict[int, dt.date] = {}
    planned: dict[int, dt.date] = {}
    by_debtor: dict[int, list[int]] = defaultdict(list)
    for invoice in invoices.values():
        by_debtor[invoice.debtor_id].append(invoice.id)
    for promise in session.scalars(select(Promise).where(
            Promise.debtor_id.in_(debtor_ids), Promise.status == PromiseStatus.OPEN,
            Promise.promised_on >= today)):
        covered = by_debtor[promise.debtor_id] if promise.invoice_id is None else [
            promise.invoice_id]
        since = promise.created_at.date()
        for invoice_id in covered:
            promised[invoice_id] = max(since, promised.get(invoice_id, since))
    for invoice_id, agreed_on in session.execute(
            select(PaymentPlanInvoice.invoice_id, PaymentPlan.agreed_on)
            .join(PaymentPlan, PaymentPlan.id == PaymentPlanInvoice.plan_id)
            .where(PaymentPlan.debtor_id.in_(debtor_ids),
                   PaymentPlan.status == PlanStatus.ACTIVE)):
        planned[invoice_id] = max(agreed_on, planned.get(invoice_id, agreed_on))
    return _Case(invoices, debtors, promised, planned)


def _settle_one(session: Session, action: Action, case: _Case, today: dt.date,
                actor: str, cause: str) -> Settlement:
    result = Settlement()
    changes: list[dict[str, Any]] = []
    debtor = case.debtors[action.debtor_id]
    for item in action.items:
        if item.state != ItemState.ACTIVE:
            continue
        invoice = case.invoices[item.invoice_id]
        reason = stale_reason(
            balance_minor=invoice.balance_minor, is_open=invoice.status == InvoiceStatus.OPEN,
            paused_until=debtor.paused_until, disputed_since=invoice.disputed_since,
            dispute_open=invoice.dispute_reason is not None, today=today,
            queued_on=action.created_on, promised_since=case.promised_since.get(invoice.id),
            planned_since=case.planned_since.get(invoice.id))
        if reason is not None:
            item.state, item.drop_reason = ItemState.DROPPED, reason
            result.dropped_items += 1
            changes.append({"invoice": invoice.number, "dropped": reason})
        elif invoice.balance_minor != item.balance_minor:
            changes.append({"invoice": invoice.number, "was_minor": item.balance_minor,
                            "now_minor": invoice.balance_minor})
            item.balance_minor = invoice.balance_minor
    if not changes:
        return result
    before = action.content_hash
    remaining = [i for i in action.items if i.state == ItemState.ACTIVE]
    action.content_hash = content_hash(
        debtor_id=action.debtor_id, channel=action.channel.value, template=action.template,
        tone=action.tone, target_stage=action.target_stage.value if action.target_stage else None,
        lines=[ContentLine(i.invoice_id, i.balance_minor, i.currency) for i in remaining],
        statement=wants_statement(action.output))
    was = action.state
    if not remaining:
        action.state = ActionState.CANCELLED
        result.cancelled.append(action.id)
    else:
        result.changed.append(action.id)
        approved = any(a.decision == "approve" for a in action.approvals)
        if was != ActionState.PROPOSED and action.channel in SENT_UNSEEN and (
                approved or action.requires_approval):
            action.state = ActionState.PROPOSED
            action.approved_by = None
            action.approved_at = None
            result.back_to_proposed.append(action.id)
    audit.record(session, actor=actor, kind="action.settled", subject_type="action",
                 subject_id=action.id, creditor_id=action.creditor_id,
                 debtor_id=action.debtor_id,
                 data={"cause": cause, "changes": changes, "old_hash": before,
                       "new_hash": action.content_hash, "from": was.value,
                       "state": action.state.value})
    return result


def settle_queue(session: Session, *, debtor_ids: Iterable[int], today: dt.date,
                 actor: str, cause: str, action_ids: Iterable[int] | None = None,
                 keep: bool = False) -> Settlement:
    """Settle the waiting actions of these debtors (or only `action_ids`) against the
    book; see the module doc. Runs in the caller's transaction. `keep`: the settlement
    holds what was read (see `Settlement`); otherwise it is let go chunk by chunk, as a
    large import settles many debtors."""
    wanted = sorted(set(debtor_ids))
    only = None if action_ids is None else set(action_ids)
    total = Settlement()
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start:start + _CHUNK]
        query = (select(Action)
                 .where(Action.debtor_id.in_(chunk), Action.state.in_(PENDING_STATES))
                 .options(selectinload(Action.items), selectinload(Action.approvals))
                 .order_by(Action.id)
                 .with_for_update())
        actions = [a for a in session.scalars(query) if only is None or a.id in only]
        if not actions:
            continue
        case = _load_case(session, actions, today)
        if keep:
            total.actions.update((action.id, action) for action in actions)
            total.invoices.update(case.invoices)
            total.debtors.update(case.debtors)
        for action in actions:
            total.merge(_settle_one(session, action, case, today, actor, cause))
    session.flush()
    return total
