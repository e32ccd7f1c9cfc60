"""Appending many events at once to the chained log, for runs that queue thousands.

`relance.store.audit.record` appends one event with one round trip; a run writes one
event per action it queues, so here the chain is computed in Python and the rows go in
batch by batch (`engine.bulk`), under the same lock and with the same hashes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import json
from collections.abc import Iterable
from typing import Any, NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session

from relance.engine.bulk import BATCH, JsonText, bulk_insert
from relance.store.audit import GENESIS_HASH, lock_event_log
from relance.store.models import Event, utcnow


class NewEvent(NamedTuple):
    """An event to append. A named tuple: a first run builds one per action it queues,
    and a frozen dataclass's constructor costs several times a tuple's.

    `data` may come already serialised as the log's canonical JSON (`JsonText`, see
    `_CANONICAL`; `engine.run_texts` writes a run's so): it is then hashed and stored as
    it is."""

    actor: str
    kind: str
    subject_type: str
    subject_id: str
    data: dict[str, Any] | JsonText
    creditor_id: int | None = None
    debtor_id: int | None = None


# `audit.entry_hash`'s serialisation, as one encoder: sorted keys, no spaces.
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), default=str,
                              ensure_ascii=False).encode


def append_events(session: Session, events: Iterable[NewEvent],
                  at: dt.datetime | None = None) -> None:
    """Append `events` in order, in the caller's transaction.

    They go in batch by batch, each built as it is sent (`events` may be a generator):
    a first run appends one per action, a hundred thousand at once. Each event's data
    (JSON values under text keys, as a run writes) is serialised once: that text is
    what is hashed, inside the list `audit.entry_hash` serialises (the same bytes), and
    what is stored; reading it back gives the same data, so `audit.verify` finds the
    same hash."""
    pending = iter(events)
    first = next(pending, None)
    if first is None:
        return
    lock_event_log(session)
    session.flush()
    prev = session.execute(select(Event.hash).order_by(Event.id.desc()).limit(1)).scalar()
    prev_hash = prev or GENESIS_HASH
    when = (at or utcnow()).astimezone(dt.UTC).replace(microsecond=0)
    when_text = _CANONICAL(when.isoformat())
    table = Event.metadata.tables["event"]
    # The entry's fields between the previous hash and the data, for each distinct
    # (actor, kind, subject type): a run's events share them.
    middles: dict[tuple[str, str, str], str] = {}
    rows: list[dict[str, Any]] = []
    for event in itertools.chain([first], pending):
        data = event.data if isinstance(event.data, JsonText) else _CANONICAL(event.data)
        middle = middles.get((event.actor, event.kind, event.subject_type))
        if middle is None:
            middle = middles[(event.actor, event.kind, event.subject_type)] = (
                f"{when_text},{_CANONICAL(event.actor)},{_CANONICAL(event.kind)},"
                f"{_CANONICAL(event.subject_type)},")
        entry = f'["{prev_hash}",{middle}{_CANONICAL(event.subject_id)},{data}]'
        digest = hashlib.sha256(entry.encode()).hexdigest()
        rows.append({
            "at": when, "actor": event.actor, "kind": event.kind,
            "subject_type": event.subject_type, "subject_id": event.subject_id,
            "data": JsonText(data), "creditor_id": event.creditor_id,
            "debtor_id": event.debtor_id, "prev_hash": prev_hash, "hash": digest,
        })
        prev_hash = digest
        if len(rows) == BATCH:
            bulk_insert(session.connection(), table, rows)  # in order: ids follow the chain
            rows = []
    bulk_insert(session.connection(), table, rows)
