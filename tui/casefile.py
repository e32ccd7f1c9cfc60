"""What the case view reads: one debtor's invoices, its history (the run's actions and
the log's events, each event with whether it can be undone and what undid it), notes,
promises and payment plans."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import case, or_, select
from sqlalchemy.orm import Session, selectinload

from relance.engine import undo
from relance.engine.contacts import CALL
from relance.engine.payer_profile import hundredths
from relance.engine.words import channel_word
from relance.kernel.display import show_date, show_decimal, show_money, show_percent
from relance.kernel.i18n import N_, _, ngettext
from relance.kernel.money import to_minor
from relance.store.models import (
    Action,
    ActionItem,
    ActionState,
    Creditor,
    Debtor,
    Event,
    Invoice,
    Note,
    PayerProfile,
    PaymentPlan,
    PlanStatus,
    Promise,
    RuleSet,
)

# Where an action stands, said of any channel (French agrees these with no noun).
STATE_NAMES: dict[str, str] = {
    ActionState.PROPOSED: N_("to approve"), ActionState.APPROVED: N_("to carry out"),
    ActionState.IN_FLIGHT: N_("being sent"), ActionState.RETRY_WAIT: N_("to retry"),
    ActionState.SENT: N_("done"), ActionState.FAILED: N_("failed"),
    ActionState.UNCERTAIN: N_("sent or not: to check"),
    ActionState.CANCELLED: N_("no longer needed"), ActionState.REJECTED: N_("rejected"),
}
# The changes to a case, by the event type the log stores (an unknown one shows as is).
EVENT_TITLES: dict[str, str] = {
    "payment.recorded": N_("Payment recorded"),
    "credit_note.recorded": N_("Credit note recorded"),
    "payment.reversed": N_("Payment reversed"),
    "payment.allocated": N_("Payment allocated"),
    "payment.unallocated": N_("Allocation removed"),
    "payment.allocation_undone": N_("Allocation undone"),
    "debtor.paused": N_("Chasing paused"),
    "debtor.resumed": N_("Chasing resumed"),
    "debtor.pause_undone": N_("Pause undone"),
    "debtor.resume_undone": N_("Resumption undone"),
    "invoice.dispute_opened": N_("Dispute opened"),
    "invoice.dispute_closed": N_("Dispute closed"),
    "invoice.dispute_undone": N_("Dispute undone"),
    "invoice.dispute_close_undone": N_("Dispute closing undone"),
    "promise.added": N_("Promise to pay"),
    "promise.undone": N_("Promise undone"),
    "note.added": N_("Note"),
    "note.retracted": N_("Note retracted"),
    "level.reset": N_("Level reset"),
    "plan.created": N_("Payment plan agreed"),
    "plan.cancelled": N_("Payment plan ended"),
    "plan.completed": N_("Payment plan completed"),
    "plan.broken": N_("Payment plan broken"),
    "plan.reopened": N_("Payment plan back in force"),
    "plan.undone": N_("Payment plan undone"),
    "portal.issued": N_("Personal link issued"),
    "portal.opened": N_("Debtor opened their page"),
    "portal.revoked": N_("Personal link revoked"),
    "portal.payment_declared": N_("Payment declared by the debtor"),
    "portal.plan_requested": N_("Payment plan asked for by the debtor"),
    "portal.request_accepted": N_("Debtor's request accepted"),
    "portal.request_refused": N_("Debtor's request refused"),
}


def state_name(state: str) -> str:
    return _(STATE_NAMES[state]) if state in STATE_NAMES else str(state)


def event_title(kind: str) -> str:
    return _(EVENT_TITLES[kind]) if kind in EVENT_TITLES else kind


@dataclass(frozen=True)
class HistoryLine:
    """One line of the history: an action of the rules (`channel`, `state`) or a change
    from the log (`kind`). What it says is worded when shown (`what`, `detail`)."""

    day: dt.date
    who: str
    key: str = ""  # the table's row key: "a<action id>" or "e<event id>"
    kind: str = ""  # the event's type, for a change
    channel: str = ""  # for an action
    state: str = ""
    data: tuple[tuple[str, Any], ...] = ()  # the event's stored fields
    rules: str = ""  # for an action: the rules and the rules version behind it
    action_id: int | None = None
    event_id: int | None = None
    undoable: bool = False
    undone_by: int | None = None

    @property
    def what(self) -> str:
        if self.kind == "note.added" and dict(self.data).get("contact") == CALL:
            return _("Call")  # a note that says someone called (`contacts.log_call`)
        if self.kind:
            return event_title(self.kind)
        return _("{channel} · {state}").format(channel=channel_word(self.channel),
                                                state=state_name(self.state))

    @property
    def detail(self) -> str:
        return self.rules if not self.kind else event_detail(dict(self.data))


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
    # As the last run learnt it; None before the first run.
    profile: PayerProfile | None = None


# The payer classes as the case view names them (`engine.payer_profile`).
PAYER_CLASSES: dict[str, str] = {
    "good": N_("good payer"), "slow": N_("slow payer"), "bad": N_("bad payer"),
    "new": N_("new payer, nothing to judge by yet"),
}


def payer_line(profile: PayerProfile) -> str:
    """The payer profile in one line: the class, then each measure it has."""
    parts = [_(PAYER_CLASSES.get(profile.payer_class, profile.payer_class))]
    late = hundredths(profile.days_late_hundredths)
    if late is not None:
        parts.append(_("{days} days late on average").format(days=show_decimal(late, 2)))
    reminders = hundredths(profile.reminders_hundredths)
    if reminders is not None:
        parts.append(_("{count} reminders on average before paying").format(
            count=show_decimal(reminders, 2)))
    kept = profile.promises_kept_hundredths
    if kept is not None:
        parts.append(_("{percent} of promises kept").format(percent=show_percent(Decimal(kept))))
    parts.append(ngettext("{count} dispute", "{count} disputes", profile.disputes_12m).format(
        count=profile.disputes_12m))
    return _("Payer profile (the 12 months before {day}): {measures}").format(
        day=show_date(profile.computed_on), measures=" · ".join(parts))


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
            action.created_on, action.approved_by or action.proposed_by or "",
            key=f"a{action.id}", channel=action.channel.value, state=action.state.value,
            rules=f"{', '.join(rules)} @{version}", action_id=action.id))
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
            event.at.date(), event.actor, key=f"e{event.id}", kind=event.kind,
            data=tuple((event.data or {}).items()), event_id=event.id, undoable=undoable,
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
                notes, promises, _plans(session, debtor_id),
                session.get(PayerProfile, debtor_id))


_STORED_MONEY = re.compile(r"^(-?\d+(?:\.\d+)?) ([A-Z]{3})$")
_STORED_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _shown(value: Any) -> str:
    """A stored field as a person reads it: an amount (`300.00 EUR`) or a day
    (`2026-12-15`) in the language spoken; free text (a reason, a note) as written."""
    text = str(value)
    money = _STORED_MONEY.match(text)
    if money:
        try:
            return show_money(to_minor(Decimal(money[1]), money[2]), money[2])
        except (InvalidOperation, ValueError):
            return text
    if _STORED_DAY.match(text):
        try:
            return show_date(dt.date.fromisoformat(text))
        except ValueError:
            return text
    return text


def event_detail(data: dict[str, Any]) -> str:
    keys = ("reason", "number", "amount", "until", "promised_on", "resolution", "body",
            "outcome", "reference")
    parts = [_shown(data[k]) for k in keys if data.get(k)]
    if "amount_minor" in data and "currency" in data:
        parts.insert(0, show_money(int(data["amount_minor"]), str(data["currency"])))
    if data.get("undoes"):
        parts.insert(0, _("↶ undoes #{event}").format(event=data["undoes"]))
    return " · ".join(parts)[:200]
