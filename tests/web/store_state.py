"""What a refused request must leave as it was: every table's row count, the head of the
audit log's chain, and the debtor's holds and disputes."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from relance.store.db import Store
from relance.store.models import Base, Debtor, Event, Invoice


def store_state(store: Store) -> dict[str, Any]:
    with store.session() as session:
        counts = {name: int(session.scalar(select(func.count()).select_from(table)) or 0)
                  for name, table in sorted(Base.metadata.tables.items())}
        head = session.scalar(select(Event.hash).order_by(Event.id.desc()).limit(1))
        holds = sorted((d.id, str(d.paused_until), d.pause_reason)
                       for d in session.scalars(select(Debtor)))
        disputes = sorted((i.number, i.dispute_reason, i.balance_minor)
                          for i in session.scalars(select(Invoice)))
    return {"counts": counts, "head": head, "holds": holds, "disputes": disputes}
