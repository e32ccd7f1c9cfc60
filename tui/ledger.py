"""What the dashboard and the suspense screen read: the aged balance, DSO, today's runs
and sends, the sends that need a person, and the money no invoice has taken yet."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import case, func, select, true
from sqlalchemy.orm import Session, selectinload

from relance.engine import aging
from relance.engine.aging import AgedLine
from relance.engine.client_funds import overdue_funds
from relance.store.book import unallocated_minor
from relance.store.models import (
    Action,
    ActionState,
    Channel,
    Debtor,
    Invoice,
    Payment,
    PaymentAllocation,
    Run,
)

# --------------------------------------------------------------------------- the dashboard


@dataclass
class Dashboard:
    by_creditor: list[AgedLine]
    by_segment: list[AgedLine]
    totals: list[AgedLine]
    dso: dict[str, Decimal | None]
    runs_today: int
    queued_today: int
    sent_today: dict[str, int]
    failed: int
    uncertain: int
    to_look_at: list[tuple[int, str, str, str, str]]  # id, state, channel, debtor, error
    # Client funds held past the mandate's period (R124-6): per currency, the amount and
    # how many payments, with the oldest one's days late.
    funds_overdue: dict[str, tuple[int, int]] = field(default_factory=dict)
    funds_overdue_days: int = 0


def action_debtors(session: Session, action_ids: list[int]) -> dict[int, int]:
    """The debtor of each action."""
    if not action_ids:
        return {}
    return {row[0]: row[1] for row in session.execute(
        select(Action.id, Action.debtor_id).where(Action.id.in_(action_ids)))}


def dashboard(session: Session, today: dt.date,
              creditor_ids: Sequence[int] | None = None) -> Dashboard:
    """The aged balance by creditor and by segment (from `relance.engine.aging`), DSO,
    today's runs and sends, and the sends that need a person; of the creditors the user
    may see (`creditor_ids`, None: all)."""
    by_creditor = aging.aged_balance(session, on=today, by="creditor",
                                     creditor_ids=creditor_ids)
    by_segment = aging.aged_balance(session, on=today, by="segment",
                                    creditor_ids=creditor_ids)
    runs_today = int(session.scalar(select(func.count(Run.id)).where(Run.run_date == today))
                     or 0)
    # The actions counted and listed below: those of the creditors the user may see.
    seen = (Action.creditor_id.in_(list(creditor_ids)) if creditor_ids is not None
            else true())
    queued_today = int(session.scalar(
        select(func.count(Action.id)).where(Action.created_on == today, seen)) or 0)
    start = dt.datetime.combine(today, dt.time(), tzinfo=dt.UTC)
    sent_today = {Channel(c).value: int(n) for c, n in session.execute(
        select(Action.channel, func.count(Action.id))
        .where(Action.state == ActionState.SENT, Action.sent_at >= start,
               Action.sent_at < start + dt.timedelta(days=1), seen)
        .group_by(Action.channel))}
    counts = dict(session.execute(
        select(Action.state, func.count(Action.id))
        .where(Action.state.in_([ActionState.FAILED, ActionState.UNCERTAIN]), seen)
        .group_by(Action.state)).all())
    look = session.execute(
        select(Action.id, Action.state, Action.channel, Debtor.name, Action.last_error)
        .join(Debtor, Debtor.id == Action.debtor_id)
        .where(Action.state.in_([ActionState.UNCERTAIN, ActionState.FAILED]), seen)
        .order_by(case((Action.state == ActionState.UNCERTAIN, 0), else_=1), Action.id)
        .limit(200)).all()
    overdue: dict[str, tuple[int, int]] = {}
    late = overdue_funds(session, today,
                         list(creditor_ids) if creditor_ids is not None else None)
    for fund in late:
        amount, count = overdue.get(fund.line.currency, (0, 0))
        overdue[fund.line.currency] = (amount + fund.line.amount_minor, count + 1)
    return Dashboard(
        list(by_creditor.lines), list(by_segment.lines), list(by_segment.totals),
        by_segment.dso, runs_today, queued_today, sent_today,
        int(counts.get(ActionState.FAILED, 0)), int(counts.get(ActionState.UNCERTAIN, 0)),
        [(r[0], ActionState(r[1]).value, Channel(r[2]).value, r[3], r[4] or "")
         for r in look],
        overdue, max((fund.days_late for fund in late), default=0))


# --------------------------------------------------------------------------- suspense


@dataclass(frozen=True)
class SuspenseRow:
    """A payment with money no invoice has taken: in suspense (no debtor known) or a
    credit on a debtor's account."""

    payment_id: int
    creditor_id: int
    received_on: dt.date
    amount_minor: int
    left_minor: int
    currency: str
    reference: str
    source: str
    bank_ref: str | None
    recorded_by: str
    debtor_id: int | None
    debtor_name: str
    debtor_ref: str
    allocated_to: tuple[str, ...]


def suspense(session: Session, limit: int = 500) -> list[SuspenseRow]:
    """Payments not reversed with something left to allocate, those with no debtor first,
    then the oldest received."""
    allocated = (select(func.coalesce(func.sum(PaymentAllocation.amount_minor), 0))
                 .where(PaymentAllocation.payment_id == Payment.id)
                 .correlate(Payment).scalar_subquery())
    payments = session.scalars(
        select(Payment).where(Payment.reversed_on.is_(None), Payment.amount_minor > allocated)
        .options(selectinload(Payment.allocations))
        .order_by(case((Payment.debtor_id.is_(None), 0), else_=1), Payment.received_on,
                  Payment.id).limit(limit)).all()
    debtors = {d.id: d for d in session.scalars(select(Debtor).where(
        Debtor.id.in_({p.debtor_id for p in payments if p.debtor_id is not None})))}
    numbers = dict(session.execute(select(Invoice.id, Invoice.number).where(Invoice.id.in_(
        {a.invoice_id for p in payments for a in p.allocations}))).all())
    rows = []
    for payment in payments:
        debtor = debtors.get(payment.debtor_id) if payment.debtor_id is not None else None
        rows.append(SuspenseRow(
            payment.id, payment.creditor_id, payment.received_on, payment.amount_minor,
            unallocated_minor(payment), payment.currency, payment.reference, payment.source,
            payment.bank_ref, payment.recorded_by, payment.debtor_id,
            debtor.name if debtor else "", debtor.ref if debtor else "",
            tuple(numbers[a.invoice_id] for a in payment.allocations)))
    return rows


def debtor_invoices(session: Session, debtor_id: int, numbers: list[str]) -> dict[str, Invoice]:
    """A debtor's invoices by number, among `numbers`."""
    return {i.number: i for i in session.scalars(
        select(Invoice).where(Invoice.debtor_id == debtor_id, Invoice.number.in_(numbers)))}
