"""What the work lists read: escalations waiting for a decision, today's calls (the
cases with money owed: `case_list`), and the change counter the desk polls to keep
them true.

Each list is one SQL query (`SqlList`): searching, filtering, sorting, counting and
totalling are done by the database on that query, and the screen reads a page at a
time, so a list of twenty thousand rows costs what a screenful does.

The lists show work as the case stands now, not as the run queued it: an action of a
paused debtor, or whose invoices are all paid or disputed, is left out even when the
queue has not been settled yet (a row changed by hand, a restored database), and
amounts are the invoices' current balances.
"""

from __future__ import annotations

import datetime as dt
from abc import abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar

from sqlalchemy import (
    Column,
    MetaData,
    Row,
    Table,
    and_,
    case,
    exists,
    func,
    or_,
    select,
    text,
)
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.sql import ColumnElement, Subquery

from relance.engine.casework import Seen, call_due_before, valid_approvals
from relance.store.models import (
    Action,
    ActionItem,
    ActionState,
    Approval,
    Channel,
    Creditor,
    Debtor,
    Event,
    Invoice,
    InvoiceStatus,
    ItemState,
    Stage,
)
from relance.store.settle import settle_queue
from relance.tui.widgets.cursor import Shown, View, split_search

RowT = TypeVar("RowT")


def change_mark(session: Session) -> int:
    """A number that moves whenever anything is committed: every change, from this desk
    or any other process, appends an event (the primary key's maximum is one index
    probe, cheap enough to read every second)."""
    return int(session.scalar(select(func.max(Event.id))) or 0)


def _not_paused(today: dt.date) -> ColumnElement[bool]:
    """A pause runs up to and including its end date."""
    return or_(Debtor.paused_until.is_(None), Debtor.paused_until < today)


def _live() -> ColumnElement[bool]:
    """An invoice still worth chasing: open, something left to pay, not disputed."""
    return and_(Invoice.status == InvoiceStatus.OPEN, Invoice.balance_minor > 0,
                Invoice.dispute_reason.is_(None))


def _owed(actions: Any) -> Subquery:
    """What each of `actions` (a select of ids) owes now: its live invoices only. An
    action with none left has no row (it is not worth showing)."""
    return (select(ActionItem.action_id.label("action_id"),
                   func.sum(Invoice.balance_minor).label("amount"),
                   func.min(Invoice.currency).label("currency"),
                   func.count(Invoice.id).label("invoices"))
            .join(Invoice, Invoice.id == ActionItem.invoice_id)
            .where(ActionItem.action_id.in_(actions), ActionItem.state == ItemState.ACTIVE,
                   _live())
            .group_by(ActionItem.action_id).subquery())


# --------------------------------------------------------------------------- lists in SQL


