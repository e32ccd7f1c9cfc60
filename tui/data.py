"""What the queue screen reads: pages of the queue and one action's detail; and, by
their old names, the other screens' reads (split by job into `worklists`, `casefile`
and `ledger`, which the screens import directly).

Read-only queries, one function per need, each cheap enough to run between two key
presses: the queue is read a page at a time (an index on state, debtor and id keeps
deep pages fast), counts are one indexed scan, and per-row figures come from
correlated subqueries evaluated for the page only.

Waiting actions are shown as the case stands now: those of a paused debtor are left out
even when the queue was not settled (a row changed by hand), and amounts are what the
invoices owe now. Paid and disputed work leaves the queue through the settle step
(`relance.store.settle`), in the transaction of the payment or dispute.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import Any, ClassVar

from sqlalchemy import and_, case, exists, func, or_, select, true, union_all
from sqlalchemy.orm import Session

from relance.engine.casework import Seen
from relance.engine.words import channel_word, state_word
from relance.kernel.i18n import N_, _
from relance.store.models import (
    Action,
    ActionItem,
    ActionState,
    Channel,
    Creditor,
    Debtor,
    Invoice,
    InvoiceStatus,
    ItemState,
    RuleSet,
)

# The bench and tests/casework read these as `data.X`: kept importable here.
from relance.tui.casefile import Case as Case
from relance.tui.casefile import HistoryLine as HistoryLine
from relance.tui.casefile import find_debtors as find_debtors
from relance.tui.casefile import first_debtor_id as first_debtor_id
from relance.tui.casefile import invoice_policies as invoice_policies
from relance.tui.casefile import load_case as load_case
from relance.tui.ledger import Dashboard as Dashboard
from relance.tui.ledger import action_debtors as action_debtors
from relance.tui.ledger import dashboard as dashboard
from relance.tui.widgets.cursor import bounds_and_search
from relance.tui.widgets.summary import CaseSummary as CaseSummary
from relance.tui.widgets.summary import case_summary as case_summary
from relance.tui.worklists import CallRow as CallRow
from relance.tui.worklists import EscalationRow as EscalationRow
from relance.tui.worklists import call_list as call_list
from relance.tui.worklists import escalations as escalations

# Work not done yet: the states the settle step (and these screens) keep in line with
# the case.
WAITING = (ActionState.PROPOSED, ActionState.APPROVED, ActionState.RETRY_WAIT)


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
    sort: str = ""  # "": by debtor, else one of SORTS
    descending: bool = False
    # Not the operator's filters but who they are: the creditors they may see (None:
    # all; engine/scope.py) and, when they work their portfolio, their name as the
    # debtors' collector (engine/portfolios.py).
    scope: tuple[int, ...] | None = None
    collector: str = ""

    def bare(self, state: str = ActionState.PROPOSED.value) -> QueueFilter:
        """No filter of the operator's, in the same scope and portfolio."""
        return QueueFilter(state=state, scope=self.scope, collector=self.collector)

    def describe(self) -> str:
        """The filters in force, as the operator reads them: `proposed · letter · ≥ 150,00`."""
        parts = [state_word(self.state) if self.state else _("any state")]
        if self.channel:
            parts.append(channel_word(self.channel))
        for label, value in ((N_("creditor"), self.creditor), (N_("rule"), self.rule),
                             (N_("segment"), self.segment), (N_("stage"), self.stage)):
            if value:
                parts.append(_("{label} {value}").format(label=_(label), value=value))
        parts += bounds_and_search(self.min_amount_minor, self.max_amount_minor, self.search)
        return " · ".join(parts)


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


def _owed() -> Any:
    """What an invoice owes now (nothing once paid or cancelled)."""
    return case((and_(Invoice.status == InvoiceStatus.OPEN, Invoice.balance_minor > 0),
                 Invoice.balance_minor), else_=0)


