"""What the rules see about an open invoice on a date: the facts.

`Facts` holds, for one open invoice as of day D, the invoice's own fields, its debtor's
and creditor's, the debtor aggregates (`debtor_balance`, `debtor_overdue`,
`promises_broken`), its payment plans (`in_plan`, `plan_broken`, `instalment_overdue`)
the history (levels per policy, which rule acted when, `reminders_sent`,
`last_action`) and the debtor's payer profile as the last run stored it
(`engine.payer_profile`).

`load_facts` builds them in Python from plain rows of the store: it is the reference
the SQL compiler (`engine.sqlcompile`) is tested against, and what `explain` reads.
History excludes everything acted on D or later: conditions see the book as it is but
not the actions queued on D.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Table, and_, literal_column, select
from sqlalchemy.engine import Connection

from relance.engine.payer_profile import NEW, PROFILE
from relance.store.models import (
    OUTBOUND_CHANNELS,
    VOID_ACTION_STATES,
    Base,
    InvoiceStatus,
    ItemState,
    PlanStatus,
    PromiseStatus,
)


def table(name: str) -> Table:
    """A table of the schema, for Core queries (the ORM stays out of evaluation)."""
    return Base.metadata.tables[name]


INVOICE = table("invoice")
DEBTOR = table("debtor")
CREDITOR = table("creditor")
DEBTOR_TAG = table("debtor_tag")
PROMISE = table("promise")
PLAN = table("payment_plan")
PLAN_INVOICE = table("payment_plan_invoice")
INSTALMENT = table("instalment")
ACTION = table("action")
ACTION_ITEM = table("action_item")
INVOICE_LEVEL = table("invoice_level")
PORTAL_LINK = table("portal_link")

OUTBOUND = sorted(channel.value for channel in OUTBOUND_CHANNELS)
VOID = sorted(state.value for state in VOID_ACTION_STATES)
# A broken plan still holds its instalments: `instalment_overdue` keeps counting on it.
LIVE_PLANS = sorted((PlanStatus.ACTIVE.value, PlanStatus.BROKEN.value))
# Promises that no longer count against the debtor, for `promise_broken` and
# `promises_broken` alike; any other one whose date has passed was broken.
SETTLED_PROMISES = sorted((PromiseStatus.KEPT.value, PromiseStatus.CANCELLED.value))
# `promises_broken` looks back this many days: twelve months, leap years aside.
PROMISE_WINDOW_DAYS = 365
# `portal_visited` looks back this many days.
PORTAL_VISIT_DAYS = 30


def portal_visit_window(on: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """`portal_visited` on day D: a link of the debtor whose first opening is before D
    (00:00 UTC) and whose latest opening is on or after D-30 (00:00 UTC). A link keeps
    its first and latest openings only, so a run dated in the past sees a visit made
    after its date only through an earlier first opening."""
    def midnight(day: dt.date) -> dt.datetime:
        return dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)

    return midnight(on - dt.timedelta(days=PORTAL_VISIT_DAYS)), midnight(on)


def open_invoice_filter() -> Any:
    """Open invoices: something still due, not cancelled (credit notes are negative)."""
    # A literal 0, not a parameter: SQLite uses the partial index on open invoices only
    # when the query's condition visibly matches the index's.
    return and_(INVOICE.c.balance_minor > literal_column("0"),
                INVOICE.c.status != InvoiceStatus.CANCELLED.value)


@dataclass(frozen=True)
class Level:
    """An invoice's place in a policy: the identity of the last rule that acted, and when."""

    rule: str | None
    acted_on: dt.date | None


@dataclass(frozen=True)
class ItemRecord:
    """One past action item of the invoice, as the history fields need it."""

    item_id: int
    action_id: int
    policy: str
    rule: str
    acted_on: dt.date
    counts: bool  # the item is active and its action not rejected, cancelled or failed
    outbound: bool