class SqlList(Generic[RowT]):
    """A list as one query (`source`), whose columns the view filters and sorts on.

    The query has a `key` column (the row's id) and, for the totals, `amount` and
    `currency`; `FILTERS` maps a filter's name to the column it compares with, and
    `SEARCHED` are the columns a search looks into.

    What a row owes now takes a pass over its invoices: 60 ms for 20,000 escalations,
    too long to repeat at each key typed. `snapshot` writes the list as it is into a
    temporary table of the session's connection, which the keys then search, filter,
    sort, count and page through (a few ms); the screen writes it again whenever the
    store changes. Without a snapshot, the query itself is read."""

    SEARCHED: ClassVar[tuple[str, ...]] = ("name", "ref")
    FILTERS: ClassVar[dict[str, str]] = {}
    ORDER: ClassVar[tuple[str, ...]] = ("key",)  # the list's own order; "-x": descending
    TIEBREAK: ClassVar[tuple[str, ...]] = ("key",)

    def __init__(self, today: dt.date, *, creditor_ids: Sequence[int] | None = None,
                 collector: str | None = None) -> None:
        """`creditor_ids`: the creditors the user may see (None: all; engine/scope.py);
        `collector`: only the debtors of this user's portfolio (engine/portfolios.py)."""
        self.today = today
        self.creditor_ids = creditor_ids
        self.collector = collector
        self._table: Table | None = None

    def limits(self, creditor_id: Any) -> list[ColumnElement[bool]]:
        """The conditions of the user's scope and portfolio on a source whose rows have
        `creditor_id` and are joined to their `Debtor`."""
        found: list[ColumnElement[bool]] = []
        if self.creditor_ids is not None:
            found.append(creditor_id.in_(list(self.creditor_ids)))
        if self.collector:
            found.append(Debtor.collector == self.collector)
        return found

    def snapshot(self, session: Session) -> None:
        """The list as it is now, into a temporary table of this session's connection."""
        src = self.source()
        name = f"relance_list_{type(self).__name__.lower()}"
        table = Table(name, MetaData(), *(Column(c.name, c.type) for c in src.c),
                      prefixes=["TEMPORARY"])
        session.execute(text(f"DROP TABLE IF EXISTS {name}"))
        table.create(session.connection())
        session.execute(table.insert().from_select(list(src.c.keys()), select(src)))
        self._table = table

    def _rows_of(self) -> Any:
        return self._table if self._table is not None else self.source()

    @abstractmethod
    def source(self) -> Subquery:
        """Every row of the list, one per key."""

    @abstractmethod
    def make(self, session: Session, rows: Sequence[Row[Any]]) -> list[RowT]:
        """The rows of a page, as the screen shows them."""

    def condition(self, src: Any, name: str, value: str) -> ColumnElement[bool]:
        """A filter's condition; by default its column equals the value (any case)."""
        return func.lower(src.c[self.FILTERS[name]]) == value.lower()

    def _where(self, src: Any, view: View) -> list[ColumnElement[bool]]:
        found: list[ColumnElement[bool]] = []
        for name, value in view.filters:
            if value and name in self.FILTERS:
                found.append(self.condition(src, name, value))
        words, low, high = split_search(view.search)
        for bound in (view.min_amount_minor, low):
            if bound is not None:
                found.append(src.c.amount >= bound)
        for bound in (view.max_amount_minor, high):
            if bound is not None:
                found.append(src.c.amount <= bound)
        if words:
            pattern = f"%{words}%"
            found.append(or_(*(src.c[name].ilike(pattern) for name in self.SEARCHED)))
        return found

    def _order(self, src: Any, view: View) -> list[Any]:
        names: list[str] = []
        if view.sort and view.sort in src.c:
            names.append(f"-{view.sort}" if view.descending else view.sort)
        names += [n for n in self.ORDER if n.lstrip("-") != view.sort] if not names else []
        names += list(self.TIEBREAK)
        return [src.c[n[1:]].desc() if n.startswith("-") else src.c[n].asc() for n in names]

    def shown(self, session: Session, view: View) -> Shown:
        src = self._rows_of()
        totals: dict[str, int] = {}
        count = 0
        for currency, rows, amount in session.execute(
            select(src.c.currency, func.count(), func.sum(src.c.amount))
            .where(*self._where(src, view)).group_by(src.c.currency)
        ):
            count += int(rows)
            totals[currency or ""] = int(amount or 0)
        return Shown(count, totals)

    def page(self, session: Session, view: View, offset: int, limit: int) -> list[RowT]:
        src = self._rows_of()
        # The order is found on the keys alone (a deep page sorts narrow records), then
        # the page's rows are read by key.
        wanted = [tuple(r) for r in session.execute(
            select(src.c.key, src.c.currency).where(*self._where(src, view))
            .order_by(*self._order(src, view)).offset(offset).limit(limit))]
        if not wanted:
            return []
        found = {(r.key, r.currency): r for r in session.execute(
            select(src).where(src.c.key.in_({key for key, _ in wanted})))}
        return self.make(session, [found[k] for k in wanted if k in found])

    def position(self, session: Session, view: View, key: int) -> int | None:
        """Where the row keyed `key` stands in the view; None when it is not in it."""
        src = self._rows_of()
        keys = list(session.scalars(select(src.c.key).where(*self._where(src, view))
                                    .order_by(*self._order(src, view))))
        return keys.index(key) if key in keys else None

    def rows(self, session: Session, view: View | None = None) -> list[RowT]:
        """The whole list (for a few rows: the tests, one call looked up again)."""
        return self.page(session, view or View(), 0, 1_000_000)


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
    debtor_ref: str = ""


