"""After a small change, a run of a date already run evaluates only the debtors changed.

A run of day D decides, for each invoice, from the rows of its debtor (the debtor, its
invoices, payments, promises, plans, tags, payer profile, and the queue's actions,
items and levels about them) and from what every debtor shares (the creditors, the
rules and the settings). A second run of D on a book where none of that moved adds
nothing (`engine.run_reuse`). So when, since the last run of D, only some debtors' rows
changed, the debtors whose rows did not change would add nothing either: evaluating
the changed ones alone decides what a whole evaluation would.

`run_scope` says which debtors those are, or None when it cannot be sure (the run then
evaluates the whole book). It can be sure when:

- the last finished run of D recorded its fingerprint, with the key of this run (the
  same rules, settings and evaluator, `run_reuse.run_key`), and the event its
  fingerprint names is still the log's entry at that place;
- every event since is of a kind whose change is confined to the debtor the event
  names (a payment and its allocations, a credit note, a payment reversed, a plan
  kept or reopened or broken, an action settled or queued for the debtor, client funds
  collected or reversed, a pause, a dispute, a promise, a note or a level reset, each
  of these undone), or an invoice import naming the debtors it wrote (its data's
  `debtors`, `store.importing.invoices.named_debtors`), or a payment import (each
  payment it records has its own event);
- at most `MAX_DEBTORS` debtors are named;
- every row added since, by id, to a table a run reads or writes belongs to one of
  them, and no table's largest id went down; a new creditor, for one, is a change
  every debtor may see.

Not seen, as with reusing a run: a row changed by hand in the database without an
event; a tag or plan-invoice link (tables without ids) added by hand for another debtor
between the two runs. A run with `reuse=False` evaluates the whole book.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, Table, and_, func, or_, select
from sqlalchemy.engine import Connection

from relance.engine.id_sets import in_ids
from relance.engine.run_reuse import (
    BOOK_BY_ID,
    QUEUE_BY_ID,
    book_tables,
    last_remembered,
    queue_tables,
)
from relance.kernel.display import show_count
from relance.kernel.i18n import _, ngettext
from relance.store.models import Base, Event

if TYPE_CHECKING:
    from relance.engine.run import RunReport

# Events whose change is confined to the debtor in their `debtor_id`.
CONFINED_KINDS = frozenset({
    "payment.recorded", "credit_note.recorded", "payment.allocated", "payment.unallocated",
    "payment.reversed", "plan.completed", "plan.reopened", "plan.broken", "action.settled",
    "action.queued", "funds.collected", "funds.reversed",
    # An operator's holds on one case (`engine.case_holds`), and their undoing.
    "debtor.paused", "debtor.resumed", "debtor.pause_undone", "debtor.resume_undone",
    "invoice.dispute_opened", "invoice.dispute_closed", "invoice.dispute_undone",
    "invoice.dispute_close_undone", "promise.added", "promise.undone", "note.added",
    "note.retracted", "level.reset",
})
# Events that name the debtors they changed in their data's `debtors`.
LISTING_KINDS = frozenset({"import.invoices"})
# Events that change nothing of their own: what they did has events of its own.
SUMMING_KINDS = frozenset({"import.payments"})
# Past these, a whole evaluation costs about what a limited one would.
MAX_DEBTORS = 25_000
MAX_EVENTS = 50_000


@dataclass(frozen=True)
class RunScope:
    """The debtors a run of `on` evaluates; the run `since` decided for the others."""

    since: int
    debtor_ids: frozenset[int]


def _table(name: str) -> Table:
    return Base.metadata.tables[name]


def _owner_outside(name: str, debtors: list[int]) -> ColumnElement[bool]:
    """For a row of table `name`: its debtor is not one of `debtors` (or has none)."""
    table = _table(name)
    if name == "debtor":
        return ~in_ids(table.c.id, debtors)
    if "debtor_id" in table.c:
        return or_(table.c.debtor_id.is_(None), ~in_ids(table.c.debtor_id, debtors))
    owner, link = {
        "instalment": ("payment_plan", "plan_id"),
        "payment_allocation": ("invoice", "invoice_id"),
        "action_item": ("action", "action_id"),
    }[name]
    parent = _table(owner)
    return ~select(parent.c.id).where(parent.c.id == table.c[link],
                                      in_ids(parent.c.debtor_id, debtors)).exists()


def _rows_confined(conn: Connection, before: dict[str, int], now: dict[str, int],
                   debtors: list[int]) -> bool:
    """Whether every row added since `before` (by id) belongs to one of `debtors`."""
    for name in (*BOOK_BY_ID, *QUEUE_BY_ID):
        was, is_now = int(before.get(name, -1)), int(now[name])
        if is_now < was or was < 0:
            return False
        if is_now == was:
            continue
        if name == "creditor" or not debtors:
            return False
        table = _table(name)
        stray = conn.execute(select(table.c.id).where(
            and_(table.c.id > was, _owner_outside(name, debtors))).limit(1)).first()
        if stray is not None:
            return False
    return True


def _named(kind: str, debtor_id: int | None, data: Any) -> list[int] | None:
    """The debtors one event changed, or None when it may have changed others."""
    if kind in CONFINED_KINDS:
        return None if debtor_id is None else [int(debtor_id)]
    if kind in SUMMING_KINDS:
        return []
    if kind in LISTING_KINDS:
        named = data.get("debtors") if isinstance(data, dict) else None
        if isinstance(named, list) and all(isinstance(one, int) for one in named):
            return named
    return None


def run_scope(conn: Connection, on: dt.date, key: dict[str, Any]) -> RunScope | None:
    """The debtors whose rows changed since the last run of `on`, when that run's
    decisions stand for every other debtor (see module doc); else None."""
    last = last_remembered(conn, on)
    if last is None or last.key != key:
        return None
    book = last.book
    head_id, head_hash = book["head"]
    if head_id and conn.execute(select(Event.hash).where(Event.id == head_id)
                                ).scalar() != head_hash:
        return None
    since = select(Event.kind, Event.debtor_id, Event.data).where(Event.id > head_id)
    if conn.execute(select(func.count()).select_from(since.subquery())
                    ).scalar_one() > MAX_EVENTS:
        return None
    debtors: set[int] = set()
    for kind, debtor_id, data in conn.execute(since.order_by(Event.id)):
        named = _named(kind, debtor_id, data)
        if named is None:
            return None
        debtors.update(named)
        if len(debtors) > MAX_DEBTORS:
            return None
    ordered = sorted(debtors)
    if not _rows_confined(conn, {**book["tables"], **book["queue"]},
                          {**book_tables(conn), **queue_tables(conn)}, ordered):
        return None
    # The other debtors' profiles are the last run's, as of `on`: a run of another date
    # in between would have rewritten them (and appended its own events).
    profile = _table("payer_profile")
    if conn.execute(select(profile.c.debtor_id).where(profile.c.computed_on != on)
                    .limit(1)).first() is not None:
        return None
    return RunScope(since=int(last.id), debtor_ids=frozenset(debtors))


def scope_note(report: RunReport) -> str | None:
    """The sentence telling a person that a run evaluated only the debtors changed."""
    if report.scoped_from is None or report.debtors_evaluated is None:
        return None
    if report.debtors_evaluated == 0:
        return _("no debtor's case changed since run {id} of this day: its decisions "
                 "stand, nothing was evaluated again").format(id=report.scoped_from)
    return ngettext(
        "only the {count} debtor changed since run {id} of this day was evaluated: for "
        "the others, that run's decisions stand",
        "only the {count} debtors changed since run {id} of this day were evaluated: for "
        "the others, that run's decisions stand",
        report.debtors_evaluated).format(count=show_count(report.debtors_evaluated),
                                         id=report.scoped_from)
