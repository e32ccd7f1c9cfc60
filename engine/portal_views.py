"""What the portal's people read, each through their own scope.

Every read takes the acting `Actor`: a user limited to some creditors (a client
company, a firm's operator) reads those creditors' rows only (engine/scope.py), and a
sales rep only the debtors whose `sales_rep` is theirs, as `locked_debtor` allows them
to write. A debtor outside that scope is not found, never refused by name.

The pages themselves (web/portal_pages.py) word and format what these return.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from relance.engine.aging import AgedBalance, aged_balance
from relance.engine.client_funds import remittances
from relance.engine.contacts import CALL
from relance.engine.mandates import case_under_mandate
from relance.engine.roles import Actor
from relance.engine.scope import creditor_ids
from relance.engine.trends import CurrencyTrend, trends
from relance.store.models import (
    OUTBOUND_CHANNELS,
    Action,
    ActionItem,
    ActionState,
    Channel,
    Creditor,
    Debtor,
    Event,
    Invoice,
    InvoiceStatus,
    MandateCase,
    Note,
    Promise,
    PromiseStatus,
)

# The client's "actions taken" and a debtor's reminders: the latest ones only.
RECENT_ACTIONS = 40
# How many recent notes the portal looks through to find the logged calls.
RECENT_NOTES = 400


Q = TypeVar("Q", bound=Select[*tuple[Any, ...]])


def _scoped_debtors(session: Session, statement: Q, actor: Actor) -> Q:
    """`statement` (joined to Debtor) limited to the debtors `actor` may see."""
    ids = creditor_ids(session, actor)
    if ids is not None:
        statement = statement.where(Debtor.creditor_id.in_(ids))
    if actor.sales_rep is not None:
        statement = statement.where(Debtor.sales_rep == actor.sales_rep)
    return statement


def _open_invoices() -> Any:
    return (Invoice.balance_minor > 0) & (Invoice.status != InvoiceStatus.CANCELLED)


# --------------------------------------------------------------------------- dashboard


@dataclass(frozen=True)
class Workload:
    """What waits for the credit team today."""

    to_approve: int  # routine actions proposed, waiting for a decision
    escalations: int  # escalations proposed, waiting for a credit manager
    disputes: int  # open invoices under dispute
    promises_due: int  # open promises whose day has come


@dataclass(frozen=True)
class DebtorOwing:
    """A debtor's overdue balance in one currency, for the dashboard's list."""

    creditor_code: str
    ref: str
    name: str
    currency: str
    overdue_minor: int
    oldest_due: dt.date


@dataclass(frozen=True)
class Dashboard:
    aged: AgedBalance  # by currency: one total line per currency
    trends: list[CurrencyTrend]
    work: Workload
    most_overdue: list[DebtorOwing]  # the largest overdue balances first


# How many debtors the dashboard lists by overdue balance.
MOST_OVERDUE = 10


def most_overdue(session: Session, actor: Actor, today: dt.date,
                 limit: int = MOST_OVERDUE) -> list[DebtorOwing]:
    """The debtors the actor sees that owe the most past their due dates."""
    owed = func.sum(Invoice.balance_minor)
    statement = _scoped_debtors(session, (
        select(Creditor.code, Debtor.ref, Debtor.name, Invoice.currency, owed,
               func.min(Invoice.due_date))
        .select_from(Invoice)
        .join(Debtor, Debtor.id == Invoice.debtor_id)
        .join(Creditor, Creditor.id == Invoice.creditor_id)
        .where(_open_invoices(), Invoice.due_date < today)
        .group_by(Creditor.code, Debtor.id, Debtor.ref, Debtor.name, Invoice.currency)
        .order_by(owed.desc(), Debtor.name).limit(limit)), actor)
    return [DebtorOwing(code, ref, name, currency, int(total), oldest)
            for code, ref, name, currency, total, oldest in session.execute(statement)]


def dashboard(session: Session, actor: Actor, today: dt.date) -> Dashboard:
    """The credit team's view of the book the actor sees."""
    ids = creditor_ids(session, actor)

    def count(statement: Select[Any], column: Any) -> int:
        if ids is not None:
            statement = statement.where(column.in_(ids))
        return int(session.scalar(statement) or 0)

    proposed = select(func.count()).select_from(Action).where(
        Action.state == ActionState.PROPOSED)
    work = Workload(
        to_approve=count(proposed.where(Action.channel != Channel.ESCALATE),
                         Action.creditor_id),
        escalations=count(proposed.where(Action.channel == Channel.ESCALATE),
                          Action.creditor_id),
        disputes=count(select(func.count()).select_from(Invoice).where(
            _open_invoices(), Invoice.dispute_reason.is_not(None)), Invoice.creditor_id),
        promises_due=count(select(func.count()).select_from(Promise).where(
            Promise.status == PromiseStatus.OPEN, Promise.promised_on <= today),
            Promise.creditor_id),
    )
    return Dashboard(aged_balance(session, on=today, by="currency", creditor_ids=ids),
                     trends(session, today, creditor_ids=ids), work,
                     most_overdue(session, actor, today))


