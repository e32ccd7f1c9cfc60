"""What the work lists read: escalations waiting for a decision, today's calls, the case
summary shown beside them, and the change counter the desk polls to keep them true.

The lists show work as the case stands now, not as the run queued it: an action of a
paused debtor, or whose invoices are all paid or disputed, is left out even when the
queue has not been settled yet (a row changed by hand, a restored database), and
amounts are the invoices' current balances.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, selectinload

from relance.engine.casework import Seen, call_due_before, valid_approvals
from relance.store.models import (
    Action,
    ActionState,
    Channel,
    Creditor,
    Debtor,
    Event,
    Invoice,
    InvoiceStatus,
    ItemState,
    Promise,
    PromiseStatus,
)


def change_mark(session: Session) -> int:
    """A number that moves whenever anything is committed: every change, from this desk
    or any other process, appends an event (the primary key's maximum is one index
    probe, cheap enough to read every second)."""
    return int(session.scalar(select(func.max(Event.id))) or 0)


def paused(debtor: Debtor, today: dt.date) -> bool:
    """A pause runs up to and including its end date."""
    return debtor.paused_until is not None and debtor.paused_until >= today


def live(invoice: Invoice) -> bool:
    """Still worth chasing: open, something left to pay, not disputed."""
    return (invoice.status == InvoiceStatus.OPEN and invoice.balance_minor > 0
            and invoice.dispute_reason is None)


@dataclass(frozen=True)
class Owed:
    """What an action's invoices owe now (the live ones only)."""

    amount_minor: int
    currency: str
    invoices: int


def _owed_now(session: Session, actions: Sequence[Action], today: dt.date
              ) -> tuple[dict[int, Owed], dict[int, Debtor]]:
    """The live amount of each action still worth showing, and the actions' debtors."""
    debtors = {d.id: d for d in session.scalars(
        select(Debtor).where(Debtor.id.in_({a.debtor_id for a in actions})))}
    invoice_ids = {i.invoice_id for a in actions for i in a.items if i.state == ItemState.ACTIVE}
    invoices = {i.id: i for i in session.scalars(
        select(Invoice).where(Invoice.id.in_(invoice_ids)))} if invoice_ids else {}
    owed: dict[int, Owed] = {}
    for action in actions:
        if paused(debtors[action.debtor_id], today):
            continue
        current = [invoices[i.invoice_id] for i in action.items
                   if i.state == ItemState.ACTIVE and live(invoices[i.invoice_id])]
        if current:
            owed[action.id] = Owed(sum(i.balance_minor for i in current),
                                   current[0].currency, len(current))
    return owed, debtors


# --------------------------------------------------------------------------- case summaries


@dataclass
class CaseSummary:
    """What a credit manager weighs before escalating or calling."""

    debtor: Debtor
    creditor_code: str
    balances: dict[str, int] = field(default_factory=dict)
    open_invoices: int = 0
    oldest_due: dt.date | None = None
    reminders_sent: int = 0
    last_reminder: dt.date | None = None
    promises: dict[str, int] = field(default_factory=dict)
    disputes: int = 0

    def age_days(self, today: dt.date) -> int:
        return (today - self.oldest_due).days if self.oldest_due else 0


def case_summary(session: Session, debtor_id: int) -> CaseSummary:
    debtor = session.get(Debtor, debtor_id)
    assert debtor is not None
    creditor = session.get(Creditor, debtor.creditor_id)
    summary = CaseSummary(debtor, creditor.code if creditor else "")
    for currency, total, count, oldest in session.execute(
        select(Invoice.currency, func.sum(Invoice.balance_minor), func.count(Invoice.id),
               func.min(Invoice.due_date))
        .where(Invoice.debtor_id == debtor_id, Invoice.balance_minor > 0,
               Invoice.status == InvoiceStatus.OPEN)
        .group_by(Invoice.currency)
    ):
        summary.balances[currency] = int(total)
        summary.open_invoices += int(count)
        if summary.oldest_due is None or oldest < summary.oldest_due:
            summary.oldest_due = oldest
    sent, last = session.execute(
        select(func.count(Action.id), func.max(Action.created_on))
        .where(Action.debtor_id == debtor_id,
               Action.channel.in_([Channel.LETTER, Channel.EMAIL, Channel.SMS, Channel.CALL]),
               Action.state == ActionState.SENT)
    ).one()
    summary.reminders_sent, summary.last_reminder = int(sent), last
    for status, count in session.execute(
        select(Promise.status, func.count(Promise.id))
        .where(Promise.debtor_id == debtor_id).group_by(Promise.status)
    ):
        summary.promises[PromiseStatus(status).value] = int(count)
    summary.disputes = int(session.scalar(
        select(func.count(Invoice.id)).where(Invoice.debtor_id == debtor_id,
                                             Invoice.dispute_reason.is_not(None))) or 0)
    return summary