@dataclass
class Facts:
    """Everything a condition may read about one open invoice on day `on`."""

    on: dt.date
    invoice_id: int
    number: str
    creditor_id: int
    creditor_code: str
    creditor_country: str
    # The creditor's calendar region (a `holidays` subdivision; None: national): with
    # the country, what business-day durations count in.
    creditor_region: str | None
    debtor_id: int
    debtor_ref: str
    issue_date: dt.date
    due_date: dt.date
    currency: str
    amount_minor: int
    balance_minor: int
    disputed: bool
    stage: str
    attrs: dict[str, Any]
    segment: str
    country: str
    payment_method: str
    language: str
    sales_rep: str | None
    risk: int | None
    paused_until: dt.date | None
    tags: frozenset[str] = frozenset()
    promised: bool = False
    promise_broken: bool = False
    in_plan: bool = False
    plan_broken: bool = False
    # One of the debtor's personal links was opened lately (`portal_visit_window`).
    portal_visited: bool = False
    # The earliest instalment past due and not fully paid, of a live plan holding the
    # invoice (None: there is none).
    instalment_due_on: dt.date | None = None
    promises_broken: int = 0
    debtor_balance_minor: int = 0
    debtor_overdue_minor: int = 0
    reminders_sent: int = 0
    last_action_on: dt.date | None = None
    # The payer profile (`engine.payer_profile`); averages in hundredths, None: unknown.
    days_late_hundredths: int | None = None
    reminders_hundredths: int | None = None
    promises_kept_hundredths: int | None = None
    disputes_12m: int = 0
    payer_class: str = NEW
    levels: dict[str, Level] = field(default_factory=dict)
    # Items before D, newest last: levels fall back on them when a rule was removed.
    items: tuple[ItemRecord, ...] = ()
    # (policy, rule) -> the first counting item's date before D, for `after`.
    first_acted: dict[tuple[str, str], dt.date] = field(default_factory=dict)

    @property
    def paused(self) -> bool:
        return self.paused_until is not None and self.paused_until >= self.on

    @property
    def instalment_since(self) -> dt.date:
        """The date `instalment_overdue` counts from: without a late instalment, the day
        itself, so that the duration is 0 in calendar and business days alike (the
        compiled query uses the same fallback)."""
        return self.on if self.instalment_due_on is None else self.instalment_due_on

    def level(self, policy: str) -> Level:
        return self.levels.get(policy, Level(None, None))