# --------------------------------------------------------------------------- sales rep


@dataclass(frozen=True)
class InvoiceLine:
    """An open invoice, with its debtor for the lists that mix debtors."""

    creditor_code: str
    debtor_ref: str
    debtor_name: str
    number: str
    issue_date: dt.date
    due_date: dt.date
    currency: str
    amount_minor: int
    balance_minor: int
    days_late: int
    dispute_reason: str | None
    disputed_since: dt.date | None
    # The last reminder sent about it (day and channel); None: none yet.
    reminded_on: dt.date | None = None
    reminded_by: Channel | None = None


@dataclass(frozen=True)
class RepHome:
    late: list[InvoiceLine]  # the most days late first
    disputes: list[InvoiceLine]


def _sent_day(action: Action) -> dt.date:
    return action.sent_at.date() if action.sent_at is not None else action.created_on


def _last_reminders(session: Session, invoice_ids: Iterable[int]
                    ) -> dict[int, tuple[dt.date, Channel]]:
    wanted = sorted(set(invoice_ids))
    if not wanted:
        return {}
    found: dict[int, tuple[dt.date, Channel]] = {}
    rows = session.execute(
        select(ActionItem.invoice_id, Action)
        .join(Action, Action.id == ActionItem.action_id)
        .where(ActionItem.invoice_id.in_(wanted), Action.state == ActionState.SENT,
               Action.channel.in_(sorted(OUTBOUND_CHANNELS))))
    for invoice_id, action in rows:
        day = _sent_day(action)
        if invoice_id not in found or found[invoice_id][0] < day:
            found[invoice_id] = (day, action.channel)
    return found


def _invoice_lines(session: Session, statement: Select[Invoice, str, str, str], today: dt.date
                   ) -> list[InvoiceLine]:
    rows = session.execute(statement).all()
    reminded = _last_reminders(session, (row[0].id for row in rows))
    lines = []
    for invoice, debtor_ref, debtor_name, creditor_code in rows:
        last = reminded.get(invoice.id)
        lines.append(InvoiceLine(
            creditor_code, debtor_ref, debtor_name, invoice.number, invoice.issue_date,
            invoice.due_date, invoice.currency, invoice.amount_minor, invoice.balance_minor,
            max(0, (today - invoice.due_date).days), invoice.dispute_reason,
            invoice.disputed_since, last[0] if last else None, last[1] if last else None))
    return lines


def _invoices_with_debtor() -> Select[Invoice, str, str, str]:
    return (select(Invoice, Debtor.ref, Debtor.name, Creditor.code)
            .join(Debtor, Debtor.id == Invoice.debtor_id)
            .join(Creditor, Creditor.id == Invoice.creditor_id)
            .where(_open_invoices()))


def rep_home(session: Session, actor: Actor, today: dt.date) -> RepHome:
    """The late invoices and open disputes of the debtors the actor sees (a sales rep:
    their own)."""
    late = _scoped_debtors(session, _invoices_with_debtor(), actor).where(
        Invoice.due_date < today).order_by(Invoice.due_date, Debtor.name, Invoice.number)
    disputed = _scoped_debtors(session, _invoices_with_debtor(), actor).where(
        Invoice.dispute_reason.is_not(None)).order_by(Invoice.disputed_since, Invoice.number)
    return RepHome(_invoice_lines(session, late, today),
                   _invoice_lines(session, disputed, today))


# --------------------------------------------------------------------------- client company


@dataclass(frozen=True)
class CaseLine:
    """A debtor's case the firm took under a creditor's mandate."""

    reference: str
    creditor_code: str
    debtor_ref: str
    debtor_name: str
    opened_on: dt.date
    open_minor: dict[str, int]  # what the debtor still owes, per currency