# --------------------------------------------------------------------------- escalations


@dataclass(frozen=True)
class EscalationRow:
    action_id: int
    seen: Seen
    debtor_id: int
    debtor_name: str
    creditor: str
    target_stage: str
    amount_minor: int
    currency: str
    created_on: dt.date
    proposed_by: str
    approvers: tuple[str, ...]


def proposed_escalations(session: Session) -> list[int]:
    """Every escalation waiting for a decision, shown or not."""
    return list(session.scalars(select(Action.id).where(
        Action.channel == Channel.ESCALATE, Action.state == ActionState.PROPOSED)
        .order_by(Action.id)))


def escalations(session: Session, today: dt.date | None = None) -> list[EscalationRow]:
    """Proposed escalations still worth deciding on, oldest first, at today's amounts."""
    actions = session.scalars(
        select(Action).where(Action.channel == Channel.ESCALATE,
                             Action.state == ActionState.PROPOSED)
        .options(selectinload(Action.items), selectinload(Action.approvals))
        .order_by(Action.created_on, Action.id)
    ).all()
    owed, debtors = _owed_now(session, actions, today or dt.date.today())
    codes = dict(session.execute(select(Creditor.id, Creditor.code)).all())
    rows = []
    for action in actions:
        now = owed.get(action.id)
        if now is None:
            continue
        rows.append(EscalationRow(
            action.id, Seen.of(action), action.debtor_id, debtors[action.debtor_id].name,
            codes.get(action.creditor_id, "?"),
            (action.target_stage.value if action.target_stage else "amicable"),
            now.amount_minor, now.currency, action.created_on, action.proposed_by,
            tuple(a.user for a in valid_approvals(action))))
    return rows


# --------------------------------------------------------------------------- calls


@dataclass(frozen=True)
class CallRow:
    action_id: int
    seen: Seen
    debtor_id: int
    debtor_name: str
    phone: str
    priority: str
    amount_minor: int
    currency: str
    attempts: int
    created_on: dt.date
    country: str


_PRIORITY = {"high": 0, "normal": 1, "low": 2}


def call_list(session: Session, today: dt.date, *, only: int | None = None) -> list[CallRow]:
    """Today's call tasks: approved calls due by today, by priority then amount owed now.
    `only`: just that call, if it is still on the list."""
    query = (select(Action).where(
        Action.channel == Channel.CALL, Action.state == ActionState.APPROVED,
        Action.created_on <= today,
        or_(Action.next_attempt_at.is_(None), Action.next_attempt_at < call_due_before(today)))
        .options(selectinload(Action.items)))
    if only is not None:
        query = query.where(Action.id == only)
    actions = session.scalars(query).all()
    owed, debtors = _owed_now(session, actions, today)
    rows = []
    for action in actions:
        now = owed.get(action.id)
        if now is None:
            continue
        debtor = debtors[action.debtor_id]
        rows.append(CallRow(
            action.id, Seen.of(action), debtor.id, debtor.name, debtor.phone or "—",
            action.priority or "normal", now.amount_minor, now.currency, action.attempts,
            action.created_on, debtor.country or "FR"))
    rows.sort(key=lambda r: (_PRIORITY.get(r.priority, 1), -r.amount_minor, r.action_id))
    return rows
