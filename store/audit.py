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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, insert, select, text
from sqlalchemy.orm import Session

from relance.kernel.i18n import _
from relance.store.models import Event, utcnow

GENESIS_HASH = "0" * 64
# Serialises appends on PostgreSQL so that two writers cannot both chain to one entry:
# the first half of a two-part advisory key ("rela"); the second is the hash of the
# database and schema (`lock_event_log`), so that workspaces kept in separate schemas
# of one server, each with its own log, do not wait on each other.
_PG_EVENT_LOCK_KEY = 0x7265_6C61
_PG_EVENT_LOCK = text("SELECT pg_advisory_xact_lock(:key, "
                      "hashtext(current_database() || '.' || current_schema()))")


def lock_event_log(where: Session | Connection) -> None:
    """On PostgreSQL, take until commit the lock every append to this log holds (this
    database and schema's); nothing on SQLite, where a writer holds the whole file."""
    bind = where.get_bind() if isinstance(where, Session) else where
    if bind.dialect.name == "postgresql":
        where.execute(_PG_EVENT_LOCK, {"key": _PG_EVENT_LOCK_KEY})


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
    lock_event_log(session)
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
class Entry:
    """One event to append with `record_many` (the arguments of `record`)."""

    actor: str
    kind: str
    subject_type: str
    subject_id: str | int
    data: dict[str, Any] | None = None
    creditor_id: int | None = None
    debtor_id: int | None = None


def record_many(session: Session, entries: Sequence[Entry],
                at: dt.datetime | None = None) -> None:
    """Append `entries` in order in the caller's transaction, all at `at` (default:
    now): the same events and hashes as `record` called for each, for one read of the
    log's head and one multi-row insert instead of two statements per event."""
    if not entries:
        return
    lock_event_log(session)
    session.flush()  # events added through the session come before these
    prev_hash = session.execute(select(Event.hash).order_by(Event.id.desc()).limit(1)
                                ).scalar() or GENESIS_HASH
    when = (at or utcnow()).astimezone(dt.UTC).replace(microsecond=0)
    rows: list[dict[str, Any]] = []
    for entry in entries:
        payload = json.loads(_canonical(entry.data or {}))
        subject = str(entry.subject_id)
        digest = entry_hash(prev_hash, when, entry.actor, entry.kind, entry.subject_type,
                            subject, payload)
        rows.append({"at": when, "actor": entry.actor, "kind": entry.kind,
                     "subject_type": entry.subject_type, "subject_id": subject,
                     "data": payload, "creditor_id": entry.creditor_id,
                     "debtor_id": entry.debtor_id, "prev_hash": prev_hash, "hash": digest})
        prev_hash = digest
    # Rows inserted in list order take ascending ids: the log's order is the chain's.
    session.execute(insert(Event.metadata.tables["event"]), rows)


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
