"""Payment plans: agreeing a schedule of instalments, and breaking it when one is missed.

A plan covers open invoices of one debtor in one currency; its instalments add up to
their balances on the day it is agreed. Payments go to the invoices as always, and
`store.instalments.follow_plans` (run by every case change) says how far they cover
the instalments, in due order. An instalment still not fully paid the day after it fell
due breaks the plan (`check_plans`, run before each daily run): the plan is marked
broken, the event says which instalment, and an alert is queued for the case's
operator. Rules see `in_plan`, `plan_broken` and `instalment_overdue`.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from relance.engine.roles import Actor, require_write
from relance.engine.scope import require_visible
from relance.kernel.display import show_date, show_money
from relance.kernel.errors import NotFound, UsageError
from relance.kernel.i18n import N_, _
from relance.kernel.money import Money
from relance.store import audit, book
from relance.store.content import ContentLine, content_hash
from relance.store.models import (
    Action,
    ActionItem,
    ActionState,
    Channel,
    Debtor,
    Instalment,
    Invoice,
    InvoiceStatus,
    PaymentPlan,
    PaymentPlanInvoice,
    PlanStatus,
)

_EVERY = re.compile(r"^\s*(\d+)\s*([dwm])\s*$", re.IGNORECASE)
MAX_INSTALMENTS = 120
ALERT_TEMPLATE = "plan_broken"
# The alert's items are the system's, not a rule's: a name no policy can declare, so a
# user's policy acting on the same invoice that day never collides with it.
ALERT_POLICY = "relance:plans"
# Why a plan cannot be cancelled, one sentence per state (translated where raised).
PLAN_NOT_IN_FORCE = {
    PlanStatus.COMPLETED: N_("plan {id} is completed, not in force"),
    PlanStatus.BROKEN: N_("plan {id} is broken, not in force"),
    PlanStatus.CANCELLED: N_("plan {id} is cancelled, not in force"),
}


@dataclass(frozen=True)
class Every:
    """The time between two instalments: days, weeks or calendar months."""

    count: int
    unit: str  # "d", "w" or "m"

    @classmethod
    def parse(cls, text: str) -> Every:
        found = _EVERY.match(text)
        if found is None or int(found.group(1)) == 0:
            raise UsageError(_("every {text!r}: write a number and d, w or m (15d, 2w, 1m)")
                             .format(text=text))
        return cls(int(found.group(1)), found.group(2).lower())

    def after(self, first: dt.date, steps: int) -> dt.date:
        if self.unit == "d":
            return first + dt.timedelta(days=self.count * steps)
        if self.unit == "w":
            return first + dt.timedelta(weeks=self.count * steps)
        months = first.month - 1 + self.count * steps
        year, month = first.year + months // 12, months % 12 + 1
        # The 31st of a shorter month falls on its last day.
        return dt.date(year, month, min(first.day, calendar.monthrange(year, month)[1]))


def even_schedule(total_minor: int, count: int, first: dt.date,
                  every: Every) -> list[tuple[dt.date, int]]:
    """`count` instalments as equal as cents allow; the first ones carry the odd cents."""
    if not 1 <= count <= MAX_INSTALMENTS:
        raise UsageError(_("a plan has between 1 and {most} instalments, not {count}")
                         .format(most=MAX_INSTALMENTS, count=count))
    base, odd = divmod(total_minor, count)
    return [(every.after(first, n), base + (1 if n < odd else 0)) for n in range(count)]


def _open_invoices(session: Session, invoice_ids: Sequence[int],
                   actor: Actor | None = None) -> list[Invoice]:
    if not invoice_ids:
        raise UsageError(_("a plan needs at least one invoice"))
    invoices = list(session.scalars(select(Invoice).where(Invoice.id.in_(list(invoice_ids)))
                                    .order_by(Invoice.due_date, Invoice.id).with_for_update()))
    missing = set(invoice_ids) - {i.id for i in invoices}
    if missing:
        raise NotFound(_("no invoice {id}").format(id=min(missing)))
    for invoice in invoices:
        require_visible(session, actor, invoice.creditor_id,
                        _("no invoice {id}").format(id=invoice.id))
    if len({(i.creditor_id, i.debtor_id) for i in invoices}) != 1:
        raise UsageError(_("a plan covers invoices of one debtor"))
    if len({i.currency for i in invoices}) != 1:
        raise UsageError(_("a plan covers invoices in one currency"))
    for invoice in invoices:
        if invoice.status != InvoiceStatus.OPEN or invoice.balance_minor <= 0:
            raise UsageError(_("invoice {number} has nothing left to pay").format(
                number=invoice.number))
    in_force = session.scalars(
        select(Invoice.number).join(PaymentPlanInvoice, PaymentPlanInvoice.invoice_id == Invoice.id)
        .join(PaymentPlan, PaymentPlan.id == PaymentPlanInvoice.plan_id)
        .where(Invoice.id.in_(list(invoice_ids)), PaymentPlan.status == PlanStatus.ACTIVE)
    ).first()
    if in_force is not None:
        raise UsageError(_("invoice {number} is already in a payment plan in force").format(
            number=in_force))
    return invoices


def create_plan(session: Session, actor: Actor, invoice_ids: Sequence[int], *,
                today: dt.date, schedule: Sequence[tuple[dt.date, int]] | None = None,
                count: int | None = None, first: dt.date | None = None,
                every: Every | None = None) -> PaymentPlan:
    """Agree a plan on these invoices: an explicit `schedule` of (date, minor units), or
    `count` instalments from `first`, one `every` period apart. The instalments must add
    up to what the invoices owe today; their reminders stop (the queue is settled)."""
    require_write(actor, _("agree a payment plan"))
    invoices = _open_invoices(session, invoice_ids, actor)
    total = sum(i.balance_minor for i in invoices)
    currency = invoices[0].currency
    if schedule is None:
        if count is None or first is None:
            raise UsageError(_("give the number of instalments and the first date, or the "
                               "instalments one by one"))
        schedule = even_schedule(total, count, first, every or Every(1, "m"))
    dates = [day for day, _minor in schedule]
    if dates != sorted(dates) or len(set(dates)) != len(dates):
        raise UsageError(_("instalment dates must be distinct and in order"))
    if dates and dates[0] < today:
        raise UsageError(_("the first instalment cannot be before today ({day})").format(
            day=show_date(today)))
    if any(minor <= 0 for _day, minor in schedule):
        raise UsageError(_("every instalment must be positive"))
    planned = sum(minor for _day, minor in schedule)
    if planned != total:
        raise UsageError(
            _("the instalments add up to {planned}, the invoices owe {owed}").format(
                planned=show_money(planned, currency), owed=show_money(total, currency)))
    plan = PaymentPlan(creditor_id=invoices[0].creditor_id, debtor_id=invoices[0].debtor_id,
                       currency=currency, status=PlanStatus.ACTIVE, agreed_on=today,
                       recorded_by=actor.name)
    plan.invoices = [PaymentPlanInvoice(invoice_id=i.id) for i in invoices]
    plan.instalments = [Instalment(due_on=day, amount_minor=minor) for day, minor in schedule]
    session.add(plan)
    session.flush()
    audit.record(session, actor=actor.name, kind="plan.created", subject_type="plan",
                 subject_id=plan.id, creditor_id=plan.creditor_id, debtor_id=plan.debtor_id,
                 data={"invoices": [i.number for i in invoices], "currency": currency,
                       "total_minor": total,
                       "instalments": [{"due_on": day.isoformat(), "amount_minor": minor}
                                       for day, minor in schedule]})
    book.settle_case(session, debtor_ids=[plan.debtor_id], today=today, actor=actor.name,
                     cause=f"plan {plan.id}")
    return plan


def cancel_plan(session: Session, actor: Actor, plan_id: int, *, reason: str,
                today: dt.date, kind: str = "plan.cancelled",
                data: dict[str, object] | None = None) -> PaymentPlan:
    """End a plan in force: its invoices are chased again by the rules."""
    require_write(actor, _("cancel a payment plan"))
    text = reason.strip()
    if not text:
        raise UsageError(_("cancelling a plan needs a reason"))
    plan = session.scalars(select(PaymentPlan).where(PaymentPlan.id == plan_id)
                           .with_for_update()).one_or_none()
    if plan is None:
        raise NotFound(_("no payment plan {id}").format(id=plan_id))
    require_visible(session, actor, plan.creditor_id,
                    _("no payment plan {id}").format(id=plan_id))
    if plan.status != PlanStatus.ACTIVE:
        raise UsageError(_(PLAN_NOT_IN_FORCE[plan.status]).format(id=plan_id))
    plan.status, plan.ended_on = PlanStatus.CANCELLED, today
    audit.record(session, actor=actor.name, kind=kind, subject_type="plan",
                 subject_id=plan.id, creditor_id=plan.creditor_id, debtor_id=plan.debtor_id,
                 data={"reason": text, **(data or {})})
    return plan


def check_plans(session: Session, today: dt.date, *, actor: str = "relance") -> list[int]:
    """Break every plan in force with an instalment due before `today` and not fully
    paid; returns the plans broken. Each gets its event and an alert to the operator."""
    plans = session.scalars(
        select(PaymentPlan).where(PaymentPlan.status == PlanStatus.ACTIVE)
        .where(PaymentPlan.id.in_(
            select(Instalment.plan_id).where(Instalment.due_on < today,
                                             Instalment.paid_minor < Instalment.amount_minor)))
        .options(selectinload(PaymentPlan.instalments), selectinload(PaymentPlan.invoices))
        .order_by(PaymentPlan.id).with_for_update()).all()
    broken = []
    for plan in plans:
        # Instalments follow the balances: bring them up to date before judging.
        book.settle_case(session, debtor_ids=[plan.debtor_id], today=today, actor=actor,
                         cause="plan check")
        if plan.status != PlanStatus.ACTIVE:
            continue
        missed = sorted((i for i in plan.instalments
                         if i.due_on < today and i.paid_minor < i.amount_minor),
                        key=lambda i: i.due_on)
        if not missed:
            continue
        plan.status, plan.ended_on = PlanStatus.BROKEN, today
        first = missed[0]
        audit.record(session, actor=actor, kind="plan.broken", subject_type="plan",
                     subject_id=plan.id, creditor_id=plan.creditor_id, debtor_id=plan.debtor_id,
                     data={"instalment_due_on": first.due_on.isoformat(),
                           "amount_minor": first.amount_minor, "paid_minor": first.paid_minor,
                           "currency": plan.currency})
        _queue_alert(session, plan, today, actor)
        broken.append(plan.id)
    session.flush()
    return broken


def _queue_alert(session: Session, plan: PaymentPlan, today: dt.date, actor: str) -> None:
    """An alert to the case's operator (`[notify] operator` in relance.toml), queued like
    the rules' alerts, once per plan."""
    debtor = session.get(Debtor, plan.debtor_id)
    assert debtor is not None  # a foreign key
    invoices = session.scalars(select(Invoice).where(
        Invoice.id.in_([link.invoice_id for link in plan.invoices])).order_by(Invoice.id)).all()
    open_ones = [i for i in invoices if i.balance_minor > 0]
    if not open_ones:
        return
    action = Action(
        idempotency_key=f"plan-broken:{plan.id}", creditor_id=plan.creditor_id,
        debtor_id=plan.debtor_id, created_on=today, channel=Channel.NOTIFY,
        template=ALERT_TEMPLATE, notify_role="operator", state=ActionState.APPROVED,
        requires_approval=False, proposed_by=actor,
        content_hash=content_hash(
            debtor_id=plan.debtor_id, channel=Channel.NOTIFY.value, template=ALERT_TEMPLATE,
            tone=None, target_stage=None,
            lines=[ContentLine(i.id, i.balance_minor, i.currency) for i in open_ones]))
    action.items = [ActionItem(invoice_id=i.id, policy=ALERT_POLICY, rule="plan_broken",
                               acted_on=today, balance_minor=i.balance_minor,
                               currency=i.currency, facts={"plan": plan.id})
                    for i in open_ones]
    session.add(action)


def plan_total(plan: PaymentPlan) -> Money:
    return Money(plan.currency, sum(i.amount_minor for i in plan.instalments))
