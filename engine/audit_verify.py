"""`relance audit verify`: recompute the whole chained event log and name its first
broken link.

The log is read as one streamed query (a server-side cursor on PostgreSQL, batches on
SQLite), columns only, so that millions of entries pass in constant memory. The walk
stops at the first entry that does not hold: after an edit or a removal, every later
link is suspect anyway, and the first one is where an auditor starts looking.

A chain proves nothing about its own end: removing the newest entries leaves a valid,
shorter chain. Hence the head hash printed by every verification and written in every
export: given back as `known_head`, the walk also fails unless that entry is still there.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from relance.kernel.i18n import _
from relance.store.audit import GENESIS_HASH, entry_hash
from relance.store.models import Event

# Rows fetched per round trip: large enough to stream fast, small enough to stay light.
STREAM_BATCH = 5_000

Progress = Callable[[int, int | None], None]


@dataclass(frozen=True)
class BrokenLink:
    """The first entry of the log that does not hold, and why (a translated sentence)."""

    event_id: int
    at: dt.datetime
    kind: str
    subject_type: str
    subject_id: str
    problem: str

    def to_json(self) -> dict[str, object]:
        return {"event_id": self.event_id, "at": self.at.isoformat(),
                "kind": self.kind, "subject": {"type": self.subject_type,
                                               "id": self.subject_id},
                "problem": self.problem}


@dataclass(frozen=True)
class ChainReport:
    """What a verification found: entries walked, the head reached, the first break."""

    checked: int
    head_id: int | None
    head_hash: str
    broken: BrokenLink | None
    # A head hash noted earlier that no entry carries any more (None: none was given,
    # or it was found).
    lost_head: str | None = None

    @property
    def ok(self) -> bool:
        return self.broken is None and self.lost_head is None

    def to_json(self) -> dict[str, object]:
        return {"ok": self.ok, "checked": self.checked,
                "head": {"event_id": self.head_id, "hash": self.head_hash},
                "broken": self.broken.to_json() if self.broken else None,
                "lost_head": self.lost_head}


def _aware(at: dt.datetime) -> dt.datetime:
    # SQLite hands back naive datetimes; the log stores UTC.
    return at if at.tzinfo is not None else at.replace(tzinfo=dt.UTC)


def _missing_ids(previous_id: int | None, event_id: int) -> str:
    """The ids absent between two neighbours, as a hint: a sequence may skip an id
    after a rolled-back transaction, so a gap alone proves nothing."""
    first = (previous_id or 0) + 1
    last = event_id - 1
    if last < first:
        return ""
    if first == last:
        return " " + _("(no entry with id {id} is in the log)").format(id=first)
    return " " + _("(no entries with ids {first} to {last} are in the log)").format(
        first=first, last=last)


def verify_log(session: Session, *, known_head: str | None = None,
               progress: Progress | None = None) -> ChainReport:
    """Walk the whole log in id order, recomputing each hash and each link."""
    total = session.scalar(select(func.count()).select_from(Event))
    if progress is not None:
        progress(0, total)
    rows = session.execute(
        select(Event.id, Event.at, Event.actor, Event.kind, Event.subject_type,
               Event.subject_id, Event.data, Event.prev_hash, Event.hash)
        .order_by(Event.id)
        .execution_options(yield_per=STREAM_BATCH))
    prev_hash = GENESIS_HASH
    prev_id: int | None = None
    checked = 0
    head_seen = known_head is None
    broken: BrokenLink | None = None
    for row in rows:
        at = _aware(row.at)
        problem = None
        if row.prev_hash != prev_hash:
            before = (_("the entry before it (event {id})").format(id=prev_id)
                      if prev_id is not None else _("the start of the log"))
            problem = _("does not follow {before}: an entry was removed, inserted or swapped "
                        "here").format(before=before) + _missing_ids(prev_id, row.id)
        elif entry_hash(row.prev_hash, at, row.actor, row.kind, row.subject_type,
                        row.subject_id, row.data) != row.hash:
            problem = _("its content does not match its hash: it was edited after it was "
                        "written")
        if problem is not None:
            broken = BrokenLink(row.id, at, row.kind, row.subject_type, row.subject_id,
                                problem)
            break
        head_seen = head_seen or row.hash == known_head
        prev_hash, prev_id = row.hash, row.id
        checked += 1
        if progress is not None and checked % STREAM_BATCH == 0:
            progress(checked, total)
    rows.close()
    if progress is not None:
        progress(checked, total)
    lost = known_head if broken is None and not head_seen else None
    return ChainReport(checked, prev_id, prev_hash, broken, lost)
