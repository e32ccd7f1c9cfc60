"""What the lists held in memory (`relance.tui.rowset`) ask of the store and of the
interpreter: which debtors changed since the last read, sums read as integers, and the
rows kept out of the cycle collector's way."""

from __future__ import annotations

import gc
from typing import Any

from sqlalchemy import BigInteger, and_, cast, func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement

from relance.store.models import Event


def touched_debtors(session: Session, since: int | None, mark: int,
                    limit: int) -> set[int] | None:
    """The debtors named by the events after `since` up to `mark`; None when the list
    must be read whole: no read yet, an event naming no debtor (an import, a run, a
    creditor renamed), or more than `limit` debtors (one pass costs less then)."""
    if since is None or mark < since:
        return None
    if mark == since:
        return set()
    after = and_(Event.id > since, Event.id <= mark)
    # A run appends an event per action queued: that many are not worth reading.
    if mark - since > limit * 10 or session.scalar(
            select(func.count()).where(after, Event.debtor_id.is_(None))):
        return None
    touched = {int(debtor_id) for debtor_id in session.scalars(
        select(Event.debtor_id).where(after).distinct().limit(limit + 1))
        if debtor_id is not None}
    return None if len(touched) > limit else touched


BIG = 10_000  # rows: from this many, a list read is kept out of the collector's passes


def keep_out_of_collection(rows: int) -> None:
    """After reading a list of `rows` rows, leave what is in memory now out of the
    cycle collector's passes: the rows live as long as the list, and the first pass
    after a read of 100,000 actions walked them all (63 ms, in the middle of the next
    key). The rows hold no cycles: once replaced they are freed as before, by their
    reference count. What else is frozen with them (the screens, the app) is never
    collected as a cycle, so a short list, cheap to walk, is left as it is."""
    if rows >= BIG:
        gc.freeze()


def whole_sum(column: Any) -> ColumnElement[int]:
    """A sum read as an integer on every database: PostgreSQL adds up a bigint column
    as numeric, read as Decimal, and a filter comparing 100,000 Decimals with an int
    bound costs 45 ms (each comparison asks the numbers' abstract classes) against 5."""
    return cast(func.sum(column), BigInteger)