@dataclass(frozen=True)
class ActionLine:
    """Something done about a debtor: a message sent, or a call someone logged (the
    client company is not told which of the firm's people did it)."""

    day: dt.date
    channel: Channel
    creditor_code: str
    debtor_ref: str
    debtor_name: str


@dataclass(frozen=True)
class RemittanceLine:
    creditor_code: str
    reference: str
    until: dt.date
    made_on: dt.date
    currency: str
    collected_minor: int
    fees_minor: int
    net_minor: int


@dataclass(frozen=True)
class ClientHome:
    aged: AgedBalance  # by creditor
    cases: list[CaseLine]
    actions: list[ActionLine]  # newest first
    remittances: list[RemittanceLine]  # newest first


def _open_by_debtor(session: Session, debtor_ids: list[int]) -> dict[int, dict[str, int]]:
    owed: dict[int, dict[str, int]] = defaultdict(dict)
    if debtor_ids:
        for debtor_id, currency, total in session.execute(
                select(Invoice.debtor_id, Invoice.currency, func.sum(Invoice.balance_minor))
                .where(_open_invoices(), Invoice.debtor_id.in_(debtor_ids))
                .group_by(Invoice.debtor_id, Invoice.currency)):
            owed[debtor_id][currency] = int(total)
    return owed


def _sent_actions(session: Session, actor: Actor) -> list[ActionLine]:
    statement = _scoped_debtors(session, (
        select(Action, Debtor.ref, Debtor.name, Creditor.code)
        .join(Debtor, Debtor.id == Action.debtor_id)
        .join(Creditor, Creditor.id == Action.creditor_id)
        .where(Action.state == ActionState.SENT,
               Action.channel.in_(sorted(OUTBOUND_CHANNELS)))
        .order_by(Action.sent_at.desc(), Action.id.desc()).limit(RECENT_ACTIONS)), actor)
    return [ActionLine(_sent_day(action), action.channel, code, ref, name)
            for action, ref, name, code in session.execute(statement)]


def _logged_calls(session: Session, actor: Actor) -> list[ActionLine]:
    statement = _scoped_debtors(session, (
        select(Event, Debtor.ref, Debtor.name, Creditor.code)
        .join(Debtor, Debtor.id == Event.debtor_id)
        .join(Creditor, Creditor.id == Debtor.creditor_id)
        .where(Event.kind == "note.added")
        .order_by(Event.id.desc()).limit(RECENT_NOTES)), actor)
    calls = []
    for event, ref, name, code in session.execute(statement):
        if (event.data or {}).get("contact") != CALL:
            continue
        day = event.at.date()
        called_on = (event.data or {}).get("called_on")
        if isinstance(called_on, str):
            with contextlib.suppress(ValueError):
                day = dt.date.fromisoformat(called_on)
        calls.append(ActionLine(day, Channel.CALL, code, ref, name))
    return calls


def actions_taken(session: Session, actor: Actor) -> list[ActionLine]:
    """The latest messages sent and calls logged on the debtors the actor sees."""
    lines = _sent_actions(session, actor) + _logged_calls(session, actor)
    lines.sort(key=lambda line: line.day, reverse=True)
    return lines[:RECENT_ACTIONS]


def client_home(session: Session, actor: Actor, today: dt.date) -> ClientHome:
    """A client company's view: its creditors' aged balance, the cases under mandate,
    the actions taken and the remittances."""
    ids = creditor_ids(session, actor)
    cases = _scoped_debtors(session, (
        select(MandateCase, Debtor.ref, Debtor.name, Creditor.code)
        .join(Debtor, Debtor.id == MandateCase.debtor_id)
        .join(Creditor, Creditor.id == MandateCase.creditor_id)
        .order_by(MandateCase.opened_on.desc(), MandateCase.id.desc())), actor)
    rows = session.execute(cases).all()
    owed = _open_by_debtor(session, [row[0].debtor_id for row in rows])
    codes: dict[int, str] = {row.id: row.code for row in session.execute(
        select(Creditor.id, Creditor.code))}
    paid_back = [RemittanceLine(codes.get(r.creditor_id, "?"), r.reference, r.until,
                                r.made_on, r.currency, r.collected_minor, r.fees_minor,
                                r.net_minor)
                 for r in reversed(remittances(session, ids))]
    return ClientHome(
        aged_balance(session, on=today, by="creditor", creditor_ids=ids),
        [CaseLine(case.reference, code, ref, name, case.opened_on,
                  dict(owed.get(case.debtor_id, {})))
         for case, ref, name, code in rows],
        actions_taken(session, actor), paid_back)


