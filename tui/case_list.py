"""The cases list: the debtors who owe something, with their balance, the furthest
stage their invoices reached and the last reminder sent (the Cases screen's rows).

Its own module: unlike the other work lists, it follows the store debtor by debtor
(`CaseList.snapshot`) rather than being written whole at each change."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from sqlalchemy import Index, Row, and_, case, func, literal, select
from sqlalchemy.orm import Session
from sqlalchemy.sql import Subquery

from relance.store.models import (
    Action,
    ActionState,
    Channel,
    Creditor,
    Debtor,
    Event,
    Invoice,
    InvoiceStatus,
    Stage,
)
from relance.tui.worklists import SqlList, change_mark


@dataclass(frozen=True)
class CaseRow:
    debtor_id: int
    debtor_name: str
    debtor_ref: str
    creditor: str
    segment: str
    stage: str
    amount_minor: int
    currency: str
    invoices: int
    oldest_due: dt.date
    last_action_on: dt.date | None
    last_channel: str
    paused_until: dt.date | None


_STAGE_RANK = {Stage.REMINDER.value: 1, Stage.AMICABLE.value: 2, Stage.LITIGATION.value: 3}


class CaseList(SqlList[CaseRow]):
    """The debtors who owe something, one row per debtor and currency.

    Written whole, the list is a pass over every open invoice (0.9 s for 1,000,000 on
    SQLite). After that, `snapshot` rewrites only the rows of the debtors named by the
    events appended since the last snapshot: every change appends an event naming the
    debtor it touched, and an event naming none (an import, a creditor renamed, a run)
    or too many debtors has the list written whole again."""

    SEARCHED = ("name", "ref", "creditor")
    FILTERS: ClassVar[dict[str, str]] = {
        "creditor": "creditor", "segment": "segment", "stage": "stage"}
    ORDER = ("name",)
    TIEBREAK = ("key", "currency")
    # Past this many debtors named since the last snapshot, one pass over the book
    # costs less than reading them debtor by debtor.
    REWRITE_LIMIT: ClassVar[int] = 2_000

    def __init__(self, today: dt.date, *, creditor_ids: Sequence[int] | None = None,
                 collector: str | None = None) -> None:
        super().__init__(today, creditor_ids=creditor_ids, collector=collector)
        self._mark: int | None = None  # the last event the snapshot has seen

    def snapshot(self, session: Session) -> None:
        # The mark is read first: a change committed while the rows are read is
        # rewritten once more at the next snapshot, never missed.
        mark = change_mark(session)
        touched = self._touched(session, mark)
        if touched is None:
            super().snapshot(session)
            assert self._table is not None
            Index(f"{self._table.name}_key", self._table.c.key).create(session.connection())
        elif touched:
            self._rewrite(session, touched)
        self._mark = mark

    def _touched(self, session: Session, mark: int) -> set[int] | None:
        """The debtors named by the events after the snapshot's, up to `mark`; None when
        the list must be written whole (no snapshot yet, or an event naming none)."""
        if self._table is None or self._mark is None or mark < self._mark:
            return None
        after = and_(Event.id > self._mark, Event.id <= mark)
        # A run appends an event per action queued: that many are not worth reading.
        if mark - self._mark > self.REWRITE_LIMIT * 10 or session.scalar(
                select(func.count()).where(after, Event.debtor_id.is_(None))):
            return None
        touched = {int(debtor_id) for debtor_id in session.scalars(
            select(Event.debtor_id).where(after).distinct().limit(self.REWRITE_LIMIT + 1))
            if debtor_id is not None}
        return None if len(touched) > self.REWRITE_LIMIT else touched

    def _rewrite(self, session: Session, debtor_ids: set[int]) -> None:
        """The rows of these debtors as they are now, in place of the snapshot's."""
        assert self._table is not None
        ids = sorted(debtor_ids)
        src = self.source(ids)
        session.execute(self._table.delete().where(self._table.c.key.in_(ids)))
        session.execute(self._table.insert().from_select(list(src.c.keys()), select(src)))

    def source(self, debtor_ids: Sequence[int] | None = None) -> Subquery:
        """`debtor_ids`: only these debtors' rows (None: every debtor's)."""
        only_invoices = [] if debtor_ids is None else [Invoice.debtor_id.in_(debtor_ids)]
        only_debtors = [] if debtor_ids is None else [Debtor.id.in_(debtor_ids)]
        rank = case(*((Invoice.stage == stage, n) for stage, n in _STAGE_RANK.items()),
                    else_=1)
        owed = (select(Invoice.debtor_id.label("debtor_id"), Invoice.currency.label("currency"),
                       func.sum(Invoice.balance_minor).label("amount"),
                       func.count(Invoice.id).label("invoices"),
                       func.min(Invoice.due_date).label("oldest_due"),
                       func.max(rank).label("rank"))
                .where(Invoice.status == InvoiceStatus.OPEN, Invoice.balance_minor > 0,
                       *only_invoices)
                .group_by(Invoice.debtor_id, Invoice.currency).subquery())
        last = (select(func.max(Action.created_on))
                .where(Action.debtor_id == Debtor.id, Action.channel != Channel.ESCALATE,
                       Action.state == ActionState.SENT)
                .correlate(Debtor).scalar_subquery())
        stage = case(*((owed.c.rank == n, literal(name)) for name, n in _STAGE_RANK.items()),
                     else_=literal(Stage.REMINDER.value))
        return (select(Debtor.id.label("key"), Debtor.name.label("name"),
                       Debtor.ref.label("ref"), Debtor.segment.label("segment"),
                       Creditor.code.label("creditor"), stage.label("stage"),
                       owed.c.rank, owed.c.amount, owed.c.currency, owed.c.invoices,
                       owed.c.oldest_due, last.label("last_action"),
                       Debtor.paused_until.label("paused_until"))
                .join(owed, owed.c.debtor_id == Debtor.id)
                .join(Creditor, Creditor.id == Debtor.creditor_id)
                .where(*self.limits(Debtor.creditor_id), *only_debtors).subquery("cases"))

    def make(self, session: Session, rows: Sequence[Row[Any]]) -> list[CaseRow]:
        last: dict[int, str] = {}
        keys = [r.key for r in rows]
        if keys:  # what the last action was, for the page only
            for debtor_id, channel in session.execute(
                select(Action.debtor_id, Action.channel)
                .where(Action.debtor_id.in_(keys), Action.channel != Channel.ESCALATE,
                       Action.state == ActionState.SENT)
                .order_by(Action.debtor_id, Action.created_on, Action.id)
            ):
                last[debtor_id] = Channel(channel).value
        return [CaseRow(r.key, r.name, r.ref, r.creditor, r.segment, r.stage,
                        int(r.amount), r.currency, int(r.invoices), r.oldest_due,
                        r.last_action, last.get(r.key, ""), r.paused_until) for r in rows]
