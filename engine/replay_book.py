"""The book as it was on a past day, for the back-test (`engine.replay`).

Inside the replay's transaction (always rolled back), `rewind` takes away what the rules
did from the first day on (actions, their items and approvals, runs, the levels and
stages they moved) and reads the dated history of the book; `BookTimeline.apply` then
sets, day after day, what the book held on that day:

- an invoice exists from its issue date (before it, its balance is nil: no rule sees it);
- its balance is today's, plus what was paid after the day, less what was reversed
  after it: payments count from the day they were received, a reversal from its day;
- a dispute holds from the day it was opened (`disputed_since`) and, when closed, up to
  the day its closing was recorded;
- a pause holds from the day it was recorded to its last day, or to a resumption;
- a promise exists from the day it was recorded.

What the store does not date is left as it is now, and counted in `Limits` so that the
report can say so: paid amounts that came with an invoice import, payment plans, the
status of promises, pauses that no event records, and levels started again by hand
within the period.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from relance.engine.facts import (
    ACTION,
    ACTION_ITEM,
    DEBTOR,
    INVOICE,
    INVOICE_LEVEL,
    PLAN,
    PROMISE,
    table,
)
from relance.store.models import VOID_ACTION_STATES, PromiseStatus, Stage

PAYMENT = table("payment")
ALLOCATION = table("payment_allocation")
EVENT = table("event")
APPROVAL = table("approval")
MANDATE_CASE = table("mandate_case")
RUN = table("run")
VOID = sorted(state.value for state in VOID_ACTION_STATES)
FOREVER = dt.date.max


@dataclass(frozen=True)
class Limits:
    """What the replay holds as it is now, for want of a date in the store."""

    # Invoices whose paid amount no payment explains: paid in the ERP, imported.
    paid_by_import: int = 0
    # Payment plans living during the period: their state is today's.
    plans: int = 0
    # Promises whose status (kept, broken, cancelled) is taken as it is now.
    settled_promises: int = 0
    # Debtors paused now with no recorded pause: paused over the whole period.
    undated_pauses: int = 0
    # Levels started again by hand during the period: the replay does not redo it.
    level_resets: int = 0

    def to_json(self) -> dict[str, int]:
        return {"paid_by_import": self.paid_by_import, "plans": self.plans,
                "settled_promises": self.settled_promises,
                "undated_pauses": self.undated_pauses, "level_resets": self.level_resets}


@dataclass(frozen=True)
class Dispute:
    since: dt.date
    until: dt.date  # the first day it no longer holds (FOREVER: still open)
    reason: str


@dataclass
class BookTimeline:
    """The dated history of the book from the first day, and what was last set."""

    first: dt.date
    issued: dict[int, dt.date]
    amount: dict[int, int]
    balance_now: dict[int, int]
    # invoice -> (day, change of what is paid): + a payment, - its reversal
    paid_changes: dict[int, list[tuple[dt.date, int]]]
    disputes: dict[int, list[Dispute]]
    # debtor -> (day recorded, paused until) in order, and the pause before the first
    pauses: dict[int, list[tuple[dt.date, dt.date | None]]]
    pause_before: dict[int, dt.date | None]
    promises_later: list[dict[str, Any]]
    limits: Limits
    # What `apply` last wrote, so that a day writes only what changed.
    set_balance: dict[int, int] = field(default_factory=dict)
    set_dispute: dict[int, Dispute | None] = field(default_factory=dict)
    set_pause: dict[int, dt.date | None] = field(default_factory=dict)

    def balance_on(self, invoice_id: int, day: dt.date) -> int:
        """What the invoice owed on `day`, its payments of the day received (nil before
        it was issued)."""
        if day < self.issued[invoice_id]:
            return 0
        later = sum(change for on, change in self.paid_changes.get(invoice_id, ())
                    if on > day)
        return self.balance_now[invoice_id] + later

    def settled_on(self, invoice_id: int, last: dt.date) -> dt.date | None:
        """The day, after the first and up to `last`, a payment left the invoice owing
        nothing for good; None: it was not settled within the period."""
        if self.balance_on(invoice_id, last) > 0:
            return None
        days = sorted({on for on, _ in self.paid_changes.get(invoice_id, ())
                       if self.first < on <= last})
        settled: dt.date | None = None
        for day in reversed(days):
            if self.balance_on(invoice_id, day - dt.timedelta(days=1)) > 0:
                settled = day
                break
        return settled

    def apply(self, session: Session, day: dt.date) -> None:
        """Set the book as it was on `day` (the day's payments received)."""
        conn = session.connection()
        self._apply_balances(conn, day)
        self._apply_disputes(conn, day)
        self._apply_pauses(conn, day)
        due = [row for row in self.promises_later if row["recorded_on"] <= day]
        if due:
            self.promises_later = [row for row in self.promises_later if row not in due]
            conn.execute(insert(PROMISE), [{k: v for k, v in row.items() if k != "recorded_on"}
                                           for row in due])

    def _apply_balances(self, conn: Connection, day: dt.date) -> None:
        changed: dict[int, int] = {}
        for invoice_id in self.issued:
            balance = self.balance_on(invoice_id, day)
            if self.set_balance.get(invoice_id, self.balance_now[invoice_id]) != balance:
                changed[invoice_id] = balance
        for invoice_id, balance in changed.items():
            # Before its issue date an invoice is nil, paid in full: nothing to chase.
            paid = self.amount[invoice_id] - balance
            conn.execute(update(INVOICE).where(INVOICE.c.id == invoice_id)
                         .values(balance_minor=balance, paid_minor=paid))
            self.set_balance[invoice_id] = balance

    def _apply_disputes(self, conn: Connection, day: dt.date) -> None:
        for invoice_id, disputes in self.disputes.items():
            holding = [d for d in disputes if d.since <= day < d.until]
            now = max(holding, key=lambda d: d.since) if holding else None
            if invoice_id in self.set_dispute and self.set_dispute[invoice_id] == now:
                continue
            conn.execute(update(INVOICE).where(INVOICE.c.id == invoice_id).values(
                dispute_reason=now.reason if now else None,
                disputed_since=now.since if now else None))
            self.set_dispute[invoice_id] = now

    def _apply_pauses(self, conn: Connection, day: dt.date) -> None:
        for debtor_id, steps in self.pauses.items():
            until = self.pause_before.get(debtor_id)
            for recorded, value in steps:
                if recorded <= day:
                    until = value
            if debtor_id in self.set_pause and self.set_pause[debtor_id] == until:
                continue
            conn.execute(update(DEBTOR).where(DEBTOR.c.id == debtor_id)
                         .values(paused_until=until))
            self.set_pause[debtor_id] = until


# --------------------------------------------------------------------------- rewinding


def rewind(session: Session, first: dt.date, last: dt.date) -> BookTimeline:
    """Take away what the rules did from `first` on and read the book's dated history.

    The caller's transaction must be rolled back: this deletes and rewrites rows."""
    conn = session.connection()
    resets = _undo_actions(conn, first)
    invoices = conn.execute(select(INVOICE.c.id, INVOICE.c.issue_date, INVOICE.c.amount_minor,
                                   INVOICE.c.paid_minor, INVOICE.c.balance_minor,
                                   INVOICE.c.dispute_reason, INVOICE.c.disputed_since)).all()
    changes, explained = _paid_changes(conn, first)
    pauses, pause_before, undated = _pauses(conn, first)
    promises_later, settled_promises = _promises(conn, first, last)
    plans = conn.execute(select(func.count()).select_from(PLAN).where(
        PLAN.c.agreed_on <= last)).scalar_one()
    limits = Limits(
        paid_by_import=sum(1 for row in invoices
                           if row.paid_minor != explained.get(row.id, 0)),
        plans=int(plans), settled_promises=settled_promises, undated_pauses=undated,
        level_resets=resets)
    return BookTimeline(
        first=first,
        issued={row.id: row.issue_date for row in invoices},
        amount={row.id: row.amount_minor for row in invoices},
        balance_now={row.id: row.balance_minor for row in invoices},
        paid_changes=changes, disputes=_disputes(conn, invoices), pauses=pauses,
        pause_before=pause_before, promises_later=promises_later, limits=limits)


def _undo_actions(conn: Connection, first: dt.date) -> int:
    """Remove the actions queued from `first` on and the runs that queued them; put the
    levels and stages they moved back as the earlier actions left them. Returns how many
    levels were started again by hand from `first` on (not redone)."""
    later = select(ACTION.c.id).where(ACTION.c.created_on >= first)
    moved = conn.execute(
        select(INVOICE_LEVEL.c.invoice_id, INVOICE_LEVEL.c.policy)
        .where(INVOICE_LEVEL.c.acted_on >= first)).all()
    escalated = conn.execute(
        select(ACTION_ITEM.c.invoice_id).distinct()
        .join(ACTION, ACTION.c.id == ACTION_ITEM.c.action_id)
        .where(ACTION.c.created_on >= first, ACTION.c.channel == "escalate")).scalars().all()
    conn.execute(update(MANDATE_CASE).where(MANDATE_CASE.c.first_letter_action_id.in_(later))
                 .values(first_letter_action_id=None, first_letter_on=None))
    conn.execute(delete(APPROVAL).where(APPROVAL.c.action_id.in_(later)))
    conn.execute(delete(ACTION_ITEM).where(ACTION_ITEM.c.action_id.in_(later)))
    conn.execute(delete(ACTION).where(ACTION.c.created_on >= first))
    conn.execute(delete(RUN).where(RUN.c.run_date >= first))
    resets = conn.execute(select(func.count()).select_from(INVOICE_LEVEL).where(
        INVOICE_LEVEL.c.acted_on >= first, INVOICE_LEVEL.c.rule.is_(None))).scalar_one()
    _restore_levels(conn, first, moved)
    _restore_stages(conn, first, escalated)
    return int(resets)


def _restore_levels(conn: Connection, first: dt.date, moved: Iterable[Any]) -> None:
    """A level moved from `first` on goes back to the last rule that acted before."""
    pairs = {(row.invoice_id, row.policy) for row in moved}
    if not pairs:
        return
    invoice_ids = sorted({invoice for invoice, _ in pairs})
    earlier: dict[tuple[int, str], tuple[str, dt.date]] = {}
    for start in range(0, len(invoice_ids), 500):
        for row in conn.execute(
            select(ACTION_ITEM.c.invoice_id, ACTION_ITEM.c.policy, ACTION_ITEM.c.rule,
                   ACTION_ITEM.c.acted_on)
            .where(ACTION_ITEM.c.invoice_id.in_(invoice_ids[start:start + 500]),
                   ACTION_ITEM.c.acted_on < first)
            .order_by(ACTION_ITEM.c.acted_on, ACTION_ITEM.c.id)
        ):
            earlier[(row.invoice_id, row.policy)] = (row.rule, row.acted_on)
    for invoice_id, policy in sorted(pairs):
        where = (INVOICE_LEVEL.c.invoice_id == invoice_id) & (INVOICE_LEVEL.c.policy == policy)
        if (invoice_id, policy) in earlier:
            rule, acted_on = earlier[(invoice_id, policy)]
            conn.execute(update(INVOICE_LEVEL).where(where)
                         .values(rule=rule, acted_on=acted_on))
        else:
            conn.execute(delete(INVOICE_LEVEL).where(where))


def _restore_stages(conn: Connection, first: dt.date, invoice_ids: Iterable[int]) -> None:
    """An invoice escalated from `first` on goes back to the stage of its last
    escalation before, or to the first stage."""
    for invoice_id in invoice_ids:
        before = conn.execute(
            select(ACTION.c.target_stage)
            .join(ACTION_ITEM, ACTION_ITEM.c.action_id == ACTION.c.id)
            .where(ACTION_ITEM.c.invoice_id == invoice_id, ACTION.c.channel == "escalate",
                   ACTION.c.created_on < first, ACTION.c.state.not_in(VOID))
            .order_by(ACTION.c.created_on.desc(), ACTION.c.id.desc()).limit(1)
        ).scalar()
        conn.execute(update(INVOICE).where(INVOICE.c.id == invoice_id)
                     .values(stage=str(before) if before else Stage.REMINDER.value))


def _paid_changes(conn: Connection, first: dt.date
                  ) -> tuple[dict[int, list[tuple[dt.date, int]]], dict[int, int]]:
    """Per invoice, what payments and reversals changed after `first`, dated; and what
    the payments standing today explain of each invoice's paid amount."""
    changes: dict[int, list[tuple[dt.date, int]]] = defaultdict(list)
    explained: dict[int, int] = defaultdict(int)
    for row in conn.execute(
        select(ALLOCATION.c.invoice_id, ALLOCATION.c.amount_minor, PAYMENT.c.received_on)
        .join(PAYMENT, PAYMENT.c.id == ALLOCATION.c.payment_id)
    ):
        explained[row.invoice_id] += row.amount_minor
        if row.received_on > first:
            changes[row.invoice_id].append((row.received_on, row.amount_minor))
    # A reversed payment's allocations are gone; its event lists them.
    reversed_payments = {row.id: (row.received_on, row.reversed_on) for row in conn.execute(
        select(PAYMENT.c.id, PAYMENT.c.received_on, PAYMENT.c.reversed_on)
        .where(PAYMENT.c.reversed_on > first))}
    for subject, data in conn.execute(
        select(EVENT.c.subject_id, EVENT.c.data)
        .where(EVENT.c.kind == "payment.reversed", EVENT.c.subject_type == "payment")
    ):
        if int(subject) not in reversed_payments:
            continue
        received_on, reversed_on = reversed_payments[int(subject)]
        for undone in (data or {}).get("allocations", ()):
            invoice_id, minor = int(undone["invoice_id"]), int(undone["amount_minor"])
            if received_on > first:
                changes[invoice_id].append((received_on, minor))
            changes[invoice_id].append((reversed_on, -minor))
    return dict(changes), dict(explained)


def _disputes(conn: Connection, invoices: Iterable[Any]) -> dict[int, list[Dispute]]:
    """Each invoice's disputes: the open one from its day, the closed ones from their
    day to the day their closing was recorded."""
    found: dict[int, list[Dispute]] = defaultdict(list)
    for row in invoices:
        if row.dispute_reason is not None:
            found[row.id].append(Dispute(row.disputed_since or dt.date.min, FOREVER,
                                         row.dispute_reason))
    for subject, at, data in conn.execute(
        select(EVENT.c.subject_id, EVENT.c.at, EVENT.c.data)
        .where(EVENT.c.kind == "invoice.dispute_closed", EVENT.c.subject_type == "invoice")
    ):
        since = (data or {}).get("since")
        found[int(subject)].append(Dispute(
            dt.date.fromisoformat(since) if since else dt.date.min, at.date(),
            str((data or {}).get("reason") or "")))
    return dict(found)


def _pauses(conn: Connection, first: dt.date
            ) -> tuple[dict[int, list[tuple[dt.date, dt.date | None]]],
                       dict[int, dt.date | None], int]:
    """Per debtor, the pauses recorded (day recorded, paused until) and the pause before
    the first of them; and how many debtors are paused now with no pause recorded."""
    steps: dict[int, list[tuple[dt.date, dt.date | None]]] = defaultdict(list)
    before: dict[int, dt.date | None] = {}
    for subject, kind, at, data in conn.execute(
        select(EVENT.c.subject_id, EVENT.c.kind, EVENT.c.at, EVENT.c.data)
        .where(EVENT.c.kind.in_(("debtor.paused", "debtor.resumed")),
               EVENT.c.subject_type == "debtor")
        .order_by(EVENT.c.id)
    ):
        debtor_id, data = int(subject), data or {}
        if debtor_id not in steps:
            previous = data.get("previous") if kind == "debtor.paused" else data.get("was_until")
            before[debtor_id] = dt.date.fromisoformat(previous) if previous else None
        until = data.get("until") if kind == "debtor.paused" else None
        steps[debtor_id].append((at.date(), dt.date.fromisoformat(until) if until else None))
    undated = conn.execute(select(func.count()).select_from(DEBTOR).where(
        DEBTOR.c.paused_until >= first,
        DEBTOR.c.id.not_in(sorted(steps)) if steps else DEBTOR.c.id.isnot(None))).scalar_one()
    return dict(steps), before, int(undated)


def _promises(conn: Connection, first: dt.date, last: dt.date
              ) -> tuple[list[dict[str, Any]], int]:
    """The promises recorded after `first`, taken out of the book to come back on their
    day; and how many promises of the period have a status the replay takes as now."""
    later: list[dict[str, Any]] = []
    settled = 0
    for row in conn.execute(select(PROMISE).order_by(PROMISE.c.id)):
        recorded = row.created_at.date()
        if (row.promised_on >= first and recorded <= last
                and str(row.status) != PromiseStatus.OPEN.value):
            settled += 1
        if recorded > first:
            later.append({**row._asdict(), "recorded_on": recorded})
    if later:
        conn.execute(delete(PROMISE).where(PROMISE.c.id.in_([row["id"] for row in later])))
    return later, settled