# --------------------------------------------------------------------------- one debtor


@dataclass(frozen=True)
class ReminderLine:
    day: dt.date
    channel: Channel
    invoices: tuple[str, ...]


@dataclass(frozen=True)
class PromiseLine:
    promised_on: dt.date
    currency: str | None
    amount_minor: int | None
    status: PromiseStatus
    recorded_by: str


@dataclass(frozen=True)
class NoteLine:
    at: dt.datetime
    author: str
    body: str
    call: bool  # logged as "I called them"


@dataclass(frozen=True)
class DebtorView:
    debtor_id: int
    creditor_code: str
    creditor_name: str
    ref: str
    name: str
    sales_rep: str | None
    paused_until: dt.date | None
    case_reference: str | None  # the firm's case, when taken under a mandate
    invoices: list[InvoiceLine]
    reminders: list[ReminderLine]  # newest first
    promises: list[PromiseLine]  # newest first
    notes: list[NoteLine]  # newest first

    @property
    def disputes(self) -> list[InvoiceLine]:
        return [line for line in self.invoices if line.dispute_reason is not None]


def find_debtor(session: Session, actor: Actor, creditor_code: str, ref: str
                ) -> Debtor | None:
    """The debtor `ref` of creditor `creditor_code`, if the actor may see it."""
    statement = _scoped_debtors(session, select(Debtor).join(
        Creditor, Creditor.id == Debtor.creditor_id).where(
        Creditor.code == creditor_code, Debtor.ref == ref), actor)
    found: Debtor | None = session.scalars(statement).one_or_none()
    return found


def _reminders(session: Session, debtor_id: int) -> list[ReminderLine]:
    actions = session.scalars(
        select(Action).where(Action.debtor_id == debtor_id, Action.state == ActionState.SENT,
                             Action.channel.in_(sorted(OUTBOUND_CHANNELS)))
        .order_by(Action.sent_at.desc(), Action.id.desc()).limit(RECENT_ACTIONS)).all()
    numbers: dict[int, list[str]] = defaultdict(list)
    if actions:
        for action_id, number in session.execute(
                select(ActionItem.action_id, Invoice.number)
                .join(Invoice, Invoice.id == ActionItem.invoice_id)
                .where(ActionItem.action_id.in_([a.id for a in actions]))
                .order_by(Invoice.number)):
            if number not in numbers[action_id]:
                numbers[action_id].append(number)
    lines = [ReminderLine(_sent_day(a), a.channel, tuple(numbers[a.id])) for a in actions]
    lines.sort(key=lambda line: line.day, reverse=True)
    return lines


def _notes(session: Session, debtor_id: int) -> list[NoteLine]:
    calls = {int(event.data["note_id"]) for event in session.scalars(
        select(Event).where(Event.debtor_id == debtor_id, Event.kind == "note.added"))
        if (event.data or {}).get("contact") == CALL and "note_id" in event.data}
    return [NoteLine(note.created_at, note.author, note.body, note.id in calls)
            for note in session.scalars(
                select(Note).where(Note.debtor_id == debtor_id,
                                   Note.retracted_at.is_(None))
                .order_by(Note.id.desc()))]


def debtor_view(session: Session, actor: Actor, creditor_code: str, ref: str,
                today: dt.date) -> DebtorView | None:
    """One debtor's case as the portal shows it; None when the actor may not see it."""
    debtor = find_debtor(session, actor, creditor_code, ref)
    if debtor is None:
        return None
    creditor = session.get(Creditor, debtor.creditor_id)
    assert creditor is not None
    invoices = _invoice_lines(session, _invoices_with_debtor().where(
        Invoice.debtor_id == debtor.id).order_by(Invoice.due_date, Invoice.number), today)
    promises = [PromiseLine(p.promised_on, p.currency, p.amount_minor, p.status,
                            p.recorded_by)
                for p in session.scalars(select(Promise).where(Promise.debtor_id == debtor.id)
                                         .order_by(Promise.promised_on.desc(),
                                                   Promise.id.desc()))]
    case = case_under_mandate(session, debtor.id)
    return DebtorView(debtor.id, creditor.code, creditor.name, debtor.ref, debtor.name,
                      debtor.sales_rep, debtor.paused_until,
                      case.reference if case is not None else None, invoices,
                      _reminders(session, debtor.id), promises, _notes(session, debtor.id))