def proposed_escalations(session: Session) -> list[int]:
    """Every escalation waiting for a decision, shown or not."""
    return list(session.scalars(select(Action.id).where(
        Action.channel == Channel.ESCALATE, Action.state == ActionState.PROPOSED)
        .order_by(Action.id)))


def settle_escalations(session: Session, today: dt.date) -> None:
    """Bring the proposed escalations up to date with their invoices. Only those whose
    debtor is paused or whose invoices moved since they were queued are handed to the
    settle step (it decides what changes): settling 20,000 proposals took 20 s, finding
    the few out of line takes one query."""
    moved = (select(ActionItem.id).join(Invoice, Invoice.id == ActionItem.invoice_id)
             .where(ActionItem.action_id == Action.id, ActionItem.state == ItemState.ACTIVE,
                    or_(~_live(), ActionItem.balance_minor != Invoice.balance_minor)))
    found = session.execute(select(Action.id, Action.debtor_id)
                            .join(Debtor, Debtor.id == Action.debtor_id).where(
        Action.channel == Channel.ESCALATE, Action.state == ActionState.PROPOSED,
        or_(~_not_paused(today), exists(moved)))).all()
    if found:
        settle_queue(session, debtor_ids={d for _, d in found}, today=today,
                     actor="relance", cause="refresh", action_ids=[i for i, _ in found])


def _approved(user: Any = None) -> Any:
    """Approvals that still bind (given to the action's current content)."""
    found = and_(Approval.action_id == Action.id, Approval.decision == "approve",
                 Approval.content_hash == Action.content_hash)
    return found if user is None else and_(found, func.lower(Approval.user) == user)


class EscalationList(SqlList[EscalationRow]):
    """Proposed escalations still worth deciding on, oldest first, at today's amounts."""

    SEARCHED = ("name", "ref", "creditor")
    FILTERS: ClassVar[dict[str, str]] = {
        "creditor": "creditor", "segment": "segment", "stage": "stage",
        "operator": "proposed_by"}
    ORDER = ("created_on",)

    def condition(self, src: Any, name: str, value: str) -> ColumnElement[bool]:
        if name == "operator":  # who proposed it, or approved it already
            approved = (select(Approval.id).join(Action, Action.id == Approval.action_id)
                        .where(_approved(value.lower()), Action.id == src.c.key))
            return or_(func.lower(src.c.proposed_by) == value.lower(), exists(approved))
        return super().condition(src, name, value)

    def source(self) -> Subquery:
        owed = _owed(select(Action.id).where(Action.channel == Channel.ESCALATE,
                                             Action.state == ActionState.PROPOSED))
        approvals = (select(func.count(Approval.id)).where(_approved())
                     .correlate(Action).scalar_subquery())
        return (select(Action.id.label("key"), Action.state.label("state"),
                       Action.content_hash.label("content_hash"),
                       Action.debtor_id.label("debtor_id"), Debtor.name.label("name"),
                       Debtor.ref.label("ref"), Debtor.segment.label("segment"),
                       Creditor.code.label("creditor"),
                       func.coalesce(Action.target_stage, Stage.AMICABLE.value).label("stage"),
                       owed.c.amount, owed.c.currency, Action.created_on.label("created_on"),
                       Action.proposed_by.label("proposed_by"), approvals.label("approvals"))
                .join(owed, owed.c.action_id == Action.id)
                .join(Debtor, Debtor.id == Action.debtor_id)
                .join(Creditor, Creditor.id == Action.creditor_id)
                .where(_not_paused(self.today), *self.limits(Action.creditor_id))
                .subquery("escalations"))

    def make(self, session: Session, rows: Sequence[Row[Any]]) -> list[EscalationRow]:
        keys = [r.key for r in rows]
        approvers: dict[int, tuple[str, ...]] = {key: () for key in keys}
        if any(r.approvals for r in rows):
            for action in session.scalars(select(Action).where(Action.id.in_(keys))
                                          .options(selectinload(Action.approvals))):
                approvers[action.id] = tuple(a.user for a in valid_approvals(action))
        return [EscalationRow(
            r.key, Seen(r.key, ActionState(r.state), r.content_hash), r.debtor_id, r.name,
            r.creditor, str(r.stage), int(r.amount), r.currency, r.created_on,
            r.proposed_by, approvers[r.key], r.ref) for r in rows]


