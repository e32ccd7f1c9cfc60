"""Trends of the book: the aged balance per bucket and DSO at the end of each of the
last twelve months, rebuilt from what the store already holds.

The store keeps each invoice's balance now, and each payment's allocations with the
day the payment was received. An invoice's balance at the end of a past month is its
balance now plus what payments received after that day took off it. Two things the
store cannot date are left as they are now: money an ERP import marked as paid
without a payment in relance (taken as paid from the start), and payments reversed
since (their allocations are gone). The point of the current month is today's, so
it is the aged balance and DSO of `relance.engine.aging` for today.

Buckets and DSO follow `relance.engine.aging`: the buckets of `BUCKETS`, DSO = open
balance / sales of the 90 days up to the day x 90, per currency."""

from __future__ import annotations

import calendar
import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import Connection, and_, case, func, select
from sqlalchemy.orm import Session

from relance.engine.aging import BUCKETS, DSO_WINDOW_DAYS, OVERDUE_LIMITS
from relance.store.models import Invoice, InvoiceStatus, Payment, PaymentAllocation

MONTHS = 12

_invoice = Invoice.__table__
_payment = Payment.__table__
_allocation = PaymentAllocation.__table__


@dataclass(frozen=True)
class TrendPoint:
    """The aged balance of one currency on one day, and its DSO then."""

    on: dt.date
    buckets: tuple[int, ...]  # minor units, in the order of BUCKETS
    dso: Decimal | None  # None when nothing was sold in the 90 days before

    @property
    def total(self) -> int:
        return sum(self.buckets)

    @property
    def overdue(self) -> int:
        return sum(self.buckets[1:])


@dataclass(frozen=True)
class CurrencyTrend:
    currency: str
    points: tuple[TrendPoint, ...]  # oldest first, the last one today


def month_ends(today: dt.date, months: int = MONTHS) -> list[dt.date]:
    """The last day of each of the `months - 1` months before `today`'s, then `today`."""
    ends: list[dt.date] = []
    year, month = today.year, today.month
    for _ in range(months - 1):
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
        ends.append(dt.date(year, month, calendar.monthrange(year, month)[1]))
    return [*reversed(ends), today]


def _bucket_sums(on: dt.date, balance: Any) -> list[Any]:
    due = _invoice.c.due_date
    bounds = [on - dt.timedelta(days=days) for days in OVERDUE_LIMITS]
    conditions = [
        due >= on,
        and_(due < on, due >= bounds[0]),
        and_(due < bounds[0], due >= bounds[1]),
        and_(due < bounds[1], due >= bounds[2]),
        due < bounds[2],
    ]
    return [func.coalesce(func.sum(case((condition, balance), else_=0)), 0)
            for condition in conditions]


def _aged_on(db: Connection | Session, on: dt.date, creditor_ids: Sequence[int] | None
             ) -> dict[str, tuple[int, ...]]:
    """Per currency, the balances per bucket as they stood at the end of `on`."""
    later = (
        select(_allocation.c.invoice_id,
               func.sum(_allocation.c.amount_minor).label("later"))
        .select_from(_allocation.join(_payment, _payment.c.id == _allocation.c.payment_id))
        .where(_payment.c.received_on > on, _payment.c.reversed_on.is_(None))
        .group_by(_allocation.c.invoice_id)
        .subquery())
    balance = _invoice.c.balance_minor + func.coalesce(later.c.later, 0)
    condition = and_(_invoice.c.status != InvoiceStatus.CANCELLED,
                     _invoice.c.issue_date <= on)
    if creditor_ids is not None:
        condition = and_(condition, _invoice.c.creditor_id.in_(list(creditor_ids)))
    query = (select(_invoice.c.currency, *_bucket_sums(on, balance))
             .select_from(_invoice.outerjoin(later, later.c.invoice_id == _invoice.c.id))
             .where(condition)
             .group_by(_invoice.c.currency))
    return {row[0]: tuple(int(value) for value in row[1:]) for row in db.execute(query)}


def _daily_sales(db: Connection | Session, start: dt.date, end: dt.date,
                 creditor_ids: Sequence[int] | None) -> dict[str, dict[dt.date, int]]:
    """Per currency and day of issue, the invoiced amounts (credit notes left out, as in
    the DSO of `relance.engine.aging`) of the days after `start` up to `end`."""
    condition = and_(_invoice.c.issue_date > start, _invoice.c.issue_date <= end,
                     _invoice.c.amount_minor > 0,
                     _invoice.c.status != InvoiceStatus.CANCELLED)
    if creditor_ids is not None:
        condition = and_(condition, _invoice.c.creditor_id.in_(list(creditor_ids)))
    sales: dict[str, dict[dt.date, int]] = defaultdict(dict)
    for currency, day, total in db.execute(
            select(_invoice.c.currency, _invoice.c.issue_date, func.sum(_invoice.c.amount_minor))
            .where(condition).group_by(_invoice.c.currency, _invoice.c.issue_date)):
        sales[currency][day] = int(total)
    return sales


def dso(balance: int, sold: int) -> Decimal | None:
    """Days sales outstanding: `balance` / `sold` over the window x its days, to 0.1."""
    if sold <= 0:
        return None
    days = Decimal(balance) * DSO_WINDOW_DAYS / Decimal(sold)
    return days.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def trends(db: Connection | Session, today: dt.date, months: int = MONTHS, *,
           creditor_ids: Sequence[int] | None = None) -> list[CurrencyTrend]:
    """The aged balance and DSO of each currency at each of `month_ends(today)`; the
    currency with the most owed today first. A currency with nothing open on a day has
    zeros there."""
    days = month_ends(today, months)
    aged = {day: _aged_on(db, day, creditor_ids) for day in days}
    window = dt.timedelta(days=DSO_WINDOW_DAYS)
    sales = _daily_sales(db, days[0] - window, today, creditor_ids)
    currencies = {currency for per_day in aged.values() for currency in per_day}
    empty = (0,) * len(BUCKETS)
    result = []
    for currency in currencies:
        points = []
        for day in days:
            buckets = aged[day].get(currency, empty)
            sold = sum(amount for issued, amount in sales.get(currency, {}).items()
                       if day - window < issued <= day)
            points.append(TrendPoint(day, buckets, dso(sum(buckets), sold)))
        result.append(CurrencyTrend(currency, tuple(points)))
    result.sort(key=lambda trend: (-abs(trend.points[-1].total), trend.currency))
    return result
