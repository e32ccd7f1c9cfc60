"""How far the payments so far go in a payment plan's instalments.

A plan covers some invoices; what has been paid towards it is what their balances have
gone down since it was agreed (the instalments add up to those balances on that day).
That amount covers the instalments in the order they fall due. Deriving it from the
balances, rather than counting payments one by one, keeps it right whatever moved them:
a payment, a credit note, a reversal, an undo, an import of the ERP's paid amounts.
A plan whose invoices are all paid is completed; one reopened by a reversal is active
again. Breaking a plan needs the calendar, not a payment: `engine.plans.check_plans`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from relance.store import audit
from relance.store.models import Invoice, PaymentPlan, PlanStatus

# A completed plan may be reopened by a reversal; a broken or cancelled one stays so.
_FOLLOWED = (PlanStatus.ACTIVE, PlanStatus.COMPLETED)


def plan_remaining(session: Session, plan: PaymentPlan) -> int:
    """What the plan's invoices still owe, in the plan's currency's minor units."""
    ids = [link.invoice_id for link in plan.invoices]
    return sum(max(inv.balance_minor, 0) for inv in session.scalars(
        select(Invoice).where(Invoice.id.in_(ids))))


def spread(paid_minor: int, amounts: list[int]) -> list[int]:
    """`paid_minor` spread over instalments of these amounts, the first due first."""
    covered = []
    left = max(paid_minor, 0)
    for amount in amounts:
        share = min(left, amount)
        covered.append(share)
        left -= share
    return covered


def follow_plans(session: Session, *, debtor_ids: Iterable[int], today: dt.date,
                 actor: str) -> None:
    """Bring the instalments of these debtors' plans up to date with their balances."""
    plans = session.scalars(
        select(PaymentPlan)
        .where(PaymentPlan.debtor_id.in_(sorted(set(debtor_ids))),
               PaymentPlan.status.in_(_FOLLOWED))
        .options(selectinload(PaymentPlan.instalments), selectinload(PaymentPlan.invoices))
        .order_by(PaymentPlan.id)).all()
    for plan in plans:
        instalments = sorted(plan.instalments, key=lambda i: (i.due_on, i.id))
        total = sum(i.amount_minor for i in instalments)
        remaining = plan_remaining(session, plan)
        for instalment, covered in zip(
                instalments, spread(total - remaining, [i.amount_minor for i in instalments]),
                strict=True):
            instalment.paid_minor = covered
        if remaining <= 0 and plan.status == PlanStatus.ACTIVE:
            plan.status, plan.ended_on = PlanStatus.COMPLETED, today
            kind = "plan.completed"
        elif remaining > 0 and plan.status == PlanStatus.COMPLETED:
            plan.status, plan.ended_on = PlanStatus.ACTIVE, None
            kind = "plan.reopened"
        else:
            continue
        audit.record(session, actor=actor, kind=kind, subject_type="plan", subject_id=plan.id,
                     creditor_id=plan.creditor_id, debtor_id=plan.debtor_id,
                     data={"remaining_minor": remaining, "currency": plan.currency})
    session.flush()
