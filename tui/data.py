"""What the screens read: pages of the queue, the call list, a case, the dashboard.

Read-only queries, one function per need, each cheap enough to run between two key
presses: the queue is read a page at a time (an index on state, debtor and id keeps
deep pages fast), counts are one indexed scan, and per-row figures come from
correlated subqueries evaluated for the page only.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import case, exists, func, or_, select
from sqlalchemy.orm import Session, selectinload

from relance.engine import aging
from relance.engine.aging import AgedLine
from relance.engine.casework import Seen, call_due_before, valid_approvals
from relance.store.models import (
    Action,
    ActionItem,
    ActionState,
    Channel,
    Creditor,
    Debtor,
    Event,
    Instalment,
    Invoice,
    InvoiceStatus,
    ItemState,
    Note,
    PaymentPlan,
    Promise,
    PromiseStatus,
    RuleSet,
    Run,
)

BUCKETS = ("not due", "1-30", "31-60", "61-90", "> 90")


def bucket_of(due: dt.date, today: dt.date) -> str:
    """The aged-balance bucket of an invoice due on `due`, as of `today`."""
    late = (today - due).days
    if late <= 0:
        return BUCKETS[0]
    if late <= 30:
        return BUCKETS[1]
    if late <= 60:
        return BUCKETS[2]
    if late <= 90:
        return BUCKETS[3]
    return BUCKETS[4]


# --------------------------------------------------------------------------- the queue


@dataclass(frozen=True)
class QueueFilter:
    """The operator's filters; empty fields do not filter."""

    state: str = ActionState.PROPOSED.value
    creditor: str = ""
    channel: str = ""
    rule: str = ""
    segment: str = ""
    stage: str = ""
    min_amount_minor: int | None = None
    max_amount_minor: int | None = None
    search: str = ""

    def describe(self) -> str:
        parts = [f"state={self.state or 'any'}"]
        for name in ("creditor", "channel", "rule", "segment", "stage"):
            value = getattr(self, name)
            if value:
                parts.append(f"{name}={value}")
        if self.min_amount_minor is not None:
            parts.append(f"amount≥{self.min_amount_minor / 100:g}")
        if self.max_amount_minor is not None:
            parts.append(f"amount≤{self.max_amount_minor / 100:g}")
        if self.search:
            parts.append(f"“{self.search}”")
        return " ".join(parts)


@dataclass(frozen=True)
class QueueRow:
    action_id: int
    state: ActionState
    content_hash: str
    channel: Channel
    template: str | None
    debtor_id: int
    debtor_name: str
    debtor_ref: str
    creditor: str
    segment: str
    created_on: dt.date
    amount_minor: int
    currency: str
    invoices: int
    rule: str

    def seen(self) -> Seen:
        return Seen(self.action_id, self.state, self.content_hash)


def _item_sum() -> Any:
    return (select(func.coalesce(func.sum(ActionItem.balance_minor), 0))
            .where(ActionItem.action_id == Action.id, ActionItem.state == ItemState.ACTIVE)
            .correlate(Action).scalar_subquery())


def _where(query: Any, flt: QueueFilter) -> Any:
    query = query.where(Action.channel != Channel.ESCALATE)
    if flt.state:
        query = query.where(Action.state == ActionState(flt.state))
    if flt.channel:
        query = query.where(Action.channel == Channel(flt.channel))
    if flt.creditor:
        query = query.where(Action.creditor_id == select(Creditor.id)
                            .where(Creditor.code == flt.creditor).scalar_subquery())
    if flt.segment:
        query = query.where(Action.debtor_id.in_(
            select(Debtor.id).where(Debtor.segment == flt.segment)))
    if flt.rule:
        query = query.where(exists().where(ActionItem.action_id == Action.id,
                                           ActionItem.rule.contains(flt.rule)))
    if flt.stage:
        query = query.where(exists().where(ActionItem.action_id == Action.id,
                                           ActionItem.invoice_id == Invoice.id,
                                           Invoice.stage == flt.stage))
    if flt.min_amount_minor is not None:
        query = query.where(_item_sum() >= flt.min_amount_minor)
    if flt.max_amount_minor is not None:
        query = query.where(_item_sum() <= flt.max_amount_minor)
    if flt.search:
        pattern = f"%{flt.search}%"
        # IN over one scan of each table, not a correlated EXISTS per queued action.
        query = query.where(or_(
            Action.debtor_id.in_(select(Debtor.id).where(
                or_(Debtor.name.ilike(pattern), Debtor.ref.ilike(pattern)))),
            Action.id.in_(select(ActionItem.action_id)
                          .join(Invoice, Invoice.id == ActionItem.invoice_id)
                          .where(Invoice.number.ilike(pattern))),
        ))
    return query


