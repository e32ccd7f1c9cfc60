"""The aged balance: what is owed, by how late it is, per currency, to the cent.

One grouped SQL query over the book (SQLAlchemy Core; no row is loaded as an object),
so it stays fast on a million invoices. Balances are the open balances held now, aged
as of the date asked for: an invoice is "not due" until its due date has passed, then
1–30, 31–60, 61–90 and over 90 days overdue. Invoices issued after the date are left
out; credit notes (negative balances) count against their bucket.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import Connection, and_, case, func, select
from sqlalchemy.orm import Session

from relance.kernel.i18n import N_
from relance.kernel.money import decimal_text
from relance.store.models import Creditor, Debtor, Invoice, InvoiceStatus

BUCKETS = ("not_due", "overdue_1_30", "overdue_31_60", "overdue_61_90", "overdue_over_90")
"""Machine names of the buckets, in order."""
BUCKET_TITLES = (N_("not due"), N_("1–30 d"), N_("31–60 d"), N_("61–90 d"), N_("> 90 d"))
"""Short titles for tables and exports, in the order of BUCKETS (translated where shown)."""
OVERDUE_LIMITS = (30, 60, 90)
"""The most days late of each overdue bucket but the last (which has no limit)."""

DSO_WINDOW_DAYS = 90
NO_VALUE = N_("(none)")
"""The key of a group whose field is empty (translated where shown)."""

_invoice = Invoice.__table__
_debtor = Debtor.__table__
_creditor = Creditor.__table__

GROUPINGS: dict[str, Any] = {
    "segment": _debtor.c.segment,
    "creditor": _creditor.c.code,
    "sales_rep": _debtor.c.sales_rep,
    "country": _debtor.c.country,
    "debtor": _debtor.c.ref,
    "currency": _invoice.c.currency,
}
"""The fields an aged balance can be broken down by."""

GROUPING_TITLES: dict[str, str] = {
    "segment": N_("segment"), "creditor": N_("creditor"), "sales_rep": N_("sales rep"),
    "country": N_("country"), "debtor": N_("debtor"), "currency": N_("currency"),
}
"""What each grouping is called in a heading (translated where shown)."""


@dataclass(frozen=True)
class AgedLine:
    """The open balance of one group in one currency, per bucket, in minor units."""

    key: str
    label: str
    currency: str
    buckets: tuple[int, ...]
    invoices: int

    @property
    def total(self) -> int:
        return sum(self.buckets)

    @property
    def overdue(self) -> int:
        return sum(self.buckets[1:])


@dataclass(frozen=True)
class AgedBalance:
    """An aged balance as of `on`, broken down `by` a field, with per-currency totals."""

    on: dt.date
    by: str
    lines: tuple[AgedLine, ...]
    totals: tuple[AgedLine, ...]
    # Days sales outstanding per currency: open balance / sales of the last 90 days x 90.
    dso: dict[str, Decimal | None]

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready form; amounts as exact decimal strings in the currency's unit."""

        def line(item: AgedLine) -> dict[str, Any]:
            amounts = {name: decimal_text(minor, item.currency)
                       for name, minor in zip(BUCKETS, item.buckets, strict=True)}
            return {"key": item.key, "label": item.label, "currency": item.currency,
                    **amounts, "total": decimal_text(item.total, item.currency),
                    "invoices": item.invoices}

        return {
            "on": self.on.isoformat(), "by": self.by,
            "lines": [line(item) for item in self.lines],
            "totals": [line(item) for item in self.totals],
            "dso": {currency: (str(days) if days is not None else None)
                    for currency, days in self.dso.items()},
        }


def bucket_index(due: dt.date, on: dt.date) -> int:
    """The bucket (an index into BUCKETS) of an invoice due on `due`, aged as of `on`:
    the one `aged_balance` adds its balance to."""
    late = (on - due).days
    if late <= 0:
        return 0
    return 1 + sum(1 for limit in OVERDUE_LIMITS if late > limit)


def _bucket_sums(on: dt.date) -> list[Any]:
    balance = _invoice.c.balance_minor
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


def aged_balance(
    db: Connection | Session,
    *,
    on: dt.date,
    by: str = "segment",
    creditor_ids: Sequence[int] | None = None,
) -> AgedBalance:
    """The aged balance of the book as of `on`, broken down by `by` (see GROUPINGS).

    `creditor_ids` restricts it to some creditors (a multi-creditor workspace)."""
    if by not in GROUPINGS:
        raise ValueError(f"cannot group by {by!r}; choose one of {', '.join(GROUPINGS)}")
    key = GROUPINGS[by]
    label = _debtor.c.name if by == "debtor" else key
    open_invoices = and_(
        _invoice.c.balance_minor != 0,
        _invoice.c.status != InvoiceStatus.CANCELLED,
        _invoice.c.issue_date <= on,
    )
    if creditor_ids is not None:
        open_invoices = and_(open_invoices, _invoice.c.creditor_id.in_(list(creditor_ids)))
    grouping = [key, label, _invoice.c.currency]
    if by == "debtor":
        grouping.append(_debtor.c.id)  # two creditors may use the same ref
    query = (
        select(key, label, _invoice.c.currency, *_bucket_sums(on), func.count())
        .select_from(_invoice.join(_debtor, _invoice.c.debtor_id == _debtor.c.id)
                     .join(_creditor, _invoice.c.creditor_id == _creditor.c.id))
        .where(open_invoices)
        .group_by(*grouping)
    )
    lines = []
    for row in db.execute(query):
        group = row[0] if row[0] not in (None, "") else NO_VALUE
        lines.append(AgedLine(
            key=str(group), label=str(row[1] if row[1] not in (None, "") else group),
            currency=row[2], buckets=tuple(int(value) for value in row[3:8]),
            invoices=int(row[8]),
        ))
    lines.sort(key=lambda item: (item.currency, item.key, item.label))
    totals: dict[str, AgedLine] = {}
    for item in lines:
        current = totals.get(item.currency)
        if current is None:
            totals[item.currency] = AgedLine("total", "total", item.currency, item.buckets,
                                             item.invoices)
        else:
            totals[item.currency] = AgedLine(
                "total", "total", item.currency,
                tuple(a + b for a, b in zip(current.buckets, item.buckets, strict=True)),
                current.invoices + item.invoices)
    ordered_totals = tuple(totals[currency] for currency in sorted(totals))
    return AgedBalance(on, by, tuple(lines), ordered_totals,
                       _dso(db, on, ordered_totals, creditor_ids))


def _dso(db: Connection | Session, on: dt.date, totals: Sequence[AgedLine],
         creditor_ids: Sequence[int] | None) -> dict[str, Decimal | None]:
    start = on - dt.timedelta(days=DSO_WINDOW_DAYS)
    condition = and_(_invoice.c.issue_date > start, _invoice.c.issue_date <= on,
                     _invoice.c.amount_minor > 0,
                     _invoice.c.status != InvoiceStatus.CANCELLED)
    if creditor_ids is not None:
        condition = and_(condition, _invoice.c.creditor_id.in_(list(creditor_ids)))
    sales = {currency: int(total) for currency, total in db.execute(
        select(_invoice.c.currency, func.sum(_invoice.c.amount_minor))
        .where(condition).group_by(_invoice.c.currency))}
    result: dict[str, Decimal | None] = {}
    for line in totals:
        sold = sales.get(line.currency, 0)
        if sold <= 0:
            result[line.currency] = None
            continue
        days = Decimal(line.total) * DSO_WINDOW_DAYS / Decimal(sold)
        result[line.currency] = days.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    return result
