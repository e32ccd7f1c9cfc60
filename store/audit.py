"""The append-only event log: who did what, when, each entry chained to the one before.

Every change an operator or a run makes writes one event in the same transaction as the
change. Entries hash their content together with the previous entry's hash, so that
`verify_chain` finds an entry that was edited, deleted or swapped, even by someone who
got past the database triggers that refuse UPDATE and DELETE.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from relance.kernel.i18n import _
from relance.store.models import Event, utcnow

GENESIS_HASH = "0" * 64
# Serialises appends on PostgreSQL so that two writers cannot both chain to one entry.
_PG_EVENT_LOCK_KEY = 0x7265_6C61  # "rela"


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str, ensure_ascii=False)


def entry_hash(prev_hash: str, at: dt.datetime, actor: str, kind: str, subject_type: str,
               subject_id: str, data: dict[str, Any]) -> str:
    """The hash that an entry with these fields must carry."""
    if at.tzinfo is None:  # SQLite hands back naive datetimes; they were stored as UTC
        at = at.replace(tzinfo=dt.UTC)
    payload = _canonical([prev_hash, at.astimezone(dt.UTC).isoformat(), actor, kind,
                          subject_type, subject_id, data])
    return hashlib.sha256(payload.encode()).hexdigest()


def record(
    session: Session,
    *,
    actor: str,
    kind: str,
    subject_type: str,
    subject_id: str | int,
    data: dict[str, Any] | None = None,
    creditor_id: int | None = None,
    debtor_id: int | None = None,
    at: dt.datetime | None = None,
) -> Event:
    """Append one event in the caller's transaction and return it."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_EVENT_LOCK_KEY})
    prev = session.execute(select(Event.hash).order_by(Event.id.desc()).limit(1)).scalar()
    prev_hash = prev or GENESIS_HASH
    # Microseconds are dropped: not every database keeps them, and the hash must survive.
    when = (at or utcnow()).astimezone(dt.UTC).replace(microsecond=0)
    payload = json.loads(_canonical(data or {}))
    event = Event(
        at=when,
        actor=actor,
        kind=kind,
        subject_type=subject_type,
        subject_id=str(subject_id),
        data=payload,
        creditor_id=creditor_id,
        debtor_id=debtor_id,
        prev_hash=prev_hash,
        hash=entry_hash(prev_hash, when, actor, kind, subject_type, str(subject_id), payload),
    )
    session.add(event)
    session.flush()
    return event


@dataclass(frozen=True)
class ChainFault:
    event_id: int
    problem: str


def verify_chain(events: Iterable[Event]) -> list[ChainFault]:
    """Walk the log in id order; report every entry whose hash or link does not hold."""
    faults: list[ChainFault] = []
    prev_hash = GENESIS_HASH
    for event in events:
        if event.prev_hash != prev_hash:
            faults.append(ChainFault(event.id, _(
                "does not follow the entry before it (an entry was removed, inserted or "
                "swapped)")))
        expected = entry_hash(event.prev_hash, event.at, event.actor, event.kind,
                              event.subject_type, event.subject_id, event.data)
        if expected != event.hash:
            faults.append(ChainFault(event.id, _("content does not match its hash (edited)")))
        prev_hash = event.hash
    return faults


def verify(session: Session) -> list[ChainFault]:
    return verify_chain(session.scalars(select(Event).order_by(Event.id)).yield_per(1000))


APPEND_ONLY_SQLITE = [
    "CREATE TRIGGER event_no_update BEFORE UPDATE ON event "
    "BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END",
    "CREATE TRIGGER event_no_delete BEFORE DELETE ON event "
    "BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END",
]

APPEND_ONLY_POSTGRESQL = [
    "CREATE OR REPLACE FUNCTION relance_event_append_only() RETURNS trigger AS $$ "
    "BEGIN RAISE EXCEPTION 'the event log is append-only'; END; $$ LANGUAGE plpgsql",
    "CREATE TRIGGER event_no_update BEFORE UPDATE OR DELETE ON event "
    "FOR EACH ROW EXECUTE FUNCTION relance_event_append_only()",
    "CREATE TRIGGER event_no_truncate BEFORE TRUNCATE ON event "
    "FOR EACH STATEMENT EXECUTE FUNCTION relance_event_append_only()",
]