def _amount() -> Any:
    """An action's amount as its items keep it, for filtering, sorting and totals.

    For work still waiting the settle step keeps each item's balance in line with its
    invoice (in the transaction that changed it) and drops the items of paid invoices,
    so the stored balances are what the invoices owe now; for the rest they are what the
    action said when it was queued. Reading them alone, without the invoices, took
    sorting 100,000 queued actions by amount from 1.3 s to 0.2 s."""
    return (select(func.coalesce(func.sum(ActionItem.balance_minor), 0))
            .where(ActionItem.action_id == Action.id, ActionItem.state == ItemState.ACTIVE)
            .correlate(Action).scalar_subquery())


@dataclass(frozen=True)
class Paused:
    """The debtors paused on a day, read once for a screenful of queue reads. Their work
    is hidden: a pause stops everything, whatever the rules said (the settle step
    cancels it; this also hides what was changed around it).

    They are read first and named: a few ids probed per queued action cost next to
    nothing, where the subquery (no index on the pause) cost 40 ms per count on 100,000
    actions. Paid and disputed work is left to the settle step: checking every queued
    action's invoices cost 150 ms per count there, and a dispute the run already knew is
    the rule's to weigh (`relance.store.content.stale_reason`)."""

    today: dt.date
    ids: tuple[int, ...] | None  # None: too many to name, a subquery reads them

    LIST_UP_TO: ClassVar[int] = 1000

    @classmethod
    def read(cls, session: Session, today: dt.date | None = None) -> Paused:
        day = today or dt.date.today()
        ids = tuple(session.scalars(cls._query(day).limit(cls.LIST_UP_TO + 1)))
        return cls(day, ids if len(ids) <= cls.LIST_UP_TO else None)

    @staticmethod
    def _query(today: dt.date) -> Any:
        return select(Debtor.id).where(Debtor.paused_until >= today)

    def hide(self) -> Any:
        if self.ids == ():
            return true()
        return Action.debtor_id.not_in(self.ids if self.ids is not None
                                       else self._query(self.today))


def _paused(session: Session, today: dt.date | None, paused: Paused | None) -> Any:
    return (paused or Paused.read(session, today)).hide()


def _where(query: Any, flt: QueueFilter, hide: Any, session: Session) -> Any:
    """The filter's actions; `hide` (`Paused.hide`) applies to work still waiting."""
    query = query.where(Action.channel != Channel.ESCALATE)
    if flt.scope is not None:
        query = query.where(Action.creditor_id.in_(flt.scope))
    if flt.collector:
        query = query.where(Action.debtor_id.in_(
            select(Debtor.id).where(Debtor.collector == flt.collector)))
    if flt.state:
        query = query.where(Action.state == ActionState(flt.state))
        if ActionState(flt.state) in WAITING:
            query = query.where(hide)
    else:
        query = query.where(or_(Action.state.not_in(WAITING), hide))
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
        query = query.where(_amount() >= flt.min_amount_minor)
    if flt.max_amount_minor is not None:
        query = query.where(_amount() <= flt.max_amount_minor)
    if flt.search:
        query = query.where(_search(flt.search, session.get_bind().dialect.name))
    return query


def _search(text: str, dialect: str) -> Any:
    """Actions of a debtor whose name or reference holds `text`, or on an invoice whose
    number starts with it.

    Names are matched anywhere (one pass over the debtors: 40 to 110 ms for 100,000);
    invoice numbers only from their start, as typed or in capitals or small letters,
    along the (creditor, number) index: matching them anywhere read a million invoices
    at each key typed (0.8 s)."""
    pattern = "%" + text.replace("/", "//").replace("%", "/%").replace("_", "/_") + "%"
    # SQLite's LIKE ignores the case of ASCII letters as lower() does, at a third of the
    # cost (the lower() of each name was most of a search's time).
    like = "like" if dialect == "sqlite" else "ilike"
    debtors = select(Debtor.id).where(or_(getattr(Debtor.name, like)(pattern, escape="/"),
                                          getattr(Debtor.ref, like)(pattern, escape="/")))
    numbers = [select(ActionItem.action_id).join(Invoice, Invoice.id == ActionItem.invoice_id)
               .where(starts) for starts in invoice_numbers_starting(text)]
    # IN over one read of each, not a correlated EXISTS per queued action.
    return or_(Action.debtor_id.in_(debtors), Action.id.in_(union_all(*numbers)))


