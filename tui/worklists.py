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
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar

from sqlalchemy import Row, and_, case, exists, func, or_, select
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
from relance.tui.list_reads import keep_out_of_collection, touched_debtors, whole_sum
from relance.tui.rowset import RowSet, Views, any_of
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
                   whole_sum(Invoice.balance_minor).label("amount"),
                   func.min(Invoice.currency).label("currency"),
                   func.count(Invoice.id).label("invoices"))
            .join(Invoice, Invoice.id == ActionItem.invoice_id)
            .where(ActionItem.action_id.in_(actions), ActionItem.state == ItemState.ACTIVE,
                   _live())
            .group_by(ActionItem.action_id).subquery())


# --------------------------------------------------------------------------- lists in SQL


class SqlList(Generic[RowT]):
    """A list as one query (`source`), held in memory (`RowSet`) once read.

    The query has a `key` column (the row's id), a `debtor_id` (the debtor it belongs
    to) and, for the totals, `amount` and `currency`; `FILTERS` maps a filter's name to
    the column it compares with, and `SEARCHED` are the columns a search looks into.

    What a row owes now takes a pass over its invoices: 60 ms for 20,000 escalations,
    too long to repeat at each key typed; searching, filtering, sorting and counting
    in SQL at each key cost 60 to 330 ms more. `snapshot` reads the list into memory,
    which the keys then search, filter, sort, count and page through (`rowset`); after
    a commit, only the rows of the debtors the new events name are read again."""

    SEARCHED: ClassVar[tuple[str, ...]] = ("name", "ref")
    FILTERS: ClassVar[dict[str, str]] = {}
    ORDER: ClassVar[tuple[str, ...]] = ("key",)  # the list's own order; "-x": descending
    TIEBREAK: ClassVar[tuple[str, ...]] = ("key",)
    GROUP: ClassVar[str] = "debtor_id"  # the column naming the debtor of a row
    # Past this many debtors named since the last snapshot, one pass over the list
    # costs less than reading them debtor by debtor.
    REWRITE_LIMIT: ClassVar[int] = 2_000

    def __init__(self, today: dt.date, *, creditor_ids: Sequence[int] | None = None,
                 collector: str | None = None) -> None:
        """`creditor_ids`: the creditors the user may see (None: all; engine/scope.py);
        `collector`: only the debtors of this user's portfolio (engine/portfolios.py)."""
        self.today = today
        self.creditor_ids = creditor_ids
        self.collector = collector
        self._rows: RowSet[Row[Any]] | None = None
        self._views: Views | None = None
        self._mark: int | None = None  # the last event the rows in memory have seen
        self._names: set[str] = set()  # the query's columns (what a view may sort on)

    def limits(self, creditor_id: Any) -> list[ColumnElement[bool]]:
        """The conditions of the user's scope and portfolio on a source whose rows have
        `creditor_id` and are joined to their `Debtor`."""
        found: list[ColumnElement[bool]] = []
        if self.creditor_ids is not None:
            found.append(creditor_id.in_(list(self.creditor_ids)))
        if self.collector:
            found.append(Debtor.collector == self.collector)
        return found

    def snapshot(self, session: Session, sorts: Sequence[str] = ()) -> None:
        """Bring the rows in memory up to date with the store: the debtors named by the
        events since the last snapshot read again, or the whole list when that cannot
        be told. `sorts`: the orders the keys will ask for, worked out now (a sort of
        100,000 rows takes longer than a key may)."""
        # The mark is read first: a change committed while the rows are read is read
        # once more at the next snapshot, never missed.
        mark = change_mark(session)
        touched = (None if self._rows is None
                   else touched_debtors(session, self._mark, mark, self.REWRITE_LIMIT))
        if touched is None:
            self._names = set(self.source().c.keys())
            self._rows = self._rowset(session.execute(select(self.source())).all())
            self._views = Views(self._rows)
            # What the keys compare, worked out now rather than at the first key asking.
            for sort in ("", *sorts):
                self._rows.order(sort)
            for name in ("key", "amount", "currency"):
                self._rows.column(name)
            for name in self.FILTERS.values():
                self._rows.folded(name)
            self._rows.ready_to_search()
            self._rows.totals(None)
            keep_out_of_collection(len(self._rows))
        elif touched:
            assert self._rows is not None
            ids = sorted(touched)
            self._rows.replace(ids, session.execute(select(self.source(ids))).all())
        self._mark = mark

    def _rowset(self, rows: Sequence[Row[Any]]) -> RowSet[Row[Any]]:
        return RowSet(rows, key="key", group=self.GROUP, searched=self.SEARCHED,
                      order=self.ORDER, tiebreak=self.TIEBREAK)

    @abstractmethod
    def source(self, debtor_ids: Sequence[int] | None = None) -> Subquery:
        """Every row of the list, one per key; `debtor_ids`: only these debtors' rows."""

    @abstractmethod
    def make(self, session: Session, rows: Sequence[Row[Any]]) -> list[RowT]:
        """The rows of a page, as the screen shows them."""

    def mask(self, session: Session, rows: RowSet[Row[Any]], name: str, value: str
             ) -> bytearray:
        """A filter's rows; by default its column equals the value (any case)."""
        return rows.equal(self.FILTERS[name], value, any_case=True)

    def _masks(self, session: Session, rows: RowSet[Row[Any]], view: View) -> list[bytearray]:
        found: list[bytearray] = []
        for name, value in view.filters:
            if value and name in self.FILTERS:
                found.append(self.mask(session, rows, name, value))
        words, low, high = split_search(view.search)
        for bound in (view.min_amount_minor, low):
            if bound is not None:
                found.append(rows.at_least("amount", bound))
        for bound in (view.max_amount_minor, high):
            if bound is not None:
                found.append(rows.at_most("amount", bound))
        if words:
            found.append(rows.matching(words))
        return found

    def _in_memory(self, session: Session) -> tuple[RowSet[Row[Any]], Views]:
        if self._rows is None or self._views is None:
            self.snapshot(session)
        assert self._rows is not None and self._views is not None
        return self._rows, self._views

    @staticmethod
    def _filters(view: View) -> Hashable:
        return (view.search, view.filters, view.min_amount_minor, view.max_amount_minor)

    def _slots(self, session: Session, view: View) -> list[int]:
        rows, views = self._in_memory(session)
        sort = view.sort if view.sort in self._names else ""
        return views.slots(self._filters(view), lambda: self._masks(session, rows, view),
                           sort, view.descending and bool(sort))

    def shown(self, session: Session, view: View) -> Shown:
        rows, views = self._in_memory(session)
        _mask, count, totals = views.figures(self._filters(view),
                                             lambda: self._masks(session, rows, view))
        return Shown(count, totals)

    def page(self, session: Session, view: View, offset: int, limit: int) -> list[RowT]:
        rows = self._in_memory(session)[0]
        return self.make(session, [rows.row(slot) for slot in
                                   self._slots(session, view)[offset:offset + limit]])

    def position(self, session: Session, view: View, key: int) -> int | None:
        """Where the row keyed `key` stands in the view; None when it is not in it."""
        rows = self._in_memory(session)[0]
        slots = self._slots(session, view)
        found = []
        for slot in rows.slots_of(key):
            try:
                found.append(slots.index(slot))
            except ValueError:
                continue  # that row is filtered out
        return min(found) if found else None

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

    def mask(self, session: Session, rows: RowSet[Row[Any]], name: str, value: str
             ) -> bytearray:
        if name == "operator":  # who proposed it, or approved it already
            approved = session.scalars(
                select(Approval.action_id).join(Action, Action.id == Approval.action_id)
                .where(_approved(value.lower()), Action.channel == Channel.ESCALATE,
                       Action.state == ActionState.PROPOSED))
            return any_of([rows.equal("proposed_by", value, any_case=True),
                           rows.keyed(set(approved))])
        return super().mask(session, rows, name, value)

    def source(self, debtor_ids: Sequence[int] | None = None) -> Subquery:
        only = [] if debtor_ids is None else [Action.debtor_id.in_(debtor_ids)]
        owed = _owed(select(Action.id).where(Action.channel == Channel.ESCALATE,
                                             Action.state == ActionState.PROPOSED, *only))
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
                .where(_not_paused(self.today), *self.limits(Action.creditor_id), *only)
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

    def mask(self, session: Session, rows: RowSet[Row[Any]], name: str, value: str
             ) -> bytearray:
        if name == "only":
            return rows.keyed([int(value)])
        return super().mask(session, rows, name, value)

    def source(self, debtor_ids: Sequence[int] | None = None) -> Subquery:
        today = self.today
        only = [] if debtor_ids is None else [Action.debtor_id.in_(debtor_ids)]
        calls = select(Action.id).where(*only,
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
                .where(_not_paused(today), *self.limits(Action.creditor_id), *only)
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
