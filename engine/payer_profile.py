"""The payer profile: how each debtor paid over the twelve months before a run.

Every run rewrites the `payer_profile` table from the store's history before it decides
(`recompute_profiles`, a handful of set-based statements whatever the size of the book),
and the rules read it as facts of the debtor (`dsl.fields`): both evaluators read the
same row, the compiled SQL through a join and the interpreter through `engine.facts`.

The window is the 365 days before the run date D, D itself excluded, as for
`promises_broken`: what happened on D is not history yet.

- `days_late_avg`: over the payments received in the window (money, not credit notes,
  not reversed), the days from the invoice's due date to the payment, weighted by the
  amount each payment put on the invoice; a payment on or before the due date counts 0
  days (paying early does not hide lateness elsewhere). None: no payment.
- `paid_after_reminders`: over the invoices paid (status paid) whose last payment came in
  the window, the mean number of letters, e-mails and SMS sent about the invoice (actions
  in state sent, the invoice still in them) queued before the day of that payment.
  None: no such invoice.
- `promises_kept_ratio`: of the promises whose date falls in the window, not cancelled,
  the share kept. None: no such promise.
- `disputes_12m`: the disputes opened in the window on the debtor's invoices, open ones
  (`disputed_since`) and closed ones (the date the closing event recorded), each
  (invoice, day opened) once.
- `payer_class`: `bad`, `good`, `slow` by the `[payer]` thresholds of relance.toml, or
  `new` when there is neither a payment nor a promise to judge by.

The three averages are kept in hundredths, rounded half up (12.345 days: 1235): the
rules compare that stored integer, in SQL and in Python alike.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    String,
    and_,
    case,
    cast,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    text,
    union,
)
from sqlalchemy.engine import Connection

from relance.engine.id_sets import only_ids
from relance.kernel.settings import PayerSettings
from relance.store.models import (
    ActionState,
    Base,
    Channel,
    InvoiceStatus,
    ItemState,
    PaymentKind,
    PromiseStatus,
)

PROFILE = Base.metadata.tables["payer_profile"]
_DEBTOR = Base.metadata.tables["debtor"]
_INVOICE = Base.metadata.tables["invoice"]
_PAYMENT = Base.metadata.tables["payment"]
_ALLOCATION = Base.metadata.tables["payment_allocation"]
_PROMISE = Base.metadata.tables["promise"]
_ACTION = Base.metadata.tables["action"]
_ITEM = Base.metadata.tables["action_item"]
_EVENT = Base.metadata.tables["event"]

WINDOW_DAYS = 365
GOOD, SLOW, BAD, NEW = "good", "slow", "bad", "new"
CLASSES = (GOOD, SLOW, BAD, NEW)
# The facts kept in hundredths -> their column; the others are plain columns.
SCALED: dict[str, str] = {
    "days_late_avg": "days_late_hundredths",
    "paid_after_reminders": "reminders_hundredths",
    "promises_kept_ratio": "promises_kept_hundredths",
}
COLUMNS: dict[str, str] = {**SCALED, "disputes_12m": "disputes_12m",
                           "payer_class": "payer_class"}
FIELDS = tuple(COLUMNS)
# Reminders are what reached the debtor in writing; a call is not counted.
REMINDER_CHANNELS = sorted((Channel.LETTER.value, Channel.EMAIL.value, Channel.SMS.value))
# Runs of different dates may overlap: the profile is rewritten by one at a time.
_LOCK_KEY = 0x7061_7965_7200  # "payer"


def hundredths_text(value: int | None) -> str | None:
    """A value kept in hundredths as the decimal a rule compares (`1250` -> `12.50`):
    what explain shows and the audit records, JSON-safe and exact."""
    return None if value is None else f"{Decimal(value).scaleb(-2):.2f}"


def hundredths(value: int | None) -> Decimal | None:
    return None if value is None else Decimal(value).scaleb(-2)


def _window(on: dt.date) -> tuple[dt.date, dt.date]:
    return on - dt.timedelta(days=WINDOW_DAYS), on


def _days_between(conn: Connection, later: Any, earlier: Any) -> Any:
    """Whole days from `earlier` to `later`, two date columns."""
    if conn.dialect.name == "sqlite":  # dates are ISO text there
        return cast(func.julianday(later) - func.julianday(earlier), BigInteger)
    return later - earlier


def _rounded_mean(total: Any, count: Any) -> Any:
    """total / count in hundredths, rounded half up, for non-negative integers (None
    when count is None): integer division only, exact on both databases."""
    total, count = cast(total, BigInteger), cast(count, BigInteger)
    return case((count > 0, (total * 200 + count) // (count * 2)), else_=None)


def _money_received(on: dt.date) -> list[Any]:
    start, end = _window(on)
    return [_PAYMENT.c.kind == PaymentKind.PAYMENT.value, _PAYMENT.c.reversed_on.is_(None),
            _ALLOCATION.c.amount_minor > 0, _PAYMENT.c.received_on >= start,
            _PAYMENT.c.received_on < end]


def _allocations() -> Any:
    return (_ALLOCATION.join(_PAYMENT, _PAYMENT.c.id == _ALLOCATION.c.payment_id)
            .join(_INVOICE, _INVOICE.c.id == _ALLOCATION.c.invoice_id))


def _lateness(conn: Connection, on: dt.date, debtor_ids: Collection[int] | None) -> Any:
    late = _days_between(conn, _PAYMENT.c.received_on, _INVOICE.c.due_date)
    days = case((late > 0, late), else_=0)
    return (
        select(_INVOICE.c.debtor_id.label("debtor_id"),
               func.sum(days * _ALLOCATION.c.amount_minor).label("weighted"),
               func.sum(_ALLOCATION.c.amount_minor).label("paid"))
        .select_from(_allocations())
        .where(*_money_received(on), *only_ids(_INVOICE.c.debtor_id, debtor_ids))
        .group_by(_INVOICE.c.debtor_id)
        .subquery("lateness")
    )


def _reminders(on: dt.date, debtor_ids: Collection[int] | None) -> Any:
    start, end = _window(on)
    paid_on = func.max(_PAYMENT.c.received_on)
    paid = (
        select(_INVOICE.c.id.label("invoice_id"), _INVOICE.c.debtor_id.label("debtor_id"),
               paid_on.label("paid_on"))
        .select_from(_allocations())
        .where(_INVOICE.c.status == InvoiceStatus.PAID.value,
               _PAYMENT.c.kind == PaymentKind.PAYMENT.value, _PAYMENT.c.reversed_on.is_(None),
               _ALLOCATION.c.amount_minor > 0, *only_ids(_INVOICE.c.debtor_id, debtor_ids))
        .group_by(_INVOICE.c.id, _INVOICE.c.debtor_id)
        .having(and_(paid_on >= start, paid_on < end))
        .subquery("paid_invoice")
    )
    sent = (
        select(func.count(_ACTION.c.id.distinct()))
        .select_from(_ITEM.join(_ACTION, _ACTION.c.id == _ITEM.c.action_id))
        .where(_ITEM.c.invoice_id == paid.c.invoice_id, _ITEM.c.acted_on < paid.c.paid_on,
               _ITEM.c.state == ItemState.ACTIVE.value,
               _ACTION.c.state == ActionState.SENT.value,
               _ACTION.c.channel.in_(REMINDER_CHANNELS))
        .scalar_subquery()
    )
    return (
        select(paid.c.debtor_id, func.count().label("invoices"),
               func.sum(sent).label("sent"))
        .group_by(paid.c.debtor_id)
        .subquery("reminders")
    )


def _promises(on: dt.date, debtor_ids: Collection[int] | None) -> Any:
    start, end = _window(on)
    kept = case((_PROMISE.c.status == PromiseStatus.KEPT.value, 1), else_=0)
    return (
        select(_PROMISE.c.debtor_id, func.sum(kept).label("kept"),
               func.count().label("due"))
        .where(_PROMISE.c.promised_on >= start, _PROMISE.c.promised_on < end,
               _PROMISE.c.status != PromiseStatus.CANCELLED.value,
               *only_ids(_PROMISE.c.debtor_id, debtor_ids))
        .group_by(_PROMISE.c.debtor_id)
        .subquery("promises")
    )


def _disputes(on: dt.date, debtor_ids: Collection[int] | None) -> Any:
    start, end = _window(on)
    # ISO day texts on both sides: the closing event keeps the day as text, and ISO
    # texts sort as the days do.
    first, last = start.isoformat(), end.isoformat()
    open_since = cast(_INVOICE.c.disputed_since, String)
    still_open = (
        select(_INVOICE.c.debtor_id.label("debtor_id"),
               cast(_INVOICE.c.id, String).label("invoice"), open_since.label("since"))
        .where(_INVOICE.c.dispute_reason.is_not(None), _INVOICE.c.disputed_since >= start,
               _INVOICE.c.disputed_since < end, *only_ids(_INVOICE.c.debtor_id, debtor_ids))
    )
    closed_since = _EVENT.c.data["since"].as_string()
    closed = (
        select(_EVENT.c.debtor_id, _EVENT.c.subject_id, closed_since)
        .where(_EVENT.c.kind == "invoice.dispute_closed", _EVENT.c.debtor_id.is_not(None),
               closed_since >= first, closed_since < last,
               *only_ids(_EVENT.c.debtor_id, debtor_ids))
    )
    # UNION, not UNION ALL: a closing undone reopens the dispute with the day it was
    # first opened, and a dispute closed twice so has two closing events.
    opened = union(still_open, closed).subquery("opened")
    return (
        select(opened.c.debtor_id, func.count().label("disputes"))
        .group_by(opened.c.debtor_id)
        .subquery("disputes")
    )


def _class(days: Any, kept: Any, payer: PayerSettings) -> Any:
    kept_at_most = int((payer.bad_max_promises_kept * 100).to_integral_value(ROUND_FLOOR))
    bad = or_(and_(days.is_not(None), days >= payer.bad_min_days_late * 100),
              and_(kept.is_not(None), kept <= kept_at_most))
    return case(
        (bad, literal(BAD)),
        (and_(days.is_not(None), days <= payer.good_max_days_late * 100), literal(GOOD)),
        (and_(days.is_(None), kept.is_(None)), literal(NEW)),
        else_=literal(SLOW),
    )


def recompute_profiles(conn: Connection, on: dt.date, payer: PayerSettings,
                       debtor_ids: Collection[int] | None = None) -> int:
    """Rewrite every debtor's profile as of `on` (only those of `debtor_ids` when given:
    a run after a small change, `engine.run_scope`), in the caller's transaction; the
    number of debtors profiled."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
    lateness, reminders, promises, disputes = (
        _lateness(conn, on, debtor_ids), _reminders(on, debtor_ids),
        _promises(on, debtor_ids), _disputes(on, debtor_ids))
    measured = (
        select(
            _DEBTOR.c.id.label("debtor_id"),
            _rounded_mean(lateness.c.weighted, lateness.c.paid).label("days"),
            _rounded_mean(reminders.c.sent, reminders.c.invoices).label("reminders"),
            _rounded_mean(promises.c.kept, promises.c.due).label("kept"),
            func.coalesce(disputes.c.disputes, 0).label("disputes"),
        )
        .select_from(
            _DEBTOR.outerjoin(lateness, lateness.c.debtor_id == _DEBTOR.c.id)
            .outerjoin(reminders, reminders.c.debtor_id == _DEBTOR.c.id)
            .outerjoin(promises, promises.c.debtor_id == _DEBTOR.c.id)
            .outerjoin(disputes, disputes.c.debtor_id == _DEBTOR.c.id)
        )
        .where(*only_ids(_DEBTOR.c.id, debtor_ids))
        .subquery("measured")
    )
    rows = select(
        measured.c.debtor_id, literal(on, PROFILE.c.computed_on.type), measured.c.days,
        measured.c.reminders, measured.c.kept, measured.c.disputes,
        _class(measured.c.days, measured.c.kept, payer),
    )
    conn.execute(delete(PROFILE).where(*only_ids(PROFILE.c.debtor_id, debtor_ids)))
    conn.execute(insert(PROFILE).from_select(
        ["debtor_id", "computed_on", "days_late_hundredths", "reminders_hundredths",
         "promises_kept_hundredths", "disputes_12m", "payer_class"], rows))
    # Counted rather than the statement's row count, which psycopg does not report here.
    return int(conn.execute(select(func.count()).select_from(PROFILE)
                            .where(*only_ids(PROFILE.c.debtor_id, debtor_ids))).scalar_one())


def read_profile(conn: Connection, debtor_id: int) -> dict[str, Any] | None:
    """One debtor's stored profile as the rules read it (averages as decimal texts),
    with `computed_on`; None before the first run that profiled the debtor."""
    row = conn.execute(select(PROFILE).where(PROFILE.c.debtor_id == debtor_id)).first()
    if row is None:
        return None
    values: dict[str, Any] = {name: hundredths_text(getattr(row, column))
                              for name, column in SCALED.items()}
    values["disputes_12m"] = row.disputes_12m
    values["payer_class"] = row.payer_class
    values["computed_on"] = row.computed_on
    return values
