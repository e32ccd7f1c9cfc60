"""The cases list: the debtors who owe something, with their balance, the furthest
stage their invoices reached and the last reminder sent (the Cases screen's rows).

Its own module: unlike the other work lists, it follows the store debtor by debtor
(`CaseList.snapshot`) rather than being written whole at each change."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from sqlalchemy import Row, case, func, literal, select
from sqlalchemy.orm import Session
from sqlalchemy.sql import Subquery

from relance.store.models import (
    Action,
    ActionState,
    Channel,
    Creditor,
    Debtor,
    Invoice,
    InvoiceStatus,
    Stage,
)
from relance.tui.list_reads import whole_sum
from relance.tui.worklists import SqlList


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

    Read whole, the list is a pass over every open invoice (0.9 s for 1,000,000 on
    SQLite). After that, `snapshot` reads again only the rows of the debtors named by
    the events appended since the last snapshot: every change appends an event naming
    the debtor it touched, and an event naming none (an import, a creditor renamed, a
    run) or too many debtors has the list read whole again."""

    SEARCHED = ("name", "ref", "creditor")
    FILTERS: ClassVar[dict[str, str]] = {
        "creditor": "creditor", "segment": "segment", "stage": "stage"}
    ORDER = ("name",)
    TIEBREAK = ("key", "currency")
    GROUP = "key"  # a row's key is its debtor

    def source(self, debtor_ids: Sequence[int] | None = None) -> Subquery:
        """`debtor_ids`: only these debtors' rows (None: every debtor's)."""
        only_invoices = [] if debtor_ids is None else [Invoice.debtor_id.in_(debtor_ids)]
        only_debtors = [] if debtor_ids is None else [Debtor.id.in_(debtor_ids)]
        rank = case(*((Invoice.stage == stage, n) for stage, n in _STAGE_RANK.items()),
                    else_=1)
        owed = (select(Invoice.debtor_id.label("debtor_id"), Invoice.currency.label("currency"),
                       whole_sum(Invoice.balance_minor).label("amount"),
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