def count_queue(session: Session, flt: QueueFilter) -> int:
    return int(session.scalar(_where(select(func.count(Action.id)), flt)) or 0)


def queue_page(session: Session, flt: QueueFilter, offset: int, limit: int,
               *, after: tuple[int, int] | None = None,
               total: int | None = None) -> list[QueueRow]:
    """One page of the queue, grouped by debtor (debtor id, then action id).

    `after` is the (debtor id, action id) of the row before the page: the page is then
    read from there along the index (keyset), instead of counting `offset` rows. Without
    it, a page in the second half of `total` rows is counted from the end."""
    query = _where(select(Action.id), flt)
    if after is not None:
        debtor_id, action_id = after
        query = query.where(or_(Action.debtor_id > debtor_id,
                                (Action.debtor_id == debtor_id) & (Action.id > action_id)))
        ids = list(session.execute(
            query.order_by(Action.debtor_id, Action.id).limit(limit)).scalars())
    elif total is not None and offset > total // 2:
        size = max(0, min(limit, total - offset))
        ids = list(reversed(session.execute(
            query.order_by(Action.debtor_id.desc(), Action.id.desc())
            .offset(max(0, total - offset - size)).limit(size)).scalars().all()))
    else:
        ids = list(session.execute(
            query.order_by(Action.debtor_id, Action.id).offset(offset).limit(limit)
        ).scalars())
    if not ids:
        return []
    items = (select(ActionItem.action_id,
                    func.sum(ActionItem.balance_minor).label("amount"),
                    func.min(ActionItem.currency).label("currency"),
                    func.count(ActionItem.id).label("invoices"),
                    func.min(ActionItem.rule).label("rule"))
             .where(ActionItem.action_id.in_(ids), ActionItem.state == ItemState.ACTIVE)
             .group_by(ActionItem.action_id).subquery())
    rows = session.execute(
        select(Action.id, Action.state, Action.content_hash, Action.channel, Action.template,
               Action.debtor_id, Debtor.name, Debtor.ref, Creditor.code, Debtor.segment,
               Action.created_on, items.c.amount, items.c.currency, items.c.invoices,
               items.c.rule)
        .join(Debtor, Debtor.id == Action.debtor_id)
        .join(Creditor, Creditor.id == Action.creditor_id)
        .outerjoin(items, items.c.action_id == Action.id)
        .where(Action.id.in_(ids))
        .order_by(Action.debtor_id, Action.id)
    ).all()
    return [QueueRow(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10],
                     int(r[11] or 0), r[12] or "", int(r[13] or 0), r[14] or "")
            for r in rows]


def seen_for_filter(session: Session, flt: QueueFilter) -> list[Seen]:
    """Every action the filter shows, as it is now: what "approve all filtered" acts on."""
    rows = session.execute(
        _where(select(Action.id, Action.state, Action.content_hash), flt)
        .order_by(Action.debtor_id, Action.id)
    ).all()
    return [Seen(r[0], r[1], r[2]) for r in rows]


def filter_choices(session: Session) -> dict[str, list[str]]:
    """The values the filter form offers."""
    return {
        "creditor": list(session.scalars(select(Creditor.code).order_by(Creditor.code))),
        "segment": list(session.scalars(
            select(Debtor.segment).distinct().order_by(Debtor.segment))),
        "channel": [c.value for c in Channel if c != Channel.ESCALATE],
        "state": [s.value for s in ActionState],
    }


# --------------------------------------------------------------------------- the preview


@dataclass(frozen=True)
class ActionLine:
    invoice_id: int
    number: str
    due_date: dt.date
    balance_minor: int
    currency: str
    rule: str
    rule_file: str
    rule_line: int
    state: ItemState
    drop_reason: str | None


@dataclass(frozen=True)
class ActionDetail:
    action: Action
    debtor: Debtor
    creditor: Creditor
    lines: list[ActionLine]
    ruleset: str


def action_detail(session: Session, action_id: int) -> ActionDetail | None:
    action = session.get(Action, action_id)
    if action is None:
        return None
    debtor = session.get(Debtor, action.debtor_id)
    creditor = session.get(Creditor, action.creditor_id)
    assert debtor is not None and creditor is not None
    rows = session.execute(
        select(ActionItem, Invoice.number, Invoice.due_date)
        .join(Invoice, Invoice.id == ActionItem.invoice_id)
        .where(ActionItem.action_id == action_id).order_by(Invoice.due_date, Invoice.id)
    ).all()
    lines = [ActionLine(item.invoice_id, number, due, item.balance_minor, item.currency,
                        item.rule, item.rule_file, item.rule_line, item.state, item.drop_reason)
             for item, number, due in rows]
    return ActionDetail(action, debtor, creditor, lines,
                        _ruleset_label(session, action.ruleset_id))


