"""The queue's work still waiting (proposed, approved, or waiting for a retry), held in
memory so that each key on 100,000 actions shows its result within 50 ms.

The actions of one state, in the user's scope and portfolio, are read once (two
queries: the actions, then their invoices), then kept up to date debtor by debtor from
the events (`rowset.touched_debtors`), as the other lists are. The operator's filters,
search and sorts are worked out in memory (`rowset.RowSet`); their meaning is the
database reads' of `relance.tui.data` (which still serve the states of the past: sent,
cancelled, … may be millions of rows over the years, and are read a page at a time).

An action's figures are those of `data.queue_page` and `data.queue_totals`: it is
filtered, sorted and added up by what its items keep (the settle step keeps them in
line with the invoices), and shows what its invoices owe now.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, cast

from sqlalchemy import Row, String, and_, case, distinct, func, literal, select, type_coerce
from sqlalchemy.orm import Session

from relance.engine.casework import Seen
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
)
from relance.tui.data import WAITING, Paused, QueueFilter, QueueRow
from relance.tui.list_reads import keep_out_of_collection, touched_debtors, whole_sum
from relance.tui.rowset import SEPARATOR, RowSet, Views
from relance.tui.worklists import change_mark


@dataclass(frozen=True)
class Base:
    """What one read of the queue holds: the actions of a state in a scope."""

    state: str
    scope: tuple[int, ...] | None
    collector: str
    today: dt.date


def base_of(flt: QueueFilter, today: dt.date) -> Base | None:
    """The read a filter is worked out from; None when its state is not work waiting
    (the database is read a page at a time then)."""
    if not flt.state or ActionState(flt.state) not in WAITING:
        return None
    return Base(flt.state, flt.scope, flt.collector, today)


class QueueList:
    """The queue's actions of one state, in memory (see the module's note)."""

    # Past this many debtors named since the last read, the queue is read whole again.
    REWRITE_LIMIT: ClassVar[int] = 2_000
    SORTS: ClassVar[dict[str, str]] = {"name": "name", "channel": "channel",
                                       "amount": "stored", "state": "state"}

    def __init__(self, base: Base, session: Session) -> None:
        self.base = base
        # The mark first: a change committed while the rows are read is read again.
        self._mark = change_mark(session)
        self.paused = Paused.read(session, base.today)
        # What the actions on invoices in several currencies keep in each.
        self._parts: dict[int, dict[str, int]] = {}
        self.rows: RowSet[Row[Any]] = RowSet(
            self._read(session), key="action_id", group="debtor_id",
            searched=("name", "ref"), order=("debtor_id",), tiebreak=("action_id",),
            amount="stored")
        # What the keys compare, worked out now rather than at the first key asking.
        for sort in ("", *self.SORTS.values()):
            self.rows.order(sort)
        for name in ("stored", "numbers", "stages", "channel", "creditor", "segment"):
            self.rows.column(name)
        self.rows.ready_to_search(exact=("numbers",), any_case=("rules", "stages"))
        self.rows.totals(None)
        self.views = Views(self.rows)
        keep_out_of_collection(len(self.rows))

    def refresh(self, session: Session) -> bool:
        """Follow the store: the debtors named since the last read are read again.
        False when the queue must be read whole (a new `QueueList`)."""
        mark = change_mark(session)
        touched = touched_debtors(session, self._mark, mark, self.REWRITE_LIMIT)
        if touched is None:
            return False
        if touched:
            self.paused = Paused.read(session, self.base.today)
            ids = sorted(touched)
            for gone in self.rows.slots_of_groups(ids):
                self._parts.pop(self.rows.row(gone).action_id, None)
            self.rows.replace(ids, self._read(session, ids))
        self._mark = mark
        return True

    # ------------------------------------------------------------------ reading

    def _read(self, session: Session, debtor_ids: Sequence[int] | None = None
              ) -> list[Row[Any]]:
        """The actions of the base (of these debtors only), one row each, their items
        added up by the database: building an object per action in Python cost 0.3 s
        per 100,000 on an idle machine. Enumerations and dates come as the database
        keeps them (text), turned into Python values for the page on show only."""
        base, dialect = self.base, session.get_bind().dialect.name
        state = ActionState(base.state)
        active = ActionItem.state == ItemState.ACTIVE
        owed = and_(active, Invoice.status == InvoiceStatus.OPEN, Invoice.balance_minor > 0)
        ids = select(Action.id).where(Action.state == state)
        if debtor_ids is not None:
            ids = ids.where(Action.debtor_id.in_(debtor_ids))

        def every(column: Any) -> Any:
            """Each item's value, after a SEPARATOR."""
            text = type_coerce(column, String)
            joined = (func.group_concat(text, SEPARATOR) if dialect == "sqlite"
                      else func.string_agg(text, SEPARATOR))
            return literal(SEPARATOR) + joined + literal(SEPARATOR)

        items = (select(
            ActionItem.action_id.label("item_action"),
            whole_sum(case((active, ActionItem.balance_minor), else_=0)).label("stored"),
            whole_sum(case((owed, Invoice.balance_minor), else_=0)).label("now"),
            func.min(case((active, ActionItem.currency))).label("currency"),
            func.count(distinct(case((active, ActionItem.currency)))).label("currencies"),
            whole_sum(case((active, 1), else_=0)).label("invoices"),
            func.min(case((active, ActionItem.rule))).label("rule"),
            every(Invoice.number).label("numbers"), every(Invoice.stage).label("stages"),
            every(ActionItem.rule).label("rules"))
            .join(Invoice, Invoice.id == ActionItem.invoice_id)
            .where(ActionItem.action_id.in_(ids)).group_by(ActionItem.action_id).subquery())
        query = (select(
            Action.id.label("action_id"), type_coerce(Action.state, String).label("state"),
            Action.content_hash, type_coerce(Action.channel, String).label("channel"),
            Action.template, Action.debtor_id, Debtor.name.label("name"),
            Debtor.ref.label("ref"), Creditor.code.label("creditor"),
            Debtor.segment.label("segment"),
            type_coerce(Action.created_on, String).label("created_on"),
            func.coalesce(items.c.stored, 0).label("stored"), items.c.now,
            func.coalesce(items.c.currency, "").label("currency"), items.c.currencies,
            items.c.invoices, items.c.rule, func.coalesce(items.c.numbers, "").label("numbers"),
            func.coalesce(items.c.stages, "").label("stages"),
            func.lower(func.coalesce(items.c.rules, "")).label("rules"))
            .join(Debtor, Debtor.id == Action.debtor_id)
            .join(Creditor, Creditor.id == Action.creditor_id)
            .outerjoin(items, items.c.item_action == Action.id)
            .where(Action.channel != Channel.ESCALATE, Action.state == state,
                   self.paused.hide()))
        if base.scope is not None:
            query = query.where(Action.creditor_id.in_(base.scope))
        if base.collector:
            query = query.where(Debtor.collector == base.collector)
        if debtor_ids is not None:
            query = query.where(Action.debtor_id.in_(debtor_ids))
        rows = cast("Sequence[Row[Any]]", session.execute(query).all())
        mixed = [r.action_id for r in rows if (r.currencies or 0) > 1]
        if mixed:  # the few actions on invoices in several currencies, added up apart
            for action_id, currency, amount in session.execute(
                    select(ActionItem.action_id, ActionItem.currency,
                           func.sum(ActionItem.balance_minor))
                    .where(ActionItem.action_id.in_(mixed), active)
                    .group_by(ActionItem.action_id, ActionItem.currency)):
                self._parts.setdefault(action_id, {})[currency] = int(amount or 0)
        return list(rows)

    # ------------------------------------------------------------------ views

    def _masks(self, flt: QueueFilter) -> list[bytearray]:
        rows, found = self.rows, []
        if flt.channel:
            found.append(rows.equal("channel", Channel(flt.channel).value))
        if flt.creditor:
            found.append(rows.equal("creditor", flt.creditor))
        if flt.segment:
            found.append(rows.equal("segment", flt.segment))
        if flt.rule:
            found.append(rows.holding("rules", flt.rule))
        if flt.stage:
            found.append(rows.holding("stages", SEPARATOR + flt.stage + SEPARATOR))
        if flt.min_amount_minor is not None:
            found.append(rows.at_least("stored", flt.min_amount_minor))
        if flt.max_amount_minor is not None:
            found.append(rows.at_most("stored", flt.max_amount_minor))
        if flt.search:
            # A name or reference holding it, or an invoice number starting with it as
            # typed, in capitals or in small letters (as `data._search` reads them).
            text = flt.search
            found.append(rows.either(text, [
                ("numbers", SEPARATOR + prefix)
                for prefix in dict.fromkeys((text, text.upper(), text.lower()))]))
        return found

    @staticmethod
    def _filters(flt: QueueFilter) -> Hashable:
        return dataclasses.replace(flt, sort="", descending=False)

    def figures(self, flt: QueueFilter) -> tuple[int, dict[str, int]]:
        """How many actions the filter shows, and what they add up to per currency."""
        _mask, count, totals = self.views.figures(self._filters(flt),
                                                  lambda: self._masks(flt))
        return count, {c: v for c, v in self._split(totals, flt).items() if c}

    def _split(self, totals: dict[str, int], flt: QueueFilter) -> dict[str, int]:
        """The totals with the actions on invoices in several currencies counted in
        each (the rows add them up under their first currency)."""
        if not self._parts:
            return totals
        found = dict(totals)
        rows = self.rows
        for slot in self._slots(flt):
            row = rows.row(slot)
            parts = self._parts.get(row.action_id)
            if parts:
                found[row.currency] -= row.stored
                for currency, amount in parts.items():
                    found[currency] = found.get(currency, 0) + amount
        return found

    def _slots(self, flt: QueueFilter) -> list[int]:
        sort = self.SORTS.get(flt.sort, "")
        return self.views.slots(self._filters(flt), lambda: self._masks(flt), sort,
                                flt.descending and bool(sort))

    def page(self, flt: QueueFilter, offset: int, limit: int) -> list[QueueRow]:
        rows = self.rows
        return [_queue_row(rows.row(slot)) for slot in self._slots(flt)[offset:offset + limit]]

    def position(self, flt: QueueFilter, action_id: int) -> int | None:
        """Where the action stands in the filter's view (None: not in it)."""
        slots = self._slots(flt)
        for slot in self.rows.slots_of(action_id):
            try:
                return slots.index(slot)
            except ValueError:
                return None
        return None

    def seen(self, flt: QueueFilter) -> list[Seen]:
        """Every action the filter shows, as the operator sees them."""
        rows = self.rows
        return [Seen(row.action_id, ActionState(row.state), row.content_hash)
                for row in map(rows.row, self._slots(flt))]


def _queue_row(row: Row[Any]) -> QueueRow:
    created = row.created_on
    return QueueRow(
        row.action_id, ActionState(row.state), row.content_hash, Channel(row.channel),
        row.template, row.debtor_id, row.name, row.ref, row.creditor, row.segment,
        created if isinstance(created, dt.date) else dt.date.fromisoformat(str(created)),
        int(row.now or 0), row.currency or "", int(row.invoices or 0), row.rule or "")
