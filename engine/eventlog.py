"""Appending many events at once to the chained log, for runs that queue thousands.

`relance.store.audit.record` appends one event with one round trip; a run writes one
event per action it queues, so here the chain is computed in Python and the rows go in
with one multi-row INSERT per batch, under the same lock and with the same hashes.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from relance.engine.bulk import BATCH, bulk_insert
from relance.store.audit import _PG_EVENT_LOCK_KEY, GENESIS_HASH, entry_hash
from relance.store.models import Event, utcnow


@dataclass(frozen=True)
class NewEvent:
    actor: str
    kind: str
    subject_type: str
    subject_id: str
    data: dict[str, Any]
    creditor_id: int | None = None
    debtor_id: int | None = None


def _canonical(value: Any) -> Any:
    # The same normalisation as `audit.record`: what is hashed is what is stored.
    return json.loads(
        json.dumps(value, sort_keys=True, separators=(",", ":"), default=str, ensure_ascii=False)
    )


def append_events(session: Session, events: Iterable[NewEvent],
                  at: dt.datetime | None = None) -> None:
    """Append `events` in order, in the caller's transaction.

    They go in batch by batch, each built as it is sent (`events` may be a generator):
    a first run appends one per action, a hundred thousand at once."""
    pending = iter(events)
    first = next(pending, None)
    if first is None:
        return
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_EVENT_LOCK_KEY})
    session.flush()
    prev = session.execute(select(Event.hash).order_by(Event.id.desc()).limit(1)).scalar()
    prev_hash = prev or GENESIS_HASH
    when = (at or utcnow()).astimezone(dt.UTC).replace(microsecond=0)
    table = Event.metadata.tables["event"]
    rows: list[dict[str, Any]] = []
    for event in itertools.chain([first], pending):
        payload = _canonical(event.data)
        digest = entry_hash(prev_hash, when, event.actor, event.kind, event.subject_type,
                            event.subject_id, payload)
        rows.append({
            "at": when, "actor": event.actor, "kind": event.kind,
            "subject_type": event.subject_type, "subject_id": event.subject_id,
            "data": payload, "creditor_id": event.creditor_id, "debtor_id": event.debtor_id,
            "prev_hash": prev_hash, "hash": digest,
        })
        prev_hash = digest
        if len(rows) == BATCH:
            bulk_insert(session.connection(), table, rows)  # in order: ids follow the chain
            rows = []
    bulk_insert(session.connection(), table, rows)
