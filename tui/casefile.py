"""What the case view reads: one debtor's invoices, its history (the run's actions and
the log's events, each event with whether it can be undone and what undid it), notes,
promises and payment plans."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, or_, select
from sqlalchemy.orm import Session, selectinload

from relance.engine import undo
from relance.store.models import (
    Action,
    ActionItem,
    Creditor,
    Debtor,
    Event,
    Invoice,
    Note,
    PaymentPlan,
    PlanStatus,
    Promise,
    RuleSet,
)
from relance.tui import format


@dataclass(frozen=True)
class HistoryLine:
    day: dt.date
    what: str
    who: str
    detail: str
    key: str = ""  # the table's row key: "a<action id>" or "e<event id>"
    event_id: int | None = None
    undoable: bool = False
    undone_by: int | None = None


@dataclass(frozen=True)
class InstalmentLine:
    due_on: dt.date
    amount_minor: int
    paid_minor: int


@dataclass(frozen=True)
class PlanView:
    id: int
    status: PlanStatus
    currency: str
    agreed_on: dt.date
    ended_on: dt.date | None
    recorded_by: str
    invoices: tuple[str, ...]
    instalments: tuple[InstalmentLine, ...]

    @property
    def in_force(self) -> bool:
        return self.status == PlanStatus.ACTIVE

    @property
    def total_minor(self) -> int:
        return sum(i.amount_minor for i in self.instalments)

    @property
    def paid_count(self) -> int:
        return sum(1 for i in self.instalments if i.paid_minor >= i.amount_minor)


@dataclass
class Case:
    debtor: Debtor
    creditor: Creditor
    invoices: list[Invoice]
    history: list[HistoryLine]
    notes: list[Note]
    promises: list[Promise]
    plans: list[PlanView]


def invoice_policies(session: Session, invoice_id: int) -> list[str]:
    """The policies that have acted on an invoice (where it has a level to reset)."""
    return list(session.scalars(
        select(ActionItem.policy).where(ActionItem.invoice_id == invoice_id)
        .distinct().order_by(ActionItem.policy)))


def find_debtors(session: Session, text: str, limit: int = 20, *,
                 creditor_id: int | None = None) -> list[Debtor]:
    """Debtors whose name or reference contains `text`; one whose reference is exactly
    `text` comes first (a reference is what an operator copies from a bank line)."""
    wanted = text.strip()
    pattern = f"%{wanted}%"
    query = select(Debtor).where(or_(Debtor.name.ilike(pattern), Debtor.ref.ilike(pattern)))
    if creditor_id is not None:
        query = query.where(Debtor.creditor_id == creditor_id)
    found = list(session.scalars(query.order_by(Debtor.name).limit(limit)))
    found.sort(key=lambda d: d.ref.lower() != wanted.lower())
    return found


def first_debtor_id(session: Session) -> int | None:
    return session.scalar(select(Debtor.id).order_by(Debtor.id).limit(1))


def _ruleset_versions(session: Session) -> dict[int, str]:
    return {r.id: (r.git_commit or r.content_hash)[:8] for r in session.scalars(select(RuleSet))}


def _history(session: Session, debtor_id: int, limit: int) -> list[HistoryLine]:
    history: list[HistoryLine] = []
    versions = _ruleset_versions(session)
    for action in session.scalars(
        select(Action).where(Action.debtor_id == debtor_id)
        .options(selectinload(Action.items))
        .order_by(Action.created_on.desc(), Action.id.desc()).limit(limit)
    ):
        rules = sorted({f"{i.policy}/{i.rule}" for i in action.items})
        version = versions.get(action.ruleset_id or -1, "—")
        history.append(HistoryLine(
            action.created_on, f"{action.channel.value} {action.state.value}",
            action.approved_by or action.proposed_by or "",
            f"{', '.join(rules)} @{version}", key=f"a{action.id}"))
    events = session.scalars(
        select(Event).where(Event.debtor_id == debtor_id)
        .order_by(Event.id.desc()).limit(limit)).all()
    undone = undo.undoers_of(session, events)
    for event in events:
        if event.subject_type == "action":
            continue  # shown through the action's own line
        undoable = undo.can_undo(event)
        later = undone.get(event.id)
        history.append(HistoryLine(
            event.at.date(), event.kind, event.actor, _event_detail(event.data),
            key=f"e{event.id}", event_id=event.id, undoable=undoable,
            undone_by=later.id if later else None))
    history.sort(key=lambda h: h.day, reverse=True)
    return history


def _plans(session: Session, debtor_id: int) -> list[PlanView]:
    plans = session.scalars(
        select(PaymentPlan).where(PaymentPlan.debtor_id == debtor_id)
        .options(selectinload(PaymentPlan.instalments), selectinload(PaymentPlan.invoices))
        # Plans in force first, then the most recent.
        .order_by(case((PaymentPlan.status == PlanStatus.ACTIVE, 0), else_=1),
                  PaymentPlan.id.desc())).all()
    numbers = dict(session.execute(select(Invoice.id, Invoice.number).where(
        Invoice.id.in_({link.invoice_id for p in plans for link in p.invoices}))).all())
    return [PlanView(
        plan.id, plan.status, plan.currency, plan.agreed_on, plan.ended_on, plan.recorded_by,
        tuple(sorted(numbers[link.invoice_id] for link in plan.invoices)),
        tuple(InstalmentLine(i.due_on, i.amount_minor, i.paid_minor)
              for i in sorted(plan.instalments, key=lambda i: (i.due_on, i.id))))
        for plan in plans]


def load_case(session: Session, debtor_id: int, *, history_limit: int = 200) -> Case | None:
    debtor = session.get(Debtor, debtor_id)
    if debtor is None:
        return None
    creditor = session.get(Creditor, debtor.creditor_id)
    assert creditor is not None
    invoices = list(session.scalars(
        select(Invoice).where(Invoice.debtor_id == debtor_id)
        .order_by(case((Invoice.balance_minor > 0, 0), else_=1), Invoice.due_date, Invoice.id)))
    notes = list(session.scalars(select(Note).where(Note.debtor_id == debtor_id)
                                 .order_by(Note.id.desc())))
    promises = list(session.scalars(select(Promise).where(Promise.debtor_id == debtor_id)
                                    .order_by(Promise.promised_on.desc())))
    return Case(debtor, creditor, invoices, _history(session, debtor_id, history_limit),
                notes, promises, _plans(session, debtor_id))


def _event_detail(data: dict[str, Any]) -> str:
    keys = ("reason", "number", "amount", "until", "promised_on", "resolution", "body",
            "outcome", "reference")
    parts = [f"{data[k]}" for k in keys if data.get(k)]
    if "amount_minor" in data and "currency" in data:
        parts.insert(0, format.money(int(data["amount_minor"]), str(data["currency"])))
    if data.get("undoes"):
        parts.insert(0, f"↶ undoes #{data['undoes']}")
    return " · ".join(parts)[:200]