def _chunks(values: Sequence[int], size: int = 500) -> Iterator[Sequence[int]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _base_query() -> Any:
    i, d, c = INVOICE, DEBTOR, CREDITOR
    return (
        select(
            i.c.id, i.c.number, i.c.creditor_id, c.c.code, c.c.country.label("creditor_country"),
            c.c.calendar_region.label("creditor_region"), i.c.debtor_id, d.c.ref,
            i.c.issue_date, i.c.due_date, i.c.currency,
            i.c.amount_minor, i.c.balance_minor, i.c.dispute_reason, i.c.stage, i.c.attrs,
            d.c.segment, d.c.country, d.c.payment_method, d.c.language, d.c.sales_rep,
            d.c.risk, d.c.paused_until,
        )
        .select_from(i.join(d, d.c.id == i.c.debtor_id).join(c, c.c.id == i.c.creditor_id))
        .where(open_invoice_filter())
        .order_by(i.c.id)
    )


def load_facts(
    conn: Connection,
    on: dt.date,
    *,
    invoice_ids: Iterable[int] | None = None,
) -> list[Facts]:
    """The facts of the open invoices (all, or those named) as of `on`, derived in Python."""
    query = _base_query()
    if invoice_ids is not None:
        wanted = sorted(set(invoice_ids))
        rows: list[Any] = []
        for chunk in _chunks(wanted):
            rows.extend(conn.execute(query.where(INVOICE.c.id.in_(chunk))).all())
    else:
        rows = list(conn.execute(query).all())
    facts = [
        Facts(
            on=on, invoice_id=r.id, number=r.number, creditor_id=r.creditor_id,
            creditor_code=r.code, creditor_country=r.creditor_country,
            creditor_region=r.creditor_region, debtor_id=r.debtor_id,
            debtor_ref=r.ref, issue_date=r.issue_date, due_date=r.due_date,
            currency=r.currency, amount_minor=r.amount_minor, balance_minor=r.balance_minor,
            disputed=r.dispute_reason is not None, stage=str(r.stage), attrs=dict(r.attrs or {}),
            segment=r.segment or "", country=r.country or "",
            payment_method=r.payment_method or "", language=r.language or "",
            sales_rep=r.sales_rep, risk=r.risk, paused_until=r.paused_until,
        )
        for r in rows
    ]
    _add_debtor_facts(conn, on, facts)
    _add_portal_facts(conn, on, facts)
    _add_profile_facts(conn, facts)
    _add_invoice_facts(conn, on, facts)
    return facts


def _utc(moment: dt.datetime) -> dt.datetime:
    # SQLite hands back naive datetimes; they were stored as UTC.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


def _add_portal_facts(conn: Connection, on: dt.date, facts: list[Facts]) -> None:
    start, end = portal_visit_window(on)
    visited: set[int] = set()
    for chunk in _chunks(sorted({f.debtor_id for f in facts})):
        for link in conn.execute(
            select(PORTAL_LINK.c.debtor_id, PORTAL_LINK.c.first_opened_at,
                   PORTAL_LINK.c.last_opened_at)
            .where(PORTAL_LINK.c.debtor_id.in_(chunk),
                   PORTAL_LINK.c.first_opened_at.is_not(None))
        ):
            if _utc(link.first_opened_at) < end and _utc(link.last_opened_at) >= start:
                visited.add(link.debtor_id)
    for f in facts:
        f.portal_visited = f.debtor_id in visited


def _add_profile_facts(conn: Connection, facts: list[Facts]) -> None:
    """The stored profile of each debtor; one without a row is `new` with no averages,
    as the compiled query's outer join reads it."""
    found: dict[int, Any] = {}
    for chunk in _chunks(sorted({f.debtor_id for f in facts})):
        for row in conn.execute(select(PROFILE).where(PROFILE.c.debtor_id.in_(chunk))):
            found[row.debtor_id] = row
    for f in facts:
        stored = found.get(f.debtor_id)
        if stored is not None:
            f.days_late_hundredths = stored.days_late_hundredths
            f.reminders_hundredths = stored.reminders_hundredths
            f.promises_kept_hundredths = stored.promises_kept_hundredths
            f.disputes_12m = stored.disputes_12m
            f.payer_class = stored.payer_class


def _add_debtor_facts(conn: Connection, on: dt.date, facts: list[Facts]) -> None:
    debtor_ids = sorted({f.debtor_id for f in facts})
    tags: dict[int, set[str]] = defaultdict(set)
    promises: dict[int, list[Any]] = defaultdict(list)
    balance: dict[tuple[int, str], int] = defaultdict(int)
    overdue: dict[tuple[int, str], int] = defaultdict(int)
    yesterday = on - dt.timedelta(days=1)
    window_start = on - dt.timedelta(days=PROMISE_WINDOW_DAYS)
    for chunk in _chunks(debtor_ids):
        for tag in conn.execute(
            select(DEBTOR_TAG.c.debtor_id, DEBTOR_TAG.c.tag).where(
                DEBTOR_TAG.c.debtor_id.in_(chunk)
            )
        ):
            tags[tag.debtor_id].add(tag.tag.lower())
        for promise in conn.execute(select(PROMISE).where(PROMISE.c.debtor_id.in_(chunk))):
            promises[promise.debtor_id].append(promise)
        for row in conn.execute(
            select(INVOICE.c.debtor_id, INVOICE.c.currency, INVOICE.c.balance_minor,
                   INVOICE.c.due_date)
            .where(INVOICE.c.debtor_id.in_(chunk))
            .where(open_invoice_filter())
        ):
            key = (row.debtor_id, row.currency)
            balance[key] += row.balance_minor
            if row.due_date <= yesterday:
                overdue[key] += row.balance_minor
    broken_count = {
        debtor_id: sum(1 for p in found if p.status not in SETTLED_PROMISES
                       and window_start <= p.promised_on < on)
        for debtor_id, found in promises.items()
    }
    for f in facts:
        f.tags = frozenset(tags.get(f.debtor_id, ()))
        f.promises_broken = broken_count.get(f.debtor_id, 0)
        key = (f.debtor_id, f.currency)
        f.debtor_balance_minor = balance.get(key, 0)
        f.debtor_overdue_minor = overdue.get(key, 0)
        covering = [
            p for p in promises.get(f.debtor_id, ())
            if p.invoice_id is None or p.invoice_id == f.invoice_id
        ]
        f.promised = any(
            p.status == PromiseStatus.OPEN.value and p.promised_on >= on for p in covering
        )
        standing = [p for p in covering if p.status != PromiseStatus.CANCELLED.value]
        if standing:
            last = max(standing, key=lambda p: (p.promised_on, p.id))
            f.promise_broken = last.status != PromiseStatus.KEPT.value and last.promised_on < on


def _add_invoice_facts(conn: Connection, on: dt.date, facts: list[Facts]) -> None:
    by_id = {f.invoice_id: f for f in facts}
    ids = sorted(by_id)
    items: dict[int, list[ItemRecord]] = defaultdict(list)
    # invoice -> (plan, status) of the live plans holding it
    live: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for chunk in _chunks(ids):
        for link in conn.execute(
            select(PLAN_INVOICE.c.invoice_id, PLAN.c.id, PLAN.c.status)
            .select_from(PLAN_INVOICE.join(PLAN, PLAN.c.id == PLAN_INVOICE.c.plan_id))
            .where(PLAN_INVOICE.c.invoice_id.in_(chunk), PLAN.c.status.in_(LIVE_PLANS))
        ):
            live[link.invoice_id].append((link.id, str(link.status)))
        for row in conn.execute(
            select(INVOICE_LEVEL).where(INVOICE_LEVEL.c.invoice_id.in_(chunk))
        ):
            by_id[row.invoice_id].levels[row.policy] = Level(row.rule, row.acted_on)
        for row in conn.execute(
            select(
                ACTION_ITEM.c.id, ACTION_ITEM.c.action_id, ACTION_ITEM.c.invoice_id,
                ACTION_ITEM.c.policy, ACTION_ITEM.c.rule, ACTION_ITEM.c.acted_on,
                ACTION_ITEM.c.state.label("item_state"), ACTION.c.state, ACTION.c.channel,
            )
            .select_from(ACTION_ITEM.join(ACTION, ACTION.c.id == ACTION_ITEM.c.action_id))
            .where(ACTION_ITEM.c.invoice_id.in_(chunk), ACTION_ITEM.c.acted_on < on)
            .order_by(ACTION_ITEM.c.acted_on, ACTION_ITEM.c.id)
        ):
            items[row.invoice_id].append(
                ItemRecord(
                    item_id=row.id, action_id=row.action_id, policy=row.policy, rule=row.rule,
                    acted_on=row.acted_on,
                    counts=row.item_state == ItemState.ACTIVE.value and row.state not in VOID,
                    outbound=row.channel in OUTBOUND,
                )
            )
    _add_plan_facts(conn, on, by_id, live)
    for invoice_id, records in items.items():
        f = by_id[invoice_id]
        f.items = tuple(records)
        counted = [r for r in records if r.counts]
        for r in counted:
            f.first_acted.setdefault((r.policy, r.rule), r.acted_on)
        outbound_actions = {r.action_id: r.acted_on for r in counted if r.outbound}
        f.reminders_sent = len(outbound_actions)
        f.last_action_on = max(outbound_actions.values(), default=None)


def _add_plan_facts(conn: Connection, on: dt.date, by_id: dict[int, Facts],
                    live: dict[int, list[tuple[int, str]]]) -> None:
    """`in_plan`, `plan_broken` and the date `instalment_overdue` counts from."""
    plan_ids = sorted({plan_id for plans in live.values() for plan_id, _ in plans})
    late: dict[int, dt.date] = {}  # plan -> its earliest late instalment's due date
    for chunk in _chunks(plan_ids):
        for row in conn.execute(
            select(INSTALMENT.c.plan_id, INSTALMENT.c.due_on).where(
                INSTALMENT.c.plan_id.in_(chunk),
                INSTALMENT.c.paid_minor < INSTALMENT.c.amount_minor,
                INSTALMENT.c.due_on < on,
            )
        ):
            if row.plan_id not in late or row.due_on < late[row.plan_id]:
                late[row.plan_id] = row.due_on
    for invoice_id, plans in live.items():
        f = by_id[invoice_id]
        statuses = {status for _, status in plans}
        f.in_plan = PlanStatus.ACTIVE.value in statuses
        f.plan_broken = not f.in_plan and PlanStatus.BROKEN.value in statuses
        f.instalment_due_on = min((late[p] for p, _ in plans if p in late), default=None)