def invoice_numbers_starting(text: str) -> list[Any]:
    """Conditions on `Invoice`, one per way of typing `text` (as typed, in capitals, in
    small letters): its number starts with it. Each walks the (creditor, number) index
    when read on its own (a union of them, not an OR)."""
    creditors = select(Creditor.id)
    # The range walks the index; the prefix test keeps it exact whatever the database's
    # collation orders after the prefix.
    return [and_(Invoice.creditor_id.in_(creditors), Invoice.number >= prefix,
                 Invoice.number < prefix + "\U0010ffff",
                 Invoice.number.startswith(prefix, autoescape=True))
            for prefix in dict.fromkeys((text, text.upper(), text.lower()))]


def queue_totals(session: Session, flt: QueueFilter, *, today: dt.date | None = None,
                 paused: Paused | None = None) -> dict[str, int]:
    """What the filter's actions add up to, per currency (as `_amount` reads them)."""
    shown = _where(select(Action.id), flt, _paused(session, today, paused), session).subquery()
    rows = session.execute(
        select(ActionItem.currency, func.sum(ActionItem.balance_minor))
        .where(ActionItem.action_id.in_(select(shown.c.id)),
               ActionItem.state == ItemState.ACTIVE)
        .group_by(ActionItem.currency))
    return {currency: int(total or 0) for currency, total in rows if currency}


def count_queue(session: Session, flt: QueueFilter, *, today: dt.date | None = None,
                paused: Paused | None = None) -> int:
    hide = _paused(session, today, paused)
    return int(session.scalar(_where(select(func.count(Action.id)), flt, hide, session)) or 0)


def _after(debtor_id: int, action_id: int) -> Any:
    return or_(Action.debtor_id > debtor_id,
               (Action.debtor_id == debtor_id) & (Action.id > action_id))


def _sort_key(name: str) -> Any:
    """What the queue sorts on besides its own order (debtor, then action)."""
    return {"name": select(Debtor.name).where(Debtor.id == Action.debtor_id)
            .correlate(Action).scalar_subquery(),
            "channel": Action.channel, "state": Action.state,
            "amount": _amount()}[name]


SORTS = ("name", "channel", "amount", "state")


def queue_page(session: Session, flt: QueueFilter, offset: int, limit: int,
               *, after: tuple[int, int] | None = None, total: int | None = None,
               today: dt.date | None = None, paused: Paused | None = None) -> list[QueueRow]:
    """One page of the queue, grouped by debtor (debtor id, then action id).

    `after` is the (debtor id, action id) of the row before the page: the page is then
    read from there along the index (keyset), instead of counting `offset` rows. Without
    it, a page in the second half of `total` rows is counted from the end."""
    query = _where(select(Action.id), flt, _paused(session, today, paused), session)
    if flt.sort in SORTS:
        key = _sort_key(flt.sort)
        ids = list(session.execute(
            query.order_by(key.desc() if flt.descending else key.asc(), Action.id)
            .offset(offset).limit(limit)).scalars())
    elif after is not None:
        ids = list(session.execute(
            query.where(_after(*after)).order_by(Action.debtor_id, Action.id).limit(limit)
        ).scalars())
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
                    func.sum(ActionItem.balance_minor).label("queued"),
                    func.sum(_owed()).label("now"),
                    func.min(ActionItem.currency).label("currency"),
                    func.count(ActionItem.id).label("invoices"),
                    func.min(ActionItem.rule).label("rule"))
             .join(Invoice, Invoice.id == ActionItem.invoice_id)
             .where(ActionItem.action_id.in_(ids), ActionItem.state == ItemState.ACTIVE)
             .group_by(ActionItem.action_id).subquery())
    rows = list(session.execute(
        select(Action.id, Action.state, Action.content_hash, Action.channel, Action.template,
               Action.debtor_id, Debtor.name, Debtor.ref, Creditor.code, Debtor.segment,
               Action.created_on, items.c.queued, items.c.now, items.c.currency,
               items.c.invoices, items.c.rule)
        .join(Debtor, Debtor.id == Action.debtor_id)
        .join(Creditor, Creditor.id == Action.creditor_id)
        .outerjoin(items, items.c.action_id == Action.id)
        .where(Action.id.in_(ids))
    ).all())
    place = {action_id: n for n, action_id in enumerate(ids)}
    rows.sort(key=lambda r: place[r[0]])
    return [QueueRow(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10],
                     int((r[12] if r[1] in WAITING else r[11]) or 0), r[13] or "",
                     int(r[14] or 0), r[15] or "")
            for r in rows]