def _ruleset_label(session: Session, ruleset_id: int | None) -> str:
    if ruleset_id is None:
        return "—"
    ruleset = session.get(RuleSet, ruleset_id)
    if ruleset is None:
        return "—"
    return f"#{ruleset.id} {(ruleset.git_commit or ruleset.content_hash)[:10]}"


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


def escalations(session: Session) -> list[EscalationRow]:
    """Proposed escalations, oldest first."""
    actions = session.scalars(
        select(Action).where(Action.channel == Channel.ESCALATE,
                             Action.state == ActionState.PROPOSED)
        .options(selectinload(Action.items), selectinload(Action.approvals))
        .order_by(Action.created_on, Action.id)
    ).all()
    names = dict(session.execute(
        select(Debtor.id, Debtor.name).where(Debtor.id.in_({a.debtor_id for a in actions}))
    ).all())
    codes = dict(session.execute(select(Creditor.id, Creditor.code)).all())
    rows = []
    for action in actions:
        active = [i for i in action.items if i.state == ItemState.ACTIVE]
        rows.append(EscalationRow(
            action.id, Seen.of(action), action.debtor_id, names.get(action.debtor_id, "?"),
            codes.get(action.creditor_id, "?"),
            (action.target_stage.value if action.target_stage else "amicable"),
            sum(i.balance_minor for i in active), active[0].currency if active else "",
            action.created_on, action.proposed_by,
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


def call_list(session: Session, today: dt.date) -> list[CallRow]:
    """Today's call tasks: approved calls due by today, by priority then amount."""
    actions = session.scalars(
        select(Action).where(
            Action.channel == Channel.CALL, Action.state == ActionState.APPROVED,
            Action.created_on <= today,
            or_(Action.next_attempt_at.is_(None),
                Action.next_attempt_at < call_due_before(today)))
        .options(selectinload(Action.items))
    ).all()
    debtors = {d.id: d for d in session.scalars(
        select(Debtor).where(Debtor.id.in_({a.debtor_id for a in actions})))}
    rows = []
    for action in actions:
        debtor = debtors[action.debtor_id]
        active = [i for i in action.items if i.state == ItemState.ACTIVE]
        rows.append(CallRow(
            action.id, Seen.of(action), debtor.id, debtor.name, debtor.phone or "—",
            action.priority or "normal", sum(i.balance_minor for i in active),
            active[0].currency if active else "", action.attempts, action.created_on,
            debtor.country or "FR"))
    rows.sort(key=lambda r: (_PRIORITY.get(r.priority, 1), -r.amount_minor, r.action_id))
    return rows


# --------------------------------------------------------------------------- the case view


@dataclass(frozen=True)
class HistoryLine:
    day: dt.date
    what: str
    who: str
    detail: str


@dataclass
class Case:
    debtor: Debtor
    creditor: Creditor
    invoices: list[Invoice]
    history: list[HistoryLine]
    notes: list[Note]
    promises: list[Promise]
    plans: list[tuple[PaymentPlan, list[Instalment]]]


def invoice_policies(session: Session, invoice_id: int) -> list[str]:
    """The policies that have acted on an invoice (where it has a level to reset)."""
    return list(session.scalars(
        select(ActionItem.policy).where(ActionItem.invoice_id == invoice_id)
        .distinct().order_by(ActionItem.policy)))


def find_debtors(session: Session, text: str, limit: int = 20) -> list[Debtor]:
    pattern = f"%{text.strip()}%"
    return list(session.scalars(
        select(Debtor).where(or_(Debtor.name.ilike(pattern), Debtor.ref.ilike(pattern)))
        .order_by(Debtor.name).limit(limit)))


def first_debtor_id(session: Session) -> int | None:
    return session.scalar(select(Debtor.id).order_by(Debtor.id).limit(1))


def load_case(session: Session, debtor_id: int, *, history_limit: int = 200) -> Case | None:
    debtor = session.get(Debtor, debtor_id)
    if debtor is None:
        return None
    creditor = session.get(Creditor, debtor.creditor_id)
    assert creditor is not None
    invoices = list(session.scalars(
        select(Invoice).where(Invoice.debtor_id == debtor_id)
        .order_by(case((Invoice.balance_minor > 0, 0), else_=1), Invoice.due_date, Invoice.id)))
    history: list[HistoryLine] = []
    rulesets = {r.id: r for r in session.scalars(select(RuleSet))}
    for action in session.scalars(
        select(Action).where(Action.debtor_id == debtor_id)
        .order_by(Action.created_on.desc(), Action.id.desc()).limit(history_limit)
    ):
        rules = sorted({f"{i.policy}/{i.rule}" for i in action.items})
        ruleset = rulesets.get(action.ruleset_id or -1)
        version = (ruleset.git_commit or ruleset.content_hash)[:8] if ruleset else "—"
        history.append(HistoryLine(
            action.created_on, f"{action.channel.value} {action.state.value}",
            action.approved_by or action.proposed_by or "",
            f"{', '.join(rules)} @{version}"))
    for event in session.scalars(
        select(Event).where(Event.debtor_id == debtor_id)
        .order_by(Event.id.desc()).limit(history_limit)
    ):
        if event.subject_type == "action":
            continue  # shown through the action's own line
        history.append(HistoryLine(event.at.date(), event.kind, event.actor,
                                   _event_detail(event.data)))
    history.sort(key=lambda h: h.day, reverse=True)
    notes = list(session.scalars(select(Note).where(Note.debtor_id == debtor_id)
                                 .order_by(Note.id.desc())))
    promises = list(session.scalars(select(Promise).where(Promise.debtor_id == debtor_id)
                                    .order_by(Promise.promised_on.desc())))
    plans = [(plan, list(plan.instalments)) for plan in session.scalars(
        select(PaymentPlan).where(PaymentPlan.debtor_id == debtor_id))]
    return Case(debtor, creditor, invoices, history, notes, promises, plans)


def _event_detail(data: dict[str, Any]) -> str:
    keys = ("reason", "number", "amount", "until", "promised_on", "resolution", "body",
            "outcome")
    parts = [f"{data[k]}" for k in keys if data.get(k)]
    if "amount_minor" in data and "currency" in data:
        parts.insert(0, f"{data['amount_minor'] / 100:.2f} {data['currency']}")
    return " · ".join(str(p) for p in parts)[:200]


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


def action_debtors(session: Session, action_ids: list[int]) -> dict[int, int]:
    """The debtor of each action."""
    if not action_ids:
        return {}
    return {row[0]: row[1] for row in session.execute(
        select(Action.id, Action.debtor_id).where(Action.id.in_(action_ids)))}


def dashboard(session: Session, today: dt.date) -> Dashboard:
    """The aged balance by creditor and by segment (from `relance.engine.aging`), DSO,
    today's runs and sends, and the sends that need a person."""
    by_creditor = aging.aged_balance(session, on=today, by="creditor")
    by_segment = aging.aged_balance(session, on=today, by="segment")
    runs_today = int(session.scalar(select(func.count(Run.id)).where(Run.run_date == today))
                     or 0)
    queued_today = int(session.scalar(
        select(func.count(Action.id)).where(Action.created_on == today)) or 0)
    start = dt.datetime.combine(today, dt.time(), tzinfo=dt.UTC)
    sent_today = {Channel(c).value: int(n) for c, n in session.execute(
        select(Action.channel, func.count(Action.id))
        .where(Action.state == ActionState.SENT, Action.sent_at >= start,
               Action.sent_at < start + dt.timedelta(days=1))
        .group_by(Action.channel))}
    counts = dict(session.execute(
        select(Action.state, func.count(Action.id))
        .where(Action.state.in_([ActionState.FAILED, ActionState.UNCERTAIN]))
        .group_by(Action.state)).all())
    look = session.execute(
        select(Action.id, Action.state, Action.channel, Debtor.name, Action.last_error)
        .join(Debtor, Debtor.id == Action.debtor_id)
        .where(Action.state.in_([ActionState.UNCERTAIN, ActionState.FAILED]))
        .order_by(case((Action.state == ActionState.UNCERTAIN, 0), else_=1), Action.id)
        .limit(200)).all()
    return Dashboard(
        list(by_creditor.lines), list(by_segment.lines), list(by_segment.totals),
        by_segment.dso, runs_today, queued_today, sent_today,
        int(counts.get(ActionState.FAILED, 0)), int(counts.get(ActionState.UNCERTAIN, 0)),
        [(r[0], ActionState(r[1]).value, Channel(r[2]).value, r[3], r[4] or "")
         for r in look])