def escalations(session: Session, today: dt.date | None = None) -> list[EscalationRow]:
    """Every escalation the list shows, oldest first."""
    return EscalationList(today or dt.date.today()).rows(session)


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


class CallList(SqlList[CallRow]):
    """Today's call tasks: approved calls due by today, by priority then amount owed now."""

    SEARCHED = ("name", "ref", "phone")
    FILTERS: ClassVar[dict[str, str]] = {
        "creditor": "creditor", "segment": "segment", "priority": "priority", "only": "key"}
    ORDER = ("rank", "-amount")

    def condition(self, src: Any, name: str, value: str) -> ColumnElement[bool]:
        if name == "only":
            found: ColumnElement[bool] = src.c.key == int(value)
            return found
        return super().condition(src, name, value)

    def source(self) -> Subquery:
        today = self.today
        calls = select(Action.id).where(
            Action.channel == Channel.CALL, Action.state == ActionState.APPROVED,
            Action.created_on <= today,
            or_(Action.next_attempt_at.is_(None),
                Action.next_attempt_at < call_due_before(today)))
        owed = _owed(calls)
        priority = func.coalesce(Action.priority, "normal")
        return (select(Action.id.label("key"), Action.state.label("state"),
                       Action.content_hash.label("content_hash"),
                       Action.debtor_id.label("debtor_id"), Debtor.name.label("name"),
                       Debtor.ref.label("ref"), Debtor.segment.label("segment"),
                       Creditor.code.label("creditor"),
                       func.coalesce(Debtor.phone, "—").label("phone"),
                       priority.label("priority"),
                       case((priority == "high", 0), (priority == "low", 2),
                            else_=1).label("rank"),
                       owed.c.amount, owed.c.currency, Action.attempts.label("attempts"),
                       Action.created_on.label("created_on"),
                       func.coalesce(Debtor.country, "FR").label("country"))
                .join(owed, owed.c.action_id == Action.id)
                .join(Debtor, Debtor.id == Action.debtor_id)
                .join(Creditor, Creditor.id == Action.creditor_id)
                .where(_not_paused(today), *self.limits(Action.creditor_id))
                .subquery("calls"))

    def make(self, session: Session, rows: Sequence[Row[Any]]) -> list[CallRow]:
        return [CallRow(r.key, Seen(r.key, ActionState(r.state), r.content_hash),
                        r.debtor_id, r.name, r.phone, r.priority, int(r.amount), r.currency,
                        r.attempts, r.created_on, r.country) for r in rows]


def call_list(session: Session, today: dt.date, *, only: int | None = None) -> list[CallRow]:
    """Today's call tasks. `only`: just that call, if it is still on the list."""
    view = View(filters=(("only", str(only)),)) if only is not None else None
    return CallList(today).rows(session, view)


def filter_choices(session: Session, creditor_ids: Sequence[int] | None = None
                   ) -> dict[str, list[str]]:
    """The values the lists' filter forms offer (the creditors: those the user may see)."""
    creditors = select(Creditor.code).order_by(Creditor.code)
    if creditor_ids is not None:
        creditors = creditors.where(Creditor.id.in_(list(creditor_ids)))
    return {
        "creditor": list(session.scalars(creditors)),
        "segment": list(session.scalars(
            select(Debtor.segment).distinct().order_by(Debtor.segment))),
        "channel": [c.value for c in Channel if c != Channel.ESCALATE],
        "stage": [s.value for s in Stage],
        "state": [s.value for s in ActionState],
        "priority": ["high", "normal", "low"],
    }