def queue_position(session: Session, flt: QueueFilter, debtor_id: int, action_id: int,
                   *, today: dt.date | None = None, paused: Paused | None = None) -> int | None:
    """Where an action now stands in the filtered queue; None when it is not in it any
    more (decided, cancelled, filtered out)."""
    if flt.sort:
        return None  # another order: the cursor stays where it was
    hide = _paused(session, today, paused)
    shown = _where(select(Action.id), flt, hide, session).where(Action.id == action_id)
    if session.scalar(shown) is None:
        return None
    before = _where(select(func.count(Action.id)), flt, hide, session).where(or_(
        Action.debtor_id < debtor_id, (Action.debtor_id == debtor_id) & (Action.id < action_id)))
    return int(session.scalar(before) or 0)


@dataclass(frozen=True)
class QueueRead:
    """What the queue screen shows of a filter, read in one session (off the UI thread
    when the book is big): the count, the page under the cursor, the cursor's row."""

    filter: QueueFilter
    paused: Paused
    count: int
    total: int  # actions of the filter's state, whatever the other filters
    page: int  # the page number `rows` is
    rows: list[QueueRow]
    position: int | None  # where the followed action now stands (None: not found)
    switched: bool  # nothing waited: the approved actions are shown instead


def read_queue(session: Session, flt: QueueFilter, *, today: dt.date, page_size: int,
               cursor: int = 0, was: tuple[int, int] | None = None,
               first_open: bool = False) -> QueueRead:
    """Count the filter's actions and read the page the cursor will be on; `was` is the
    (debtor id, action id) the cursor should stay on."""
    paused = Paused.read(session, today)
    count = count_queue(session, flt, paused=paused)
    switched = False
    if count == 0 and first_open and flt == flt.bare():
        # With [run] auto_approve nothing waits: show what dispatch will send.
        approved = replace(flt, state=ActionState.APPROVED.value)
        waiting = count_queue(session, approved, paused=paused)
        if waiting:
            flt, count, switched = approved, waiting, True
    everything = flt.bare(flt.state)
    total = count if flt == everything else count_queue(session, everything, paused=paused)
    page = max(0, min(cursor, count - 1)) // page_size
    rows = queue_page(session, flt, page * page_size, page_size, total=count, paused=paused)
    position = next((page * page_size + n for n, row in enumerate(rows)
                     if was is not None and row.action_id == was[1]), None)
    if position is None and was is not None:
        # Not on the cursor's page: two more reads of the filter say where it went.
        position = queue_position(session, flt, *was, paused=paused)
        if position is not None and position // page_size != page:
            page = position // page_size
            rows = queue_page(session, flt, page * page_size, page_size, total=count,
                              paused=paused)
    return QueueRead(flt, paused, count, total, page, rows, position, switched)


def seen_for_filter(session: Session, flt: QueueFilter, *,
                    today: dt.date | None = None) -> list[Seen]:
    """Every action the filter shows, as it is now: what "approve all filtered" acts on."""
    hide = _paused(session, today, None)
    rows = session.execute(
        _where(select(Action.id, Action.state, Action.content_hash), flt, hide, session)
        .order_by(Action.debtor_id, Action.id)
    ).all()
    return [Seen(r[0], r[1], r[2]) for r in rows]


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
